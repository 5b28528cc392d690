"""SPAN, the Swift Parameter-free Attention Network (Wan et al., NTIRE 2024 efficient SR).

Key layout as published (hongyuanyu/SPAN, spandrel, neosr / traiNNer checkpoints such as
2xLiveActionV1_SPAN): ``conv_1``, six blocks ``block_1`` .. ``block_6`` of three ``c{1,2,3}_r``
convs, ``conv_cat`` (1x1 over four concatenated feature maps), ``conv_2`` and
``upsampler.0`` (conv to ``out_channels * scale**2``, then a pixel shuffle). Each of those 3x3
convs is a ``Conv3XC``: a 1x1 shortcut ``sk``, a 1x1 -> 3x3 -> 1x1 chain ``conv.{0,1,2}``
(twice the channels in the middle) and ``eval_conv``, the single 3x3 conv the two collapse into.

Checkpoints store all of them. As in the reference, evaluation runs the 3x3 conv computed from
the branch weights (a stale ``eval_conv`` in a file does not matter; see ``Conv3XC``) and
training runs the branches. ``norm`` (no ``no_norm`` buffer in the file): the input is shifted by
the DIV2K mean and multiplied by ``img_range``; the output is *not* shifted back (the network
learns [0, 1] output directly). Names: spandrel's ``num_in_ch``/``num_out_ch``/
``feature_channels``/``upscale`` are ``in_channels``/``out_channels``/``num_features``/``scale``
here. Guessed: ``img_range`` (255, the reference's default, which spandrel always uses; no weight
shows it).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vsr.models.base import SRModel
from vsr.models.edsr import DIV2K_RGB_MEAN
from vsr.models.spec import Architecture, Detected, Layout, Shapes, indices, isqrt_exact

NUM_BLOCKS = 6  # fixed by the architecture: every published SPAN has block_1 .. block_6


class Conv3XC(nn.Module):
    """A re-parameterisable 3x3 conv: ``sk`` (1x1) + ``conv`` (1x1, 3x3 unpadded, 1x1) = ``eval_conv``.

    Training runs the branches; evaluation runs ``eval_conv``, which is recomputed from the
    branches (``reparameterize``) on construction, after every ``load_state_dict`` and whenever
    the module enters eval mode, so a stale ``eval_conv`` in a checkpoint never reaches the output
    (the reference fuses in its eval forward instead). Keeping the fused conv a plain ``Conv2d``
    lets ONNX / TensorRT export and ``torch.compile`` see a constant kernel.
    """

    def __init__(self, in_channels: int, out_channels: int, *, expand: int = 2) -> None:
        super().__init__()
        self.sk = nn.Conv2d(in_channels, out_channels, 1)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, in_channels * expand, 1),
            nn.Conv2d(in_channels * expand, out_channels * expand, 3),
            nn.Conv2d(out_channels * expand, out_channels, 1),
        )
        self.eval_conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.eval_conv.requires_grad_(False)  # derived from the branches, never trained
        self.reparameterize()
        self.register_load_state_dict_post_hook(_reparameterize_after_load)

    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one 3x3 conv (weight, bias) the branches collapse into (the reference's ``update_params``).

        Exact, borders included: the branches zero-pad before their first 1x1 conv, whose output
        there is its bias, and the fused bias counts that bias under all nine taps."""
        first, mid, last = self.conv
        w1, w3 = first.weight[:, :, 0, 0], last.weight[:, :, 0, 0]  # (m, i), (o, n)
        weight = torch.einsum("on,nmhw,mi->oihw", w3, mid.weight, w1)
        bias = w3 @ (mid.weight.sum((2, 3)) @ first.bias + mid.bias) + last.bias
        weight = weight + F.pad(self.sk.weight, [1, 1, 1, 1])
        return weight, bias + self.sk.bias

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Write the fused conv of the current branch weights into ``eval_conv``."""
        weight, bias = self.fused()
        self.eval_conv.weight.copy_(weight)
        self.eval_conv.bias.copy_(bias)

    def train(self, mode: bool = True) -> Conv3XC:
        super().train(mode)
        if not mode:
            self.reparameterize()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:  # the branches, as the reference trains them
            return self.conv(F.pad(x, [1, 1, 1, 1])) + self.sk(x)
        return self.eval_conv(x)


def _reparameterize_after_load(module: nn.Module, incompatible_keys: object) -> None:
    module.reparameterize()  # type: ignore[operator]


class SPAB(nn.Module):
    """Three Conv3XC with SiLU between; parameter-free attention ``sigmoid(out) - 0.5``."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.c1_r = Conv3XC(num_features, num_features)
        self.c2_r = Conv3XC(num_features, num_features)
        self.c3_r = Conv3XC(num_features, num_features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its first activation (``conv_cat`` uses block 6's).

        The reference returns its first conv's output after an in-place SiLU, so the second value
        is ``silu(c1_r(x))``, not the conv output itself."""
        act1 = F.silu(self.c1_r(x))
        out3 = self.c3_r(F.silu(self.c2_r(act1)))
        return (out3 + x) * (torch.sigmoid(out3) - 0.5), act1


class SPAN(SRModel):
    """SPAN; 48 features by default (0.43 M parameters at x4 once fused, 2.2 M stored with the
    training branches); 28 features give the 0.15 M reported for the NTIRE 2024 entry."""

    arch = "span"

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, num_features: int = 48, scale: int = 4,
                 norm: bool = True, img_range: float = 255.0) -> None:
        super().__init__()
        if norm and in_channels != 3:
            raise ValueError(f"SPAN's mean shift is RGB: norm=True needs in_channels=3, got {in_channels}")
        self.scale = scale
        self.img_range = img_range
        self.register_buffer("mean", torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        if not norm:
            self.register_buffer("no_norm", torch.zeros(1))  # the published marker of norm=False
        self.norm = norm
        self.conv_1 = Conv3XC(in_channels, num_features)
        for i in range(1, NUM_BLOCKS + 1):
            self.add_module(f"block_{i}", SPAB(num_features))
        self.conv_cat = nn.Conv2d(4 * num_features, num_features, 1)
        self.conv_2 = Conv3XC(num_features, num_features)
        self.upsampler = nn.Sequential(
            nn.Conv2d(num_features, out_channels * scale * scale, 3, padding=1), nn.PixelShuffle(scale)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm:
            x = (x - self.mean.to(x.dtype)) * self.img_range
        head = self.conv_1(x)
        out, _ = self.block_1(head)
        first = out
        for i in range(2, NUM_BLOCKS + 1):
            out, inner = getattr(self, f"block_{i}")(out)
        out = self.conv_cat(torch.cat([head, self.conv_2(out), first, inner], 1))
        return self.upsampler(out)


# ---------------------------------------------------------------- detection

_CONV3XC = ("sk", "conv.0", "conv.1", "conv.2", "eval_conv")


def _read(s: Shapes) -> Detected | None:
    features, in_channels = s["conv_1.sk.weight"][:2]
    if indices(s, r"block_(\d+)\..*") != list(range(1, NUM_BLOCKS + 1)):
        return None
    if s["conv_cat.weight"] != (features, 4 * features, 1, 1) or s["conv_2.sk.weight"][:2] != (features, features):
        return None
    shuffled = s["upsampler.0.weight"][0]
    # x = out_channels * scale**2: out_channels is most likely in_channels, else 3, 4 or 1 (as spandrel)
    for out_channels in (in_channels, 3, 4, 1):
        scale = isqrt_exact(shuffled // out_channels) if shuffled % out_channels == 0 else None
        if scale:
            break
    else:
        return None
    return Detected(
        "span",
        {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "num_features": features,
            "scale": scale,
            "norm": "no_norm" not in s,
        },
        guessed={"img_range"},
    )


ARCHITECTURE = Architecture(
    name="span",
    module=SPAN,
    layouts=(
        Layout(
            "span",
            frozenset(
                {f"conv_1.{p}.weight" for p in _CONV3XC}
                | {"block_1.c1_r.sk.weight", "block_1.c3_r.eval_conv.weight", "conv_cat.weight"}
                | {"conv_2.sk.weight", "conv_2.eval_conv.weight", "upsampler.0.weight"}
            ),
            _read,
        ),
    ),
    upsampler=("upsampler.",),
)
