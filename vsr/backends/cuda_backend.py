"""PyTorch on CUDA with everything on the GPU: colour conversion, model, resample, quantisation.

Decoded planes (uint8/uint16, any chroma layout) go up as they are, through pinned buffers, on the
double-buffered scheduler (``cuda_pipeline``); only quantised planes of the output format come back.
The same class runs on the CPU (``SyncDevice``) so its whole data path is testable without a GPU.

``DeviceBackend`` holds what the TensorRT backend shares (buffers, colour, scheduling); subclasses
supply ``infer`` (float RGB [0, 1] N x 3 x H x W -> N x 3 x sH x sW).

A temporal model with a backward pass (``vsr.models.backward_fusion``) holds frames until the frames after
them have come, so its outputs cannot leave with their batch: it runs batch by batch on one slot of buffers,
without the double-buffering (its recurrence already waits for each frame's flow on the host), and what
the pass releases is converted and downloaded a batch's rows at a time; ``finish`` gives the rest.

Options from the environment (until the CLI has flags for them):
``VSR_TORCH_COMPILE`` = ``default`` | ``reduce-overhead`` (CUDA graphs) | ``max-autotune``: compile
the model with torch.compile (the first batches are slow while it compiles);
``VSR_CUDA_SLOTS`` = number of batches in flight (default 2).

``--precision fp32`` means IEEE FP32 here as in TensorRT: TF32 is turned off for cuDNN convolutions
and cuBLAS matmuls while the backend is open (PyTorch lets cuDNN use TF32 by default).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from vsr.backends import gpu_color as gc
from vsr.backends.base import Backend, carry_timing, frame_time
from vsr.backends.cuda_pipeline import Device, Scheduler, Stages, device_for
from vsr.errors import BackendError
from vsr.io.colour import MATRICES

if TYPE_CHECKING:
    import av
    import torch

    from vsr.backends.spec import BackendSpec
    from vsr.models.loaded import LoadedModel

log = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
T = TypeVar("T")
TEMPORAL_OUT_OF_MEMORY = ("out of GPU memory with a temporal model (its frames cannot be run again): "
                          "use --batch 1, --tile 512 or a smaller --to size")


def strict_fp32() -> Callable[[], None]:
    """Turn TF32 off for cuDNN convolutions and cuBLAS matmuls; returns what restores the previous
    settings. These are process-wide switches: torch 2.9+ has per-backend ``fp32_precision`` (and
    refuses a mix with the legacy ``allow_tf32`` flags), older torch has only ``allow_tf32``."""
    import torch

    conv, matmul = getattr(torch.backends.cudnn, "conv", None), torch.backends.cuda.matmul
    if conv is not None and hasattr(conv, "fp32_precision"):
        before = conv.fp32_precision, matmul.fp32_precision
        conv.fp32_precision = matmul.fp32_precision = "ieee"

        def restore() -> None:
            conv.fp32_precision, matmul.fp32_precision = before
    else:
        before = torch.backends.cudnn.allow_tf32, matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = matmul.allow_tf32 = False

        def restore() -> None:
            torch.backends.cudnn.allow_tf32, matmul.allow_tf32 = before

    return restore


def _once_or_advice(work: Callable[[], T]) -> T:
    """``work()`` for a temporal model, whose frames cannot be run again: out of GPU memory, it stops with advice."""
    import torch

    from vsr.backends.tiling import free_cached_memory

    try:
        return work()
    except torch.cuda.OutOfMemoryError:
        pass  # raise outside the handler, which keeps the failed attempt's tensors
    free_cached_memory()
    raise BackendError(TEMPORAL_OUT_OF_MEMORY)


def _dtype(precision: str) -> torch.dtype:
    import torch

    try:
        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    except KeyError:
        raise BackendError(f"unknown precision {precision!r}: use fp32, fp16 or bf16") from None


class DeviceBackend(Backend):
    """Frames -> planes on the device -> RGB -> ``infer`` -> resize -> planes -> frames."""

    name = "device"

    def __init__(self, spec: BackendSpec, *, slots: int | None = None) -> None:
        super().__init__(spec)
        self.slots = slots or int(os.environ.get("VSR_CUDA_SLOTS", "2"))
        self.device: Device | None = None
        self.scheduler: Scheduler | None = None
        self.frames_per_pass = 0  # frames converted at once; lowered on out-of-memory (0: the whole batch)

    # -- to be provided by subclasses --------------------------------------------------------------
    def infer(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def runner_input(self, x: torch.Tensor) -> torch.Tensor:
        """RGB [0, 1] as the network's runner takes it (dtype, memory format)."""
        return x

    def open_model(self) -> None:
        raise NotImplementedError

    # -- lifecycle --------------------------------------------------------------------------------------
    def open(self) -> None:
        spec, src, out = self.spec, self.spec.input, self.spec.output
        self.in_layout = gc.PlaneLayout.of(gc.device_format(src.pix_fmt), src.width, src.height)
        self.out_layout = gc.PlaneLayout.of(gc.output_format(out.pix_fmt), out.width, out.height)
        self.matrix = src.colour.matrix if src.colour.matrix in MATRICES else "itu709"
        self.in_siting = gc.input_siting(src.codec)  # refined from the first frame (pack); output is "left"
        self._siting_from_frame = True
        self.full_range = src.colour.full_range
        self.frames_per_pass = 0
        self.open_model()  # first: it says what is missing (TensorRT, a GPU) before anything is allocated
        self.device = device_for(spec.device)
        # open_model converted the weights (dtype, channels_last) on the default stream, and the
        # scheduler's compute stream does not wait for that stream by itself: finish it first
        self.device.synchronize_all()
        self.stages = Stages(
            in_shape=(self.in_layout.elements,),
            in_dtype=self.in_layout.torch_dtype,
            out_shape=(self.out_layout.elements,),
            out_dtype=self.out_layout.torch_dtype,
            pack=self.pack,
            compute=self.compute,
            unpack=self.unpack,
        )
        self.scheduler = Scheduler(self.device, self.stages, spec.batch, self.slots)

    def close(self) -> None:
        if self.device is not None:
            self.device.synchronize_all()  # nothing is freed while a stream may still use it
        self.scheduler = self.device = None

    # -- the three stages -------------------------------------------------------------------------------
    def pack(self, frames: Sequence[av.VideoFrame], host_in: torch.Tensor) -> None:
        lay = self.in_layout
        if self._siting_from_frame and frames:  # once: what the decoder says, before compute() uses it
            self._siting_from_frame = False
            self.in_siting = gc.input_siting(self.spec.input.codec, frames[0])
        for i, frame in enumerate(frames):
            frame = gc.prepare_frame(frame)
            flay = lay
            if frame.format.name != lay.pix_fmt or (frame.width, frame.height) != (lay.width, lay.height):
                flay = self._same_planes(frame)
                if flay is None:
                    # the stream changed format or size mid-way: bring it back to what the buffers hold
                    frame = frame.reformat(width=lay.width, height=lay.height, format=lay.pix_fmt)
                    flay = lay
            row = host_in[i].numpy()
            gc.frame_to_buffer(frame, flay, row.view(lay.numpy_dtype) if lay.bits > 8 else row)

    def _same_planes(self, frame: av.VideoFrame) -> gc.PlaneLayout | None:
        """The frame's layout if its planes are laid out as the buffers expect under another name
        (yuvj420p vs yuv420p: converting would change the codes, copying keeps them)."""
        from dataclasses import replace

        try:
            flay = gc.PlaneLayout.of(frame.format.name, frame.width, frame.height)
        except ValueError:
            return None
        return flay if replace(flay, pix_fmt=self.in_layout.pix_fmt) == self.in_layout else None

    def compute(self, dev_in: torch.Tensor, dev_out: torch.Tensor) -> None:
        """Convert, infer, resample and quantise a batch. Out of memory outside the model (which
        the tiler handles), e.g. in the colour conversion or resample of a 4K batch, is retried
        with half as many frames at a time, down to one, and that number is kept for what follows.
        Not for a temporal model: its runner has taken the frames in, so it stops with advice."""
        import torch

        from vsr.backends.tiling import free_cached_memory

        n = dev_in.shape[0]
        from vsr.backends.recurrent import RecurrentRunner

        if isinstance(getattr(self, "_tiler", None), RecurrentRunner):  # its frames cannot be replayed
            _once_or_advice(lambda: self._compute_frames(dev_in, dev_out))
            return
        while True:
            step = min(n, self.frames_per_pass or n)
            try:
                for i in range(0, n, step):
                    self._compute_frames(dev_in[i : i + step], dev_out[i : i + step])
                return
            except torch.cuda.OutOfMemoryError:
                pass  # recover outside the handler: its traceback keeps the failed attempt's tensors
            free_cached_memory()
            if step == 1:
                raise BackendError(
                    "out of GPU memory converting a single frame: use --tile 512, a smaller --to size or a smaller model"
                )
            self.frames_per_pass = step // 2
            log.warning("CUDA out of memory: converting %d frames at a time", self.frames_per_pass)

    def _compute_frames(self, dev_in: torch.Tensor, dev_out: torch.Tensor) -> None:
        import torch

        with torch.inference_mode():
            self._write(self.infer(self._rgb(dev_in)), dev_out)

    def _write_outputs(self, outputs: Sequence[torch.Tensor], dev_out: torch.Tensor) -> None:
        import torch

        with torch.inference_mode():
            self._write(torch.cat(list(outputs)), dev_out)

    def _rgb(self, dev_in: torch.Tensor) -> torch.Tensor:
        return gc.to_rgb(dev_in, self.in_layout, self.matrix, self.full_range, self.in_siting)

    def _write(self, y: torch.Tensor, dev_out: torch.Tensor) -> None:
        """Network outputs -> the output planes in ``dev_out``: resampled to the output size, quantised."""
        import torch

        # an fp16 model can overflow to inf/NaN; NaN passes clamp() and would reach the encoder as
        # garbage codes, and the resample would spread it: make it black (inf saturates) first
        y = torch.nan_to_num(y.float(), nan=0.0, posinf=1.0, neginf=0.0)
        y = gc.residual_resize(y, (self.spec.output.height, self.spec.output.width))
        gc.from_rgb(y, self.out_layout, self.matrix, self.full_range, out=dev_out)

    def unpack(self, frames: Sequence[av.VideoFrame], host_out: torch.Tensor) -> list[av.VideoFrame]:
        lay, pix_fmt, out = self.out_layout, self.spec.output.pix_fmt, []
        for i, src in enumerate(frames):
            row = host_out[i].numpy()
            frame = gc.buffer_to_frame(row.view(lay.numpy_dtype) if lay.bits > 8 else row, lay)
            if lay.pix_fmt != pix_fmt:  # e.g. nv12/p010 for hardware encoders: a repack
                frame = frame.reformat(format=pix_fmt)
            out.append(carry_timing(src, frame))
        return out

    # -- Backend interface --------------------------------------------------------------------------------
    def process(self, frames: Sequence[av.VideoFrame]) -> list[av.VideoFrame]:
        if self._holds_frames():
            return self._outputs(self._streamed(frames))
        return next(iter(self.run([frames])))

    def finish(self) -> list[av.VideoFrame]:
        return self._outputs(self.device.launch(self.scheduler.compute_stream, self._tiler.flush)) if self._holds_frames() else []

    def run(self, batches: Iterable[Sequence[av.VideoFrame]]) -> Iterator[list[av.VideoFrame]]:
        if self.scheduler is None:
            raise BackendError(f"{type(self).__name__} used outside 'with': open() it first")
        if self._holds_frames():  # batch by batch, then what the backward pass still holds
            yield from super().run(batches)
        else:
            yield from self.scheduler.run(batches)

    # -- a temporal model's backward pass: outputs come later than their frames ---------------------------
    def _holds_frames(self) -> bool:
        if self.scheduler is None:
            raise BackendError(f"{type(self).__name__} used outside 'with': open() it first")
        return self.backward_pass is not None

    def _streamed(self, frames: Sequence[av.VideoFrame]) -> list[tuple[av.VideoFrame, torch.Tensor]]:
        """Run a batch through the runner (one slot, no double-buffering: the recurrence waits for each
        frame's flow on the host anyway); the ``(frame, output)`` pairs its backward pass has finished."""
        import torch

        d, slot, stream, n = self.device, self.scheduler.slots[0], self.scheduler.compute_stream, len(frames)
        self.pack(frames, slot.host_in[:n])
        d.copy(slot.dev_in[:n], slot.host_in[:n], stream)

        def run() -> list:
            with torch.inference_mode():
                x = self.runner_input(self._rgb(slot.dev_in[:n]))
                return self._tiler.stream(x, frames, [frame_time(f) for f in frames])

        def run_and_wait() -> list:
            done = d.launch(stream, run)
            d.synchronize_all()  # host_in is packed again for the next batch
            return done

        return _once_or_advice(run_and_wait)

    def _outputs(self, done: Sequence[tuple[av.VideoFrame, torch.Tensor]]) -> list[av.VideoFrame]:
        """Output frames for finished ``(frame, network output)`` pairs, a batch's rows at a time."""
        d, slot, stream, out = self.device, self.scheduler.slots[0], self.scheduler.compute_stream, []
        for i in range(0, len(done), self.spec.batch):
            chunk = done[i : i + self.spec.batch]
            k = len(chunk)
            d.launch(stream, self._write_outputs, [y for _, y in chunk], slot.dev_out[:k])
            d.copy(slot.host_out[:k], slot.dev_out[:k], stream)
            d.synchronize_all()
            out += self.unpack([frame for frame, _ in chunk], slot.host_out[:k])
        return out


class CudaTorchBackend(DeviceBackend):
    """A PyTorch model on the GPU (channels_last, fp16/bf16, inference_mode, optional torch.compile)."""

    name = "torch-cuda"

    def __init__(
        self,
        spec: BackendSpec,
        *,
        model: LoadedModel | None = None,
        slots: int | None = None,
        compile_mode: str | None = None,
    ) -> None:
        super().__init__(spec, slots=slots)
        self._given_model = model
        self.model = self.forward = self._tiler = None
        self._restore_fp32: Callable[[], None] | None = None
        self.compile_mode = compile_mode if compile_mode is not None else os.environ.get("VSR_TORCH_COMPILE") or None
        if self.compile_mode and self.compile_mode not in COMPILE_MODES:
            raise BackendError(f"VSR_TORCH_COMPILE={self.compile_mode}: use one of {', '.join(COMPILE_MODES)}")

    def open_model(self) -> None:
        import torch

        spec = self.spec
        if spec.device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"--device {spec.device} asked for, but PyTorch sees no CUDA GPU: use --device cpu")
        loaded = self._given_model
        if loaded is None:
            from vsr.models.loader import load_model

            loaded = load_model(spec.model_source, arch=spec.arch)
            model = loaded.module
        else:  # .to() converts a module in place: keep the caller's one as given, and off the GPU after close()
            import copy

            model = copy.deepcopy(loaded.module)
        self.scale = loaded.scale
        self.dtype = _dtype(spec.precision)
        self.torch_device = torch.device(spec.device)
        try:
            model = model.to(self.torch_device).eval()
        except RuntimeError as exc:  # no CUDA driver, device index out of range, out of memory
            raise BackendError(f"cannot put the model on {spec.device}: {str(exc).splitlines()[0]} (use --device cpu)") from exc
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = model.to(dtype=self.dtype, memory_format=torch.channels_last)
        self.forward = self.model
        if self.compile_mode:
            self.forward = torch.compile(self.model, mode=self.compile_mode, dynamic=False)
        from vsr.backends.recurrent import frame_runner
        from vsr.models.backward_fusion import backward_pass_for

        self._tiler = frame_runner(self.forward, self.model, scale=self.scale, tile=spec.tile,
                                   overlap=spec.tile_overlap, multiple=loaded.size_multiple,
                                   backward=backward_pass_for(self.model, spec.frame_rate))
        if spec.precision == "fp32" and self._restore_fp32 is None:
            self._restore_fp32 = strict_fp32()

    def close(self) -> None:
        """Free everything open() made: weights, the tiler (and the tile size it shrank to), compiled
        graphs and their CUDA-graph memory pools; a reopened backend starts afresh."""
        import torch

        super().close()
        self.model = self.forward = self._tiler = None
        if self.compile_mode:
            torch.compiler.reset()  # process-wide: dynamo's caches and the CUDA-graph trees
        if self._restore_fp32 is not None:
            self._restore_fp32()
            self._restore_fp32 = None
        if self.spec.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        if self._tiler is None:
            raise BackendError(f"{type(self).__name__} used outside 'with': open() it first")
        return self._tiler(self.runner_input(x))

    def runner_input(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        return x.to(self.dtype).contiguous(memory_format=torch.channels_last)
