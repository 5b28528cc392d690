"""Training clips for temporal models: synthetic motion over still images, and real clips.

A clip is ``frames`` HR pictures, their LR (MATLAB bicubic of each, then degraded *as a video*:
``vsr.quality.video_degrade``) and the DIS flow from each LR frame to the one before
(``vsr.models.motion``), all made once per run into memory (``ClipCache``), from
``default_rng([seed, i])`` for clip ``i``: the same clips on every run and resume.

- Synthetic motion (``pan_clip``): a crop of a still image that moves along a smooth random path,
  sub-pixel, with a slow zoom and rotation (what a panning, tilting, zooming camera does), drawn by
  ``cv2.warpAffine`` (Lanczos) from the full image.
- Real clips (``video_frames``): frames decoded with PyAV and downscaled (area) by at least 2 so the
  source's own compression is gone; a window of consecutive frames and a crop of them.

``ClipDataset`` cuts an LR patch (and its HR and flow) out of a random cached clip, with a random
flip/transpose applied to pictures and flow alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vsr.errors import InputError
from vsr.quality.datasets import list_images, read_rgb
from vsr.quality.matlab_resize import imresize
from vsr.quality.video_degrade import VideoDegradation

Image = np.ndarray


@dataclass
class Clip:
    hr: np.ndarray  # T, H*s, W*s, 3 uint8
    lr: np.ndarray  # T, H, W, 3 uint8 (degraded)
    flow: np.ndarray  # T, 2, H, W float16; zero where a shot starts
    starts: np.ndarray  # T bool: the first frame, and scene cuts (the state restarts there, as in vsr upscale)
    note: str = ""


def lr_flows(lr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flows, starts): DIS flow from each LR frame to the previous one, and where a shot starts (the
    first frame and every scene cut by the pipeline's test, ``vsr.models.motion.is_cut``; flow 0 there)."""
    from vsr.models.motion import FlowEstimator, grey, is_cut

    estimate = FlowEstimator()
    g = [grey(f) for f in lr]
    flows = np.zeros((len(lr), 2, *lr.shape[1:3]), dtype=np.float16)
    starts = np.zeros(len(lr), dtype=bool)
    starts[0] = True
    for t in range(1, len(lr)):
        if is_cut(lr[t - 1], lr[t]):
            starts[t] = True
        else:
            flows[t] = estimate(g[t], g[t - 1])
    return flows, starts


def make_clip(hr_frames: list[Image], scale: int, degradation: VideoDegradation, rng: np.random.Generator) -> Clip:
    lr = [imresize(f, 1.0 / scale) for f in hr_frames]
    lr, note = degradation(lr, rng) if not degradation.is_clean else (lr, "clean")
    lr_arr = np.stack(lr)
    return Clip(np.stack(hr_frames), lr_arr, *lr_flows(lr_arr), note)


def pan_path(shape: tuple[int, int], frames: int, size: int, rng: np.random.Generator, *,
             max_speed: float) -> list[np.ndarray]:
    """A smooth random camera path over a picture of ``shape`` (height, width): per frame the 2x3 affine map
    from a pixel of the ``size``-square crop to where it lies in the picture; speed in picture px/frame."""
    h, w = shape
    speed = rng.uniform(0.0, max_speed)
    angle = rng.uniform(0, 2 * math.pi)
    velocity = np.array([math.cos(angle), math.sin(angle)]) * speed
    accel = rng.normal(0.0, max_speed * 0.03, size=2)
    zoom_rate = math.exp(rng.normal(0.0, 0.008)) if rng.random() < 0.5 else 1.0
    spin = math.radians(rng.normal(0.0, 0.3)) if rng.random() < 0.3 else 0.0
    travel = np.abs(velocity) * frames + np.abs(accel) * frames**2
    margin = size * 0.75 + travel
    lo = np.minimum(margin, [w / 2, h / 2])
    centre = np.array([rng.uniform(lo[0], w - lo[0]), rng.uniform(lo[1], h - lo[1])])
    maps = []
    for t in range(frames):
        z = zoom_rate**t
        a = spin * t
        c, s = math.cos(a) * z, math.sin(a) * z
        pos = centre + velocity * t + 0.5 * accel * t * t
        # destination (u, v) -> source: pos + R * z * ((u, v) - size/2)
        maps.append(np.array([[c, -s, pos[0] - c * size / 2 + s * size / 2],
                              [s, c, pos[1] - s * size / 2 - c * size / 2]], dtype=np.float64))
    return maps


def render_pan(img: Image, maps: list[np.ndarray], size: int) -> list[Image]:
    """The ``size``-square crops of ``img`` along ``maps`` (``pan_path``), Lanczos-sampled."""
    import cv2

    return [cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT_101) for m in maps]


def pan_clip(img: Image, frames: int, size: int, rng: np.random.Generator, *, max_speed: float) -> list[Image]:
    """``frames`` HR crops (``size`` square) of ``img`` along a smooth random path (``pan_path``)."""
    return render_pan(img, pan_path(img.shape[:2], frames, size, rng, max_speed=max_speed), size)


def video_frames(path: str | Path, downscale: float = 2.0, *, start: float = 0.0, duration: float | None = None,
                 max_frames: int = 0) -> list[Image]:
    """RGB frames of a video from ``start`` for ``duration`` seconds, downscaled by ``downscale`` (area)."""
    import av
    import cv2

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
            if t < start - 1e-6:
                continue
            if duration is not None and t >= start + duration - 1e-6:
                break
            rgb = frame.to_ndarray(format="rgb24")
            if downscale != 1:
                h, w = rgb.shape[:2]
                rgb = cv2.resize(rgb, (round(w / downscale), round(h / downscale)), interpolation=cv2.INTER_AREA)
            frames.append(rgb)
            if max_frames and len(frames) >= max_frames:
                break
    if not frames:
        raise InputError(f"no frame decoded from {path} at {start}s")
    return frames


@dataclass(frozen=True)
class VideoSource:
    """A real clip for training: the file and the part of it to use (seconds)."""

    path: str
    start: float = 0.0
    duration: float | None = None

    @classmethod
    def parse(cls, text: str) -> VideoSource:
        """``PATH`` or ``PATH@START:DURATION`` (seconds; DURATION may be empty for 'to the end')."""
        path, _, part = text.partition("@")
        if not part:
            return cls(path)
        start, _, dur = part.partition(":")
        return cls(path, float(start or 0), float(dur) if dur else None)


class ClipCache:
    """``count`` clips made once: a share ``real_share`` from ``videos``, the rest panned over ``images``."""

    def __init__(self, *, images: list[Path], videos: list[VideoSource], count: int, frames: int, lr_size: int,
                 scale: int, degradation: VideoDegradation, seed: int, real_share: float = 0.4,
                 max_speed: float = 3.0, downscale: float = 2.0, on_progress=None) -> None:
        if not images and not videos:
            raise InputError("no training data: give image folders or videos")
        hr_size = lr_size * scale
        stills = [img for img in (read_rgb(p) for p in images) if min(img.shape[:2]) >= hr_size]
        reels = [video_frames(v.path, downscale, start=v.start, duration=v.duration) for v in videos]
        reels = [r for r in reels if len(r) >= frames and min(r[0].shape[:2]) >= 16 * scale]
        if not stills and not reels:
            raise InputError(f"no image of at least {hr_size}px and no video of at least {frames} frames")
        self.clips: list[Clip] = []
        for i in range(count):
            rng = np.random.default_rng([seed, i])
            use_real = reels and (not stills or rng.random() < real_share)
            if use_real:
                hr = _window(reels[int(rng.integers(len(reels)))], frames, hr_size, scale, rng)
            else:
                img = stills[int(rng.integers(len(stills)))]
                hr = pan_clip(img, frames, hr_size, rng, max_speed=max_speed * scale)
            self.clips.append(make_clip(hr, scale, degradation, rng))
            if on_progress is not None:
                on_progress(i + 1, count)


def _window(reel: list[Image], frames: int, hr_size: int, scale: int, rng: np.random.Generator) -> list[Image]:
    """``frames`` consecutive frames of ``reel`` (every other one at times: faster motion), cropped."""
    step = 2 if len(reel) >= 2 * frames and rng.random() < 0.3 else 1
    first = int(rng.integers(0, len(reel) - step * (frames - 1)))
    h, w = reel[0].shape[:2]
    ch, cw = (min(hr_size, h) // scale) * scale, (min(hr_size, w) // scale) * scale
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return [np.ascontiguousarray(reel[first + step * t][y : y + ch, x : x + cw]) for t in range(frames)]


def pictures(frames: np.ndarray) -> torch.Tensor:
    """T×H×W×3 uint8 -> T×3×H×W float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2))).float().div_(255.0)


class ClipDataset(torch.utils.data.Dataset):
    """Sample ``k`` -> (lr T×3×p×p, hr T×3×ps×ps, flow T×2×p×p, starts T bool); from ``default_rng([seed, k])``.

    A share ``still_share`` of the samples start a shot at every frame (flow 0): each frame is then
    upscaled alone, as a still picture or the first frame after a cut is, which the other samples
    train once per clip only."""

    def __init__(self, clips: list[Clip], *, scale: int, patch: int, seed: int, still_share: float = 0.0) -> None:
        self.clips = [c for c in clips if min(c.lr.shape[1:3]) >= patch]
        if not self.clips:
            raise InputError(f"no training clip is at least {patch} LR pixels on each side")
        self.scale, self.patch, self.seed, self.still_share = scale, patch, seed, still_share

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, int(k)])
        clip = self.clips[int(rng.integers(len(self.clips)))]
        p, s = self.patch, self.scale
        h, w = clip.lr.shape[1:3]
        y, x = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
        lr = clip.lr[:, y : y + p, x : x + p]
        hr = clip.hr[:, y * s : (y + p) * s, x * s : (x + p) * s]
        flow = clip.flow[:, :, y : y + p, x : x + p].astype(np.float32)
        aug = int(rng.integers(0, 8))
        if aug & 1:  # mirror left-right: x displacements change sign
            lr, hr, flow = lr[:, :, ::-1], hr[:, :, ::-1], flow[..., ::-1] * np.array([-1, 1], np.float32)[:, None, None]
        if aug & 2:  # upside down
            lr, hr, flow = lr[:, ::-1], hr[:, ::-1], flow[:, :, ::-1] * np.array([1, -1], np.float32)[:, None, None]
        if aug & 4:  # transpose: x and y swap
            lr, hr, flow = lr.transpose(0, 2, 1, 3), hr.transpose(0, 2, 1, 3), flow[:, ::-1].transpose(0, 1, 3, 2)
        starts = clip.starts
        if self.still_share > 0 and rng.random() < self.still_share:  # drawn last: other samples stay as they were
            starts, flow = np.ones_like(starts), np.zeros_like(flow)
        return pictures(lr), pictures(hr), torch.from_numpy(np.ascontiguousarray(flow)), torch.from_numpy(starts)


def image_files(folders: tuple[str, ...] | list[str]) -> list[Path]:
    files: list[Path] = []
    for f in folders:
        files += list_images(f)
    return files
