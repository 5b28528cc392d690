"""What a temporal model needs besides pictures: optical flow between LR frames and scene cuts.

Flow: OpenCV's DIS (Kroeger et al. 2016) on the grey LR frames, no learned weights, preset FAST
(0.8 ms at 320x180, 38 ms at 1920x1080 on one core of a 2-core Xeon; MEDIUM is 4-5x slower for
little gain at these sizes). ``flow(cur, prev)[p]`` is where pixel ``p`` of ``cur`` lies in ``prev``,
so ``warp(prev, flow)`` aligns ``prev`` onto ``cur`` (``vsr.models.temporal.warp``). Training and
inference use the same estimator, so the network learns to live with its errors.

Scene cuts: PySceneDetect's content measure (the mean absolute change of hue, saturation and value
between consecutive frames, on 0-255, here on frames reduced to at most 160 px wide) above 27, its
default threshold. A cut restarts the temporal model as at the start of a shot, so the last shot is
not carried into the next.
"""

from __future__ import annotations

import numpy as np

CUT_THRESHOLD = 27.0
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


def is_cut(a: np.ndarray, b: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    return content_change(a, b) > threshold
