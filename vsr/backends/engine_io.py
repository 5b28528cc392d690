"""A TensorRT engine's inputs and outputs, bound by name and run on the current CUDA stream.

TensorRT 10's name-based API, per call: ``set_input_shape`` for every input, ``get_tensor_shape``
for every output (known once every input's shape is), ``set_tensor_address`` for all of them
(device memory from torch), then ``execute_async_v3`` on the stream that is current (the
scheduler's compute stream). Engines come in the two kinds ``vsr.backends.onnx_export`` writes:

- an image model: one input, one output;
- a temporal model: ``input``, ``prev``, ``state`` and ``flow`` in, ``output`` and ``state_out``
  out. The caller (``vsr.backends.recurrent.RecurrentRunner``) hands each call's ``state_out`` to
  the next frame's ``state``, on the GPU. Every input's profile is the image input's batch and size
  range with its own channel count (``Profile.for_input``), as the engine was built
  (``vsr.backends.engine_build``).

Outputs are new tensors on every call, from torch's caching allocator on the current stream, so the
state a call reads is never the memory it writes. The runner lets go of a tile's old state only
after the call that reads it is enqueued, and the allocator hands a freed block only to later
allocations on the stream it belongs to (the compute stream, where every call is queued in order),
so no call's input is overwritten before that call has run. At most two states per tile are alive
at once, the one being read and the one being written: double-buffering, without fixed buffers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vsr.backends.engine_cache import Profile
from vsr.backends.onnx_export import TEMPORAL_INPUTS, TEMPORAL_OUTPUTS
from vsr.errors import BackendError

if TYPE_CHECKING:
    import torch

    from vsr.backends.engine_build import LoadedEngine

FLOW_CHANNELS = 2  # x and y, in LR pixels (vsr.models.motion)


def torch_dtype(trt: Any, dt: Any) -> torch.dtype:
    """The torch dtype of a TensorRT ``DataType`` (float32, float16, bfloat16)."""
    import torch

    table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
    if hasattr(trt.DataType, "BF16"):
        table[trt.DataType.BF16] = torch.bfloat16
    if dt not in table:
        raise BackendError(f"engine tensor type {dt} is not supported: rebuild it with `vsr engine build`")
    return table[dt]


def current_stream(device: torch.device) -> int:
    """The handle of the CUDA stream current on ``device`` (the scheduler's compute stream)."""
    import torch

    return torch.cuda.current_stream(device).cuda_stream


@dataclass(frozen=True)
class Tensor:
    """One of an engine's inputs or outputs: its name, dtype and channel count (-1: not fixed)."""

    name: str
    dtype: torch.dtype
    channels: int


class EngineIO:
    """An engine and its execution context, checked against the model it should run.

    ``image(x) -> y`` for an image model; ``temporal(x, prev, state, flow) -> (y, state_out)`` for
    a temporal one (``temporal=True``, ``state_channels`` from the model). A mismatch between the
    engine's tensors and what the model needs is a BackendError saying how to rebuild it.
    """

    def __init__(
        self,
        loaded: LoadedEngine,
        context: Any,
        trt: Any,
        *,
        profile: Profile,
        label: str,
        temporal: bool = False,
        state_channels: int | None = None,
        stream: Callable[[torch.device], int] = current_stream,
    ) -> None:
        self.loaded, self.context, self.profile, self.label = loaded, context, profile, label
        self.temporal_engine, self.stream = temporal, stream
        engine = loaded.engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]

        def tensor(name: str) -> Tensor:
            shape = tuple(engine.get_tensor_shape(name))
            return Tensor(name, torch_dtype(trt, engine.get_tensor_dtype(name)), int(shape[1]) if len(shape) == 4 else -1)

        is_input = {n: engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.inputs = {n: tensor(n) for n in names if is_input[n]}
        self.outputs = {n: tensor(n) for n in names if not is_input[n]}
        if temporal:
            self._check_temporal(state_channels)
            self.in_name, self.out_name = TEMPORAL_INPUTS[0], TEMPORAL_OUTPUTS[0]
            self.profiles = {n: profile if n == self.in_name else profile.for_input(n, t.channels)
                             for n, t in self.inputs.items()}
        else:
            if len(self.inputs) != 1 or len(self.outputs) != 1:
                raise BackendError(
                    f"engine {label} has inputs {list(self.inputs)} and outputs {list(self.outputs)}; vsr needs one of each"
                )
            [self.in_name], [self.out_name] = self.inputs, self.outputs
            self.profiles = {self.in_name: profile}

    @property
    def in_dtype(self) -> torch.dtype:
        """The dtype of the image input (what to hand ``image`` or the recurrent runner)."""
        return self.inputs[self.in_name].dtype

    def _check_temporal(self, state_channels: int | None) -> None:
        rebuild = "delete it (`vsr engine clean`) and run again to rebuild it from the model"
        ins, outs = list(self.inputs), list(self.outputs)
        if sorted(ins) != sorted(TEMPORAL_INPUTS) or sorted(outs) != sorted(TEMPORAL_OUTPUTS):
            raise BackendError(
                f"engine {self.label} has inputs {ins} and outputs {outs}; a temporal model's engine takes "
                f"{', '.join(TEMPORAL_INPUTS)} and gives {', '.join(TEMPORAL_OUTPUTS)}: {rebuild}"
            )
        image = self.inputs[TEMPORAL_INPUTS[0]].channels
        wanted = {"input": self.profile.opt[1], "prev": image, "flow": FLOW_CHANNELS}
        if state_channels is not None:
            wanted |= {"state": state_channels, "state_out": state_channels}
        tensors = {**self.inputs, **self.outputs}
        for name, channels in wanted.items():
            if tensors[name].channels != channels:
                raise BackendError(
                    f"engine {self.label}: {name} has {tensors[name].channels} channels where the model takes "
                    f"{channels}: {rebuild}"
                )
        if tensors["state"].channels != tensors["state_out"].channels or tensors["state"].channels < 1:
            raise BackendError(
                f"engine {self.label}: state has {tensors['state'].channels} channels and state_out "
                f"{tensors['state_out'].channels}, so the state cannot be carried from frame to frame: {rebuild}"
            )

    # -- running ------------------------------------------------------------------------------------------
    def image(self, x: torch.Tensor) -> torch.Tensor:
        """An image model on a batch: N x C x H x W -> N x C x sH x sW."""
        return self._run({self.in_name: x})[self.out_name]

    def temporal(self, x: torch.Tensor, prev: torch.Tensor, state: torch.Tensor,
                 flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame (or tile) of a temporal model: the ``forward`` of ``RecurrentRunner``."""
        out = self._run(dict(zip(TEMPORAL_INPUTS, (x, prev, state, flow))))
        if out["state_out"].shape != state.shape:
            raise BackendError(
                f"engine {self.label} gives state_out {tuple(out['state_out'].shape)} for state {tuple(state.shape)}: "
                "the state cannot be carried to the next frame; delete it (`vsr engine clean`) and run again"
            )
        return out["output"], out["state_out"]

    def _name(self, name: str) -> str:
        return "input" if name == self.in_name else name

    def _run(self, feeds: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        import torch

        ctx, log = self.context, self.loaded.logger
        feeds = {n: t.to(self.inputs[n].dtype).contiguous() for n, t in feeds.items()}
        main = tuple(feeds[self.in_name].shape)
        for name, t in feeds.items():
            shape, prof = tuple(t.shape), self.profiles[name]
            if not prof.covers(shape):
                raise BackendError(
                    f"{self._name(name)} {shape} is outside the engine profile {prof.min}..{prof.max}: "
                    "rebuild with `vsr engine build` for this size"
                )
            if name != self.in_name and (shape[0], *shape[2:]) != (main[0], *main[2:]):
                raise BackendError(f"{name} {shape} does not match input {main} in batch or size (a bug: report it with --debug)")
            if not ctx.set_input_shape(name, shape):
                raise BackendError(f"TensorRT refused {self._name(name)} shape {shape}: {log.last_error()}")
        outputs = {}
        for name, spec in self.outputs.items():
            shape = tuple(ctx.get_tensor_shape(name))
            if len(shape) != 4 or min(shape) < 1:
                what = "output" if name == self.out_name else name
                raise BackendError(f"TensorRT gives {what} shape {shape} for input {main}: the engine is not a 4-D image model")
            outputs[name] = torch.empty(shape, dtype=spec.dtype, device=feeds[self.in_name].device)
        for name, t in (*feeds.items(), *outputs.items()):
            if not ctx.set_tensor_address(name, t.data_ptr()):
                raise BackendError(f"TensorRT refused a buffer address: {log.last_error()}")
        # enqueued on the stream that is current here: the scheduler's compute stream
        if not ctx.execute_async_v3(self.stream(feeds[self.in_name].device)):
            raise BackendError(f"TensorRT inference failed: {log.last_error()} (run with --debug)")
        return outputs
