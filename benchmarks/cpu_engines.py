"""Model-only CPU timing of PyTorch bf16 against ONNX Runtime and OpenVINO, side by side.

The model is exported to ONNX as ``vsr export`` does; the engines take turns (``--rounds`` times)
and the fastest round of each is kept. Engines that are not installed are skipped. Output: s/frame,
GFLOP/s (the model's counted FLOPs) and each engine's PSNR against ONNX Runtime fp32.

    PYTHONPATH=. python benchmarks/cpu_engines.py --model edsr-baseline-x2 --size 640x360 --rounds 4
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vsr.backends.cpu_memory import keep_freed_memory
from vsr.backends.onnx_export import export_onnx
from vsr.bench import conv_flops
from vsr.models import load
from vsr.models.loader import load_model


def engines(model_name: str, onnx_path: Path, x: np.ndarray) -> dict:
    runs = {}
    net = load(model_name).eval().to(torch.bfloat16).to(memory_format=torch.channels_last)
    xt = torch.from_numpy(x).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)

    def torch_bf16() -> np.ndarray:
        with torch.inference_mode():
            return net(xt).float().numpy()

    runs["pytorch bf16 channels_last"] = torch_bf16
    if importlib.util.find_spec("onnxruntime"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        runs["onnxruntime fp32"] = lambda: session.run(None, {name: x})[0]
    if importlib.util.find_spec("openvino"):
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(onnx_path))
        for hint in ("bf16", "f32"):
            compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"})
            request = compiled.create_infer_request()
            runs[f"openvino {hint}"] = lambda request=request: request.infer({0: x})[0]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="edsr-baseline-x2")
    parser.add_argument("--size", default="640x360", help="input WxH")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    keep_freed_memory()
    width, height = (int(v) for v in args.size.split("x"))
    x = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
    model = load_model(args.model)
    flops = conv_flops(model, height, width)
    with tempfile.TemporaryDirectory() as tmp:
        runs = engines(args.model, export_onnx(model, Path(tmp) / "model.onnx"), x)
        outputs = {k: run() for k, run in runs.items()}  # warm-up
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for k, run in runs.items():
                t = time.perf_counter()
                run()
                best[k] = min(best.get(k, float("inf")), time.perf_counter() - t)
    reference = outputs.get("onnxruntime fp32", outputs["pytorch bf16 channels_last"])
    rows = []
    for k in runs:
        mse = float(((outputs[k] - reference) ** 2).mean())
        rows.append({"engine": k, "s_per_frame": round(best[k], 3), "gflops": round(flops / best[k] / 1e9, 1),
                     "psnr_vs_reference_db": round(10 * np.log10(1 / mse), 1) if mse > 0 else None})
    print(json.dumps({"model": args.model, "size": args.size, "rows": rows}))


if __name__ == "__main__":
    main()
