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


class _Pipeline:
    """One run of the three stages over shared queues: ``read`` (decode thread), ``compute`` (the
    caller's thread, driving the backend) and ``write`` (encode thread).

    Which decoded frames are written is decided in one place, ``writes``; ``computes`` says which
    go to the backend (the written ones, and for a temporal model its warm-up frames too).
    """

    def __init__(self, plan: Plan, on_progress: Callable[[Progress], None] | None, section: Section | None,
                 keep: Section | None, writer: VideoWriter | None) -> None:
        self.started = time.perf_counter()
        self.plan, self.on_progress, self.keep = plan, on_progress, keep
        self.section = section or plan.section
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.frames_q = _Channel(self.stop, maxsize=max(4, 2 * plan.batch))
        self.encode_q = _Channel(self.stop, maxsize=2)
        self.copy_q: queue.Queue = queue.Queue()  # small packets; bounded in practice by the frames queue
        self.deinterlacer = Deinterlacer(plan.deinterlace)
        self.skipper = DuplicateSkipper(plan.skip_duplicates)
        self.reader = VideoReader(plan.source, self.section, strict=plan.strict, copy_streams=tuple(plan.copy_streams),
                                  on_packet=self.copy_q.put)
        whole = plan.section
        self.writer = writer or VideoWriter(plan.encoder_spec(), plan.copy_streams, time_offset=whole.start, time_end=whole.end)
        self.busy = dict.fromkeys(STAGES, 0.0)
        self.written = 0  # frames handed to the writer (written by the encode thread only)
        self.deinterlaced_unwritten = 0  # deinterlaced frames that are not written (read by the decode thread only)

    # -- which frames ---------------------------------------------------------------------------

    def writes(self, frame: av.VideoFrame) -> bool:
        """Whether a decoded frame (or the model's output for it: same timestamp) is written."""
        return self.keep is None or self.keep.contains(float(frame.pts * frame.time_base))

    def computes(self, frame: av.VideoFrame) -> bool:
        """Whether a decoded frame goes through the backend: a temporal model runs every decoded
        frame (those before ``keep`` are its warm-up), others only the frames written."""
        return self.plan.temporal or self.writes(frame)

    # -- the stages -----------------------------------------------------------------------------

    def fail(self, exc: BaseException) -> None:
        if not isinstance(exc, _Stop):
            self.errors.append(exc)
        self.stop.set()

    def read(self) -> None:
        """Decode thread: decode, deinterlace, queue the frames the backend needs."""
        try:
            with self.reader:
                frames = self.deinterlacer.apply(self._count_unwritten(self.reader.frames()))
                for frame in _timed(frames, self.busy, "decode"):
                    if self.computes(frame):
                        self.frames_q.put(frame)
            self.frames_q.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.fail(exc)

    def _count_unwritten(self, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        for frame in frames:
            if not self.writes(frame):
                self.deinterlaced_unwritten += bool(frame.interlaced_frame or self.plan.deinterlace == "on")
            yield frame

    def batches(self) -> Iterator[list[av.VideoFrame]]:
        """The backend's input: queued frames the skipper admits, ``plan.batch`` at a time."""
        batch: list[av.VideoFrame] = []
        while True:
            t = time.perf_counter()
            item = self.frames_q.get()
            self.busy["compute"] -= time.perf_counter() - t  # the backend's thread waiting for frames
            if item is _END:
                break
            if not self.skipper.admit(item):
                continue
            batch.append(item)
            if len(batch) == self.plan.batch:
                yield batch
                batch = []
        if batch:
            yield batch

    def compute(self, backend: Backend) -> None:
        """Caller's thread: run the batches through ``backend`` and queue its outputs."""
        for out in _timed(backend.run(self.batches()), self.busy, "compute"):
            self.encode_q.put(out)
        self.encode_q.put(_END)

    def write(self) -> None:
        """Encode thread: put reused frames back in order, write the frames ``writes`` keeps, copy packets."""
        try:
            while True:
                batch = self.encode_q.get()
                self._copy_packets()
                for frame in self.skipper.finish() if batch is _END else self.skipper.emit(batch):
                    if self.writes(frame):
                        t = time.perf_counter()
                        self.writer.write(frame)
                        self.busy["encode"] += time.perf_counter() - t
                        self.written += 1
                if batch is _END:
                    break
                if self.on_progress:
                    self.on_progress(Progress(self.written, self.plan.expected_frames, time.perf_counter() - self.started))
            self._copy_packets()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.fail(exc)

    def _copy_packets(self) -> None:
        for packet in _drain(self.copy_q):
            self.writer.copy(packet)

    # -- the whole run --------------------------------------------------------------------------

    def execute(self, backend: Backend | None) -> Result:
        threads = [threading.Thread(target=self.read, name="vsr-decode", daemon=True),
                   threading.Thread(target=self.write, name="vsr-encode", daemon=True)]
        with self.writer:
            try:
                with nullcontext(backend) if backend is not None else create_backend(self.plan) as running:
                    for thread in threads:
                        thread.start()
                    self.compute(running)
            except _Stop:
                pass
            except BaseException as exc:
                self.fail(exc)
            finally:
                if self.errors:
                    self.stop.set()
                for thread in threads:
                    _join(thread, self.stop)
            if self.errors:
                raise self.errors[0]
            if self.written == 0:
                raise InputError(f"no frame could be decoded from {self.plan.source.path}" +
                                 (" in the requested section" if not self.section.is_whole else ""))
            t = time.perf_counter()
            self.writer.commit()  # the encoder's flush: the frames it still held back
            self.busy["encode"] += time.perf_counter() - t
        return self.result()

    def result(self) -> Result:
        stats, warnings = self.reader.stats, []
        if stats.damaged_packets or stats.corrupt_frames:
            found = list(stats.errors)
            if stats.corrupt_frames:
                found.append(f"{stats.corrupt_frames} corrupt frame(s)")
            warnings.append(f"damaged input, processed what decodes ({self.written} frames written): " + "; ".join(found))
        if stats.repaired_timestamps:
            warnings.append(f"{stats.repaired_timestamps} frame(s) had missing or repeated timestamps and were given new ones")
        return Result(str(self.plan.output), self.written, time.perf_counter() - self.started, stats, warnings,
                      self.deinterlacer.frames_deinterlaced - self.deinterlaced_unwritten, self.skipper.reused, self.busy)


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
    return _Pipeline(plan, on_progress, section, keep, writer).execute(backend)


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
