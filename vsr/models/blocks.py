"""Building blocks shared by more than one architecture."""

from __future__ import annotations

import math

import torch
from torch import nn


def upsample_factors(scale: int) -> list[int]:
    """Pixel-shuffle stages for a scale: one x3 stage for 3, x2 stages for powers of two."""
    if scale == 3:
        return [3]
    if scale >= 2 and scale & (scale - 1) == 0:
        return [2] * int(math.log2(scale))
    raise ValueError(f"supported scales are 2, 3, 4, 8; got {scale}")


class ResidualBlockNoBN(nn.Module):
    """conv-ReLU-conv with a scaled identity shortcut, BasicSR's names ``conv1``/``conv2``."""

    def __init__(self, *, num_features: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_features, num_features, 3, padding=1)
        self.conv2 = nn.Conv2d(num_features, num_features, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale
