"""What the temporal models' diagnostics share (``perfect_past.py``, ``backward_fusion.py``): their command
line for a temporal model and the clips it runs over, and the clips themselves, LR made by the video protocol."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_eval import VIDEOS, held_out_clips  # noqa: E402

from vsr.models.loader import load  # noqa: E402
from vsr.models.registry import family_scales  # noqa: E402
from vsr.quality.video_clips import ClipWindow, find_clips, read_clip  # noqa: E402
from vsr.quality.video_degrade import parse_video  # noqa: E402
from vsr.quality.video_eval import protocol_pair  # noqa: E402


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", default="temporal", help="a temporal model: registry name, family or file")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--clips", nargs="*", default=None,
                    help="what vsr eval takes as video ground truth: videos, folders of videos or a folder of clip "
                    "folders (default: the held-out clips)")
    ap.add_argument("--videos", type=Path, default=VIDEOS, help="folder holding the held-out clips")
    ap.add_argument("--gt-downscale", type=int, default=2)
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--codec", default="none", help="over the LR clip, e.g. h264=25 (seed 0)")


def temporal_model(args: argparse.Namespace) -> torch.nn.Module:
    """``--model`` at ``--scale``, in eval mode; exits unless it is a temporal model of that scale."""
    net = load(family_scales(args.model).get(args.scale, args.model)).eval()
    if not getattr(net, "temporal", False) or net.scale != args.scale:
        raise SystemExit(f"{args.model}: not a temporal x{args.scale} model")
    return net


def clip_pairs(args: argparse.Namespace):
    """(name, ground-truth frames, LR frames) of each clip: ``--clips`` or the held-out ones, LR by the video
    protocol (MATLAB bicubic 1/scale, then ``--codec`` with seed 0)."""
    if args.clips:
        window = ClipWindow(max_frames=args.max_frames, downscale=args.gt_downscale)
        clips = [read_clip(source, window) for path in args.clips for source in find_clips(path)]
    else:
        clips = held_out_clips(args.videos, args.max_frames, args.gt_downscale)
    degradation = parse_video(None, None if args.codec == "none" else args.codec)
    for clip in clips:
        gt, lr, _ = protocol_pair(clip, args.scale, degradation, 0)
        yield clip.name, gt, lr


def picture(y: torch.Tensor) -> np.ndarray:
    """A 1x3xHxW output in [0, 1] as HxWx3 uint8."""
    return (y[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
