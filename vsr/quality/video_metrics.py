"""Per-frame and temporal metrics of a video against its ground truth (the video SR protocol).

Per frame: PSNR-Y and SSIM-Y (:mod:`vsr.quality.metrics`, BT.601 Y, no border crop: the video papers
measure whole frames). Per pair of consecutive frames:

- **tOF** (TecoGAN, Chu et al. 2020; their ``metrics.py``): Farneback flow (pyr_scale 0.5, 3 levels,
  window 15, 3 iterations, poly_n 5, poly_sigma 1.2, flags 0) between the previous and the current
  frame, on OpenCV's grey uint8 picture (``COLOR_RGB2GRAY``), for the output and for the ground truth;
  the flows are centre-cropped as TecoGAN's ``crop_8x8`` does (a multiple of 32 pixels, at least 8
  pixels from every border: Farneback is unreliable at the edges), and tOF is the mean over those
  pixels of the L2 norm of the difference of the two flows. Lower is steadier; 0 when the output
  moves exactly as the ground truth. (TecoGAN's script also drops the first and last 2 frames of a
  clip; here every pair counts, as every frame counts for PSNR.)
- **flicker** (flow-free): the mean over pixels of ``|(out_t - out_{t-1}) - (gt_t - gt_{t-1})|`` on
  BT.601 Y (levels of 0..255). A fixed error (a static blur, a colour shift) cancels; an error that
  changes from frame to frame (codec pumping, noise, a model that sharpens each frame differently)
  does not. Unlike tOF it also sees flicker that moves nothing (brightness pumping).

:class:`ClipScorer` takes the frames one at a time and keeps only the previous pair, so a long clip
is scored without holding its output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vsr.quality.metrics import psnr_y, rgb_to_y, ssim_y

FARNEBACK = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2,
             "flags": 0}


def grey(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's grey uint8 picture of an RGB uint8 frame (what TecoGAN computes flow on)."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)


def farneback(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """HxWx2 float32 dense flow from ``previous`` to ``current`` (grey uint8), TecoGAN's parameters."""
    import cv2

    return cv2.calcOpticalFlowFarneback(previous, current, None, **FARNEBACK)


def tecogan_crop(a: np.ndarray) -> np.ndarray:
    """The centre of ``a`` that TecoGAN's ``crop_8x8`` keeps: each side a multiple of 32 with at least
    8 pixels cut from each border. A side shorter than 48 pixels (nothing would be left) is kept whole."""
    def span(n: int) -> slice:
        m = (n // 32) * 32
        while m > n - 16:
            m -= 32
        return slice((n - m) // 2, (n - m) // 2 + m) if m > 0 else slice(0, n)

    return a[span(a.shape[0]), span(a.shape[1])]


def tof(out_flow: np.ndarray, gt_flow: np.ndarray) -> float:
    """Mean L2 distance between two flows over TecoGAN's centre crop."""
    diff = tecogan_crop(out_flow).astype(np.float64) - tecogan_crop(gt_flow).astype(np.float64)
    return float(np.sqrt((diff * diff).sum(axis=-1)).mean())


def flicker(out_prev_y: np.ndarray, out_y: np.ndarray, gt_prev_y: np.ndarray, gt_y: np.ndarray) -> float:
    """Mean |(out_t - out_{t-1}) - (gt_t - gt_{t-1})| of Y planes (float, 0..255 levels)."""
    return float(np.abs((out_y - out_prev_y) - (gt_y - gt_prev_y)).mean())


@dataclass(frozen=True)
class FrameScore:
    """One output frame against its ground truth; ``tof``/``flicker`` compare it with the frame
    before (None for a clip's first frame)."""

    psnr_y: float
    ssim_y: float
    tof: float | None = None
    flicker: float | None = None


class ClipScorer:
    """Scores the frames of one clip in order (keeps the previous output and ground truth only)."""

    def __init__(self) -> None:
        self.frames: list[FrameScore] = []
        self._previous: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, out: np.ndarray, gt: np.ndarray) -> FrameScore:
        """Score the next frame (HxWx3 uint8 RGB, same shape)."""
        if out.shape != gt.shape:
            raise ValueError(f"frame {len(self.frames)}: output {out.shape}, ground truth {gt.shape}")
        current = (grey(out), grey(gt), rgb_to_y(out), rgb_to_y(gt))
        t = f = None
        if self._previous is not None:
            p = self._previous
            t = tof(farneback(p[0], current[0]), farneback(p[1], current[1]))
            f = flicker(p[2], current[2], p[3], current[3])
        self._previous = current
        score = FrameScore(psnr_y(out, gt), ssim_y(out, gt), t, f)
        self.frames.append(score)
        return score
