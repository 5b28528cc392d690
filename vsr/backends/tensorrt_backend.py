"""TensorRT backend: the model as a TensorRT engine, on the shared double-buffered scheduler.

``open`` exports the model to ONNX (float32 NCHW RGB [0, 1], dynamic batch/height/width), then loads
the cached engine for (that ONNX, this TensorRT, this GPU, precision, profile) or builds it once
(minutes; ``vsr engine build`` does it ahead of time). Per batch, on the compute stream:
``set_input_shape`` -> ``set_tensor_address`` for input and output (device memory from torch) ->
``execute_async_v3`` on the stream's handle. Colour conversion, resample and quantisation are the
same torch ops as the PyTorch-CUDA backend (``DeviceBackend``), so both paths give the same frames
up to the model's arithmetic.

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


def profile_for(spec: BackendSpec) -> Profile:
    """The optimisation profile a spec needs: its frame (or tile) size exactly, batch 1 .. spec.batch."""
    h, w = spec.input.height, spec.input.width
    if spec.tile:
        h, w = min(spec.tile, h), min(spec.tile, w)
    return Profile.for_frames(batch=spec.batch, height=h, width=w)


def _torch_dtype(trt: Any, dt: Any) -> torch.dtype:
    import torch

    table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
    if hasattr(trt.DataType, "BF16"):
        table[trt.DataType.BF16] = torch.bfloat16
    if dt not in table:
        raise BackendError(f"engine tensor type {dt} is not supported: rebuild it with `vsr engine build`")
    return table[dt]


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
        self.loaded = self.context = None

    def open_model(self) -> None:
        import torch

        from vsr.backends.engine_build import engine_spec, ensure_engine, import_tensorrt, onnx_dtype
        from vsr.backends.engine_cache import engine_dir
        from vsr.backends.onnx_export import export_onnx

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
        self.profile = profile_for(spec)
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
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise BackendError(f"engine {self.engine_path.name} has inputs {inputs} and outputs {outputs}; vsr needs one of each")
        self.in_name, self.out_name = inputs[0], outputs[0]
        self.in_dtype = _torch_dtype(trt, engine.get_tensor_dtype(self.in_name))
        self.out_dtype = _torch_dtype(trt, engine.get_tensor_dtype(self.out_name))

    def close(self) -> None:
        super().close()
        self.context = None  # the context before the engine, the engine before the runtime
        self.loaded = None

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        from vsr.backends.tiling import run_tiled

        return run_tiled(self._execute, x, scale=self.scale, tile=self.spec.tile, overlap=self.spec.tile_overlap,
                         multiple=self.size_multiple)

    def _execute(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        x = x.to(self.in_dtype).contiguous()
        shape = tuple(x.shape)
        if not self.profile.covers(shape):
            raise BackendError(
                f"input {shape} is outside the engine profile {self.profile.min}..{self.profile.max}: "
                "rebuild with `vsr engine build` for this size"
            )
        ctx = self.context
        if not ctx.set_input_shape(self.in_name, shape):
            raise BackendError(f"TensorRT refused input shape {shape}: {self.loaded.logger.last_error()}")
        out_shape = tuple(ctx.get_tensor_shape(self.out_name))
        if len(out_shape) != 4 or min(out_shape) < 1:
            raise BackendError(f"TensorRT gives output shape {out_shape} for input {shape}: the engine is not a 4-D image model")
        out = torch.empty(out_shape, dtype=self.out_dtype, device=x.device)
        if not (ctx.set_tensor_address(self.in_name, x.data_ptr()) and ctx.set_tensor_address(self.out_name, out.data_ptr())):
            raise BackendError(f"TensorRT refused a buffer address: {self.loaded.logger.last_error()}")
        # enqueue on the stream that is current here: the scheduler's compute stream
        if not ctx.execute_async_v3(torch.cuda.current_stream(x.device).cuda_stream):
            raise BackendError(f"TensorRT inference failed: {self.loaded.logger.last_error()} (run with --debug)")
        return out
