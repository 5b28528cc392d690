"""How much a temporal model would gain from exact motion: DIS flow against the true flow of synthetic pans.

The clips are ``benchmarks/pan_clips.py``'s (the same pictures, paths and seeds), whose camera path is known
(``vsr.quality.video_data.pan_path``), so the exact flow between consecutive LR frames can be computed. Each
clip goes through the model (fusion included, as shipped; fp32, state carried from frame to frame) twice:
with the flow ``vsr upscale`` uses (DIS, ``vsr.models.motion``) and with the true one. The difference bounds
what any better flow estimator could add on camera motion. PSNR-Y, no shave, mean per clip.

    PYTHONPATH=. python benchmarks/true_flow.py ../shared/datasets/val/set14 --model temporal --scale 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal_diagnostics import picture, temporal_model  # noqa: E402

from vsr.models.motion import FlowEstimator, grey  # noqa: E402
from vsr.models.temporal import shot_start_args  # noqa: E402
from vsr.quality.datasets import list_images, read_rgb  # noqa: E402
from vsr.quality.metrics import psnr_y  # noqa: E402
from vsr.quality.video_data import pan_path, pictures, render_pan  # noqa: E402
from vsr.quality.video_eval import make_lr  # noqa: E402


def true_lr_flow(cur: np.ndarray, prev: np.ndarray, lr_size: tuple[int, int], scale: int) -> np.ndarray:
    """``flow(cur, prev)`` (2, h, w) in LR pixels for two frames' ``pan_path`` maps: where each LR pixel's
    centre (HR ``scale * i + (scale - 1) / 2``) of frame ``cur`` lies in frame ``prev``."""
    h, w = lr_size
    u, v = np.meshgrid(np.arange(w) * scale + (scale - 1) / 2, np.arange(h) * scale + (scale - 1) / 2)
    points = np.stack([u.ravel(), v.ravel()])
    in_picture = cur[:, :2] @ points + cur[:, 2:]
    back = np.linalg.inv(np.vstack([prev, [0.0, 0.0, 1.0]]))
    in_prev = back[:2, :2] @ in_picture + back[:2, 2:]
    return ((in_prev - points) / scale).reshape(2, h, w).astype(np.float32)


@torch.inference_mode()
def clip_psnr(net: torch.nn.Module, gt: list[np.ndarray], lr: list[np.ndarray], flows: list[np.ndarray]) -> float:
    """Mean PSNR-Y of a temporal model run over one shot with the given LR flows (``flows[t]``: t to t-1)."""
    scores, state = [], None
    for t, frame in enumerate(lr):
        x = pictures(frame[None])
        if t == 0:
            y, state = net(*shot_start_args(net, x))
        else:
            y, state = net(x, pictures(lr[t - 1][None]), state, torch.from_numpy(flows[t])[None])
        scores.append(psnr_y(picture(y), gt[t]))
    return float(np.mean(scores))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path, help="held-out pictures (pan_clips.py's input)")
    ap.add_argument("--model", default="temporal", help="a temporal model: registry name, family or file")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", type=int, default=240, help="HR side of the square crop (a multiple of the scale)")
    ap.add_argument("--max-speed", type=float, default=4.0, help="HR pixels per frame")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    net = temporal_model(args)
    estimate = FlowEstimator()
    rows = []
    print(f"| {args.model} x{args.scale} | DIS flow | true flow |\n|---|---|---|")
    for i, path in enumerate(sorted(list_images(args.images))):  # clip i as pan_clips.py draws it
        img = read_rgb(path)
        if min(img.shape[:2]) < args.size:
            continue
        maps = pan_path(img.shape[:2], args.frames, args.size, np.random.default_rng([args.seed, i]),
                        max_speed=args.max_speed)
        gt = render_pan(img, maps, args.size)
        lr = [make_lr(f, args.scale) for f in gt]
        size = lr[0].shape[:2]
        dis = [np.zeros((2, *size), np.float32)] + [estimate(grey(lr[t]), grey(lr[t - 1])) for t in range(1, len(lr))]
        true = [np.zeros((2, *size), np.float32)] + [true_lr_flow(maps[t], maps[t - 1], size, args.scale)
                                                     for t in range(1, len(lr))]
        rows.append((clip_psnr(net, gt, lr, dis), clip_psnr(net, gt, lr, true)))
        print(f"| {path.stem} | {rows[-1][0]:.2f} | {rows[-1][1]:.2f} |", flush=True)
    mean = np.mean(rows, axis=0)
    print(f"| mean of {len(rows)} | {mean[0]:.3f} | {mean[1]:.3f} |")


if __name__ == "__main__":
    main()
