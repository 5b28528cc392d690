"""Ground-truth clips for the video protocol: folders of frames or video files, read as RGB frames.

``vsr eval PATH`` takes PATH as video ground truth when it is a video file, a folder of video files,
or a folder whose sub-folders hold the frames (images sorted by name) of one clip each; a folder with
images at its top level is an image set (the image protocol). Video files are decoded with the reader
``vsr upscale`` uses and converted to RGB with the stream's own matrix and range. Real footage carries
its own codec damage: ``downscale`` (MATLAB bicubic, 1/N) makes clean ground truth of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vsr.errors import InputError, UsageError
from vsr.quality.datasets import IMAGE_EXTS, read_rgb
from vsr.quality.matlab_resize import imresize

VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".mov", ".m4v", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".y4m",
              ".flv", ".wmv", ".ogv", ".mxf", ".dv", ".nut")
FRAMES_FPS = Fraction(25)  # the frame rate a folder of frames is given (timestamps only; nothing depends on it)


@dataclass(frozen=True)
class ClipSource:
    name: str
    path: Path
    kind: str  # "frames" (a folder of images) | "video" (a file)


@dataclass(frozen=True)
class ClipWindow:
    """Which frames of a clip to use, and how to make ground truth of them."""

    start: float | None = None  # seconds into a video file; negative: before its end
    duration: float | None = None  # seconds
    max_frames: int | None = None  # the first N frames (after --start)
    downscale: int = 1  # ground truth = MATLAB bicubic 1/N of each frame


@dataclass
class Clip:
    name: str
    frames: list[np.ndarray]  # HxWx3 uint8 RGB ground truth, in display order
    fps: Fraction


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTS


def is_video_ground_truth(path: str | Path) -> bool:
    """True for a video file, a folder of video files, or a folder of clip folders (no images on top)."""
    path = Path(path)
    if path.is_file():
        return True
    if not path.is_dir() or _images(path):
        return False
    return any(_is_video(p) for p in path.iterdir()) or any(p.is_dir() and _images(p) for p in path.iterdir())


def find_clips(path: str | Path) -> list[ClipSource]:
    """The clips under ``path`` sorted by name: the file itself, its video files, or its clip folders."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTS:
            raise InputError(f"{path} is an image: give its folder (an image set, or a clip's frames inside a folder of clips)")
        return [ClipSource(path.stem, path, "video")]
    if not path.is_dir():
        raise InputError(f"no such file or folder: {path}")
    videos = [ClipSource(p.stem, p, "video") for p in sorted(path.iterdir()) if _is_video(p)]
    folders = [ClipSource(p.name, p, "frames") for p in sorted(path.iterdir()) if p.is_dir() and _images(p)]
    if videos and folders:
        raise InputError(f"{path} holds both video files and clip folders: put one kind of ground truth in a folder")
    if not videos and not folders:
        raise InputError(f"no video files ({', '.join(VIDEO_EXTS[:4])}, ...) or folders of frames in {path}")
    return videos or folders


def ground_truth(frame: np.ndarray, downscale: int) -> np.ndarray:
    """A frame as ground truth: MATLAB bicubic 1/``downscale`` (removes the source's codec damage)."""
    return frame if downscale == 1 else imresize(frame, 1.0 / downscale)


def read_clip(source: ClipSource, window: ClipWindow = ClipWindow()) -> Clip:
    """The ground-truth frames of one clip (``window`` picks and shrinks them)."""
    if window.downscale < 1:
        raise UsageError(f"--gt-downscale {window.downscale}: use 1 (none) or more")
    if window.max_frames is not None and window.max_frames < 1:
        raise UsageError(f"--max-frames {window.max_frames}: use at least 1")
    if source.kind == "frames":
        if window.start is not None or window.duration is not None:
            raise UsageError(f"--start/--duration apply to video files; {source.path} is a folder of frames: "
                             "use --max-frames")
        files = _images(source.path)[: window.max_frames]
        frames = [ground_truth(read_rgb(p), window.downscale) for p in files]
        fps = FRAMES_FPS
    else:
        frames, fps = _decode(source.path, window)
    if not frames:
        raise InputError(f"no frames in {source.path}" + (" in the section asked for" if window.start else ""))
    if len({f.shape for f in frames}) > 1:
        raise InputError(f"{source.path}: the frames differ in size; a clip's frames must all be one size")
    return Clip(source.name, frames, fps)


def _decode(path: Path, window: ClipWindow) -> tuple[list[np.ndarray], Fraction]:
    from vsr.compare import to_rgb
    from vsr.io.probe import probe
    from vsr.io.reader import Section, VideoReader

    info = probe(path)
    start = window.start or 0.0
    if start < 0:
        if not info.duration:
            raise UsageError(f"--start {start:g} counts from the end, but {path} does not say how long it is")
        start = max(0.0, info.duration + start)
    if window.duration is not None and window.duration <= 0:
        raise UsageError("--duration must be positive")
    section = Section(start, start + window.duration if window.duration else None)
    frames: list[np.ndarray] = []
    with VideoReader(info, section) as reader:
        for frame in reader.frames():
            frames.append(ground_truth(to_rgb(frame, info.colour), window.downscale))
            if window.max_frames is not None and len(frames) >= window.max_frames:
                break
    return frames, info.frame_rate or FRAMES_FPS
