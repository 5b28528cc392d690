"""Double-buffered host <-> device scheduling shared by the TensorRT and PyTorch-CUDA backends.

Per batch ``k`` the scheduler issues, on three streams ordered by events:

    host:     pack k into pinned host_in[s]          (s = k % slots)
    upload:   host_in[s] -> dev_in[s]       record uploaded[s]
    compute:  wait uploaded[s]; compute(dev_in[s] -> dev_out[s]); record computed[s]
    download: wait computed[s]; dev_out[s] -> host_out[s]; record downloaded[s]

and before it reuses slot ``s`` it waits (on the host) for ``downloaded[s]`` of batch ``k - slots``
and unpacks that batch. Results come out in order. With two or more slots the upload of batch
``k + 1`` and the download of batch ``k - 1`` run on the copy engines while batch ``k`` computes, and
the host packs/unpacks (PyAV plane copies) while the device works.

Whatever ends a run (the last batch, an error in ``submit`` after part of a batch was enqueued, the
consumer stopping early), the host waits for all device work before anything can be refilled or
freed: a buffer or TensorRT context freed while a stream still uses it is undefined behaviour (the
``enqueueV3`` contract).

Uploads and downloads use separate streams: data-centre GPUs have separate copy engines for each
direction, and on a single copy stream ``upload k+1`` would queue behind ``download k``, which waits
for ``compute k``.

The scheduler is generic over ``Device`` (streams, events, copies, buffers): ``TorchCudaDevice``
uses torch.cuda streams, events and pinned memory (the same CUDA context as the PyTorch path and
TensorRT); ``SyncDevice`` runs everything at once on the CPU; tests use a fake that simulates a
timeline to check ordering and overlap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Device(Protocol):
    """What the scheduler needs from a device runtime."""

    def stream(self, name: str) -> Any: ...

    def event(self) -> Any: ...

    def record(self, event: Any, stream: Any) -> None: ...

    def wait(self, stream: Any, event: Any) -> None:
        """Make ``stream`` wait (on the device) for ``event``."""

    def synchronize(self, event: Any) -> None:
        """Block the host until ``event`` has happened."""

    def synchronize_all(self) -> None:
        """Block the host until all work enqueued on the device, on every stream, is done."""

    def copy(self, dst: Any, src: Any, stream: Any) -> None:
        """Enqueue an asynchronous copy on ``stream``."""

    def launch(self, stream: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` (which enqueues device work) with ``stream`` current."""

    def host_buffer(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Page-locked host memory (so copies are asynchronous)."""

    def device_buffer(self, shape: tuple[int, ...], dtype: Any) -> Any: ...


@dataclass
class Stages:
    """What a backend plugs into the scheduler.

    ``pack(frames, host_in)`` fills rows ``[:len(frames)]`` of a host buffer (on the host);
    ``compute(dev_in, dev_out)`` enqueues the device work for those rows (on the compute stream);
    ``unpack(frames, host_out)`` turns downloaded rows into output frames (on the host).
    """

    in_shape: tuple[int, ...]  # per frame
    in_dtype: Any
    out_shape: tuple[int, ...]
    out_dtype: Any
    pack: Callable[[Sequence[Any], Any], None]
    compute: Callable[[Any, Any], None]
    unpack: Callable[[Sequence[Any], Any], list[Any]]


@dataclass
class _Slot:
    host_in: Any
    dev_in: Any
    dev_out: Any
    host_out: Any
    uploaded: Any
    computed: Any
    downloaded: Any


class Scheduler:
    """Keeps up to ``slots`` batches in flight; yields each batch's outputs in order."""

    def __init__(self, device: Device, stages: Stages, batch: int, slots: int = 2) -> None:
        if batch < 1 or slots < 1:
            raise ValueError("batch and slots must be at least 1")
        self.device, self.stages, self.batch = device, stages, batch
        self.upload_stream = device.stream("upload")
        self.compute_stream = device.stream("compute")
        self.download_stream = device.stream("download")
        self.slots = [self._slot() for _ in range(slots)]

    def _slot(self) -> _Slot:
        d, st, b = self.device, self.stages, self.batch
        return _Slot(
            host_in=d.host_buffer((b, *st.in_shape), st.in_dtype),
            dev_in=d.device_buffer((b, *st.in_shape), st.in_dtype),
            dev_out=d.device_buffer((b, *st.out_shape), st.out_dtype),
            host_out=d.host_buffer((b, *st.out_shape), st.out_dtype),
            uploaded=d.event(),
            computed=d.event(),
            downloaded=d.event(),
        )

    def submit(self, slot: _Slot, frames: Sequence[Any]) -> None:
        """Pack ``frames`` into ``slot`` and enqueue upload, compute and download."""
        d, n = self.device, len(frames)
        if not 1 <= n <= self.batch:
            raise ValueError(f"batch of {n} frames; this scheduler takes 1 to {self.batch}")
        self.stages.pack(frames, slot.host_in[:n])
        d.copy(slot.dev_in[:n], slot.host_in[:n], self.upload_stream)
        d.record(slot.uploaded, self.upload_stream)
        d.wait(self.compute_stream, slot.uploaded)
        d.launch(self.compute_stream, self.stages.compute, slot.dev_in[:n], slot.dev_out[:n])
        d.record(slot.computed, self.compute_stream)
        d.wait(self.download_stream, slot.computed)
        d.copy(slot.host_out[:n], slot.dev_out[:n], self.download_stream)
        d.record(slot.downloaded, self.download_stream)

    def collect(self, slot: _Slot, frames: Sequence[Any]) -> list[Any]:
        """Wait for ``slot``'s download and turn it into output frames."""
        self.device.synchronize(slot.downloaded)
        return self.stages.unpack(frames, slot.host_out[: len(frames)])

    def run(self, batches: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
        inflight: deque[tuple[_Slot, Sequence[Any]]] = deque()
        try:
            for k, frames in enumerate(batches):
                if len(inflight) == len(self.slots):
                    yield self.collect(*inflight.popleft())
                slot = self.slots[k % len(self.slots)]
                self.submit(slot, frames)
                inflight.append((slot, frames))
            while inflight:
                yield self.collect(*inflight.popleft())
        finally:
            # never free or refill buffers while the device may still use them: that includes work
            # that a failing submit() enqueued for a slot that never made it into ``inflight``
            self.device.synchronize_all()


class SyncDevice:
    """Runs every step at once on the host (CPU tensors): the scheduler without concurrency."""

    def stream(self, name: str) -> None:
        return None

    def event(self) -> None:
        return None

    def record(self, event: Any, stream: Any) -> None:
        pass

    def wait(self, stream: Any, event: Any) -> None:
        pass

    def synchronize(self, event: Any) -> None:
        pass

    def synchronize_all(self) -> None:
        pass

    def copy(self, dst: Any, src: Any, stream: Any) -> None:
        dst.copy_(src)

    def launch(self, stream: Any, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def host_buffer(self, shape: tuple[int, ...], dtype: Any) -> Any:
        import torch

        return torch.empty(shape, dtype=dtype)

    def device_buffer(self, shape: tuple[int, ...], dtype: Any) -> Any:
        import torch

        return torch.empty(shape, dtype=dtype)


class TorchCudaDevice:
    """torch.cuda streams, events and pinned host memory on one GPU.

    Buffers are allocated once, before any side stream uses them, and live as long as the
    scheduler, so the caching allocator never recycles memory a stream still reads.
    """

    def __init__(self, device: str = "cuda") -> None:
        import torch

        if not torch.cuda.is_available():
            from vsr.errors import BackendError

            raise BackendError(f"--device {device} asked for, but PyTorch sees no CUDA GPU: use --device cpu")
        self.torch = torch
        self.device = torch.device(device)
        if self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())

    def stream(self, name: str) -> Any:
        return self.torch.cuda.Stream(device=self.device)

    def event(self) -> Any:
        # blocking: a host thread waiting in synchronize() sleeps instead of spinning a core, which
        # the CPU encoder needs on GPUs without NVENC (cudaEventBlockingSync)
        return self.torch.cuda.Event(enable_timing=False, blocking=True)

    def record(self, event: Any, stream: Any) -> None:
        event.record(stream)

    def wait(self, stream: Any, event: Any) -> None:
        stream.wait_event(event)

    def synchronize(self, event: Any) -> None:
        event.synchronize()

    def synchronize_all(self) -> None:
        self.torch.cuda.synchronize(self.device)

    def copy(self, dst: Any, src: Any, stream: Any) -> None:
        with self.torch.cuda.stream(stream):
            dst.copy_(src, non_blocking=True)

    def launch(self, stream: Any, fn: Callable[..., Any], *args: Any) -> Any:
        with self.torch.cuda.device(self.device), self.torch.cuda.stream(stream):
            return fn(*args)

    def host_buffer(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.torch.empty(shape, dtype=dtype, pin_memory=True)

    def device_buffer(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.torch.empty(shape, dtype=dtype, device=self.device)


def device_for(name: str) -> Device:
    """The runtime for a device string: CUDA streams on ``cuda[:N]``, synchronous otherwise."""
    return TorchCudaDevice(name) if name.startswith("cuda") else SyncDevice()
