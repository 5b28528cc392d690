"""A temporal model's back-projection fusion (``vsr/models/fusion.py``) scored at other settings.

Each ``--settings`` entry ``alpha,sigma,steps`` replaces the constants of the model's fusion mode (``lr`` or
``output``, whichever its file records) before the model is loaded, and the held-out clips of
``video_eval.py`` are scored by the video protocol through the same backend as ``vsr upscale`` (fp32).
``0,1,0`` turns the fusion off (no blend, no back-projection): the network alone.

    PYTHONPATH=. python benchmarks/fusion_settings.py --model temporal --scale 4 --max-frames 40 \\
        --settings "0,1,0;0.95,0.015,4;0.9,0.015,3;0.98,0.015,4;0.95,0.01,4;0.95,0.02,4"
    PYTHONPATH=. python benchmarks/fusion_settings.py --model temporal-archive --codec h264=25 \\
        --settings "0,1,0;0.95,0.04,1;0.95,0.04,2;0.8,0.06,1"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_eval import VIDEOS, condition, held_out_clips  # noqa: E402

from vsr.models import fusion  # noqa: E402
from vsr.models.loader import load  # noqa: E402
from vsr.models.registry import family_scales  # noqa: E402
from vsr.quality.video_eval import evaluate_clips  # noqa: E402


def parse_settings(text: str) -> list[fusion.FusionSettings]:
    """``"alpha,sigma,steps;..."`` as FusionSettings."""
    out = []
    for entry in text.split(";"):
        alpha, sigma, steps = entry.split(",")
        out.append(fusion.FusionSettings(float(alpha), float(sigma), int(steps)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="temporal", help="a temporal model with a fusion: registry name or family")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--degrade", default=None, help="per LR frame first, as vsr eval --degrade (e.g. noise=5)")
    ap.add_argument("--codec", default="none", help="over the LR clip, e.g. h264=25 (seed 0)")
    ap.add_argument("--settings", required=True, help='"alpha,sigma,steps;..." (sigma in the 0..1 pixel range)')
    ap.add_argument("--videos", type=Path, default=VIDEOS, help="folder holding the held-out clips")
    ap.add_argument("--max-frames", type=int, default=40)
    args = ap.parse_args()
    model = family_scales(args.model).get(args.scale, args.model)
    stage = getattr(load(model), "fusion", None)
    if stage is None:
        raise SystemExit(f"{model}: not a temporal model with a fusion stage")
    clips = held_out_clips(args.videos, args.max_frames, 2)
    print(f"| {model}, {stage.mode} fusion, {condition(args.degrade, args.codec)} | PSNR-Y | per clip | tOF |\n"
          "|---|---|---|---|")
    for settings in parse_settings(args.settings):
        fusion.SETTINGS[stage.mode] = settings  # read when the backend builds the model
        res = evaluate_clips(clips, args.scale, model, degrade=args.degrade,
                             codec=None if args.codec == "none" else args.codec, precision="fp32")
        per_clip = " / ".join(f"{c.psnr_y:.3f}" for c in res.clips)
        print(f"| alpha {settings.alpha}, sigma {settings.sigma}, {settings.steps} steps | {res.psnr_y:.3f} | "
              f"{per_clip} | {res.tof:.3f} |", flush=True)


if __name__ == "__main__":
    main()
