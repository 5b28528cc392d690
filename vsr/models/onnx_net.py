"""ONNX models (``--model model.onnx``): the graph run by ONNX Runtime as a vsr network.

What vs-mlrt and VideoJaNai users keep their models as. The graph must take one N×C×H×W image
(C = 1, 3 or 4; float32 or float16) and give one image. Static H and W are tiled to the graph's
own shape (the frame padded when smaller); dynamic ones are used as they come. The scale is read
from the graph when both shapes are static, else found by small probe runs (which also find a
size multiple a graph traced without its padding needs). ONNX Runtime runs
on the CPU, or with its CUDA provider on a CUDA device where the installed build has it
(``onnxruntime-gpu``); a graph with operators it cannot run, or that is not image-to-image, is
refused in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsr.errors import UnsupportedModelError
from vsr.models.foreign import ForeignNet
from vsr.models.loaded import LOADER_WHY, LoadedModel, ModelFacts

DTYPES = {"tensor(float)": (np.float32, torch.float32, "fp32"), "tensor(float16)": (np.float16, torch.float16, "fp16")}
PROBE = 33  # side of the probe runs that find a dynamic graph's scale and size multiple
PROBE_MULTIPLES = (1, 2, 4, 8, 16, 32, 64)
STATIC_OVERLAP = 16  # tile overlap (input pixels) when a static graph's shape is smaller than the frame


def _session(path: Path, device: str) -> Any:
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: probe runs fail on purpose, and vsr reports errors in one line
    providers = ["CPUExecutionProvider"]
    if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        index = str(device).partition(":")[2] or "0"
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(index)}))
    failures = (state.Fail, state.InvalidGraph, state.InvalidProtobuf, state.NotImplemented, state.InvalidArgument,
                state.NoSuchFile, state.RuntimeException, RuntimeError, OSError, ValueError)
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except failures as exc:
        first = " ".join(str(exc).split())[:240]
        raise UnsupportedModelError(f"{path}: ONNX Runtime {ort.__version__} cannot run this graph ({first})") from exc


def _probe(session: Any, where: str, batch_channels: tuple[int, int], static: tuple[int, int] | None,
           out_shape: list, np_dtype: Any) -> tuple[int, int]:
    """(scale, size multiple) of a graph: from its static shapes, else from small probe runs.

    A dynamic graph may still need sides that are multiples of something (a transformer's window,
    traced without its padding): the first of 1, 2, 4, ... that runs an H x (H + m) probe is it."""
    if static and isinstance(out_shape[2], int) and isinstance(out_shape[3], int):
        ratios = {out_shape[2] / static[0], out_shape[3] / static[1]}
        return _whole(ratios, where, out_shape), 1
    name, rng = session.get_inputs()[0].name, np.random.default_rng(0)
    first_error = ""
    for multiple in (1,) if static else PROBE_MULTIPLES:
        h = static[0] if static else -(-PROBE // multiple) * multiple
        w = static[1] if static else h + multiple
        probe = rng.random((*batch_channels, h, w), dtype=np.float32).astype(np_dtype)
        try:
            out = session.run(None, {name: probe})[0]
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's own exception classes; reported below
            first_error = first_error or " ".join(str(exc).split())[:200]
            continue
        if out.ndim != 4:
            raise UnsupportedModelError(f"{where}: not an image-to-image graph (output shape {list(out.shape)})")
        return _whole({out.shape[2] / h, out.shape[3] / w}, where, list(out.shape)), multiple
    raise UnsupportedModelError(f"{where}: no small probe run succeeded ({first_error}); "
                                "vsr needs graphs that take any size (or sizes of a multiple up to 64), or a fixed one")


def _whole(ratios: set[float], where: str, shape: list) -> int:
    scale = ratios.pop()
    if ratios or scale < 1 or scale != int(scale):
        raise UnsupportedModelError(f"{where}: output is not a whole-number enlargement of the input "
                                    f"(shape {shape}); vsr runs graphs that scale both sides by the same integer")
    return int(scale)


class OnnxNet(ForeignNet):
    """An ONNX Runtime session as a network (see ``ForeignNet`` for padding and channels)."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        path = Path(path)
        session = _session(path, device)
        inputs, outputs = session.get_inputs(), session.get_outputs()
        where = str(path)
        if len(inputs) != 1 or len(outputs) < 1:
            raise UnsupportedModelError(
                f"{where}: not an image-to-image graph ({len(inputs)} inputs: "
                f"{', '.join(i.name for i in inputs)}); vsr runs graphs with one N×C×H×W image input")
        shape, out_shape = list(inputs[0].shape), list(outputs[0].shape)
        if len(shape) != 4 or len(out_shape) != 4 or not isinstance(shape[1], int) or inputs[0].type not in DTYPES:
            raise UnsupportedModelError(
                f"{where}: not an image-to-image graph (input {inputs[0].name} {inputs[0].type} {shape}, "
                f"output {out_shape}); vsr runs graphs that take and give N×C×H×W float32/float16 images")
        channels = shape[1]
        out_channels = out_shape[1] if isinstance(out_shape[1], int) else channels
        static = (shape[2], shape[3]) if isinstance(shape[2], int) and isinstance(shape[3], int) else None
        batch = shape[0] if isinstance(shape[0], int) else None
        np_dtype, torch_dtype, precision = DTYPES[inputs[0].type]
        scale, multiple = _probe(session, where, (batch or 1, channels), static, out_shape, np_dtype)
        super().__init__(arch=f"onnx:{path.stem}", scale=scale, in_channels=channels, out_channels=out_channels,
                         multiple=multiple, minimum=max(static) if static else 0, where=where)
        self.path, self.session, self.static, self.batch = path, session, static, batch
        self.np_dtype, self.torch_dtype, self.precision = np_dtype, torch_dtype, precision
        self.in_name, self.out_name = inputs[0].name, outputs[0].name

    def _session_run(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().to("cpu", self.torch_dtype).contiguous().numpy()
        if self.batch is not None and arr.shape[0] != self.batch:  # a graph fixed to batch 1 (or B)
            return torch.cat([self._session_run(x[i : i + 1]) for i in range(x.shape[0])])
        out = self.session.run([self.out_name], {self.in_name: arr})[0]
        return torch.from_numpy(out).to(x.device, x.dtype)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        if self.static is None:
            return self._session_run(x)
        from vsr.backends.tiling import run_tiled

        overlap = min(STATIC_OVERLAP, min(self.static) // 4)
        return run_tiled(self._session_run, x, scale=self.scale, tile=self.static, overlap=overlap)


def load_onnx(path: str | Path, *, device: str | torch.device = "cpu") -> LoadedModel:
    net = OnnxNet(path, str(device)).eval()
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    metadata = {p.key: p.value[:300] for p in proto.metadata_props}
    if proto.producer_name:
        metadata.setdefault("producer", f"{proto.producer_name} {proto.producer_version}".strip())
    if proto.doc_string:
        metadata.setdefault("description", proto.doc_string[:300])
    params = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    static = f"static {net.static[0]}x{net.static[1]}, tiled to it" if net.static else "dynamic height and width"
    facts = ModelFacts(
        arch=net.arch, scale=net.scale, loader="onnxruntime",
        why=f"{LOADER_WHY['onnxruntime']} ({net.precision} input, {static})",
        size_multiple=net.size_multiple, in_channels=net.in_channels, out_channels=net.out_channels, precisions=(net.precision,),
        tiling="internal" if net.static else "supported", purpose="SR" if net.scale > 1 else "Restoration",
        params=params, metadata=metadata, source=str(path),
    )
    return LoadedModel(net, net.arch, net.scale, net.size_multiple, 3, {}, str(path), facts)
