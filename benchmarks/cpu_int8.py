"""Int8 post-training quantisation on the CPU: speed and PSNR against PyTorch fp32/bf16.

The model is exported to ONNX as ``vsr export`` does, then quantised two ways, each calibrated on
LR crops of *training* images (never the validation set):

- OpenVINO + NNCF (``nncf.quantize``, default preset, fast bias correction; also with the first two and
  last three convolutions left in bf16), run by OpenVINO;
- ONNX Runtime's static quantiser (QDQ, per-channel weights, MinMax calibration), run by ONNX Runtime.

Speed: model only, one ``--size`` frame, the engines take turns ``--rounds`` times and the fastest
round of each is kept. Quality: PSNR-Y on ``--val`` by the papers' protocol (LR = MATLAB bicubic,
output rounded to uint8, ``scale`` pixels shaved), as ``vsr eval`` measures it. Engines that are not
installed are skipped. NNCF prints its progress on stdout too: the JSON is the last thing printed.

    pip install openvino nncf    # not project dependencies: for this measurement only
    PYTHONPATH=. python benchmarks/cpu_int8.py --model edsr-baseline-x2 \\
        --calib ../shared/datasets/train/sun_hays80 --val ../shared/datasets/val/set5 --size 640x360 --rounds 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vsr.backends.cpu_memory import keep_freed_memory
from vsr.backends.onnx_export import export_onnx
from vsr.bench import conv_flops
from vsr.models import load
from vsr.models.loader import load_model
from vsr.quality.datasets import list_images, load_pairs, make_lr, mod_crop, read_rgb
from vsr.quality.metrics import psnr_y

Engine = Callable[[np.ndarray], np.ndarray]  # NCHW float32 [0, 1] in, NCHW float32 out


def calibration_crops(folder: str, scale: int, count: int, side: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` LR crops (1x3xside x side, float32 [0, 1]) from the HR images in ``folder``."""
    rng = np.random.default_rng(seed)
    paths = list_images(folder)
    crops = []
    for k in range(count):
        lr = make_lr(mod_crop(read_rgb(paths[k % len(paths)]), scale), scale)
        y = int(rng.integers(0, lr.shape[0] - side + 1))
        x = int(rng.integers(0, lr.shape[1] - side + 1))
        crops.append(np.ascontiguousarray(lr[y : y + side, x : x + side].transpose(2, 0, 1))[None].astype(np.float32) / 255.0)
    return crops


def torch_engine(model: str, dtype: torch.dtype) -> Engine:
    net = load(model).eval().to(dtype).to(memory_format=torch.channels_last)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            xt = torch.from_numpy(x).to(dtype).contiguous(memory_format=torch.channels_last)
            return net(xt).float().numpy()

    return run


def openvino_engines(onnx_path: Path, calib: list[np.ndarray]) -> dict[str, Engine]:
    import nncf
    import openvino as ov

    core = ov.Core()
    fp_model = core.read_model(str(onnx_path))
    convs = [op.get_friendly_name() for op in fp_model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    boundary = convs[:2] + convs[-3:]  # input normalisation, head; upsampler, tail, output de-normalisation

    def quantised(**kwargs) -> object:
        return nncf.quantize(core.read_model(str(onnx_path)), nncf.Dataset(calib), subset_size=len(calib), **kwargs)

    int8_model = quantised()
    int8_inner = quantised(ignored_scope=nncf.IgnoredScope(names=boundary))
    out: dict[str, Engine] = {}
    for label, model, hint in (("openvino bf16", fp_model, "bf16"), ("openvino int8 (nncf)", int8_model, "bf16"),
                               ("openvino int8 (nncf), f32 rest", int8_model, "f32"),
                               ("openvino int8 (nncf), first 2 / last 3 convs bf16", int8_inner, "bf16")):
        compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"})
        request = compiled.create_infer_request()
        out[label] = lambda x, request=request: request.infer({0: x})[0]
    return out


def onnxruntime_int8(onnx_path: Path, calib: list[np.ndarray], tmp: Path) -> Engine:
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calib)

        def get_next(self) -> dict | None:
            x = next(self.items, None)
            return None if x is None else {name: x}

    pre, quant = tmp / "pre.onnx", tmp / "int8.onnx"
    quant_pre_process(str(onnx_path), str(pre))
    quantize_static(str(pre), str(quant), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(quant), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {name: x})[0]


def psnr_on(engine: Engine, val: str, scale: int) -> float:
    values = []
    for pair in load_pairs(val, scale):
        x = np.ascontiguousarray(pair.lr.transpose(2, 0, 1))[None].astype(np.float32) / 255.0
        y = engine(x)[0].transpose(1, 2, 0)
        sr = np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)
        values.append(psnr_y(sr, pair.hr, scale))
    return float(np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="edsr-baseline-x2")
    parser.add_argument("--calib", required=True, help="folder of HR *training* images for calibration")
    parser.add_argument("--calib-count", type=int, default=32)
    parser.add_argument("--calib-side", type=int, default=96, help="LR crop side for calibration")
    parser.add_argument("--val", required=True, help="HR folder for PSNR-Y (e.g. Set5)")
    parser.add_argument("--size", default="640x360", help="input WxH for the timing")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    keep_freed_memory()
    net = load_model(args.model)
    scale = net.scale
    width, height = (int(v) for v in args.size.split("x"))
    flops = conv_flops(net, height, width)
    calib = calibration_crops(args.calib, scale, args.calib_count, args.calib_side)
    engines: dict[str, Engine] = {"pytorch fp32": torch_engine(args.model, torch.float32),
                                  "pytorch bf16": torch_engine(args.model, torch.bfloat16)}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        onnx_path = export_onnx(net, tmp / "model.onnx")
        if importlib.util.find_spec("openvino") and importlib.util.find_spec("nncf"):
            engines.update(openvino_engines(onnx_path, calib))
        if importlib.util.find_spec("onnxruntime"):
            engines["onnxruntime int8 (qdq)"] = onnxruntime_int8(onnx_path, calib, tmp)
        x = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
        for run in engines.values():  # warm-up (and OpenVINO's first-shape compile)
            run(x)
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for label, run in engines.items():
                t = time.perf_counter()
                run(x)
                best[label] = min(best.get(label, float("inf")), time.perf_counter() - t)
        rows = [{"engine": label, "s_per_frame": round(best[label], 3), "gflops": round(flops / best[label] / 1e9, 1),
                 "psnr_y": round(psnr_on(run, args.val, scale), 4)} for label, run in engines.items()]
    print(json.dumps({"model": args.model, "size": args.size, "threads": torch.get_num_threads(),
                      "val": args.val, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
