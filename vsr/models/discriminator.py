"""VGG-style discriminator for GAN training (SRGAN / ESRGAN), any input size.

Five stages of conv(3x3) + strided conv(4x4, /2) with BatchNorm and LeakyReLU(0.2), channels
64-128-256-512-512 (``num_features`` x 1, 2, 4, 8, 8), then an adaptive average pool to 4x4 so
patches of any size >= 32 work, and two linear layers (100 hidden, 1 logit). Parameter names follow
BasicSR's ``VGGStyleDiscriminator`` (``conv0_0``, ``conv0_1``, ``bn0_1``, ..., ``linear1``,
``linear2``); at 128x128 input the pool is the identity, so BasicSR weights for 128 load and agree.
Not an upscaler: the loader does not detect it.
"""

from __future__ import annotations

import torch
from torch import nn


class VGGStyleDiscriminator(nn.Module):
    arch = "vgg_discriminator"

    def __init__(self, *, in_channels: int = 3, num_features: int = 64) -> None:
        super().__init__()
        f = num_features
        widths = [f, 2 * f, 4 * f, 8 * f, 8 * f]
        self.conv0_0 = nn.Conv2d(in_channels, f, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(f, f, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(f)
        prev = f
        for i, w in enumerate(widths[1:], start=1):
            setattr(self, f"conv{i}_0", nn.Conv2d(prev, w, 3, 1, 1, bias=False))
            setattr(self, f"bn{i}_0", nn.BatchNorm2d(w))
            setattr(self, f"conv{i}_1", nn.Conv2d(w, w, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(w))
            prev = w
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.linear1 = nn.Linear(8 * f * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for i in range(1, 5):
            feat = self.lrelu(getattr(self, f"bn{i}_0")(getattr(self, f"conv{i}_0")(feat)))
            feat = self.lrelu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(feat)))
        feat = self.pool(feat).flatten(1)
        return self.linear2(self.lrelu(self.linear1(feat)))
