"""What `vsr upscale` does with a temporal model on a real clip, measured the way the issue checks it.

Makes the LR clip the video SR protocol gives (ground truth = the clip downscaled by --gt-downscale
with MATLAB bicubic; LR = MATLAB bicubic 1/scale of each frame, optionally through libx264 at a CRF
with B-frames), writes it losslessly (FFV1, bgr0), then:

1. upscales it with each --model (`vsr upscale --codec ffv1 --pix-fmt bgr0 --json`) and prints the
   wall time per frame (decode, model and encode overlap; on a CPU the model is nearly all of it);
2. for the temporal model, upscales it again with --segment-seconds and prints the PSNR between the
   segmented and the single-pass output at every frame near a join (the joins are where segments
   start), and the lowest over all frames.

    PYTHONPATH=. python benchmarks/temporal_checks.py ../shared/videos/flutter_bee.mp4 \
        --models edsr-baseline,temporal --temporal temporal --frames 60 --segment-seconds 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vsr.quality.datasets import make_lr, mod_crop
from vsr.quality.video_clips import ClipSource, ClipWindow, read_clip
from vsr.quality.video_degrade import parse_video


def write_lossless(path: Path, frames: list[np.ndarray], fps: Fraction, gop: int) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        stream.codec_context.gop_size = gop
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="bgr0")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def decode(path: Path) -> tuple[list[float], list[np.ndarray]]:
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    return [float(f.time) for f in frames], [f.to_ndarray(format="rgb24") for f in frames]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def upscale(lr: Path, out: Path, model: str, scale: int, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "vsr", "upscale", str(lr), "-o", str(out), "--scale", str(scale), "--model", model,
           "--codec", "ffv1", "--pix-fmt", "bgr0", "--json", "--quiet", "--no-estimate", "--overwrite", *extra]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}\n{run.stderr}")
    return json.loads(run.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--gt-downscale", type=int, default=2)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--start", type=float, default=0.0)
    ap.add_argument("--codec", default="", help="over the LR clip, e.g. h264=25 (seed 0)")
    ap.add_argument("--models", default="edsr-baseline,temporal")
    ap.add_argument("--temporal", default="temporal", help="the model whose segmented run is checked ('' = none)")
    ap.add_argument("--segment-seconds", type=float, default=1.0)
    ap.add_argument("--gop", type=int, default=12, help="keyframe interval of the LR file (segments cut there)")
    args = ap.parse_args()

    clip = read_clip(ClipSource(Path(args.video).stem, Path(args.video), "video"),
                     ClipWindow(start=args.start, max_frames=args.frames, downscale=args.gt_downscale))
    gt = [mod_crop(f, args.scale) for f in clip.frames]
    lr = [make_lr(f, args.scale) for f in gt]
    if args.codec:
        lr = parse_video("", args.codec)(lr, np.random.default_rng(0))[0]
    with tempfile.TemporaryDirectory(prefix="vsr-temporal-") as tmp:
        folder = Path(tmp)
        lr_path = folder / "lr.mkv"
        write_lossless(lr_path, lr, clip.fps, args.gop)
        print(f"{Path(args.video).name}: {len(lr)} frames, LR {lr[0].shape[1]}x{lr[0].shape[0]}, "
              f"x{args.scale}, {args.codec or 'lossless LR'}")
        for model in filter(None, args.models.split(",")):
            out = folder / f"{Path(model).stem}.mkv"
            summary = upscale(lr_path, out, model, args.scale)
            frames = summary["frames"]
            scores = [psnr(a, b) for a, b in zip(decode(out)[1], gt)]
            print(f"  {model:28s} {frames} frames, {summary['seconds'] / frames:.3f} s/frame "
                  f"({summary['precision']}), RGB PSNR vs GT {np.mean(scores):.2f} dB")
        if args.temporal:
            one, seg = folder / "one.mkv", folder / "seg.mkv"
            upscale(lr_path, one, args.temporal, args.scale, "--segment-seconds", "0")
            summary = upscale(lr_path, seg, args.temporal, args.scale, "--segment-seconds", str(args.segment_seconds))
            t1, f1 = decode(one)
            t2, f2 = decode(seg)
            if t1 != t2:
                raise SystemExit("segmented and single-pass timestamps differ")
            values = [psnr(a, b) for a, b in zip(f1, f2)]
            print(f"  segmented run ({summary.get('segments')} segments) vs single pass: lowest PSNR "
                  f"{min(values):.2f} dB over {len(values)} frames; frames below 99 dB: "
                  + (", ".join(f"{i} ({v:.1f})" for i, v in enumerate(values) if v < 99) or "none"))


if __name__ == "__main__":
    main()
