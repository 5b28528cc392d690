"""OpenVINO on the CPU: the CPU PyTorch backend with the network compiled by OpenVINO.

Everything around the network (swscale conversions, reused host buffers, tiling, the antialiased
resize, quantisation) is :class:`TorchBackend`'s; only the network runs in OpenVINO. It is exported
to ONNX as ``vsr export`` does (dynamic batch, height and width) and compiled for the CPU in the
spec's precision: bf16 runs on AMX or AVX512-BF16 where the CPU has them. Host tensors stay fp32
(OpenVINO converts inside the compiled graph). Optional: ``pip install 'vsr[openvino]'``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vsr.backends.availability import OPENVINO_HINT
from vsr.backends.onnx_export import export_onnx
from vsr.backends.torch_backend import TorchBackend
from vsr.errors import BackendError

if TYPE_CHECKING:
    from vsr.models.loaded import LoadedModel

# the plan's precision -> OpenVINO's INFERENCE_PRECISION_HINT
INFERENCE_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
PRECISION_OF = {hint: name for name, hint in INFERENCE_PRECISION.items()}


class OpenVINOBackend(TorchBackend):
    name = "openvino"

    def network(self, loaded: LoadedModel) -> tuple[torch.dtype, Callable[[torch.Tensor], torch.Tensor]]:
        try:
            import openvino as ov
        except ImportError as exc:
            raise BackendError(f"OpenVINO is not installed: {OPENVINO_HINT} (or use --backend torch)") from exc
        asked = INFERENCE_PRECISION[self.spec.precision]
        try:
            core = ov.Core()
            with tempfile.TemporaryDirectory(prefix="vsr-openvino-") as tmp:
                graph = core.read_model(str(export_onnx(loaded, Path(tmp) / "model.onnx")))
            compiled = core.compile_model(graph, "CPU", {
                "INFERENCE_PRECISION_HINT": asked,
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": torch.get_num_threads(),  # --workers gives each process its share
            })
            runs = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        except RuntimeError as exc:
            raise _error(exc) from exc
        if runs != asked:  # OpenVINO falls back quietly where the CPU lacks the instructions
            raise BackendError(f"OpenVINO computes {runs} on this CPU, not {asked}: use --precision "
                               f"{PRECISION_OF.get(runs, 'fp32')} or --backend torch")
        request = compiled.create_infer_request()

        def run(*inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
            """The network on its inputs: a frame, or a temporal model's frame, previous frame, state and flow."""
            try:  # the inputs are read in place; outputs are copied out of OpenVINO's buffers
                result = request.infer({i: t.contiguous().numpy() for i, t in enumerate(inputs)}, share_inputs=True)
            except RuntimeError as exc:
                raise _error(exc) from exc
            outputs = tuple(torch.from_numpy(result[i]) for i in range(len(result)))
            return outputs[0] if len(outputs) == 1 else outputs

        return torch.float32, run


def _error(exc: RuntimeError) -> BackendError:
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return BackendError(f"OpenVINO failed: {first[:200]} (use --backend torch)")
