"""Repeated pictures run through the model once (animation drawn on twos/threes, static shots).

A decoded frame with the same size and pixel format as the last frame the model ran on, whose
planes differ from it by at most ``MAX_MEAN_DIFFERENCE`` code values (8-bit scale) on average over
every 16x16 block of luma (8x8 of 4:2:0 chroma), is not sent to the model: its output is a copy of
that frame's output with its own timestamp. Lossy codecs do not repeat a held drawing exactly (a
P-frame refines the picture: a few samples off by up to ~45 codes, block means up to ~3 codes on
x264 crf 18), while the quietest real footage we have (a near-static camera shot) differs by more
than 1 code in some block from frame to frame; half a code keeps real footage out.
Comparing with the last frame the model saw (not with the previous frame) keeps a slow drift, such
as a fade, from accumulating.

``DuplicateSkipper`` is shared by two threads: the batcher calls ``admit`` for every decoded frame
in order, the writer calls ``emit`` with each batch of model outputs and ``finish`` at the end; a
deque of decisions in decode order carries the order between them.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

MAX_MEAN_DIFFERENCE = 0.5  # code values on the 8-bit scale, mean over a block
BLOCK = 16  # luma block side; subsampled planes use proportionally smaller blocks
_MODEL = object()  # decision: this frame goes through the model


def _plane_samples(frame: av.VideoFrame, index: int) -> np.ndarray:
    """The meaningful samples of one plane as a 2-D array (row padding cut off)."""
    plane = frame.planes[index]
    components = [c for c in frame.format.components if c.plane == index]
    deep = max(c.bits for c in components) > 8
    itemsize = 2 if deep else 1
    rows = np.frombuffer(plane, dtype=np.uint16 if deep else np.uint8).reshape(plane.height, -1)
    row_samples = min(plane.width * len(components), plane.line_size // itemsize)
    return rows[:, :row_samples]


def _block_means_within(x: np.ndarray, y: np.ndarray, block_h: int, block_w: int, limit: float) -> bool:
    diff = (np.maximum(x, y) - np.minimum(x, y)).astype(np.int32)
    rows, cols = range(0, diff.shape[0], block_h), range(0, diff.shape[1], block_w)
    sums = np.add.reduceat(np.add.reduceat(diff, rows, axis=0), cols, axis=1)
    heights = np.diff([*rows, diff.shape[0]])
    widths = np.diff([*cols, diff.shape[1]])
    return bool((sums <= limit * np.outer(heights, widths)).all())


def same_picture(a: av.VideoFrame, b: av.VideoFrame, max_mean_difference: float = MAX_MEAN_DIFFERENCE) -> bool:
    """True when ``b`` repeats ``a``: same size and format, every block within the threshold."""
    if (a.width, a.height, a.format.name) != (b.width, b.height, b.format.name):
        return False
    bits = max(c.bits for c in a.format.components)
    limit = max_mean_difference * (1 << max(0, bits - 8))
    for index, plane in enumerate(a.planes):
        x, y = _plane_samples(a, index), _plane_samples(b, index)
        block_h = max(2, BLOCK * plane.height // a.height)
        block_w = max(2, BLOCK * x.shape[1] // max(a.width, 1))
        if x.size and not _block_means_within(x, y, block_h, block_w, limit):
            return False
    return True


def copy_frame(frame: av.VideoFrame, pts: int | None, time_base: Fraction | None) -> av.VideoFrame:
    """A new frame with ``frame``'s pictures and the given timestamp (the writer tags it)."""
    out = av.VideoFrame(frame.width, frame.height, frame.format.name)
    for src, dst in zip(frame.planes, out.planes):
        if src.line_size == dst.line_size:
            dst.update(src)
        else:
            width = min(src.line_size, dst.line_size)
            rows = np.frombuffer(src, np.uint8).reshape(src.height, src.line_size)[:, :width]
            np.frombuffer(dst, np.uint8).reshape(dst.height, dst.line_size)[:, :width] = rows
    out.pts, out.time_base = pts, time_base
    return out


class DuplicateSkipper:
    """Decides which decoded frames the model must see and puts the reused outputs back in order."""

    def __init__(self, enabled: bool = True, max_mean_difference: float = MAX_MEAN_DIFFERENCE) -> None:
        self.enabled, self.max_mean_difference = enabled, max_mean_difference
        self.reused = 0
        self._reference: av.VideoFrame | None = None  # last frame sent to the model
        self._decisions: collections.deque = collections.deque()
        self._last_output: av.VideoFrame | None = None

    def admit(self, frame: av.VideoFrame) -> bool:
        """True: run ``frame`` through the model. False: its output will be the previous one's."""
        if self.enabled and self._reference is not None and same_picture(self._reference, frame, self.max_mean_difference):
            self._decisions.append((frame.pts, frame.time_base))
            return False
        self._reference = frame
        self._decisions.append(_MODEL)
        return True

    def emit(self, outputs: Sequence[av.VideoFrame]) -> list[av.VideoFrame]:
        """The model outputs of one batch with the reused frames that belong among and after them."""
        frames: list[av.VideoFrame] = []
        for out in outputs:
            frames += self._repeats()
            if self._decisions.popleft() is not _MODEL:
                raise RuntimeError("internal error: model outputs out of step with the decoded frames")
            self._last_output = out
            frames.append(out)
        return frames + self._repeats()

    def finish(self) -> list[av.VideoFrame]:
        """Reused frames decoded after the last batch."""
        return self._repeats()

    def _repeats(self) -> list[av.VideoFrame]:
        frames = []
        while self._decisions and self._decisions[0] is not _MODEL:
            pts, time_base = self._decisions.popleft()
            frames.append(copy_frame(self._last_output, pts, time_base))
            self.reused += 1
        return frames
