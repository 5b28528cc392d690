"""RRDBNet: the ESRGAN / Real-ESRGAN generator, with BasicSR's parameter names.

``conv_first``, ``body.N.rdb{1,2,3}.conv{1..5}``, ``conv_body``, ``conv_up1``, ``conv_up2``,
``conv_hr``, ``conv_last``. The trunk always upsamples x4 (two nearest x2 + conv stages); the x2
and x1 variants pixel-unshuffle the input by 2 and 4 first, so ``conv_first`` takes 4x or 16x the
image channels (12 or 48 for RGB). Those variants need H and W divisible by ``size_multiple``.
Layouts: BasicSR / Real-ESRGAN (these names) and the original ESRGAN repository's
(``RRDB_trunk.N.RDBk``, ``trunk_conv``, ``upconv1/2``, ``HRconv``), renamed by ``ESRGAN_RENAMES``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vsr.models.base import SRModel
from vsr.models.spec import Architecture, Detected, Layout, Shapes, StateDict, indices

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


class RRDBNet(SRModel):
    """RealESRGAN_x4plus: 23 blocks, 64 features, growth 32, scale 4."""

    arch = "rrdbnet"

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, num_features: int = 64, num_blocks: int = 23,
                 growth_channels: int = 32, scale: int = 4) -> None:
        super().__init__()
        if scale not in UNSHUFFLE:
            raise ValueError(f"RRDBNet supports scales 1, 2, 4; got {scale}")
        self.scale = scale
        self.unshuffle = UNSHUFFLE[scale]
        self.size_multiple = self.unshuffle
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


# ---------------------------------------------------------------- detection


def _read(s: Shapes, body: str = "body", rdb: str = "rdb") -> Detected | None:
    if "conv_up3.weight" in s:
        return None  # x8 variant: not supported
    features, in_total = s["conv_first.weight"][:2]
    out_channels = s["conv_last.weight"][0]
    scale = {1: 4, 4: 2, 16: 1}.get(in_total // out_channels if in_total % out_channels == 0 else 0)
    if scale is None:
        return None
    return Detected(
        "rrdbnet",
        {
            "in_channels": out_channels,
            "out_channels": out_channels,
            "num_features": features,
            "num_blocks": len(indices(s, rf"{body}\.(\d+)\.{rdb}1\.conv1\.weight")),
            "growth_channels": s[f"{body}.0.{rdb}1.conv1.weight"][0],
            "scale": scale,
        },
    )


ESRGAN_RENAMES = (
    ("RRDB_trunk.", "body."),
    (".RDB1.", ".rdb1."),
    (".RDB2.", ".rdb2."),
    (".RDB3.", ".rdb3."),
    ("trunk_conv.", "conv_body."),
    ("upconv1.", "conv_up1."),
    ("upconv2.", "conv_up2."),
    ("HRconv.", "conv_hr."),
)


def from_esrgan(state: StateDict, found: Detected) -> StateDict:
    """The original ESRGAN repository's names onto BasicSR's (``ESRGAN_RENAMES``)."""
    out = {}
    for key, value in state.items():
        for old, new in ESRGAN_RENAMES:
            key = key.replace(old, new) if (old.startswith(".") or key.startswith(old)) else key
        out[key] = value
    return out


ARCHITECTURE = Architecture(
    name="rrdbnet",
    module=RRDBNet,
    layouts=(
        Layout(
            "basicsr",
            frozenset({"conv_first.weight", "body.0.rdb1.conv1.weight", "conv_up1.weight", "conv_last.weight"}),
            _read,
        ),
        Layout(
            "esrgan",
            frozenset({"conv_first.weight", "RRDB_trunk.0.RDB1.conv1.weight", "trunk_conv.weight", "HRconv.weight"}),
            lambda s: _read(s, "RRDB_trunk", "RDB"),
            convert=from_esrgan,
        ),
    ),
    aliases=("rrdb", "esrgan", "realesrgan", "real-esrgan"),
)
