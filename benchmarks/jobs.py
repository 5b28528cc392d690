"""Wall time of segmented jobs: one process vs ``--workers N`` on the CPU learned path, and the
overhead of segmenting on the resampler path.

    python benchmarks/jobs.py workers CLIP [--workers 2] [--runs 3] [--small 128x72 --seconds 4]
    python benchmarks/jobs.py overhead CLIP [--segment-seconds 30] [--loop 3] [--runs 3]

``workers``: ``--model edsr-baseline --scale 2 --device cpu --segment-seconds 1``, one process against
``--workers N`` (with ``--small``, on a downscaled copy of the first ``--seconds`` of CLIP, re-encoded
with a keyframe every second, so the network's cost stays a few minutes on a CPU).
``overhead``: ``--model lanczos --scale 2``, ``--segment-seconds 0`` (one pass) against a segmented run.
Runs alternate, so load from other processes hits both alike; medians of wall time and of CPU time
(vsr and its worker processes: less sensitive to other load) are compared, with the 1-minute load
average around the runs. Every output is checked to have the input's frame count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

REPO = Path(__file__).resolve().parent.parent


def run_vsr(args: list[str]) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds of vsr and its worker processes, --json summary)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vsr", "upscale", *args, "--json", "-q", "--overwrite"],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"vsr failed: {' '.join(args)}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, json.loads(proc.stdout)


def small_copy(src: Path, dst: Path, size: str, seconds: float) -> Path:
    """The first ``seconds`` of ``src`` at ``size``, H.264 with a keyframe every second."""
    w, h = (int(x) for x in size.split("x"))
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or Fraction(25)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        vout.codec_context.options = {"preset": "fast", "crf": "16", "x264-params": f"keyint={max(1, round(float(rate)))}"}
        for n, frame in enumerate(inp.decode(vin)):
            if frame.time is not None and frame.time >= seconds:
                break
            small = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
            small.pts, small.time_base = n, 1 / Fraction(rate)
            for packet in vout.encode(small):
                out.mux(packet)
        for packet in vout.encode(None):
            out.mux(packet)
    return dst


def looped(src: Path, dst: Path, times: int) -> Path:
    """``src``'s video played ``times`` times in a row (packets copied, timestamps shifted): a long
    input made of real footage, with its keyframes where they were."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        packets = [p for p in inp.demux(vin) if p.size and p.dts is not None]
        span = max(p.pts + (p.duration or 0) for p in packets) - min(p.dts for p in packets)
        for k in range(times):
            for p in packets:
                copy = av.Packet(bytes(p))
                copy.pts, copy.dts, copy.duration = p.pts + k * span, p.dts + k * span, p.duration
                copy.time_base, copy.is_keyframe, copy.stream = vin.time_base, p.is_keyframe, vout
                out.mux(copy)
    return dst


def frames_of(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def compare(clip: Path, variants: dict[str, list[str]], runs: int, out_dir: Path) -> dict:
    expected = frames_of(clip)
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    summaries: dict[str, dict] = {}
    load = [os.getloadavg()[0]]
    for _ in range(runs):
        for name, extra in variants.items():
            out = out_dir / f"{name}.mkv"
            seconds, cpu_seconds, summary = run_vsr([str(clip), "-o", str(out), *extra])
            got = frames_of(out)
            if got != expected:
                sys.exit(f"{name}: {got} frames out, the input has {expected}")
            times[name].append(round(seconds, 2))
            cpu[name].append(round(cpu_seconds, 2))
            summaries[name] = summary
            load.append(os.getloadavg()[0])
    return {"frames": expected, "wall_s": times, "cpu_s": cpu,
            "median_wall_s": {k: statistics.median(v) for k, v in times.items()},
            "median_cpu_s": {k: statistics.median(v) for k, v in cpu.items()},
            "segments": {k: s["segments"] for k, s in summaries.items()}, "loadavg_1min": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["workers", "overhead"])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--segment-seconds", type=float, default=30.0, help="overhead: the segmented run's --segment-seconds")
    parser.add_argument("--small", default=None, help="WxH: run on a downscaled copy (workers)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the downscaled copy")
    parser.add_argument("--loop", type=int, default=1, help="overhead: play CLIP this many times in a row (a longer input)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vsr-bench-jobs-") as tmp:
        tmp_dir = Path(tmp)
        clip = args.clip
        if args.what == "workers":
            if args.small:
                clip = small_copy(args.clip, tmp_dir / "small.mp4", args.small, args.seconds)
            common = ["--model", "edsr-baseline", "--scale", "2", "--device", "cpu", "--segment-seconds", "1"]
            variants = {"one_process": common, f"workers_{args.workers}": [*common, "--workers", str(args.workers)]}
        else:
            if args.loop > 1:
                clip = looped(args.clip, tmp_dir / f"looped{args.clip.suffix}", args.loop)
            common = ["--model", "lanczos", "--scale", "2"]
            variants = {"single_pass": [*common, "--segment-seconds", "0"],
                        "segmented": [*common, "--segment-seconds", str(args.segment_seconds)]}
        result = compare(clip, variants, args.runs, tmp_dir)
    a, b = list(variants)
    result["ratio_wall"] = round(result["median_wall_s"][b] / result["median_wall_s"][a], 3)
    result["ratio_cpu"] = round(result["median_cpu_s"][b] / result["median_cpu_s"][a], 3)
    result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
