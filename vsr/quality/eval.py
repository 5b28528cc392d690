"""Evaluate a model on an image folder by the SR papers' protocol.

HR cropped to a multiple of the scale; LR = MATLAB bicubic ``imresize(hr, 1/scale)`` (or read from
``lr_dir``); the model's output is quantised to uint8 (round, clamp) before measuring; PSNR and SSIM
on BT.601 Y with ``scale`` pixels shaved from each border; the mean over images is reported. Extra
metrics (``metrics``, :mod:`vsr.quality.perceptual`) see the same shaved RGB images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vsr.errors import ModelError
from vsr.quality.datasets import load_pairs
from vsr.quality.matlab_resize import imresize
from vsr.quality.metrics import psnr_y, shave_borders, ssim_y
from vsr.quality.perceptual import describe_all, load_metrics, mean_scores, rounded, score_all


@dataclass
class ImageResult:
    name: str
    psnr_y: float
    ssim_y: float
    perceptual: dict[str, float] = field(default_factory=dict)  # --metric name: score


@dataclass
class EvalResult:
    model: str
    scale: int
    images: list[ImageResult]
    degrade: str = "clean"
    seed: int = 0
    precision: str = "fp32"
    metrics: dict[str, dict[str, str]] = field(default_factory=dict)  # --metric name: unit, display, version

    @property
    def psnr_y(self) -> float:
        return float(np.mean([r.psnr_y for r in self.images]))

    @property
    def ssim_y(self) -> float:
        return float(np.mean([r.ssim_y for r in self.images]))

    @property
    def perceptual(self) -> dict[str, float]:
        return mean_scores([r.perceptual for r in self.images])

    def to_dict(self) -> dict[str, Any]:
        """The --metric scores sit beside psnr_y/ssim_y (mean and per image), described under ``metrics``."""
        extra = {"metrics": self.metrics} if self.metrics else {}
        return {
            "psnr_y": round(self.psnr_y, 4),
            "ssim_y": round(self.ssim_y, 5),
            **rounded(self.perceptual),
            "scale": self.scale,
            "model": self.model,
            "degrade": self.degrade,
            "seed": self.seed,
            "precision": self.precision,
            **extra,
            "images": [{"name": r.name, "psnr_y": round(r.psnr_y, 4), "ssim_y": round(r.ssim_y, 5),
                        **rounded(r.perceptual)} for r in self.images],
        }


RESAMPLE_METHODS = {"bicubic": "bicubic", "lanczos": "lanczos3"}


def resolve_model(name: str | None, scale: int) -> tuple[str, str]:
    """(kind, source): kind 'resample' (source = method) or 'torch' (source = name or path)."""
    from vsr.models.resolver import resolve

    resolved = resolve(name)
    if resolved.is_resampler:
        return "resample", RESAMPLE_METHODS[resolved.name]
    return "torch", resolved.source(scale)


def sr_image(model, lr: np.ndarray, device, amp_dtype=None) -> np.ndarray:
    """Run the model on one uint8 RGB image; output uint8 (rounded and clamped, like the papers).

    The input is cast to the model's own dtype (a model cast to bf16/fp16 runs in it); ``amp_dtype``
    runs an fp32 model under autocast instead (training's validation). A temporal model sees the image
    as the first frame of a shot (no past), as ``vsr upscale`` runs it on a still."""
    import torch

    from vsr.models.temporal import shot_start_args

    dtype = next(model.parameters()).dtype
    x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))).float().div_(255.0)[None]
    x = x.to(device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32,
                                         enabled=amp_dtype is not None):
        y = model(*shot_start_args(model, x))
    if isinstance(y, tuple):  # a temporal model: (output, next state)
        y = y[0]
    y = y.float().mul_(255.0).round_().clamp_(0, 255)
    return y[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def evaluate(
    hr_dir: str | Path,
    scale: int,
    model: str | None = None,
    *,
    lr_dir: str | Path | None = None,
    degrade: str | None = None,
    seed: int = 0,
    device: str = "auto",
    precision: str = "fp32",
    metrics: Sequence[str] = (),
    on_image: Callable[[ImageResult], None] | None = None,
) -> EvalResult:
    """Mean PSNR/SSIM (and ``metrics``, names from :func:`vsr.quality.perceptual.parse_metrics`) of ``model``
    on ``hr_dir``; the LR (made or read from ``lr_dir``) is degraded by ``degrade`` (a
    :mod:`vsr.quality.degrade` spec), each image from its own seeded generator."""
    from vsr.quality.degrade import image_rng, parse

    kind, source = resolve_model(model, scale)
    degradation = parse(degrade)
    pairs = load_pairs(hr_dir, scale, lr_dir)
    scorers = load_metrics(metrics, device)
    label = model or source
    results = []
    if kind == "resample":
        run = lambda lr: imresize(lr, float(scale), method=source)  # noqa: E731
        precision = "fp64"
    else:
        import torch

        from vsr.models import load
        from vsr.plan import resolve_precision
        from vsr.quality.device import pick_device

        dev = pick_device(device)
        precision = resolve_precision(precision, str(dev))
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        net = load(source).eval().to(dev).to(dtype).to(memory_format=torch.channels_last)
        run = lambda lr: sr_image(net, lr, dev)  # noqa: E731
    for p in pairs:
        lr = p.lr if degradation.is_clean else degradation(p.lr, image_rng(seed, p.name))
        sr = run(lr)
        if sr.shape != p.hr.shape:
            raise ModelError(f"{label}: output {sr.shape} for {p.name}, expected {p.hr.shape}")
        perceptual = score_all(scorers, [shave_borders(sr, scale)], [shave_borders(p.hr, scale)])
        r = ImageResult(p.name, psnr_y(sr, p.hr, scale), ssim_y(sr, p.hr, scale), perceptual)
        results.append(r)
        if on_image:
            on_image(r)
    return EvalResult(model=str(label), scale=scale, images=results, degrade=degradation.spec or "clean",
                      seed=seed, precision=precision, metrics=describe_all(scorers))
