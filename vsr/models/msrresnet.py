"""BasicSR's MSRResNet (modified SRResNet: no BatchNorm, x2/x3/x4), with BasicSR's names.

``conv_first``, ``body.N.conv1/conv2``, ``upconv1`` (+ ``upconv2`` at x4), ``conv_hr``,
``conv_last``; LeakyReLU(0.1) and the bilinear-upsampled input added to the output, so BasicSR's
checkpoints load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vsr.models.base import SRModel
from vsr.models.blocks import ResidualBlockNoBN
from vsr.models.spec import Architecture, Detected, Layout, Shapes, indices, isqrt_exact


class MSRResNet(SRModel):
    """BasicSR's MSRResNet (x2, x3, x4)."""

    arch = "msrresnet"

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, num_features: int = 64, num_blocks: int = 16,
                 scale: int = 4) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"MSRResNet supports scales 2, 3, 4; got {scale}")
        self.scale = scale
        f = num_features
        self.conv_first = nn.Conv2d(in_channels, f, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlockNoBN(num_features=f) for _ in range(num_blocks)])
        if scale == 4:
            self.upconv1 = nn.Conv2d(f, f * 4, 3, padding=1)
            self.upconv2 = nn.Conv2d(f, f * 4, 3, padding=1)
            self.pixel_shuffle = nn.PixelShuffle(2)
        else:
            self.upconv1 = nn.Conv2d(f, f * scale * scale, 3, padding=1)
            self.pixel_shuffle = nn.PixelShuffle(scale)
        self.conv_hr = nn.Conv2d(f, f, 3, padding=1)
        self.conv_last = nn.Conv2d(f, out_channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(self.lrelu(self.conv_first(x)))
        out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
        if self.scale == 4:
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        return out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)


def _read(s: Shapes) -> Detected | None:
    features, in_channels = s["conv_first.weight"][:2]
    scale = 4 if "upconv2.weight" in s else isqrt_exact(s["upconv1.weight"][0] // features)
    if scale not in (2, 3, 4):
        return None
    return Detected(
        "msrresnet",
        {
            "in_channels": in_channels,
            "out_channels": s["conv_last.weight"][0],
            "num_features": features,
            "num_blocks": len(indices(s, r"body\.(\d+)\.conv1\.weight")),
            "scale": scale,
        },
    )


ARCHITECTURE = Architecture(
    name="msrresnet",
    module=MSRResNet,
    layouts=(
        Layout("basicsr", frozenset({"conv_first.weight", "body.0.conv1.weight", "upconv1.weight", "conv_hr.weight"}), _read),
    ),
    upsampler=("upconv1.", "upconv2."),
)
