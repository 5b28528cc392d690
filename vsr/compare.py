"""``vsr compare``: the same frames through several models, side by side, before a long job.

The frames at the requested times are decoded once (by the same reader, and deinterlaced the same
way, as ``vsr upscale``); each model gets a Plan from ``make_plan`` and runs through the backend
``create_backend`` gives it, so what the picture shows is what ``vsr upscale`` would write (its
output pixel format included; a temporal model first runs the frames before each time, as a
segment of an upscale does). The crops are taken 1:1 from the output frames; the default crop
of each row is the most detailed region of that input frame.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import av
import cv2
import numpy as np

from vsr.backends.factory import create_backend
from vsr.config import UpscaleOptions
from vsr.errors import InputError, UsageError
from vsr.io.deinterlace import Deinterlacer
from vsr.io.probe import VideoInfo, probe
from vsr.io.reader import Section, VideoReader
from vsr.plan import Plan, make_plan

_CROP_RE = re.compile(r"^(\d+)x(\d+)(?:\+(\d+)\+(\d+))?$")
DEFAULT_CROP = (320, 240)  # output pixels; clipped to the output size


@dataclass(frozen=True)
class Crop:
    width: int
    height: int
    x: int | None = None  # None: the most detailed region of each frame
    y: int | None = None

    @classmethod
    def parse(cls, text: str) -> Crop:
        m = _CROP_RE.match(text.strip().lower())
        if not m or int(m.group(1)) <= 0 or int(m.group(2)) <= 0:
            raise UsageError(f"--crop {text!r}: use WxH or WxH+X+Y in output pixels (e.g. 320x240+800+300)")
        x, y = (int(m.group(3)), int(m.group(4))) if m.group(3) is not None else (None, None)
        return cls(int(m.group(1)), int(m.group(2)), x, y)

    def __str__(self) -> str:
        return f"{self.width}x{self.height}" + (f"+{self.x}+{self.y}" if self.x is not None else "")


@dataclass(frozen=True)
class Cell:
    """One crop of the grid: RGB pixels and what they are."""

    image: np.ndarray  # H×W×3 uint8 RGB
    model: str
    time: float  # seconds, the frame's own timestamp
    seconds_per_frame: float | None  # backend time (colour conversion, model, resample); None: reference


@dataclass(frozen=True)
class Comparison:
    rows: list[list[Cell]]  # one row per time: reference first, then one cell per model
    crops: list[Crop]  # the crop used on each row (output pixels)
    plans: list[Plan]  # one per model, as make_plan made it
    width: int  # output frame size
    height: int


def compare(opts: UpscaleOptions, models: Sequence[str], times: Sequence[float], crop: Crop | None = None,
            on_model: Callable[[str], None] | None = None, info: VideoInfo | None = None) -> Comparison:
    """Decode the frames at ``times`` once, run each model on them, cut the crops.

    ``opts`` carries the input and what applies to every model (--to/--scale, backend, device,
    precision, tile); ``on_model`` is called with each model's name before it runs; ``info``: the
    input's probe, if the caller has it.
    """
    if not models:
        raise UsageError("--models: give at least one model (e.g. bicubic,lanczos,edsr-baseline)")
    if not times:
        raise UsageError("--at: give at least one time in seconds (e.g. 2,5)")
    info = info or probe(opts.input)
    plans = [make_plan(replace(opts, model=m), info, check_paths=False) for m in models]
    width, height = plans[0].width, plans[0].height
    frames = decode_at(info, times, plans[0].deinterlace)
    crop = crop or Crop(*DEFAULT_CROP)
    if crop.x is None:  # a crop to be placed shrinks to fit; a placed one must fit (_place says so)
        crop = replace(crop, width=min(crop.width, width), height=min(crop.height, height))
    crops = [_place(crop, f, width, height) for f in frames]

    rows: list[list[Cell]] = [[] for _ in frames]
    colour = info.colour
    for i, frame in enumerate(frames):
        reference = cv2.resize(to_rgb(frame, colour), (width, height), interpolation=cv2.INTER_NEAREST)
        rows[i].append(Cell(_cut(reference, crops[i]), "input, nearest", _time(frame), None))
    for plan in plans:
        if on_model:
            on_model(plan.model)
        outputs, seconds = [], []
        with create_backend(plan) as backend:
            for t, frame in zip(times, frames):
                run = [frame]
                if plan.temporal:  # the frame as an upscale makes it: run the frames before it, and after it
                    backend.reset()
                    for before in decode_before(info, t, plan.warmup_frames, plan.deinterlace):
                        backend.process([before])
                    run += decode_after(info, t, plan.lookahead_frames, plan.deinterlace)
                started = time.perf_counter()
                done = [out for f in run for out in backend.process([f])] + backend.finish()
                seconds.append((time.perf_counter() - started) / len(run))
                outputs.append(next(out for out in done if out.pts == frame.pts))
        per_frame = float(np.mean(seconds[1:] if len(seconds) > 1 else seconds))  # the first call warms up
        for i, (frame, out) in enumerate(zip(frames, outputs)):
            rows[i].append(Cell(_cut(to_rgb(out, colour), crops[i]), plan.model, _time(frame), per_frame))
    return Comparison(rows, crops, plans, width, height)


def decode_at(info: VideoInfo, times: Sequence[float], deinterlace: str = "auto") -> list[av.VideoFrame]:
    """The first frame at or after each time (as ``vsr upscale --start T`` would begin)."""
    frames = []
    for t in times:
        if t < 0:
            raise UsageError(f"--at {t:g}: times must not be negative")
        with VideoReader(info, Section(t, None)) as reader:
            frame = next(iter(reader.frames()), None)
        if frame is None:
            length = f" (the clip lasts {info.duration:.2f} s)" if info.duration else ""
            raise InputError(f"no frame at {t:g} s in {info.path}{length}")
        frames.extend(Deinterlacer(deinterlace).apply([frame]))
    return frames


def decode_before(info: VideoInfo, t: float, count: int, deinterlace: str = "auto") -> list[av.VideoFrame]:
    """Up to ``count`` frames before the first frame at or after ``t`` (a temporal model's warm-up)."""
    rate = float(info.frame_rate or 25)
    frames = []
    with VideoReader(info, Section(max(0.0, t - (count + 1) / rate), None)) as reader:
        for frame in Deinterlacer(deinterlace).apply(reader.frames()):
            if _time(frame) >= t - 1e-6:
                break
            frames.append(frame)
    return frames[-count:] if count else []


def decode_after(info: VideoInfo, t: float, count: int, deinterlace: str = "auto") -> list[av.VideoFrame]:
    """Up to ``count`` frames after the first frame at or after ``t`` (a backward pass's look-ahead)."""
    if not count:
        return []
    frames = []
    with VideoReader(info, Section(t, None)) as reader:
        for frame in Deinterlacer(deinterlace).apply(reader.frames()):
            frames.append(frame)
            if len(frames) > count:
                break
    return frames[1:]


def to_rgb(frame: av.VideoFrame, colour) -> np.ndarray:
    """H×W×3 uint8 RGB with the stream's matrix and range (what a player shows, for SDR)."""
    return frame.to_ndarray(format="rgb24", src_colorspace=colour.matrix,
                            src_color_range="JPEG" if colour.full_range else "MPEG", dst_color_range="JPEG")


def detail_map(gray: np.ndarray) -> np.ndarray:
    """Edge and texture density per pixel: the gradient magnitude of a lightly blurred luma,
    clipped at its 95th percentile so that one high-contrast edge (a black border, a horizon)
    does not outweigh a region full of detail, and the blur keeps sensor noise out."""
    smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    return np.minimum(magnitude, np.percentile(magnitude, 95))


def most_detailed(gray: np.ndarray, window: tuple[int, int]) -> tuple[int, int]:
    """(x, y) of the ``window`` (w, h) with the largest gradient energy in ``gray``."""
    h, w = gray.shape
    ww, wh = min(window[0], w), min(window[1], h)
    integral = cv2.integral(detail_map(gray), sdepth=cv2.CV_64F)
    sums = integral[wh:, ww:] - integral[:-wh, ww:] - integral[wh:, :-ww] + integral[:-wh, :-ww]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(x), int(y)


def _place(crop: Crop, frame: av.VideoFrame, width: int, height: int) -> Crop:
    """The crop with a position inside the output frame (the most detailed one if none given)."""
    if crop.x is not None:
        if crop.x + crop.width > width or crop.y + crop.height > height:
            raise UsageError(f"--crop {crop} does not fit in the {width}x{height} output")
        return crop
    sx, sy = frame.width / width, frame.height / height
    window = (max(1, round(crop.width * sx)), max(1, round(crop.height * sy)))
    x, y = most_detailed(frame.to_ndarray(format="gray"), window)
    x = min(round(x / sx), width - crop.width)
    y = min(round(y / sy), height - crop.height)
    return replace(crop, x=x, y=y)


def _cut(image: np.ndarray, crop: Crop) -> np.ndarray:
    return np.ascontiguousarray(image[crop.y: crop.y + crop.height, crop.x: crop.x + crop.width])


def _time(frame: av.VideoFrame) -> float:
    return float(frame.pts * frame.time_base)


def default_times(info: VideoInfo, count: int = 3) -> list[float]:
    """Evenly spread times inside the clip (25 %, 50 %, 75 % for three)."""
    if not info.duration:
        return [0.0]
    return [round(info.duration * (i + 1) / (count + 1), 2) for i in range(count)]


def default_output(info: VideoInfo) -> Path:
    return info.path.with_name(f"{info.path.stem}.compare.png")
