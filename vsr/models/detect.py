"""Recognise an architecture and its hyper-parameters from a state dict's key names and shapes.

Works on ``{key: shape}`` only, so ``vsr.models.loader.inspect`` can answer from a safetensors
header without reading the tensors. The registry below is explicit and ordered: the first detector
that recognises the keys wins, so more specific layouts come first.

Hyper-parameters that the weights cannot show are *guessed* and listed in ``Detected.guessed``;
metadata written by ``vsr.models.loader.save``, a registry entry, or the caller may replace them:
- EDSR ``res_scale``: 0.1 for 256-feature (paper "full") models, 1.0 otherwise, as in the paper
  (no weight can show it: it folds into each block's second conv);
- EDSR ``rgb_range``: ``loader.load`` reads it off a stored ``add_mean`` (official layout), else 255;
- SRCNN / VDSR ``scale``: the network runs on a bicubic-upsampled image; 2 unless told;
- SRVGGNetCompact ``act_type`` when it has no PReLU weights: ``relu`` unless told.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Shapes = Mapping[str, tuple[int, ...]]


@dataclass
class Detected:
    arch: str
    kwargs: dict[str, Any]
    guessed: set[str] = field(default_factory=set)
    layout: str = ""  # publisher layout when keys must be renamed before loading ("basicsr", "esrgan")


def _indices(shapes: Shapes, pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in shapes if (m := rx.fullmatch(k))})


def _isqrt_exact(n: int) -> int | None:
    r = math.isqrt(n)
    return r if r * r == n else None


def _edsr_scale(stages: list[int], first_out: int, features: int) -> int | None:
    if len(stages) == 1 and first_out == 9 * features:
        return 3
    if stages and first_out == 4 * features:
        return 2 ** len(stages)
    return None


def _edsr_kwargs(features: int, in_channels: int, blocks: int, scale: int) -> Detected:
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


def detect_edsr(s: Shapes) -> Detected | None:
    """Official EDSR-PyTorch layout (head.0, body.N.body.0/2, body.<N>, tail.0.K, tail.1)."""
    if not {"head.0.weight", "tail.1.weight", "body.0.body.0.weight"} <= s.keys():
        return None
    features, in_channels = s["head.0.weight"][:2]
    blocks = len(_indices(s, r"body\.(\d+)\.body\.0\.weight"))
    stages = _indices(s, r"tail\.0\.(\d+)\.weight")
    scale = _edsr_scale(stages, s[f"tail.0.{stages[0]}.weight"][0], features) if stages else None
    if scale is None or f"body.{blocks}.weight" not in s:
        return None
    return _edsr_kwargs(features, in_channels, blocks, scale)


def detect_edsr_basicsr(s: Shapes) -> Detected | None:
    """BasicSR EDSR layout (conv_first, body.N.conv1/2, conv_after_body, upsample.K, conv_last)."""
    if not {"conv_first.weight", "conv_after_body.weight", "body.0.conv1.weight", "upsample.0.weight"} <= s.keys():
        return None
    features, in_channels = s["conv_first.weight"][:2]
    blocks = len(_indices(s, r"body\.(\d+)\.conv1\.weight"))
    stages = _indices(s, r"upsample\.(\d+)\.weight")
    scale = _edsr_scale(stages, s["upsample.0.weight"][0], features)
    if scale is None:
        return None
    found = _edsr_kwargs(features, in_channels, blocks, scale)
    found.layout = "basicsr"
    return found


def _rrdb_kwargs(s: Shapes, body: str, rdb: str, first: str, last: str) -> Detected | None:
    features, in_total = s[first][:2]
    out_channels = s[last][0]
    unshuffle_sq = in_total // out_channels if in_total % out_channels == 0 else 0
    scale = {1: 4, 4: 2, 16: 1}.get(unshuffle_sq)
    if scale is None:
        return None
    blocks = len(_indices(s, rf"{body}\.(\d+)\.{rdb}1\.conv1\.weight"))
    return Detected(
        "rrdbnet",
        {
            "in_channels": out_channels,
            "out_channels": out_channels,
            "num_features": features,
            "num_blocks": blocks,
            "growth_channels": s[f"{body}.0.{rdb}1.conv1.weight"][0],
            "scale": scale,
        },
    )


def detect_rrdbnet(s: Shapes) -> Detected | None:
    """BasicSR / Real-ESRGAN RRDBNet (x4; x2 and x1 pixel-unshuffle the input)."""
    if not {"conv_first.weight", "body.0.rdb1.conv1.weight", "conv_up1.weight", "conv_last.weight"} <= s.keys():
        return None
    if "conv_up3.weight" in s:
        return None  # x8 variant: not supported
    return _rrdb_kwargs(s, "body", "rdb", "conv_first.weight", "conv_last.weight")


def detect_esrgan_original(s: Shapes) -> Detected | None:
    """The original ESRGAN repository's names (RRDB_trunk.N.RDBk, trunk_conv, upconv1/2, HRconv)."""
    if not {"conv_first.weight", "RRDB_trunk.0.RDB1.conv1.weight", "trunk_conv.weight", "HRconv.weight"} <= s.keys():
        return None
    found = _rrdb_kwargs(s, "RRDB_trunk", "RDB", "conv_first.weight", "conv_last.weight")
    if found:
        found.layout = "esrgan"
    return found


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


def detect_msrresnet(s: Shapes) -> Detected | None:
    """BasicSR MSRResNet (conv_first, body.N.conv1/2, upconv1[, upconv2], conv_hr, conv_last)."""
    if not {"conv_first.weight", "body.0.conv1.weight", "upconv1.weight", "conv_hr.weight"} <= s.keys():
        return None
    features, in_channels = s["conv_first.weight"][:2]
    if "upconv2.weight" in s:
        scale = 4
    else:
        scale = _isqrt_exact(s["upconv1.weight"][0] // features)
    if scale not in (2, 3, 4):
        return None
    return Detected(
        "msrresnet",
        {
            "in_channels": in_channels,
            "out_channels": s["conv_last.weight"][0],
            "num_features": features,
            "num_blocks": len(_indices(s, r"body\.(\d+)\.conv1\.weight")),
            "scale": scale,
        },
    )


def detect_srresnet(s: Shapes) -> Detected | None:
    """SRGAN generator with BatchNorm (this package's names, see vsr.models.srresnet)."""
    if not {"conv_first.weight", "body.0.bn1.weight", "conv_body.weight", "upsample.0.conv.weight"} <= s.keys():
        return None
    features, in_channels = s["conv_first.weight"][:2]
    stages = _indices(s, r"upsample\.(\d+)\.conv\.weight")
    scale = _edsr_scale(stages, s["upsample.0.conv.weight"][0], features)
    if scale is None:
        return None
    return Detected(
        "srresnet",
        {
            "in_channels": in_channels,
            "num_features": features,
            "num_blocks": len(_indices(s, r"body\.(\d+)\.conv1\.weight")),
            "scale": scale,
        },
    )


def detect_srvgg(s: Shapes) -> Detected | None:
    """Real-ESRGAN SRVGGNetCompact: only body.N.{weight,bias}; convs 4-D, PReLU weights 1-D."""
    if not s or not all(re.fullmatch(r"body\.\d+\.(weight|bias)", k) for k in s):
        return None
    convs = [i for i in _indices(s, r"body\.(\d+)\.weight") if len(s[f"body.{i}.weight"]) == 4]
    prelus = [i for i in _indices(s, r"body\.(\d+)\.weight") if len(s[f"body.{i}.weight"]) == 1]
    if len(convs) < 2 or convs[0] != 0:
        return None
    features, in_channels = s["body.0.weight"][:2]
    last_out = s[f"body.{convs[-1]}.weight"][0]
    scale = _isqrt_exact(last_out // in_channels) if last_out % in_channels == 0 else None
    if not scale:
        return None
    found = Detected(
        "srvgg",
        {
            "in_channels": in_channels,
            "out_channels": in_channels,
            "num_features": features,
            "num_conv": len(convs) - 2,
            "scale": scale,
            "act_type": "prelu" if prelus else "relu",
        },
    )
    if not prelus:
        found.guessed.add("act_type")
    return found


def detect_srcnn(s: Shapes) -> Detected | None:
    names = {f"conv{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}
    if set(s) != names:
        return None
    features, in_channels = s["conv1.weight"][:2]
    kernels = tuple(s[f"conv{i}.weight"][-1] for i in (1, 2, 3))
    return Detected(
        "srcnn",
        {"in_channels": in_channels, "num_features": features, "scale": 2, "kernel_sizes": kernels},
        guessed={"scale"},
    )


def detect_vdsr(s: Shapes) -> Detected | None:
    if not {"input.weight", "residual_layer.0.conv.weight", "output.weight"} <= s.keys():
        return None
    features, in_channels = s["input.weight"][:2]
    layers = len(_indices(s, r"residual_layer\.(\d+)\.conv\.weight")) + 2
    return Detected(
        "vdsr",
        {"in_channels": in_channels, "num_features": features, "num_layers": layers, "scale": 2},
        guessed={"scale"},
    )


# Ordered: first match wins. (arch name, detector)
DETECTORS: tuple[tuple[str, Callable[[Shapes], Detected | None]], ...] = (
    ("edsr", detect_edsr),
    ("edsr", detect_edsr_basicsr),
    ("rrdbnet", detect_rrdbnet),
    ("rrdbnet", detect_esrgan_original),
    ("msrresnet", detect_msrresnet),
    ("srresnet", detect_srresnet),
    ("srvgg", detect_srvgg),
    ("srcnn", detect_srcnn),
    ("vdsr", detect_vdsr),
)

ARCH_ALIASES = {
    "edsr": "edsr",
    "edsr-baseline": "edsr",
    "rrdbnet": "rrdbnet",
    "rrdb": "rrdbnet",
    "esrgan": "rrdbnet",
    "realesrgan": "rrdbnet",
    "real-esrgan": "rrdbnet",
    "msrresnet": "msrresnet",
    "srresnet": "srresnet",
    "srgan": "srresnet",
    "srvgg": "srvgg",
    "srvggnetcompact": "srvgg",
    "compact": "srvgg",
    "srcnn": "srcnn",
    "vdsr": "vdsr",
}


def canonical_arch(name: str) -> str | None:
    return ARCH_ALIASES.get(name.lower().replace("_", "-").replace("-", "")) or ARCH_ALIASES.get(name.lower())


def detect(shapes: Shapes, *, arch: str | None = None) -> Detected | None:
    """The first detector (of ``arch`` only, when given) that recognises ``shapes``."""
    for name, detector in DETECTORS:
        if arch is not None and name != arch:
            continue
        found = detector(shapes)
        if found is not None:
            return found
    return None


def supported_archs() -> list[str]:
    return list(dict.fromkeys(name for name, _ in DETECTORS))
