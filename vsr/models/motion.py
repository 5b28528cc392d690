"""What a temporal model needs besides pictures: optical flow between LR frames and scene cuts.

Flow: OpenCV's DIS (Kroeger et al. 2016) on the grey LR frames, no learned weights, preset FAST
(0.8 ms at 320x180, 38 ms at 1920x1080 on one core of a 2-core Xeon; MEDIUM is 4-5x slower for
little gain at these sizes). ``flow(cur, prev)[p]`` is where pixel ``p`` of ``cur`` lies in ``prev``,
so ``warp(prev, flow)`` aligns ``prev`` onto ``cur`` (``vsr.models.temporal.warp``). Training and
inference use the same estimator, so the network learns to live with its errors.

Scene cuts: a large change of content that motion does not explain. PySceneDetect's content measure
(the mean absolute change of hue, saturation and value between consecutive frames, on 0-255, here on
frames reduced to at most 160 px wide) must pass 27, its default threshold, *and* warping the
previous frame by the flow must remove less than 40% of the grey difference. The first test alone
fires on a pan over fine texture; the second alone on a flash. A cut restarts the temporal model as
at the start of a shot, so the last shot is not carried into the next.
"""

from __future__ import annotations

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


class FlowEstimator:
    """DIS optical flow from one grey frame to the previous: (2, H, W) float32, x then y, in pixels."""

    def __init__(self) -> None:
        import cv2

        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def __call__(self, cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
        flow = self._dis.calc(cur, prev, None)
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


def motion_explained(prev_grey: np.ndarray, cur_grey: np.ndarray, flow: np.ndarray) -> float:
    """The share of the mean absolute grey difference that warping ``prev`` by ``flow`` removes (0..1)."""
    import cv2

    h, w = cur_grey.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    aligned = cv2.remap(prev_grey, xs + flow[0], ys + flow[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    before = float(np.abs(prev_grey.astype(np.float32) - cur_grey).mean())
    after = float(np.abs(aligned.astype(np.float32) - cur_grey).mean())
    return 1.0 - after / before if before > 0 else 1.0


def is_cut(prev_rgb: np.ndarray, cur_rgb: np.ndarray, flow: np.ndarray | None = None) -> bool:
    """Whether ``cur`` starts a new shot (``flow``: from ``cur`` to ``prev``, computed when not given)."""
    if content_change(prev_rgb, cur_rgb) <= CUT_THRESHOLD:
        return False
    g_prev, g_cur = grey(prev_rgb), grey(cur_rgb)
    if flow is None:
        flow = FlowEstimator()(g_cur, g_prev)
    return motion_explained(g_prev, g_cur, flow) < CUT_EXPLAINED
