"""Model-only CPU timing of one network per precision and memory layout, interleaved.

The configurations take turns (round-robin, ``--rounds`` times) and the fastest round of each is
kept, so a shared, noisy machine penalises them alike; GFLOP/s uses the model's counted FLOPs
(``vsr.bench.conv_flops``: 2·9·Cin·Cout per output pixel of each 3x3 conv). malloc keeps freed
pages, as in the CPU backend (``vsr.backends.cpu_memory``).

    python benchmarks/cpu_precision.py --model edsr-baseline-x2 --size 640x360 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from vsr.backends.cpu_memory import keep_freed_memory
from vsr.bench import conv_flops
from vsr.models import load
from vsr.models.loader import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="edsr-baseline-x2", help="registry name or checkpoint path")
    parser.add_argument("--size", default="640x360", help="input WxH")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", default="fp32:nchw,fp32:nhwc,bf16:nchw,bf16:nhwc")
    args = parser.parse_args()
    keep_freed_memory()  # as the CPU backend does
    width, height = (int(v) for v in args.size.split("x"))
    source = args.model  # vsr.models.load takes registry names and paths
    flops = conv_flops(load_model(source), height, width)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    configs = [tuple(c.split(":")) for c in args.configs.split(",")]
    models, inputs, best = {}, {}, {}
    for precision, layout in configs:
        fmt = torch.channels_last if layout == "nhwc" else torch.contiguous_format
        models[precision, layout] = load(source).eval().to(dtypes[precision]).to(memory_format=fmt)
        inputs[precision, layout] = torch.rand(1, 3, height, width).to(dtypes[precision]).contiguous(memory_format=fmt)
    with torch.inference_mode():
        for key in configs:  # warm-up: oneDNN picks its kernels on the first call
            models[key](inputs[key])
        for _ in range(args.rounds):
            for key in configs:
                t = time.perf_counter()
                models[key](inputs[key])
                best[key] = min(best.get(key, float("inf")), time.perf_counter() - t)
    rows = [{"precision": p, "layout": lay, "s_per_frame": round(best[p, lay], 3),
             "gflops": round(flops / best[p, lay] / 1e9, 1)} for p, lay in configs]
    print(json.dumps({"model": args.model, "size": args.size, "flop_per_frame": flops,
                      "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
