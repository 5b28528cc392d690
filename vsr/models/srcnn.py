"""SRCNN (Dong et al., 2014/2016): three convolutions on a bicubic-upsampled image.

The network itself does not change the size; ``forward`` upsamples the input by ``scale`` with
bicubic interpolation first, so the module maps N x C x H x W to N x C x sH x sW like every other
model here. The scale is therefore not stored in the weights (see ``vsr.models.loader``).
Parameter names ``conv1``/``conv2``/``conv3`` follow the common PyTorch ports.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vsr.models.base import SRModel
from vsr.models.spec import Architecture, Detected, Layout, Shapes


class SRCNN(SRModel):
    """9-5-5 by default (``kernel_sizes=(9, 1, 5)`` gives the 9-1-5 variant)."""

    arch = "srcnn"

    def __init__(self, *, in_channels: int = 3, num_features: int = 64, scale: int = 2,
                 kernel_sizes: tuple[int, int, int] = (9, 5, 5)) -> None:
        super().__init__()
        k1, k2, k3 = kernel_sizes
        self.scale = scale
        self.conv1 = nn.Conv2d(in_channels, num_features, k1, padding=k1 // 2)
        self.conv2 = nn.Conv2d(num_features, num_features // 2, k2, padding=k2 // 2)
        self.conv3 = nn.Conv2d(num_features // 2, in_channels, k3, padding=k3 // 2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.conv3(x)


_KEYS = frozenset(f"conv{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias"))


def _read(s: Shapes) -> Detected | None:
    if set(s) != _KEYS:
        return None
    features, in_channels = s["conv1.weight"][:2]
    kernels = tuple(s[f"conv{i}.weight"][-1] for i in (1, 2, 3))
    return Detected(
        "srcnn",
        {"in_channels": in_channels, "num_features": features, "scale": 2, "kernel_sizes": kernels},
        guessed={"scale"},  # the network runs on a bicubic-upsampled image: 2 unless told
    )


ARCHITECTURE = Architecture(name="srcnn", module=SRCNN, layouts=(Layout("ports", _KEYS, _read),))
