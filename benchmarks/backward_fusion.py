"""What a temporal model would gain from the frames after each one: a backward back-projection fusion pass.

``vsr upscale`` streams: frame ``t``'s output (the forward fused output ``F_t``, ``vsr/models/fusion.py``)
holds what frames ``<= t`` carried. This measures, offline, a second pass that runs the same fusion
*backwards* over those outputs: ``B_t = fusion(F_t, warp(B_{t+1}))`` (the later pass's result warped onto
frame ``t`` by the flow from ``t`` to ``t+1``: the forward pass's DIS flow from ``t+1`` to ``t``, inverted;
blended where it agrees with the frame, back-projected), started at ``B_e = F_e``. Where the chain starts sets what a pipeline would have to hold:

- ``lag:L``: every frame's own chain from ``t + L`` (a fixed delay of L frames; L backward steps a frame);
- ``block:W:O``: frames in blocks of W, one chain per block from O frames past its end (a delay of up to
  W + O frames; (W + O) / W backward steps a frame);
- ``all``: one chain from the end of each shot (the whole clip held: a bound only).

Chains stop at scene cuts (the pipeline's test), as the forward state restarts there. Each clip (the held-out
clips of ``video_eval.py``, or ``--clips``) goes through the model frame by frame (fp32), by the video
protocol (LR = MATLAB bicubic 1/scale, optionally ``--codec``). PSNR-Y (no shave) / tOF, mean per clip, then
over the clips; ``forward`` is the forward pass alone (``--forward-steps 4``: the model run without the backward pass).

    PYTHONPATH=. python benchmarks/backward_fusion.py --model temporal --scale 4 --max-frames 40 \\
        --variants lag:1,lag:2,lag:4,block:16:4,all
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal_diagnostics import add_arguments, clip_pairs, picture, temporal_model  # noqa: E402

from vsr.models import fusion  # noqa: E402
from vsr.models.backward_fusion import BACKWARD_STEPS, FORWARD_STEPS, backward_chain  # noqa: E402
from vsr.models.motion import FlowEstimator, grey, invert_flow, is_cut  # noqa: E402
from vsr.models.temporal import shot_start_args  # noqa: E402
from vsr.quality.video_data import pictures  # noqa: E402
from vsr.quality.video_metrics import ClipScorer  # noqa: E402


@torch.inference_mode()
def forward_pass(net: torch.nn.Module, lr: list[np.ndarray]) -> tuple[list[torch.Tensor], list[torch.Tensor],
                                                                     list[np.ndarray | None]]:
    """(fused outputs less the mean, LR frames less the mean, the flow from each frame to the one before:
    ``None`` where a shot starts), as ``vsr upscale`` runs the model (state carried, restarted at cuts)."""
    s, r = net.scale, net.rgb_range
    estimate = FlowEstimator()
    outputs, frames, flows, state = [], [], [], None
    for t, frame in enumerate(lr):
        x = pictures(frame[None])
        if t == 0 or is_cut(lr[t - 1], frame):
            flows.append(None)
            _, state = net(*shot_start_args(net, x))
        else:
            flows.append(estimate(grey(frame), grey(lr[t - 1])))
            _, state = net(x, pictures(lr[t - 1][None]), state, torch.from_numpy(flows[-1])[None])
        outputs.append(F.pixel_shuffle(state, s))
        frames.append(net.sub_mean(x * r))
    return outputs, frames, flows


def chain_starts(variant: str, shot_ends: list[int]) -> list[int]:
    """Where frame ``t``'s backward chain starts, for a variant (``lag:L``, ``block:W:O``, ``all``);
    ``shot_ends[t]``: the last frame of ``t``'s shot."""
    kind, *numbers = variant.split(":")
    n = [int(v) for v in numbers]
    frames = range(len(shot_ends))
    if kind == "lag" and len(n) == 1:
        return [min(t + n[0], shot_ends[t]) for t in frames]
    if kind == "block" and len(n) == 2 and n[0] > 0:
        return [min((t // n[0] + 1) * n[0] - 1 + n[1], shot_ends[t]) for t in frames]
    if kind == "all" and not n:
        return list(shot_ends)
    raise SystemExit(f"variant {variant!r}: use lag:L, block:W:O or all")


@torch.inference_mode()
def backward_pass(stage: fusion.BackProjectionFusion, outputs: list[torch.Tensor], frames: list[torch.Tensor],
                  back_flows: list[torch.Tensor | None], starts: list[int], warp_mode: str) -> list[torch.Tensor]:
    """``B_t`` for every frame: the backward chain from ``starts[t]`` down to ``t`` (chains that start at
    the same frame are shared, as a block's are; a chain never crosses a cut)."""
    result: list[torch.Tensor | None] = [None] * len(outputs)
    for start in sorted(set(starts)):
        lowest = starts.index(start)  # the chain runs from ``start`` down to the first frame that needs it
        chain = backward_chain(stage, outputs, frames, back_flows, start, lowest, warp_mode)
        for t in range(lowest, start + 1):
            if starts[t] == start:
                result[t] = chain[t - lowest]
    return result  # type: ignore[return-value]


def clip_scores(net: torch.nn.Module, gt: list[np.ndarray], lr: list[np.ndarray], variants: list[str], *,
                steps: int, warp_mode: str) -> dict[str, tuple[float, float]]:
    """(mean PSNR-Y, mean tOF) of the forward outputs and of each variant's backward pass over one clip."""
    outputs, frames, flows = forward_pass(net, lr)
    n = len(lr)
    shot_ends = [0] * n
    for t in range(n - 1, -1, -1):
        shot_ends[t] = t if t == n - 1 or flows[t + 1] is None else shot_ends[t + 1]
    back_flows = [None if shot_ends[t] == t else torch.from_numpy(invert_flow(flows[t + 1]))[None] for t in range(n)]
    mode = net.fusion.mode if net.fusion is not None else "lr"
    settings = fusion.SETTINGS[mode]
    stage = fusion.BackProjectionFusion(mode, net.scale, net.rgb_range)
    stage.settings = fusion.FusionSettings(settings.alpha, settings.sigma, steps)

    def score(shifted: list[torch.Tensor]) -> tuple[float, float]:
        scorer = ClipScorer()
        for o, g in zip(shifted, gt):
            scorer.add(picture(net.add_mean(o) / net.rgb_range), g)
        tofs = [f.tof for f in scorer.frames if f.tof is not None]
        return float(np.mean([f.psnr_y for f in scorer.frames])), float(np.mean(tofs)) if tofs else float("nan")

    scores = {"forward": score(outputs)}
    for variant in variants:
        result = backward_pass(stage, outputs, frames, back_flows, chain_starts(variant, shot_ends), warp_mode)
        scores[variant] = score(result)
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--variants", default="lag:1,lag:2,lag:4,block:16:4,all")
    ap.add_argument("--steps", type=int, help="back-projections in each backward step (default: the pipeline's for the model)")
    ap.add_argument("--forward-steps", type=int, default=FORWARD_STEPS,
                    help="at most this many back-projections in the model's own fusion (the pipeline's, with the backward pass)")
    ap.add_argument("--warp", default="bicubic", choices=("bicubic", "bilinear"), help="how the later result is warped")
    args = ap.parse_args()
    net = temporal_model(args)
    mode = net.fusion.mode if net.fusion is not None else "lr"
    args.steps = BACKWARD_STEPS[mode] if args.steps is None else args.steps
    if net.fusion is not None:
        net.fusion.settings = replace(net.fusion.settings, steps=min(net.fusion.settings.steps, args.forward_steps))
    variants = args.variants.split(",")
    columns = ["forward", *variants]
    print(f"| {args.model} x{args.scale}, {args.codec}, {args.steps} step(s), {args.warp} | {' | '.join(columns)} |\n"
          f"|---|{'---|' * len(columns)}")
    rows = []
    for name, gt, lr in clip_pairs(args):
        scores = clip_scores(net, gt, lr, variants, steps=args.steps, warp_mode=args.warp)
        rows.append([scores[c] for c in columns])
        print(f"| {name} | {' | '.join(f'{p:.3f} / {t:.3f}' for p, t in rows[-1])} |", flush=True)
    print(f"| mean | {' | '.join(f'{p:.3f} / {t:.3f}' for p, t in np.mean(rows, axis=0))} |")


if __name__ == "__main__":
    main()
