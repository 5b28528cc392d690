"""What a temporal model needs besides pictures: optical flow between LR frames and scene cuts.

Flow: OpenCV's DIS (Kroeger et al. 2016) on the grey LR frames, no learned weights. The frames are
upscaled 2x (bicubic) first and DIS runs down to its finest pyramid level (preset ULTRAFAST otherwise),
then the flow is shrunk back to LR size by area. Sub-pixel accuracy is what a temporal SR model needs:
warping the previous *ground-truth* frame by the upsampled flow and scoring it against the current one
(PSNR-Y, x4, 40 frames of the two validation clips) gives 36.6 / 32.8 dB this way against 30.7 /
27.3 dB for DIS's FAST preset on the LR frames as they are (which stops at a quarter of LR
resolution), 5.1 ms against 0.4 ms per 160x90 frame pair on the 2-core Xeon
(``benchmarks/flow_alignment.py``). ``flow(cur, prev)[p]`` is where pixel ``p`` of ``cur`` lies in
``prev``, so ``warp(prev, flow)`` aligns ``prev`` onto ``cur`` (``vsr.models.temporal.warp``).
Training and inference use the same estimator, so the network learns to live with its errors.

Scene cuts: a large change of content that motion does not explain. PySceneDetect's content measure
(the mean absolute change of hue, saturation and value between consecutive frames, on 0-255, here on
frames reduced to at most 160 px wide) must pass 27, its default threshold, *and* warping the
previous frame by a coarse flow (DIS FAST) must remove less than 40% of the grey difference. The
first test alone fires on a pan over fine texture; the second alone on a flash. A cut restarts the temporal model as
at the start of a shot, so the last shot is not carried into the next.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CUT_THRESHOLD = 27.0
CUT_EXPLAINED = 0.4  # a cut: motion removes less than this share of the frame difference
_CUT_WIDTH = 160
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grey(rgb: np.ndarray) -> np.ndarray:
    """uint8 luma of an HxWx3 RGB image (uint8, or float in [0, 1])."""
    x = rgb.astype(np.float32) @ LUMA
    if rgb.dtype != np.uint8:
        x *= 255.0
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


FLOW_UPSCALE = 2  # DIS runs on the grey frames upscaled this much (bicubic), for sub-pixel accuracy


class FlowEstimator:
    """DIS optical flow from one grey frame to the previous: (2, H, W) float32, x then y, in pixels."""

    def __init__(self) -> None:
        import cv2

        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._dis.setFinestScale(0)

    def __call__(self, cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
        import cv2

        h, w = cur.shape
        s = FLOW_UPSCALE
        big = [cv2.resize(g, (w * s, h * s), interpolation=cv2.INTER_CUBIC) for g in (cur, prev)]
        flow = self._dis.calc(big[0], big[1], None)
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) * (1.0 / s)
        return np.ascontiguousarray(flow.transpose(2, 0, 1))


def content_change(a: np.ndarray, b: np.ndarray) -> float:
    """PySceneDetect's content value between two uint8 RGB frames: mean |dH|, |dS|, |dV|, averaged."""
    import cv2

    def hsv(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        if w > _CUT_WIDTH:
            rgb = cv2.resize(rgb, (_CUT_WIDTH, max(1, round(h * _CUT_WIDTH / w))), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)

    return float(np.abs(hsv(a) - hsv(b)).mean())


def align(image: np.ndarray, flow: np.ndarray, mode: str = "bilinear") -> np.ndarray:
    """``image`` (HxW or HxWxC, C <= 4) sampled at ``p + flow(p)``, ``mode`` ``"bilinear"`` or ``"bicubic"``
    (a = -0.75), edges repeated: ``prev`` aligned onto ``cur`` for ``flow(cur, prev)``. ``flow`` may be at a
    lower resolution: it is then upsampled and scaled to the image's size (the HR warp of an LR flow)."""
    import cv2

    h, w = image.shape[:2]
    positions = np.array(flow.transpose(1, 2, 0), dtype=np.float32, order="C")  # HxWx2, a copy: one map for remap
    if positions.shape[:2] != (h, w):
        positions = cv2.resize(positions, (w, h), interpolation=cv2.INTER_LINEAR)
        positions *= w / flow.shape[2]
    positions += _pixel_grid(h, w)
    interpolation = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}[mode]
    return cv2.remap(image, positions, None, interpolation, borderMode=cv2.BORDER_REPLICATE)


@lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int) -> np.ndarray:
    """HxWx2 float32: each pixel's (x, y)."""
    grid = np.empty((h, w, 2), dtype=np.float32)
    grid[..., 0] = np.arange(w, dtype=np.float32)[None]
    grid[..., 1] = np.arange(h, dtype=np.float32)[:, None]
    grid.setflags(write=False)
    return grid


def invert_flow(flow: np.ndarray, iterations: int = 3) -> np.ndarray:
    """The flow the other way: for ``flow(a, b)`` (where each pixel of ``a`` lies in ``b``) an estimate of
    ``flow(b, a)``, by the fixed point ``inv(p) = -flow(p + inv(p))`` (bilinear, edges repeated), started at
    ``-flow``. Where motion is smooth three iterations are enough; no new estimate from the pictures is made."""
    inverse = -flow
    for _ in range(iterations):
        inverse = -np.stack([align(c, inverse) for c in flow])
    return np.ascontiguousarray(inverse, dtype=np.float32)


def motion_explained(prev_grey: np.ndarray, cur_grey: np.ndarray, flow: np.ndarray) -> float:
    """The share of the mean absolute grey difference that warping ``prev`` by ``flow`` removes (0..1)."""
    aligned = align(prev_grey, flow)
    before = float(np.abs(prev_grey.astype(np.float32) - cur_grey).mean())
    after = float(np.abs(aligned.astype(np.float32) - cur_grey).mean())
    return 1.0 - after / before if before > 0 else 1.0


def is_cut(prev_rgb: np.ndarray, cur_rgb: np.ndarray) -> bool:
    """Whether ``cur`` starts a new shot. The motion test uses DIS's FAST preset on the LR frames as they
    are, not the model's flow: the 40% was measured with it, and a finer flow explains more of two
    unrelated pictures (0.44 of two textures where FAST explains 0.35)."""
    if content_change(prev_rgb, cur_rgb) <= CUT_THRESHOLD:
        return False
    import cv2

    g_prev, g_cur = grey(prev_rgb), grey(cur_rgb)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    flow = dis.calc(g_cur, g_prev, None).transpose(2, 0, 1)
    return motion_explained(g_prev, g_cur, flow) < CUT_EXPLAINED
