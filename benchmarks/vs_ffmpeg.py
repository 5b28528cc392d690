"""Wall time of `vsr upscale --model bicubic` against the equivalent `ffmpeg -vf scale` command.

    python benchmarks/vs_ffmpeg.py CLIP [--scale 2] [--runs 3] [--json]

Both encode with libx264 ultrafast crf 23 and copy the audio; the runs alternate so that load
from other processes hits both alike. Reports the median of each and the ratio vsr/ffmpeg.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        sys.exit("ffmpeg is not on PATH (apt-get install ffmpeg)")
    from vsr.io.probe import probe

    info = probe(args.clip)
    w, h = info.width * args.scale, info.height * args.scale
    with tempfile.TemporaryDirectory() as tmp:
        ff_cmd = [ffmpeg, "-v", "error", "-y", "-i", str(args.clip), "-vf", f"scale={w}:{h}:flags=bicubic",
                  "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-c:a", "copy", f"{tmp}/ff.mp4"]
        vsr_cmd = [sys.executable, "-m", "vsr", "upscale", str(args.clip), "--scale", str(args.scale), "--model", "bicubic",
                   "--codec", "h264", "--preset", "ultrafast", "--crf", "23", "-o", f"{tmp}/vsr.mp4", "--overwrite", "--quiet"]
        ff, vs = [], []
        for _ in range(args.runs):
            ff.append(timed(ff_cmd))
            vs.append(timed(vsr_cmd))
    result = {
        "clip": str(args.clip), "size": f"{info.width}x{info.height}", "frames": info.frames, "out": f"{w}x{h}",
        "ffmpeg_s": round(statistics.median(ff), 3), "vsr_s": round(statistics.median(vs), 3),
        "ratio": round(statistics.median(vs) / statistics.median(ff), 3),
        "ffmpeg_runs": [round(t, 3) for t in ff], "vsr_runs": [round(t, 3) for t in vs],
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>12}: {v}")


if __name__ == "__main__":
    main()
