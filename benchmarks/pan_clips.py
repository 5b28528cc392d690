"""Synthetic camera moves over detailed still pictures, as clip folders of PNG frames for ``vsr eval``.

The issue's video benchmark (four real clips of 171 frames in all, slow camera moves over fine detail:
a calendar, a city, foliage, a street) is not here. These clips stand in for that kind of footage: each
picture of a held-out folder (Set14 by default: not in any training set of ours) becomes a clip of a
square crop moving along a smooth random path (sub-pixel pan, at times a slow zoom and rotation), drawn
by ``vsr.quality.video_data.pan_clip``, the synthetic motion the temporal models also train on (over
other pictures). Slow by default (at most ``--max-speed`` HR pixels per frame, uniform from 0): what a
recurrent model gains most from, and what a single-frame model cannot use.

    PYTHONPATH=. python benchmarks/pan_clips.py ../shared/datasets/val/set14 /tmp/pans
    vsr eval /tmp/pans --scale 4 --model temporal --json > temporal.json

Deterministic: clip ``i`` (pictures in name order) comes from ``default_rng([seed, i])``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vsr.quality.datasets import list_images, read_rgb, write_rgb
from vsr.quality.video_data import pan_clip


def write_pan_clips(images: Path, out: Path, *, frames: int, size: int, max_speed: float, seed: int) -> list[Path]:
    """One folder of ``frames`` PNG frames per picture of ``images`` at least ``size`` on each side."""
    written = []
    for i, path in enumerate(sorted(list_images(images))):
        img = read_rgb(path)
        if min(img.shape[:2]) < size:
            print(f"# {path.name}: {img.shape[1]}x{img.shape[0]}, smaller than {size}: left out")
            continue
        folder = out / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(pan_clip(img, frames, size, np.random.default_rng([seed, i]), max_speed=max_speed)):
            write_rgb(folder / f"{t:04d}.png", frame)
        written.append(folder)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path, help="folder of held-out pictures")
    ap.add_argument("out", type=Path, help="where the clip folders go")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", type=int, default=240, help="HR side of the square crop (a multiple of 2, 3 and 4)")
    ap.add_argument("--max-speed", type=float, default=4.0, help="HR pixels per frame")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    clips = write_pan_clips(args.images, args.out, frames=args.frames, size=args.size, max_speed=args.max_speed,
                            seed=args.seed)
    print(f"{len(clips)} clips of {args.frames} frames ({args.size}x{args.size}) in {args.out}")


if __name__ == "__main__":
    main()
