"""SRResNet, the SRGAN generator (Ledig et al., 2017).

``SRResNet`` follows the paper: 9x9 head + PReLU, residual blocks conv-BN-PReLU-conv-BN, a conv+BN
after the trunk with a long skip, x2 pixel-shuffle stages (one x3 stage for scale 3) with PReLU,
and a 9x9 tail. Our key names: ``conv_first``, ``act_first``, ``body.N.{conv1,bn1,act,conv2,bn2}``,
``conv_body``, ``bn_body``, ``upsample.N.{conv,act}``, ``conv_last``. Input and output are RGB in
[0, 1] (no tanh, so the output range matches every other model here).
"""

from __future__ import annotations

import torch
from torch import nn

from vsr.models.base import SRModel
from vsr.models.blocks import upsample_factors
from vsr.models.spec import Architecture, Detected, Layout, Shapes, indices, shuffle_scale


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


class SRResNet(SRModel):
    """SRGAN generator: 16 BN residual blocks x 64 features, x4 by default."""

    arch = "srresnet"

    def __init__(
        self, *, in_channels: int = 3, num_features: int = 64, num_blocks: int = 16, scale: int = 4
    ) -> None:
        super().__init__()
        self.scale = scale
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


def _read(s: Shapes) -> Detected | None:
    features, in_channels = s["conv_first.weight"][:2]
    scale = shuffle_scale(indices(s, r"upsample\.(\d+)\.conv\.weight"), s["upsample.0.conv.weight"][0], features)
    if scale is None:
        return None
    blocks = len(indices(s, r"body\.(\d+)\.conv1\.weight"))
    return Detected("srresnet", {"in_channels": in_channels, "num_features": features, "num_blocks": blocks, "scale": scale})


ARCHITECTURE = Architecture(
    name="srresnet",
    module=SRResNet,
    layouts=(
        Layout("vsr", frozenset({"conv_first.weight", "body.0.bn1.weight", "conv_body.weight", "upsample.0.conv.weight"}), _read),
    ),
    aliases=("srgan",),
    upsampler=("upsample.",),
)
