"""The one wrapper for networks vsr did not define (spandrel's architectures, ONNX graphs).

It gives them what vsr's backends expect of a network: ``scale``, ``arch``, ``size_multiple`` as
attributes, N×3×H×W RGB in [0, 1] in and N×3×sH×sW out. On the way it

- pads the input to the network's size requirements (reflect, then replicate where reflect cannot
  reach, as spandrel does) and crops the padding's share away from the output;
- adapts channels: a 1-channel network runs on R, G and B as three grey pictures (the batch folded),
  a 4-channel (RGBA) one gets an opaque alpha plane and its alpha output is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from vsr.errors import UnsupportedModelError

RGB = 3


def channel_problem(in_channels: int, out_channels: int) -> str | None:
    """Why a network with these channels cannot take and give RGB frames; None when it can."""
    if (in_channels, out_channels) in ((1, 1), (3, 3), (4, 4), (4, 3), (3, 4)):
        return None
    return (f"it takes {in_channels} and gives {out_channels} channels; vsr runs networks on RGB frames "
            "(1-channel grey, 3-channel RGB and 4-channel RGBA networks are supported)")


def pad_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``x`` padded at the bottom and right to at least height x width (reflect, then replicate)."""
    h, w = x.shape[-2:]
    ph, pw = max(0, height - h), max(0, width - w)
    if not (ph or pw):
        return x
    rh, rw = min(ph, h - 1), min(pw, w - 1)
    if rh or rw:
        x = F.pad(x, (0, rw, 0, rh), mode="reflect")
    if ph - rh or pw - rw:
        x = F.pad(x, (0, pw - rw, 0, ph - rh), mode="replicate")
    return x


def padded_size(h: int, w: int, *, multiple: int = 1, minimum: int = 0, square: bool = False) -> tuple[int, int]:
    """The smallest size >= (h, w) and >= minimum whose sides are multiples of ``multiple``."""
    h, w = max(h, minimum), max(w, minimum)
    h, w = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    if square:
        h = w = max(h, w)
    return h, w


def pad_run(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multiple: int, scale: int) -> torch.Tensor:
    """``model(x)`` for any H and W: padded to multiples of ``multiple`` first, the padding's share cropped after."""
    h, w = x.shape[-2:]
    if multiple <= 1 or (h % multiple == 0 and w % multiple == 0):
        return model(x)
    y = model(pad_to(x, *padded_size(h, w, multiple=multiple)))
    return y[..., : h * scale, : w * scale]


class ForeignNet(nn.Module):
    """Base of the wrappers: subclasses implement ``run`` on a padded, channel-adapted batch."""

    def __init__(self, *, arch: str, scale: int, in_channels: int = RGB, out_channels: int = RGB,
                 multiple: int = 1, minimum: int = 0, square: bool = False, where: str = "model") -> None:
        super().__init__()
        if problem := channel_problem(in_channels, out_channels):
            raise UnsupportedModelError(f"{where}: {problem}")
        self.arch, self.scale, self.size_multiple = arch, int(scale), max(1, int(multiple))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.minimum, self.square = minimum, square

    def run(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        if self.in_channels == 1:
            x = x.reshape(n * RGB, 1, h, w)
        elif self.in_channels == 4:
            x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        ph, pw = padded_size(h, w, multiple=self.size_multiple, minimum=self.minimum, square=self.square)
        y = self.run(pad_to(x, ph, pw))
        y = y[:, :RGB, : h * self.scale, : w * self.scale]
        return y.reshape(n, RGB, h * self.scale, w * self.scale) if self.in_channels == 1 else y
