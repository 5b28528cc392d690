#!/usr/bin/env python
"""Stage-by-stage timing of vsr's upscaling chain, as JSON (the same measurement as `vsr bench`).

    python benchmarks/bench_stages.py --model snu-edsr-baseline-x2 --resolution 1080p --frames 64 --batch 4 \
        --backend tensorrt --out benchmarks/results/h200-edsr-x2-1080p.json

Several runs can be swept in one call (``--batch 1 2 4 8``); each result records the command that made
it, so a results file can be reproduced. See docs/gpu.md for how to read the numbers.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from vsr.bench import BenchOptions, run_bench
from vsr.errors import VsrError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input", nargs="?", type=Path, help="a video file (default: synthetic frames)")
    p.add_argument("--model", required=True)
    p.add_argument("--resolution", default="1080p")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--batch", type=int, nargs="+", default=[None], help="one or more batch sizes to sweep")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "tensorrt"])
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    p.add_argument("--no-encode", action="store_true")
    p.add_argument("--codec", default="h264")
    p.add_argument("--preset", default=None)
    p.add_argument("--encoder-threads", type=int, default=0)
    p.add_argument("--engine-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None, help="write the JSON here (default: stdout)")
    args = p.parse_args(argv)

    runs = []
    for batch in args.batch:
        opts = BenchOptions(
            input=args.input, model=args.model, resolution=args.resolution, frames=args.frames, batch=batch,
            backend=args.backend, device=args.device, precision=args.precision, encode=not args.no_encode,
            codec=args.codec, preset=args.preset, encoder_threads=args.encoder_threads, engine_dir=args.engine_dir,
        )
        try:
            result = run_bench(opts, progress=lambda msg: print(f"... {msg}", file=sys.stderr))
        except VsrError as exc:
            print(f"bench_stages: error: {exc}", file=sys.stderr)
            return exc.exit_code
        runs.append(result.to_dict())
        print(result.summary(), file=sys.stderr)
    doc = {
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": runs,
    }
    text = json.dumps(doc, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
