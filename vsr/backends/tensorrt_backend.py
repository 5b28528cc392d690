"""TensorRT backend: the model as a TensorRT engine, on the shared double-buffered scheduler.

``open`` exports the model to ONNX (float32 NCHW RGB [0, 1], dynamic batch/height/width), then loads
the cached engine for (that ONNX, this TensorRT, this GPU, precision, profile) or builds it once
(minutes; ``vsr engine build`` does it ahead of time). Per batch, on the compute stream:
``set_input_shape`` -> ``set_tensor_address`` for input and output (device memory from torch) ->
``execute_async_v3`` on the stream's handle. Colour conversion, resample and quantisation are the
same torch ops as the PyTorch-CUDA backend (``DeviceBackend``), so both paths give the same frames
up to the model's arithmetic.

A temporal model (``vsr.models.temporal``) exports with inputs ``input, prev, state, flow`` and
outputs ``output, state_out``; its engine is built for one frame at a time (batch 1) and runs
through the same ``RecurrentRunner`` as on PyTorch (host-side flow and cut detection, one state per
tile), with the state kept on the GPU from one call's ``state_out`` to the next call's ``state``
(``vsr.backends.engine_io``; what the recurrence costs the overlap: docs/gpu.md). A model with a fusion stage
then runs the backward pass (``vsr.models.backward_fusion``) in PyTorch on the GPU, as ``DeviceBackend`` holds it.

Streams, events and buffers come from torch (not pycuda): TensorRT runs in the CUDA primary context
that torch already holds, so there is one context, one allocator and no extra dependency.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsr.backends.cuda_backend import DeviceBackend
from vsr.backends.engine_cache import Profile
from vsr.errors import BackendError

if TYPE_CHECKING:
    import torch

    from vsr.backends.spec import BackendSpec
    from vsr.models.loaded import LoadedModel

log = logging.getLogger(__name__)


def profile_for(spec: BackendSpec, *, temporal: bool = False) -> Profile:
    """The optimisation profile a spec needs: its frame (or tile) size exactly, batch 1 .. spec.batch
    (a temporal model: batch 1 exactly, since it runs one frame at a time). A temporal engine's other
    inputs follow this one's batch and size (``Profile.for_input``)."""
    h, w = spec.input.height, spec.input.width
    if spec.tile:
        h, w = min(spec.tile, h), min(spec.tile, w)
    profile = Profile.for_frames(batch=spec.batch, height=h, width=w)
    return profile.single_frame() if temporal else profile


class TensorRTBackend(DeviceBackend):
    name = "tensorrt"

    def __init__(
        self,
        spec: BackendSpec,
        *,
        model: LoadedModel | None = None,
        opt_level: int = 3,
        slots: int | None = None,
    ) -> None:
        super().__init__(spec, slots=slots)
        self._given_model = model
        self.opt_level = opt_level
        self.loaded = self.context = self.io = self._tiler = None

    def open_model(self) -> None:
        import torch

        from vsr.backends.engine_build import engine_spec, ensure_engine, import_tensorrt, onnx_dtype
        from vsr.backends.engine_cache import engine_dir
        from vsr.backends.onnx_export import export_onnx
        from vsr.backends.recurrent import is_temporal

        spec = self.spec
        trt = self.trt = import_tensorrt()
        if not spec.device.startswith("cuda") or not torch.cuda.is_available():
            raise BackendError("No CUDA GPU: TensorRT needs an NVIDIA GPU (use --backend torch)")
        self.torch_device = torch.device(spec.device)
        if self.torch_device.index is not None:
            torch.cuda.set_device(self.torch_device)  # TensorRT builds and runs on the current device
        model = self._given_model
        if model is None:
            from vsr.models.loader import load_model

            model = load_model(spec.model_source, arch=spec.arch)
        self.scale, self.size_multiple = model.scale, model.size_multiple
        self.profile = profile_for(spec, temporal=is_temporal(model.module))
        directory = engine_dir(spec.engine_dir)
        with tempfile.TemporaryDirectory(prefix="vsr-onnx-") as tmp:
            onnx = export_onnx(model, Path(tmp) / "model.onnx", dtype=onnx_dtype(trt, spec.precision))
            wanted = engine_spec(spec.model, onnx, precision=spec.precision, profile=self.profile,
                                 opt_level=self.opt_level, device=spec.device, trt=trt)
            self.loaded, self.engine_path, built = ensure_engine(wanted, onnx, directory, trt=trt)
        log.info("%s TensorRT engine %s", "built" if built else "using cached", self.engine_path)
        engine = self.loaded.engine
        self.context = engine.create_execution_context()
        if self.context is None:
            raise BackendError(
                f"TensorRT could not create an execution context for {self.engine_path.name} "
                f"({self.loaded.logger.last_error()}): out of GPU memory? try a smaller --batch"
            )
        self._bind(model, trt)

    def _bind(self, model: LoadedModel, trt: Any) -> None:
        """Check the loaded engine's tensors against ``model`` and set up how ``infer`` runs it: the
        tiles of each batch through the engine, or for a temporal model a ``RecurrentRunner`` whose
        ``forward`` executes it."""
        from vsr.backends.engine_io import EngineIO, current_stream
        from vsr.backends.recurrent import RecurrentRunner, is_temporal
        from vsr.models.backward_fusion import backward_pass_for

        temporal = is_temporal(model.module)
        self.io = EngineIO(self.loaded, self.context, trt, profile=self.profile, label=self.engine_path.name,
                           temporal=temporal, state_channels=getattr(model.module, "state_channels", None),
                           stream=current_stream)
        self._tiler = None
        if temporal:  # kept in _tiler, where Backend.reset() finds it; the backward pass runs in PyTorch on the GPU
            self._tiler = RecurrentRunner(self.io.temporal, state_channels=model.module.state_channels, scale=self.scale,
                                          tile=self.spec.tile, overlap=self.spec.tile_overlap, multiple=self.size_multiple,
                                          backward=backward_pass_for(model.module, self.spec.frame_rate))

    def close(self) -> None:
        super().close()
        self.io = self._tiler = None  # they hold the context
        self.context = None  # the context before the engine, the engine before the runtime
        self.loaded = None

    def runner_input(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.io.in_dtype)

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        from vsr.backends.tiling import run_tiled

        if self.io is None:
            raise BackendError(f"{type(self).__name__} used outside 'with': open() it first")
        if self._tiler is not None:
            return self._tiler(self.runner_input(x))
        return run_tiled(self.io.image, x, scale=self.scale, tile=self.spec.tile, overlap=self.spec.tile_overlap,
                         multiple=self.size_multiple)
