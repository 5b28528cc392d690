"""Our video tables: held-out real clips scored by the video SR protocol (``vsr eval`` on video).

The validation clips (set aside from video training; everything else in ../shared/videos trains):

- ``flutter_bee.mp4`` (1280x720, 4 s, 120 frames), all of it;
- the last 15 s of ``mdn_tears-of-steel-battle-clip-medium.webm`` (800x332, 24 fps, 360 frames:
  handheld camera, many cuts).

Both are web encodes: ground truth = MATLAB bicubic 1/2 of each decoded frame (``--gt-downscale 2``),
which removes the source's own codec damage. LR = MATLAB bicubic 1/scale of that; "h264=25" sends
the LR clip through libx264 CRF 25 with B-frames (``vsr.quality.video_degrade``, seed 0). Every model
runs through vsr upscale's backend in frame order; fp32 unless ``--precision``. The ground truth is
read once and shared by every row. Per model and LR: PSNR-Y, SSIM-Y (all frames, no shave; mean per
clip, then over the two clips), tOF, flicker, and the backend's CPU seconds per frame.

    PYTHONPATH=. nice -n 19 python benchmarks/video_eval.py --scale 4 \\
        --models bicubic,edsr-baseline,edsr-baseline-archive --codecs none,h264=25 --json video_x4.json

The same numbers for one clip and one cell with the CLI:

    vsr eval ../shared/videos/flutter_bee.mp4 --scale 4 --gt-downscale 2 --model edsr-baseline --codec h264=25
    vsr eval ../shared/videos/mdn_tears-of-steel-battle-clip-medium.webm --start -15 --scale 4 --gt-downscale 2 \\
        --model edsr-baseline --codec h264=25

``--degrade SPEC`` first applies ``vsr eval --degrade``'s per-frame stages (e.g. ``noise=5``) to every LR
frame, before any codec. ``--max-frames N`` keeps the first N frames of each clip (a quick check, not a table).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vsr.quality.perceptual import parse_metrics
from vsr.quality.video_clips import Clip, ClipSource, ClipWindow, read_clip
from vsr.quality.video_eval import evaluate_clips

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"
VALIDATION = (  # (file, start in seconds; negative: before the end)
    ("flutter_bee.mp4", None),
    ("mdn_tears-of-steel-battle-clip-medium.webm", -15.0),
)


def condition(degrade: str | None, codec: str | None) -> str:
    """What was done to the LR frames, for a table: ``"clean"``, or the ``--degrade`` and ``--codec`` specs."""
    return ", ".join(c for c in (degrade, codec) if c and c != "none") or "clean"


def held_out_clips(videos: Path, max_frames: int | None, downscale: int) -> list[Clip]:
    """The validation clips (``VALIDATION``) from ``videos``, their ground truth downscaled by ``downscale``."""
    return [read_clip(ClipSource(Path(name).stem, videos / name, "video"),
                      ClipWindow(start=start, max_frames=max_frames, downscale=downscale)) for name, start in VALIDATION]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=VIDEOS, help="folder holding the validation clips")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--models", default="bicubic,edsr-baseline,edsr-baseline-archive")
    ap.add_argument("--codecs", default="none,h264=25", help="comma-separated LR conditions: none or a --codec spec")
    ap.add_argument("--degrade", default=None, help="every LR frame first, as vsr eval --degrade (e.g. noise=5)")
    ap.add_argument("--gt-downscale", type=int, default=2)
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--metric", default="", help="perceptual metrics as for vsr eval --metric (e.g. cvvdp)")
    ap.add_argument("--json", type=Path, default=None, help="also write every result (per clip, per frame) here")
    args = ap.parse_args()

    clips = held_out_clips(args.videos, args.max_frames, args.gt_downscale)
    for (name, _), clip in zip(VALIDATION, clips):
        print(f"# {name}: {len(clip.frames)} frames, ground truth "
              f"{clip.frames[0].shape[1]}x{clip.frames[0].shape[0]}", flush=True)

    metrics = parse_metrics([args.metric])
    extra = "".join(f" {m} |" for m in metrics)
    print(f"\n| x{args.scale} | LR | PSNR-Y | SSIM-Y | tOF | flicker |{extra} s/frame |\n"
          f"|---|---|---|---|---|---|{'---|' * len(metrics)}---|")
    records = []
    for codec in args.codecs.split(","):
        for model in args.models.split(","):
            res = evaluate_clips(clips, args.scale, model, degrade=args.degrade,
                                 codec=None if codec == "none" else codec, seed=args.seed,
                                 device=args.device, precision=args.precision, metrics=metrics)
            seconds = sum(c.seconds for c in res.clips) / res.frames
            print(f"| {res.model} | {condition(args.degrade, codec)} | {res.psnr_y:.2f} | {res.ssim_y:.4f} | "
                  f"{res.tof:.3f} | {res.flicker:.2f} |{''.join(f' {res.perceptual[m]:.3f} |' for m in metrics)} "
                  f"{seconds:.3f} |", flush=True)
            records.append(res.to_dict())
    if args.json:
        args.json.write_text(json.dumps(records))


if __name__ == "__main__":
    main()
