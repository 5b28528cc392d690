"""SRResNet, the SRGAN generator (Ledig et al., 2017), and BasicSR's modified MSRResNet.

``SRResNet`` follows the paper: 9x9 head + PReLU, residual blocks conv-BN-PReLU-conv-BN, a conv+BN
after the trunk with a long skip, x2 pixel-shuffle stages (one x3 stage for scale 3) with PReLU,
and a 9x9 tail. Our key names: ``conv_first``, ``act_first``, ``body.N.{conv1,bn1,act,conv2,bn2}``,
``conv_body``, ``bn_body``, ``upsample.N.{conv,act}``, ``conv_last``. Input and output are RGB in
[0, 1] (no tanh, so the output range matches every other model here).

``MSRResNet`` keeps BasicSR's names so its checkpoints load with ``strict=True``: ``conv_first``,
``body.N.conv1/conv2`` (no BN), ``upconv1`` (+ ``upconv2`` at x4), ``conv_hr``, ``conv_last``;
LeakyReLU(0.1) and the bilinear-upsampled input added to the output.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class BNResidualBlock(nn.Module):
    def __init__(self, *, num_features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_features, num_features, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(num_features)
        self.act = nn.PReLU()
        self.conv2 = nn.Conv2d(num_features, num_features, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class UpsampleStage(nn.Module):
    def __init__(self, *, num_features: int, factor: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(num_features, num_features * factor * factor, 3, padding=1)
        self.shuffle = nn.PixelShuffle(factor)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


def upsample_factors(scale: int) -> list[int]:
    if scale == 3:
        return [3]
    if scale >= 2 and scale & (scale - 1) == 0:
        return [2] * int(math.log2(scale))
    raise ValueError(f"supported scales are 2, 3, 4, 8; got {scale}")


class SRResNet(nn.Module):
    """SRGAN generator: 16 BN residual blocks x 64 features, x4 by default."""

    arch = "srresnet"

    def __init__(
        self, *, in_channels: int = 3, num_features: int = 64, num_blocks: int = 16, scale: int = 4
    ) -> None:
        super().__init__()
        self.scale = scale
        self.config = {
            "in_channels": in_channels,
            "num_features": num_features,
            "num_blocks": num_blocks,
            "scale": scale,
        }
        f = num_features
        self.conv_first = nn.Conv2d(in_channels, f, 9, padding=4)
        self.act_first = nn.PReLU()
        self.body = nn.Sequential(*[BNResidualBlock(num_features=f) for _ in range(num_blocks)])
        self.conv_body = nn.Conv2d(f, f, 3, padding=1)
        self.bn_body = nn.BatchNorm2d(f)
        self.upsample = nn.Sequential(
            *[UpsampleStage(num_features=f, factor=k) for k in upsample_factors(scale)]
        )
        self.conv_last = nn.Conv2d(f, in_channels, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.act_first(self.conv_first(x))
        feat = feat + self.bn_body(self.conv_body(self.body(feat)))
        return self.conv_last(self.upsample(feat))


class ResidualBlockNoBN(nn.Module):
    def __init__(self, *, num_features: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_features, num_features, 3, padding=1)
        self.conv2 = nn.Conv2d(num_features, num_features, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class MSRResNet(nn.Module):
    """BasicSR's MSRResNet (x2, x3, x4)."""

    arch = "msrresnet"

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        num_features: int = 64,
        num_blocks: int = 16,
        scale: int = 4,
    ) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"MSRResNet supports scales 2, 3, 4; got {scale}")
        self.scale = scale
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "num_features": num_features,
            "num_blocks": num_blocks,
            "scale": scale,
        }
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
