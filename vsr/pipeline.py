"""The only place that knows every stage: reader thread -> batches -> backend -> writer thread.

Queues are bounded, so memory depends on the batch size, not on the clip's length. Any stage's
failure stops the others, the temporary output is removed, and the error is raised here.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

import av

from vsr.backends.base import Backend
from vsr.backends.factory import create_backend
from vsr.duplicates import DuplicateSkipper
from vsr.errors import InputError
from vsr.io.deinterlace import Deinterlacer
from vsr.io.reader import DecodeStats, Section, VideoReader
from vsr.io.writer import VideoWriter
from vsr.plan import Plan


_END = object()
_POLL = 0.1
STAGES = ("decode", "compute", "encode")


@dataclass
class Progress:
    frames: int
    total: int | None
    elapsed: float


@dataclass
class Result:
    output: str
    frames: int
    seconds: float
    decode: DecodeStats
    warnings: list[str] = field(default_factory=list)
    deinterlaced: int = 0
    reused: int = 0  # repeated pictures whose output was copied instead of computed
    # busy seconds of each stage (its own thread's work, not its waits): decode (reading, decoding,
    # deinterlacing), compute (the backend), encode (encoding and muxing); they overlap in time
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _Stop(Exception):
    """Raised inside a stage when another stage failed."""


class _Channel:
    """A bounded queue whose put/get give up when the run is stopping."""

    def __init__(self, stop: threading.Event, maxsize: int) -> None:
        self._q: queue.Queue = queue.Queue(maxsize)
        self._stop = stop

    def put(self, item) -> None:
        while True:
            if self._stop.is_set():
                raise _Stop
            try:
                self._q.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def get(self):
        while True:
            if self._stop.is_set():
                raise _Stop
            try:
                return self._q.get(timeout=_POLL)
            except queue.Empty:
                continue


def run(plan: Plan, on_progress: Callable[[Progress], None] | None = None, *,
        section: Section | None = None, keep: Section | None = None, writer: VideoWriter | None = None,
        backend: Backend | None = None) -> Result:
    """Upscale ``plan.source`` into ``plan.output``.

    A segmented job (vsr.jobs) passes the ``section`` of one segment to decode, the part of it to
    ``keep`` after deinterlacing (the rest is the deinterlacer's context from the neighbouring
    segments), and the ``writer`` that stores its packets; timestamps are still shifted by
    ``plan.start`` only. ``vsr bench`` passes an already opened, warmed-up ``backend`` (kept open)
    and a writer of its own.
    """
    started = time.perf_counter()
    whole = plan.section
    section = section or whole
    copy, warnings = plan.copy_streams, []

    stop = threading.Event()
    errors: list[BaseException] = []
    frames_q = _Channel(stop, maxsize=max(4, 2 * plan.batch))
    encode_q = _Channel(stop, maxsize=2)
    copy_q: queue.Queue = queue.Queue()  # small packets; bounded in practice by the frames queue
    total = plan.expected_frames

    deinterlacer = Deinterlacer(plan.deinterlace)
    skipper = DuplicateSkipper(plan.skip_duplicates)
    reader = VideoReader(plan.source, section, strict=plan.strict, copy_streams=tuple(copy), on_packet=copy_q.put)

    context_deinterlaced = [0]  # frames decoded only as the deinterlacer's context (not written)
    busy = dict.fromkeys(STAGES, 0.0)

    def count_context(frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        for frame in frames:
            if keep is not None and not keep.contains(float(frame.pts * frame.time_base)):
                context_deinterlaced[0] += bool(frame.interlaced_frame or plan.deinterlace == "on")
            yield frame

    def fail(exc: BaseException) -> None:
        if not isinstance(exc, _Stop):
            errors.append(exc)
        stop.set()

    def read() -> None:
        try:
            with reader:
                for frame in _timed(deinterlacer.apply(count_context(reader.frames())), busy, "decode"):
                    if keep is None or keep.contains(float(frame.pts * frame.time_base)):
                        frames_q.put(frame)
            frames_q.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            fail(exc)

    if writer is None:
        writer = VideoWriter(plan, copy, time_offset=whole.start, time_end=whole.end)
    written = [0]

    def write() -> None:
        try:
            while True:
                batch = encode_q.get()
                for packet in _drain(copy_q):
                    writer.copy(packet)
                for frame in skipper.finish() if batch is _END else skipper.emit(batch):
                    t = time.perf_counter()
                    writer.write(frame)
                    busy["encode"] += time.perf_counter() - t
                    written[0] += 1
                if batch is _END:
                    break
                if on_progress:
                    on_progress(Progress(written[0], total, time.perf_counter() - started))
            for packet in _drain(copy_q):
                writer.copy(packet)
        except BaseException as exc:  # noqa: BLE001
            fail(exc)

    def batches() -> Iterator[list[av.VideoFrame]]:
        batch: list[av.VideoFrame] = []
        while True:
            t = time.perf_counter()
            item = frames_q.get()
            busy["compute"] -= time.perf_counter() - t  # the backend's thread waiting for frames
            if item is _END:
                break
            if not skipper.admit(item):
                continue
            batch.append(item)
            if len(batch) == plan.batch:
                yield batch
                batch = []
        if batch:
            yield batch

    threads = [threading.Thread(target=read, name="vsr-decode", daemon=True),
               threading.Thread(target=write, name="vsr-encode", daemon=True)]
    with writer:
        try:
            with nullcontext(backend) if backend is not None else create_backend(plan) as running:
                threads[0].start()
                threads[1].start()
                for out in _timed(running.run(batches()), busy, "compute"):
                    encode_q.put(out)
                encode_q.put(_END)
        except _Stop:
            pass
        except BaseException as exc:
            fail(exc)
        finally:
            if errors:
                stop.set()
            for t in threads:
                _join(t, stop)
        if errors:
            raise errors[0]
        if written[0] == 0:
            raise InputError(f"no frame could be decoded from {plan.source.path}" +
                             (" in the requested section" if not section.is_whole else ""))
        t = time.perf_counter()
        writer.commit()  # the encoder's flush: the frames it still held back
        busy["encode"] += time.perf_counter() - t
    stats = reader.stats
    if stats.damaged_packets or stats.corrupt_frames:
        found = list(stats.errors)
        if stats.corrupt_frames:
            found.append(f"{stats.corrupt_frames} corrupt frame(s)")
        warnings.append(f"damaged input, processed what decodes ({written[0]} frames written): " + "; ".join(found))
    if stats.repaired_timestamps:
        warnings.append(f"{stats.repaired_timestamps} frame(s) had missing or repeated timestamps and were given new ones")
    return Result(str(plan.output), written[0], time.perf_counter() - started, stats, warnings,
                  deinterlacer.frames_deinterlaced - context_deinterlaced[0], skipper.reused, busy)


def _timed(items: Iterator, busy: dict[str, float], stage: str) -> Iterator:
    """``items``, adding the time spent producing each one to ``busy[stage]``."""
    iterator = iter(items)
    while True:
        t = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            busy[stage] += time.perf_counter() - t
            return
        busy[stage] += time.perf_counter() - t
        yield item


def _drain(q: queue.Queue) -> list:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


def _join(thread: threading.Thread, stop: threading.Event) -> None:
    while thread.is_alive():
        thread.join(timeout=_POLL)
