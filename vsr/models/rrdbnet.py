"""RRDBNet: the ESRGAN / Real-ESRGAN generator, with BasicSR's parameter names.

``conv_first``, ``body.N.rdb{1,2,3}.conv{1..5}``, ``conv_body``, ``conv_up1``, ``conv_up2``,
``conv_hr``, ``conv_last``. The trunk always upsamples x4 (two nearest x2 + conv stages); the x2
and x1 variants pixel-unshuffle the input by 2 and 4 first, so ``conv_first`` takes 4x or 16x the
image channels (12 or 48 for RGB). Those variants need H and W divisible by ``size_multiple``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

UNSHUFFLE = {4: 1, 2: 2, 1: 4}  # scale -> pixel-unshuffle factor of the input


class ResidualDenseBlock(nn.Module):
    def __init__(self, *, num_features: int, growth_channels: int) -> None:
        super().__init__()
        f, g = num_features, growth_channels
        self.conv1 = nn.Conv2d(f, g, 3, padding=1)
        self.conv2 = nn.Conv2d(f + g, g, 3, padding=1)
        self.conv3 = nn.Conv2d(f + 2 * g, g, 3, padding=1)
        self.conv4 = nn.Conv2d(f + 3 * g, g, 3, padding=1)
        self.conv5 = nn.Conv2d(f + 4 * g, f, 3, padding=1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, *, num_features: int, growth_channels: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_features=num_features, growth_channels=growth_channels)
        self.rdb2 = ResidualDenseBlock(num_features=num_features, growth_channels=growth_channels)
        self.rdb3 = ResidualDenseBlock(num_features=num_features, growth_channels=growth_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """RealESRGAN_x4plus: 23 blocks, 64 features, growth 32, scale 4."""

    arch = "rrdbnet"

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        num_features: int = 64,
        num_blocks: int = 23,
        growth_channels: int = 32,
        scale: int = 4,
    ) -> None:
        super().__init__()
        if scale not in UNSHUFFLE:
            raise ValueError(f"RRDBNet supports scales 1, 2, 4; got {scale}")
        self.scale = scale
        self.unshuffle = UNSHUFFLE[scale]
        self.size_multiple = self.unshuffle
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "num_features": num_features,
            "num_blocks": num_blocks,
            "growth_channels": growth_channels,
            "scale": scale,
        }
        f = num_features
        self.conv_first = nn.Conv2d(in_channels * self.unshuffle**2, f, 3, padding=1)
        self.body = nn.Sequential(
            *[RRDB(num_features=f, growth_channels=growth_channels) for _ in range(num_blocks)]
        )
        self.conv_body = nn.Conv2d(f, f, 3, padding=1)
        self.conv_up1 = nn.Conv2d(f, f, 3, padding=1)
        self.conv_up2 = nn.Conv2d(f, f, 3, padding=1)
        self.conv_hr = nn.Conv2d(f, f, 3, padding=1)
        self.conv_last = nn.Conv2d(f, out_channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = F.pixel_unshuffle(x, self.unshuffle) if self.unshuffle > 1 else x
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
