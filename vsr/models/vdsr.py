"""VDSR (Kim et al., 2016): 20 3x3 convolutions with a global residual on a bicubic-upsampled image.

Parameter names follow the widely used PyTorch port (``input``, ``residual_layer.N.conv``,
``output``; convolutions without bias). As with SRCNN, ``forward`` upsamples by ``scale`` first,
so the scale is not stored in the weights (one VDSR serves every scale).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vsr.models.base import SRModel
from vsr.models.spec import Architecture, Detected, Layout, Shapes, indices


class ConvReLU(nn.Module):
    def __init__(self, *, num_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(num_features, num_features, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class VDSR(SRModel):
    """``num_layers`` counts every convolution (20 in the paper): input + middle + output."""

    arch = "vdsr"

    def __init__(self, *, in_channels: int = 3, num_features: int = 64, num_layers: int = 20, scale: int = 2) -> None:
        super().__init__()
        if num_layers < 3:
            raise ValueError(f"VDSR needs at least 3 layers; got {num_layers}")
        self.scale = scale
        self.input = nn.Conv2d(in_channels, num_features, 3, padding=1, bias=False)
        self.residual_layer = nn.Sequential(
            *[ConvReLU(num_features=num_features) for _ in range(num_layers - 2)]
        )
        self.output = nn.Conv2d(num_features, in_channels, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        out = self.residual_layer(self.relu(self.input(x)))
        return self.output(out) + x


def _read(s: Shapes) -> Detected | None:
    features, in_channels = s["input.weight"][:2]
    layers = len(indices(s, r"residual_layer\.(\d+)\.conv\.weight")) + 2
    return Detected(
        "vdsr",
        {"in_channels": in_channels, "num_features": features, "num_layers": layers, "scale": 2},
        guessed={"scale"},  # one VDSR serves every scale: 2 unless told
    )


ARCHITECTURE = Architecture(
    name="vdsr",
    module=VDSR,
    layouts=(Layout("ports", frozenset({"input.weight", "residual_layer.0.conv.weight", "output.weight"}), _read),),
)
