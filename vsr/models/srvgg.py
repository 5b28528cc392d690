"""SRVGGNetCompact (Real-ESRGAN v0.2.5+: realesr-animevideov3, realesr-general-x4v3).

Key layout as published: ``body.0`` first conv, ``body.1`` its activation (PReLU weights when
``act_type='prelu'``), then ``num_conv`` conv/activation pairs, and a last conv producing
``out_channels * scale**2`` channels for the pixel shuffle; the nearest-upsampled input is added.
Guessed: ``act_type`` when there are no PReLU weights (``relu`` unless told).
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn import functional as F

from vsr.models.base import SRModel
from vsr.models.spec import Architecture, Detected, Layout, Shapes, indices, isqrt_exact

ACT_TYPES = ("prelu", "relu", "leakyrelu")


def _activation(act_type: str, num_features: int) -> nn.Module:
    if act_type == "prelu":
        return nn.PReLU(num_parameters=num_features)
    if act_type == "relu":
        return nn.ReLU(inplace=True)
    if act_type == "leakyrelu":
        return nn.LeakyReLU(negative_slope=0.1, inplace=True)
    raise ValueError(f"act_type must be one of {ACT_TYPES}; got {act_type!r}")


class SRVGGNetCompact(SRModel):
    arch = "srvgg"

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, num_features: int = 64, num_conv: int = 16,
                 scale: int = 4, act_type: str = "prelu") -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, num_features, 3, padding=1),
            _activation(act_type, num_features),
        ]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_features, num_features, 3, padding=1), _activation(act_type, num_features)]
        layers.append(nn.Conv2d(num_features, out_channels * scale * scale, 3, padding=1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")


def _read(s: Shapes) -> Detected | None:
    """Only ``body.N.{weight,bias}``: convs are 4-D, PReLU weights 1-D."""
    if not s or not all(re.fullmatch(r"body\.\d+\.(weight|bias)", k) for k in s):
        return None
    convs = [i for i in indices(s, r"body\.(\d+)\.weight") if len(s[f"body.{i}.weight"]) == 4]
    prelus = [i for i in indices(s, r"body\.(\d+)\.weight") if len(s[f"body.{i}.weight"]) == 1]
    if len(convs) < 2 or convs[0] != 0:
        return None
    features, in_channels = s["body.0.weight"][:2]
    last_out = s[f"body.{convs[-1]}.weight"][0]
    scale = isqrt_exact(last_out // in_channels) if last_out % in_channels == 0 else None
    if not scale:
        return None
    return Detected(
        "srvgg",
        {
            "in_channels": in_channels,
            "out_channels": in_channels,
            "num_features": features,
            "num_conv": len(convs) - 2,
            "scale": scale,
            "act_type": "prelu" if prelus else "relu",
        },
        guessed=set() if prelus else {"act_type"},
    )


ARCHITECTURE = Architecture(
    name="srvgg",
    module=SRVGGNetCompact,
    layouts=(Layout("realesrgan", frozenset(), _read),),
    aliases=("srvggnetcompact", "compact"),
)
