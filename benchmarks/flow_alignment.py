"""How well the temporal models' optical flow aligns frames: the previous ground-truth frame, warped by
the flow estimated between the two LR frames (upsampled and scaled), scored against the current one.

A temporal SR model can only carry detail from the past as well as its flow moves it: this is the
ceiling of what the warped previous output can add. PSNR-Y (no shave) over consecutive frame pairs of
the validation clips (``benchmarks/video_eval.py``: flutter_bee and the last 15 s of Tears of Steel,
ground truth downscaled 2x, LR = MATLAB bicubic 1/scale), mean per clip; ms per LR frame pair.

    PYTHONPATH=. python benchmarks/flow_alignment.py --scale 4 --max-frames 40 --codecs none,h264=25
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.video_eval import VALIDATION, VIDEOS
from vsr.models.motion import FlowEstimator, align, grey
from vsr.quality.metrics import psnr_y
from vsr.quality.video_clips import ClipSource, ClipWindow, read_clip
from vsr.quality.video_degrade import parse_video
from vsr.quality.video_eval import protocol_pair


def dis_preset(name: str):
    """DIS with one of OpenCV's presets on the LR frames as they are (the estimator before this one)."""
    import cv2

    dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{name.upper()}"))
    return lambda cur, prev: np.ascontiguousarray(dis.calc(cur, prev, None).transpose(2, 0, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--codecs", default="none,h264=25")
    args = ap.parse_args()

    estimators = {"vsr (DIS ultrafast, finest level, 2x upscaled)": FlowEstimator(),
                  "DIS fast on LR": dis_preset("fast"), "DIS medium on LR": dis_preset("medium")}
    print(f"| x{args.scale} clip | LR | " + " | ".join(estimators) + " |\n|---|---|" + "---|" * len(estimators))
    for name, start in VALIDATION:
        clip = read_clip(ClipSource(Path(name).stem, args.videos / name, "video"),
                         ClipWindow(start=start, max_frames=args.max_frames, downscale=2))
        for codec in args.codecs.split(","):
            gt, lr, _ = protocol_pair(clip, args.scale, parse_video(None, None if codec == "none" else codec), 0)
            cells = []
            for estimate in estimators.values():
                scores, seconds = [], 0.0
                for t in range(1, len(gt)):
                    cur, prev = grey(lr[t]), grey(lr[t - 1])
                    started = time.perf_counter()
                    flow = estimate(cur, prev)
                    seconds += time.perf_counter() - started
                    scores.append(psnr_y(align(gt[t - 1], flow), gt[t]))
                cells.append(f"{np.mean(scores):.2f} dB, {1000 * seconds / (len(gt) - 1):.1f} ms")
            h, w = lr[0].shape[:2]
            print(f"| {clip.name} ({w}x{h} LR) | {'clean' if codec == 'none' else codec} | " + " | ".join(cells) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
