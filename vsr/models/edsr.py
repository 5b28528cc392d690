"""EDSR (Lim et al., 2017), parameter names as in the official EDSR-PyTorch release.

The official model works on RGB in [0, rgb_range]; this module takes and returns RGB in [0, 1]
and scales internally, so checkpoints from the official release load with ``strict=True``.
Layouts: the official one (``head.0``, ``body.N.body.0/2``, ``body.<N>``, ``tail.0.K``, ``tail.1``)
and BasicSR's (``from_basicsr``). Guessed: ``res_scale`` (0.1 for 256-feature "full" models, 1.0
otherwise, as in the paper: no weight can show it) and ``rgb_range`` (read off a stored
``add_mean``, else 255).
"""

from __future__ import annotations

import torch
from torch import nn

from vsr.models.base import SRModel
from vsr.models.blocks import upsample_factors
from vsr.models.spec import Architecture, Detected, Layout, Shapes, StateDict, indices, shuffle_scale

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
        return torch.add(x, self.body(x), alpha=self.res_scale)  # one pass over the features, not two


class Upsampler(nn.Sequential):
    """Conv + PixelShuffle stages: log2(scale) x2 stages for powers of two, one x3 stage for 3."""

    def __init__(self, *, scale: int, num_features: int) -> None:
        layers: list[nn.Module] = []
        for factor in upsample_factors(scale):
            layers += [nn.Conv2d(num_features, factor * factor * num_features, 3, padding=1), nn.PixelShuffle(factor)]
        super().__init__(*layers)


class EDSR(SRModel):
    """EDSR; baseline = 16 blocks x 64 features, full = 32 x 256 with res_scale 0.1."""

    arch = "edsr"

    def __init__(self, *, in_channels: int = 3, num_features: int = 64, num_blocks: int = 16, scale: int = 2,
                 res_scale: float = 1.0, rgb_range: float = 255.0) -> None:
        super().__init__()
        self.scale = scale
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


def mean_shift_state(*, rgb_range: float = 255.0, rgb_mean=DIV2K_RGB_MEAN) -> dict[str, torch.Tensor]:
    """The constant ``sub_mean``/``add_mean`` parameters, for checkpoints that do not carry them."""
    eye = torch.eye(3).view(3, 3, 1, 1)
    bias = rgb_range * torch.tensor(rgb_mean, dtype=torch.float32)
    return {
        "sub_mean.weight": eye.clone(),
        "sub_mean.bias": -bias,
        "add_mean.weight": eye.clone(),
        "add_mean.bias": bias.clone(),
    }


def rgb_range_from_state(state_dict: dict[str, torch.Tensor]) -> float | None:
    """The ``rgb_range`` an official-layout checkpoint was trained with, read off its ``add_mean``.

    The official ``MeanShift`` stores weight ``eye / std`` and bias ``rgb_range * mean / std``, so
    ``bias / diag(weight) = rgb_range * mean``. When that is a positive multiple of the DIV2K mean
    (the official code's fixed default), the multiple is ``rgb_range`` (255 for the published
    models; 1 for forks trained with ``--rgb_range 1``). Otherwise None: the caller keeps its guess.
    """
    weight, bias = state_dict.get("add_mean.weight"), state_dict.get("add_mean.bias")
    if weight is None or bias is None or tuple(weight.shape) != (3, 3, 1, 1) or tuple(bias.shape) != (3,):
        return None
    diag = torch.diagonal(weight.detach().double().view(3, 3))
    if not bool((diag > 0).all()):
        return None
    ratios = (bias.detach().double() / diag) / torch.tensor(DIV2K_RGB_MEAN, dtype=torch.float64)
    value = float(ratios.mean())
    if not value > 0 or float((ratios - value).abs().max()) > 1e-3 * value:
        return None
    nearest = round(value)
    return float(nearest) if nearest > 0 and abs(value - nearest) <= 1e-3 * value else value


_BASICSR_BLOCK_CONV = {"conv1": 0, "conv2": 2}


def from_basicsr(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a BasicSR ``EDSR`` state dict onto the official names this module uses.

    The one place where BasicSR's EDSR layout is translated. BasicSR computes
    ``conv_last(upsample(conv_after_body(body(h)) + h)) / img_range + mean`` with
    ``h = conv_first((x - mean) * img_range)`` and a plain ``mean`` tensor (not in the state dict);
    that equals this module's ``add_mean``/``sub_mean`` 1x1 convs with ``rgb_range = img_range``
    (255) and the DIV2K mean, so the mapping is by name only:

    ==============================  ===============================
    BasicSR                         official EDSR (this module)
    ==============================  ===============================
    conv_first.*                    head.0.*
    body.N.conv1.* / conv2.*        body.N.body.0.* / body.N.body.2.*
    conv_after_body.*               body.<num_blocks>.*
    upsample.K.*                    tail.0.K.*
    conv_last.*                     tail.1.*
    (mean buffer, img_range 255)    sub_mean.* / add_mean.* (constants)
    ==============================  ===============================
    """
    num_blocks = len({k.split(".")[1] for k in state_dict if k.startswith("body.")})
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        head, _, rest = key.partition(".")
        if head == "conv_first":
            new = f"head.0.{rest}"
        elif head == "body":
            index, conv, param = rest.split(".")
            new = f"body.{index}.body.{_BASICSR_BLOCK_CONV[conv]}.{param}"
        elif head == "conv_after_body":
            new = f"body.{num_blocks}.{rest}"
        elif head == "upsample":
            new = f"tail.0.{rest}"
        elif head == "conv_last":
            new = f"tail.1.{rest}"
        else:
            raise KeyError(f"unexpected key in a BasicSR EDSR state dict: {key}")
        out[new] = value
    for key, value in mean_shift_state().items():
        out.setdefault(key, value)
    return out


# ---------------------------------------------------------------- detection


def _kwargs(features: int, in_channels: int, blocks: int, scale: int) -> Detected:
    return Detected(
        "edsr",
        {
            "in_channels": in_channels,
            "num_features": features,
            "num_blocks": blocks,
            "scale": scale,
            "res_scale": 0.1 if features >= 256 else 1.0,
        },
        guessed={"res_scale", "rgb_range"},
    )


def _read_official(s: Shapes) -> Detected | None:
    features, in_channels = s["head.0.weight"][:2]
    blocks = len(indices(s, r"body\.(\d+)\.body\.0\.weight"))
    stages = indices(s, r"tail\.0\.(\d+)\.weight")
    scale = shuffle_scale(stages, s[f"tail.0.{stages[0]}.weight"][0], features) if stages else None
    if scale is None or f"body.{blocks}.weight" not in s:
        return None
    return _kwargs(features, in_channels, blocks, scale)


def _read_basicsr(s: Shapes) -> Detected | None:
    features, in_channels = s["conv_first.weight"][:2]
    blocks = len(indices(s, r"body\.(\d+)\.conv1\.weight"))
    scale = shuffle_scale(indices(s, r"upsample\.(\d+)\.weight"), s["upsample.0.weight"][0], features)
    return None if scale is None else _kwargs(features, in_channels, blocks, scale)


def _refine(state: StateDict, found: Detected) -> None:
    if "rgb_range" not in found.kwargs:  # not given by metadata or the caller
        rgb_range = rgb_range_from_state(state)
        if rgb_range is not None:
            found.kwargs["rgb_range"] = rgb_range


def _prepare(state: StateDict, found: Detected) -> StateDict:
    if "sub_mean.weight" in state:
        return state
    return {**state, **mean_shift_state(rgb_range=float(found.kwargs.get("rgb_range", 255.0)))}


ARCHITECTURE = Architecture(
    name="edsr",
    module=EDSR,
    layouts=(
        Layout("official", frozenset({"head.0.weight", "tail.1.weight", "body.0.body.0.weight"}), _read_official),
        Layout(
            "basicsr",
            frozenset({"conv_first.weight", "conv_after_body.weight", "body.0.conv1.weight", "upsample.0.weight"}),
            _read_basicsr,
            convert=lambda state, found: from_basicsr(state),
        ),
    ),
    aliases=("edsr-baseline",),
    upsampler=("tail.0.",),
    refine=_refine,
    prepare=_prepare,
)
