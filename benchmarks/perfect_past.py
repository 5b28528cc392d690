"""How much a temporal model gains from its past, and how much a perfect past would give it.

Each held-out clip (``video_eval.py``'s, or the clips ``--clips`` names, as ``vsr eval`` reads them) goes through the
model frame by frame, by the video protocol (LR = MATLAB bicubic 1/scale, optionally ``--codec``), four ways:

- ``none``: every frame as a shot's first (no past: state 0, flow 0);
- ``own``: as ``vsr upscale`` runs it (its own previous output as the state, restarted at scene cuts);
- ``perfect``: the previous *ground-truth* frame as the state, with the same flow;
- ``copy``: no network: the previous ground-truth frame warped by that flow, as the output.

``none``, ``own`` and ``perfect`` are scored on every frame; ``copy``, and ``perfect`` beside it
(``perfect*``), on the frames that have a past. ``own - none`` is what the model makes of its own past,
``perfect - none`` what a perfect past would be worth to it, and ``copy`` above ``perfect*`` means the
network throws away detail the aligned past holds (docs/quality.md, "What the network makes of a perfect
past"). PSNR-Y, no shave, mean per clip; fp32 on the CPU.

    PYTHONPATH=. python benchmarks/perfect_past.py --model temporal --scale 4 --max-frames 40
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal_diagnostics import add_arguments, clip_pairs, picture, temporal_model  # noqa: E402

from vsr.models.motion import FlowEstimator, grey, is_cut  # noqa: E402
from vsr.models.temporal import shot_start_args, warp_folded  # noqa: E402
from vsr.quality.metrics import psnr_y  # noqa: E402
from vsr.quality.video_data import pictures  # noqa: E402

WAYS = ("none", "own", "perfect", "copy", "perfect*")


@torch.inference_mode()
def past_scores(net: torch.nn.Module, gt: list[np.ndarray], lr: list[np.ndarray]) -> dict[str, float]:
    """Mean PSNR-Y of each of ``WAYS`` over one clip (``net`` a temporal model, e.g. ``TemporalEDSR``)."""
    scale, r = net.scale, net.rgb_range

    def fold(rgb: np.ndarray) -> torch.Tensor:  # a picture as the state: the output less the mean, folded
        return F.pixel_unshuffle(net.sub_mean(pictures(rgb[None]) * r), scale)

    flows = FlowEstimator()
    scores: dict[str, list[float]] = {w: [] for w in WAYS}
    state = None
    for t in range(len(lr)):
        x = pictures(lr[t][None])
        y_none, start_state = net(*shot_start_args(net, x))
        scores["none"].append(psnr_y(picture(y_none), gt[t]))
        if t == 0 or is_cut(lr[t - 1], lr[t]):  # a shot starts: no past, whatever the way
            y_own, state = y_none, start_state
            scores["perfect"].append(scores["none"][-1])
        else:
            prev = pictures(lr[t - 1][None])
            flow = torch.from_numpy(flows(grey(lr[t]), grey(lr[t - 1])))[None].float()
            y_own, state = net(x, prev, state, flow)
            perfect = fold(gt[t - 1])
            y_perfect = net(x, prev, perfect, flow)[0]
            copy = net.add_mean(F.pixel_shuffle(warp_folded(perfect, flow, scale), scale)) / r
            scores["perfect"].append(psnr_y(picture(y_perfect), gt[t]))
            scores["perfect*"].append(scores["perfect"][-1])
            scores["copy"].append(psnr_y(picture(copy), gt[t]))
        scores["own"].append(psnr_y(picture(y_own), gt[t]))
    return {w: float(np.mean(v)) if v else float("nan") for w, v in scores.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    args = ap.parse_args()
    net = temporal_model(args)
    print(f"| {args.model} x{args.scale}, {args.codec} | {' | '.join(WAYS)} |\n|---|{'---|' * len(WAYS)}")
    for name, gt, lr in clip_pairs(args):
        scores = past_scores(net, gt, lr)
        print(f"| {name} | {' | '.join(f'{scores[w]:.2f}' for w in WAYS)} |", flush=True)


if __name__ == "__main__":
    main()
