"""EDSR (Lim et al., 2017), parameter names as in the official EDSR-PyTorch release.

The official model works on RGB in [0, rgb_range]; this module takes and returns RGB in [0, 1]
and scales internally, so checkpoints from the official release load with ``strict=True``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


class MeanShift(nn.Conv2d):
    """1x1 conv that subtracts (sign=-1) or adds (sign=+1) the dataset RGB mean; frozen."""

    def __init__(self, *, rgb_range: float = 255.0, rgb_mean=DIV2K_RGB_MEAN, sign: int = -1) -> None:
        super().__init__(3, 3, kernel_size=1)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.bias.copy_(sign * rgb_range * torch.tensor(rgb_mean))
        for p in self.parameters():
            p.requires_grad = False


class ResBlock(nn.Module):
    """conv-ReLU-conv with a scaled identity shortcut (``body.0`` and ``body.2`` hold the convs)."""

    def __init__(self, *, num_features: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(num_features, num_features, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_features, num_features, 3, padding=1),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class Upsampler(nn.Sequential):
    """Conv + PixelShuffle stages: log2(scale) x2 stages for powers of two, one x3 stage for 3."""

    def __init__(self, *, scale: int, num_features: int) -> None:
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2d(num_features, 4 * num_features, 3, padding=1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(num_features, 9 * num_features, 3, padding=1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"EDSR supports scales 2, 3, 4, 8; got {scale}")
        super().__init__(*layers)


class EDSR(nn.Module):
    """EDSR; baseline = 16 blocks x 64 features, full = 32 x 256 with res_scale 0.1."""

    arch = "edsr"

    def __init__(
        self,
        *,
        in_channels: int = 3,
        num_features: int = 64,
        num_blocks: int = 16,
        scale: int = 2,
        res_scale: float = 1.0,
        rgb_range: float = 255.0,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.num_features = num_features
        self.num_blocks = num_blocks
        self.res_scale = res_scale
        self.rgb_range = rgb_range
        self.sub_mean = MeanShift(rgb_range=rgb_range, sign=-1)
        self.add_mean = MeanShift(rgb_range=rgb_range, sign=1)
        self.head = nn.Sequential(nn.Conv2d(in_channels, num_features, 3, padding=1))
        self.body = nn.Sequential(
            *[ResBlock(num_features=num_features, res_scale=res_scale) for _ in range(num_blocks)],
            nn.Conv2d(num_features, num_features, 3, padding=1),
        )
        self.tail = nn.Sequential(
            Upsampler(scale=scale, num_features=num_features),
            nn.Conv2d(num_features, in_channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sub_mean(x * self.rgb_range)
        x = self.head(x)
        x = x + self.body(x)
        x = self.add_mean(self.tail(x))
        return x / self.rgb_range
