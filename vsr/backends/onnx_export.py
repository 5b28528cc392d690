"""Export a model to ONNX: NCHW RGB in [0, 1], dynamic batch, height and width.

The graph has one input ``input`` (N x C x H x W) and one output ``output`` (N x C x sH x sW),
float32 by default; ``dtype=torch.float16`` (or bfloat16) exports weights, activations and I/O in
that type, which is what a strongly typed TensorRT network needs (``engine_build``).
The TorchScript-based exporter is used (it needs no extra packages and handles dynamic axes);
a torch whose ``export`` has a ``dynamo`` switch (the default from torch 2.9) is told ``dynamo=False``,
older ones have no such argument and use TorchScript anyway (so any torch >= 2.2 works).
Constant buffers (EDSR's mean shift) are ordinary initialisers.
A temporal model (``vsr.models.temporal``) has four inputs, ``input``, ``prev``, ``state`` and
``flow`` (N x 2 x H x W), and two outputs, ``output`` and ``state_out``: the caller carries the state
from one frame's ``state_out`` to the next frame's ``state`` (``vsr.backends.recurrent``). The file is written to a
temporary name and renamed into place once ``onnx.checker`` accepts it.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vsr.atomic import atomic_path
from vsr.errors import BackendError
from vsr.models.temporal import shot_start_args

if TYPE_CHECKING:
    from vsr.models.loaded import LoadedModel

INPUT_NAME = "input"
OUTPUT_NAME = "output"
DYNAMIC_AXES = {0: "batch", 2: "height", 3: "width"}
TEMPORAL_INPUTS = (INPUT_NAME, "prev", "state", "flow")
TEMPORAL_OUTPUTS = (OUTPUT_NAME, "state_out")


def export_onnx(
    model: LoadedModel,
    path: str | Path,
    *,
    opset: int = 17,
    sample_size: tuple[int, int] = (32, 32),
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``model`` as ONNX to ``path`` with ``dtype`` weights and I/O; return the path."""
    import onnx

    path = Path(path)
    net = copy.deepcopy(model.module).to(dtype=dtype).eval().cpu()
    for p in net.parameters():
        p.requires_grad_(False)
    multiple = model.size_multiple
    h, w = (max(multiple, s - s % multiple) for s in sample_size)
    sample = torch.rand(1, model.in_channels, h, w).to(dtype)
    args = shot_start_args(net, sample)
    inputs, outputs = (TEMPORAL_INPUTS, TEMPORAL_OUTPUTS) if len(args) > 1 else ((INPUT_NAME,), (OUTPUT_NAME,))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path, suffix=".partial.onnx") as tmp, warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation/tracer chatter
            torch.onnx.export(
                net,
                args,
                str(tmp),
                **_torchscript_exporter(),
                opset_version=opset,
                input_names=list(inputs),
                output_names=list(outputs),
                dynamic_axes={name: dict(DYNAMIC_AXES) for name in (*inputs, *outputs)},
                do_constant_folding=True,
            )
            _declare_channels(tmp, dict(zip(outputs, _as_tuple(net(*args)))))
            onnx.checker.check_model(onnx.load(str(tmp)))
    except (RuntimeError, ValueError, TypeError, onnx.checker.ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = "try another --opset" if "opset" in first.lower() or "operator" in first.lower() else "run with --debug for the traceback"
        raise BackendError(
            f"ONNX export of {model.arch} ({str(dtype).removeprefix('torch.')}, opset {opset}) "
            f"with torch {torch.__version__} failed: {first} ({hint})"
        ) from exc
    return path


def _as_tuple(out: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


def _declare_channels(path: Path, outputs: dict[str, torch.Tensor]) -> None:
    """Write each output's channel count into the graph where the exporter left it unknown (a
    space-to-depth state's channels come out of Reshape ops), so engines and their checks read it."""
    import onnx

    graph = onnx.load(str(path))
    changed = False
    for value in graph.graph.output:
        dim = value.type.tensor_type.shape.dim[1]
        if value.name in outputs and not dim.HasField("dim_value"):
            dim.dim_value = int(outputs[value.name].shape[1])
            changed = True
    if changed:
        onnx.save(graph, str(path))


def _torchscript_exporter() -> dict:
    """``dynamo=False`` where ``torch.onnx.export`` has that switch; nothing on older torch."""
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
