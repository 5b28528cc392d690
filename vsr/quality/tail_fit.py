"""A direct upsampler fitted by least squares: one convolution from a network's features to its folded output.

EDSR's x4 upsampler (two conv + pixel-shuffle stages, then a conv at output size) is most of the
network's CPU time; one 3x3 convolution from the body's features to the 3 * scale**2 channels that pixel
shuffle unfolds into the output costs under 1% of it. Its weights are a linear map, so given the
features of a trained body and the ground truth they can be solved for rather than learnt: ridge
regression of each output block (the ground truth folded by pixel unshuffle, mean shifted) on the 3x3
neighbourhood of feature vectors around it. Fitted on EDSR-baseline x4's features this way it loses 0.15
dB on Set5 and 0.09 on Set14 before any training (docs/quality.md); training then starts from there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


class TailFit:
    """Normal equations of ``target = conv_kxk(features) + bias``, accumulated over many pictures."""

    def __init__(self, features: int, out_channels: int, kernel: int = 3) -> None:
        self.features, self.out_channels, self.kernel = features, out_channels, kernel
        dims = features * kernel * kernel + 1
        self.xtx = torch.zeros(dims, dims, dtype=torch.float64)
        self.xty = torch.zeros(dims, out_channels, dtype=torch.float64)
        self.samples = 0

    def add(self, features: torch.Tensor, target: torch.Tensor) -> None:
        """One batch: ``features`` N×F×H×W and ``target`` N×O×H×W (same H, W)."""
        n, _, h, w = features.shape
        x = F.unfold(features.float(), self.kernel, padding=self.kernel // 2)  # N × F·k·k × HW, conv's order
        x = torch.cat((x, x.new_ones(n, 1, h * w)), dim=1).transpose(1, 2).reshape(n * h * w, -1)
        y = target.float().flatten(2).transpose(1, 2).reshape(n * h * w, -1)
        self.xtx += (x.T @ x).double()
        self.xty += (x.T @ y).double()
        self.samples += n * h * w

    def solve(self, ridge: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight O×F×k×k, bias O) minimising the squared error plus ``ridge`` x the mean feature energy
        x |weight|^2 (keeps directions the data hardly visits small)."""
        if self.samples <= self.xtx.shape[0]:
            raise ValueError(f"{self.samples} samples cannot determine {self.xtx.shape[0]} unknowns: fit on more pictures")
        eye = torch.eye(self.xtx.shape[0], dtype=torch.float64)
        eye[-1, -1] = 0.0  # the bias is not shrunk
        lam = ridge * float(self.xtx.diagonal()[:-1].mean())
        solution = torch.linalg.solve(self.xtx + lam * eye, self.xty)
        k = self.kernel
        weight = solution[:-1].T.reshape(self.out_channels, self.features, k, k)
        return weight.float().contiguous(), solution[-1].float().contiguous()


@contextmanager
def upsampler_inputs(net: nn.Module) -> Iterator[list[torch.Tensor]]:
    """A list that collects, in float32, what ``net.tail`` (an EDSR-style upsampler) receives while the
    block runs: the body's features, read off a forward pass of the whole network."""
    seen: list[torch.Tensor] = []
    hook = net.tail.register_forward_pre_hook(lambda _module, args: seen.append(args[0].float()))
    try:
        yield seen
    finally:
        hook.remove()


def folded_target(hr: torch.Tensor, net: nn.Module, scale: int) -> torch.Tensor:
    """What a direct upsampler of ``net`` must output for ground truth ``hr`` (N×3×sH×sW in [0, 1]):
    the picture in ``net``'s units less its mean (``net.sub_mean``), folded by pixel unshuffle."""
    return F.pixel_unshuffle(net.sub_mean(hr * net.rgb_range), scale)
