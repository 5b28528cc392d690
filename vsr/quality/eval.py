"""Evaluate a model on an image folder by the SR papers' protocol.

HR cropped to a multiple of the scale; LR = MATLAB bicubic ``imresize(hr, 1/scale)`` (or read from
``lr_dir``); the model's output is quantised to uint8 (round, clamp) before measuring; PSNR and SSIM
on BT.601 Y with ``scale`` pixels shaved from each border; the mean over images is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vsr.errors import ModelError, UsageError
from vsr.quality.datasets import load_pairs
from vsr.quality.matlab_resize import imresize
from vsr.quality.metrics import psnr_y, ssim_y


@dataclass
class ImageResult:
    name: str
    psnr_y: float
    ssim_y: float


@dataclass
class EvalResult:
    model: str
    scale: int
    images: list[ImageResult]

    @property
    def psnr_y(self) -> float:
        return float(np.mean([r.psnr_y for r in self.images]))

    @property
    def ssim_y(self) -> float:
        return float(np.mean([r.ssim_y for r in self.images]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "psnr_y": round(self.psnr_y, 4),
            "ssim_y": round(self.ssim_y, 5),
            "scale": self.scale,
            "model": self.model,
            "images": [{"name": r.name, "psnr_y": round(r.psnr_y, 4), "ssim_y": round(r.ssim_y, 5)} for r in self.images],
        }


RESAMPLE_METHODS = {"bicubic": "bicubic", "lanczos": "lanczos3"}


def resolve_model(name: str | None, scale: int) -> tuple[str, str]:
    """(kind, source): kind 'resample' (source = method) or 'torch' (source = name or path)."""
    from vsr.models import registry

    name = name or registry.DEFAULT_MODEL
    if registry.is_resampler(name):
        return "resample", RESAMPLE_METHODS[name.lower()]
    if Path(name).is_file():
        return "torch", name
    try:
        scales = registry.family_scales(name)
    except ImportError:  # the published-weights zoo is not there yet
        scales = {}
    if not scales:
        raise registry.unknown_model(name)
    if scale not in scales:
        raise UsageError(f"model {name!r} has scales {sorted(scales)}, not x{scale}: pick --scale from those")
    return "torch", scales[scale]


def evaluate(
    hr_dir: str | Path,
    scale: int,
    model: str | None = None,
    *,
    lr_dir: str | Path | None = None,
    device: str = "auto",
    on_image: Callable[[ImageResult], None] | None = None,
) -> EvalResult:
    kind, source = resolve_model(model, scale)
    pairs = load_pairs(hr_dir, scale, lr_dir)
    label = model or source
    results = []
    if kind == "resample":
        run = lambda lr: imresize(lr, float(scale), method=source)  # noqa: E731
    else:
        import torch

        from vsr.models import load
        from vsr.quality.train import sr_image

        dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
        net = load(source).eval().to(dev)
        net_scale = getattr(net, "scale", scale)
        if net_scale != scale:
            raise UsageError(f"model {label!r} upscales x{net_scale}, but --scale is {scale}")
        run = lambda lr: sr_image(net, lr, dev)  # noqa: E731
    for p in pairs:
        sr = run(p.lr)
        if sr.shape != p.hr.shape:
            raise ModelError(f"{label}: output {sr.shape} for {p.name}, expected {p.hr.shape}")
        r = ImageResult(p.name, psnr_y(sr, p.hr, scale), ssim_y(sr, p.hr, scale))
        results.append(r)
        if on_image:
            on_image(r)
    return EvalResult(model=str(label), scale=scale, images=results)
