"""Evaluate a model on video by the video SR papers' protocol, through ``vsr upscale``'s backend.

Per clip: the ground-truth frames (``vsr.quality.video_clips``) are cropped to a multiple of the
scale; LR = MATLAB bicubic 1/scale of each frame; optionally the LR clip is degraded *as a video*
(``vsr.quality.video_degrade``: per-frame stages, then a real codec over the whole clip), from a
generator seeded by the seed and the clip's name. The LR frames go, in order and in the plan's
batches, through the backend that ``vsr upscale`` would use for the same model (``make_plan`` then
``backend_for``, as ``vsr compare`` does), as ``rgb24`` frames, and come back as ``rgb24`` at exactly
scale x the LR size: what ``vsr upscale --codec ffv1 --pix-fmt bgr0`` writes, no other colour
conversion. One backend per clip, so a temporal model starts every clip with fresh state.

Scores (``vsr.quality.video_metrics``): PSNR-Y and SSIM-Y of every frame, no border crop; tOF and
flicker of every pair of consecutive frames; the mean per clip, then the mean over clips. Extra
metrics (:mod:`vsr.quality.perceptual`, e.g. ColorVideoVDP) score each clip as a video: the same output
and ground-truth frames, at the clip's frame rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vsr.errors import InputError, ModelError
from vsr.quality.datasets import make_lr, mod_crop
from vsr.quality.perceptual import Cvvdp, describe_all, load_metrics, mean_scores, rounded, score_all
from vsr.quality.video_clips import Clip, ClipWindow, find_clips, read_clip
from vsr.quality.video_metrics import ClipScorer, FrameScore

OUTPUT_FORMAT = "rgb24"  # 8-bit RGB out of the backend: what an ffv1 bgr0 upscale stores


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class ClipResult:
    name: str
    gt_size: tuple[int, int]  # width, height (after --gt-downscale and the crop to a multiple of the scale)
    lr_size: tuple[int, int]
    degraded: str  # what was done to the LR ("clean", "frames only", "h264 crf 25.0", ...)
    frames: list[FrameScore]
    seconds: float  # spent in the backend (conversions, model, resample), all frames
    perceptual: dict[str, float] = field(default_factory=dict)  # --metric name: score of the whole clip

    @property
    def psnr_y(self) -> float:
        return float(np.mean([f.psnr_y for f in self.frames]))

    @property
    def ssim_y(self) -> float:
        return float(np.mean([f.ssim_y for f in self.frames]))

    @property
    def tof(self) -> float | None:
        return _mean([f.tof for f in self.frames])

    @property
    def flicker(self) -> float | None:
        return _mean([f.flicker for f in self.frames])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "frames": len(self.frames), "gt_size": list(self.gt_size), "lr_size": list(self.lr_size),
            "degraded": self.degraded, "psnr_y": round(self.psnr_y, 4), "ssim_y": round(self.ssim_y, 5),
            "tof": _round(self.tof, 5), "flicker": _round(self.flicker, 5), **rounded(self.perceptual),
            "per_frame": [{"psnr_y": round(f.psnr_y, 4), "ssim_y": round(f.ssim_y, 5), "tof": _round(f.tof, 5),
                           "flicker": _round(f.flicker, 5)} for f in self.frames],
        }


@dataclass
class VideoEvalResult:
    model: str
    scale: int
    clips: list[ClipResult]
    degrade: str = "clean"  # the per-frame stages and the codec, as given
    seed: int = 0
    precision: str = "fp32"
    backend: str = ""
    device: str = "cpu"
    window: ClipWindow = field(default_factory=ClipWindow)
    metrics: dict[str, dict[str, str]] = field(default_factory=dict)  # --metric name: unit, display, version

    @property
    def psnr_y(self) -> float:
        return float(np.mean([c.psnr_y for c in self.clips]))

    @property
    def ssim_y(self) -> float:
        return float(np.mean([c.ssim_y for c in self.clips]))

    @property
    def perceptual(self) -> dict[str, float]:
        return mean_scores([c.perceptual for c in self.clips])

    @property
    def tof(self) -> float | None:
        return _mean([c.tof for c in self.clips])

    @property
    def flicker(self) -> float | None:
        return _mean([c.flicker for c in self.clips])

    @property
    def frames(self) -> int:
        return sum(len(c.frames) for c in self.clips)

    def to_dict(self) -> dict[str, Any]:
        """Everything but ``timing`` is the same on every run."""
        w = self.window
        extra = {"metrics": self.metrics} if self.metrics else {}
        return {
            "protocol": "video", "psnr_y": round(self.psnr_y, 4), "ssim_y": round(self.ssim_y, 5),
            "tof": _round(self.tof, 5), "flicker": _round(self.flicker, 5), **rounded(self.perceptual),
            "scale": self.scale, "model": self.model, "degrade": self.degrade, "seed": self.seed,
            "precision": self.precision, "backend": self.backend, "device": self.device, "frames": self.frames, **extra,
            "window": {"start": w.start, "duration": w.duration, "max_frames": w.max_frames, "gt_downscale": w.downscale},
            "clips": [c.to_dict() for c in self.clips],
            "timing": {c.name: round(c.seconds / len(c.frames), 4) for c in self.clips},  # s/frame, varies
        }


def lr_clip_info(name: str, width: int, height: int, fps: Fraction):
    """A VideoInfo for an LR clip held in memory as full-range RGB frames (what the plan is made for)."""
    from vsr.io.colour import UNSPECIFIED, ColourInfo
    from vsr.io.probe import VideoInfo

    return VideoInfo(path=Path(name), container="memory", stream_index=0, codec="rawvideo", width=width,
                     height=height, pix_fmt="rgb24", bit_depth=8, sar=Fraction(1), rotation=0,
                     colour=ColourInfo("itu601", True, UNSPECIFIED, UNSPECIFIED, UNSPECIFIED),
                     time_base=1 / fps, frame_rate=fps, duration=None, frames=None)


def plan_for(model: str | None, scale: int, width: int, height: int, fps: Fraction, *, backend: str = "auto",
             device: str = "auto", precision: str = "fp32", name: str = "clip"):
    """The Plan ``vsr upscale --scale S --model M --codec ffv1 --pix-fmt bgr0`` makes for this LR clip."""
    from vsr.config import UpscaleOptions
    from vsr.models.registry import DEFAULT_MODEL
    from vsr.plan import make_plan
    from vsr.quality.eval import resolve_model

    resolve_model(model, scale)  # the model has a member of exactly this scale (one place, as for images)
    # the protocol's default is the registry's, not the pick vsr upscale makes by measuring an input file
    opts = UpscaleOptions(input=Path(name), scale=float(scale), model=model or DEFAULT_MODEL, backend=backend,
                          device=device, precision=precision, codec="ffv1", pix_fmt="bgr0", skip_duplicates=False)
    return make_plan(opts, lr_clip_info(name, width, height, fps), check_paths=False)


@dataclass
class Stopwatch:
    seconds: float = 0.0


def upscale_frames(plan, scale: int, frames: Sequence[np.ndarray], fps: Fraction,
                   timer: Stopwatch | None = None) -> Iterator[np.ndarray]:
    """Run the LR frames (HxWx3 uint8 RGB) through the plan's backend in order and in its batches;
    yields the output frames as uint8 RGB at exactly ``scale`` x the LR size. ``timer`` accumulates the
    seconds spent inside the backend."""
    import av

    from vsr.backends.factory import backend_for
    from vsr.backends.spec import Frames

    h, w = frames[0].shape[:2]
    spec = replace(plan.backend_spec(), output=Frames(w * scale, h * scale, OUTPUT_FORMAT))
    time_base, timer = 1 / fps, timer or Stopwatch()

    def batches() -> Iterator[list[av.VideoFrame]]:
        for first in range(0, len(frames), spec.batch):
            batch = []
            for i in range(first, min(first + spec.batch, len(frames))):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
                frame.pts, frame.time_base = i, time_base
                batch.append(frame)
            yield batch

    with backend_for(spec) as backend:
        results = backend.run(batches())
        while True:
            started = time.perf_counter()
            outs = next(results, None)
            timer.seconds += time.perf_counter() - started
            if outs is None:
                return
            for out in outs:  # a copy: to_ndarray() can view a buffer PyAV's reformatter reuses
                yield out.to_ndarray(format="rgb24").copy()


def protocol_pair(clip: Clip, scale: int, degradation, seed: int) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """(ground truth, LR, what was done to the LR) of a clip by the video protocol: each frame cropped to a
    multiple of ``scale``, MATLAB bicubic 1/scale, then ``degradation`` (a ``VideoDegradation``) over the
    clip, seeded by ``seed`` and the clip's name."""
    from vsr.quality.degrade import image_rng

    gt = [mod_crop(f, scale) for f in clip.frames]
    lr = [make_lr(f, scale) for f in gt]
    if degradation.is_clean:
        return gt, lr, "clean"
    lr, degraded = degradation(lr, image_rng(seed, clip.name))
    return gt, lr, degraded


def evaluate_clip(clip: Clip, scale: int, model: str | None, *, degradation, seed: int, backend: str, device: str,
                  precision: str, metrics: Sequence[Cvvdp] = (),
                  on_frame: Callable[[int, FrameScore], None] | None = None):
    """(ClipResult, plan) of one ground-truth clip; ``metrics`` (from
    :func:`vsr.quality.perceptual.load_metrics`) score the whole clip, so its output is kept for them."""
    gt, lr, degraded = protocol_pair(clip, scale, degradation, seed)
    h, w = lr[0].shape[:2]
    plan = plan_for(model, scale, w, h, clip.fps, backend=backend, device=device, precision=precision, name=clip.name)
    scorer, timer, outputs = ClipScorer(), Stopwatch(), []
    for i, out in enumerate(upscale_frames(plan, scale, lr, clip.fps, timer)):
        if i >= len(gt):
            raise ModelError(f"{plan.model}: more output frames than the {len(gt)} given for {clip.name}")
        if out.shape != gt[i].shape:
            raise ModelError(f"{plan.model}: output {out.shape} for frame {i} of {clip.name}, expected {gt[i].shape}")
        score = scorer.add(out, gt[i])
        if metrics:
            outputs.append(out)
        if on_frame:
            on_frame(i, score)
    if len(scorer.frames) != len(gt):
        raise ModelError(f"{plan.model}: {len(scorer.frames)} output frames for the {len(gt)} of {clip.name}")
    gh, gw = gt[0].shape[:2]
    perceptual = score_all(metrics, outputs, gt, float(clip.fps))
    return ClipResult(clip.name, (gw, gh), (w, h), degraded, scorer.frames, timer.seconds, perceptual), plan


def evaluate_clips(
    clips: Iterable[Clip],
    scale: int,
    model: str | None = None,
    *,
    degrade: str | None = None,
    codec: str | None = None,
    seed: int = 0,
    backend: str = "auto",
    device: str = "auto",
    precision: str = "fp32",
    window: ClipWindow = ClipWindow(),
    metrics: Sequence[str] = (),
    on_clip: Callable[[ClipResult], None] | None = None,
) -> VideoEvalResult:
    """Mean PSNR/SSIM/tOF/flicker (and ``metrics``, names from
    :func:`vsr.quality.perceptual.parse_metrics`) of ``model`` on ground-truth clips (read one at a time
    when ``clips`` is a generator); ``degrade`` (per-frame stages) and ``codec`` (over the whole LR clip)
    as in :mod:`vsr.quality.video_degrade`; ``window`` is only recorded (the clips are already cut)."""
    from vsr.quality.video_degrade import parse_video

    degradation = parse_video(degrade, codec)
    scorers = load_metrics(metrics, device)
    results, plan = [], None
    for clip in clips:
        result, plan = evaluate_clip(clip, scale, model, degradation=degradation, seed=seed, backend=backend,
                                     device=device, precision=precision, metrics=scorers)
        results.append(result)
        if on_clip:
            on_clip(result)
    if plan is None:
        raise InputError("no clips to evaluate")
    return VideoEvalResult(model=plan.model, scale=scale, clips=results, degrade=degradation.label, seed=seed,
                           precision=plan.precision, backend=plan.backend, device=plan.device, window=window,
                           metrics=describe_all(scorers))


def evaluate_video(ground_truth: str | Path, scale: int, model: str | None = None, *,
                   window: ClipWindow = ClipWindow(), **options: Any) -> VideoEvalResult:
    """:func:`evaluate_clips` on the clips of ``ground_truth`` (a video file, a folder of video files, or
    a folder of clip folders), each cut and shrunk by ``window``."""
    sources = find_clips(ground_truth)
    return evaluate_clips((read_clip(s, window) for s in sources), scale, model, window=window, **options)
