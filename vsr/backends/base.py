"""The backend interface: batches of decoded frames in, frames ready to encode out.

A backend is built from a ``BackendSpec`` (``vsr.backends.spec``, made by the plan). It receives
``av.VideoFrame`` objects exactly as the decoder made them (any pixel format, 8 or 16 bits) and
returns frames of the spec's output size and pixel format, carrying the colour tags to write and
each input frame's ``pts``/``time_base``. Colour conversion, normalisation, the model, the
residual resample and quantisation all happen inside the backend, on its device.

Backends are context managers (open resources in ``__enter__``, free them in ``__exit__``).
``run`` consumes an iterator of batches and yields results in order; the default calls
``process`` batch by batch, then ``finish``, and pipelined backends (CUDA double-buffering) override
it to keep several batches in flight. Outputs come in input order, but not always with their batch:
a temporal model's backward stage (CPU backend) holds frames until the frames after them have come,
and ``finish`` returns what it still holds at the end of a section.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av

    from vsr.backends.spec import BackendSpec
    from vsr.models.backward_fusion import BackwardPass


log = logging.getLogger(__name__)


class Backend(ABC):
    name = "base"

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec

    def __enter__(self) -> Backend:
        """``open()``; if it fails half way, ``close()`` frees what it had made before the error goes on."""
        try:
            self.open()
        except BaseException:
            try:
                self.close()
            except Exception as exc:  # the open() error is the one to report; this one is logged
                log.warning("closing the half-opened %s backend failed too: %r", self.name, exc)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Load the model / allocate buffers. Called once before the first batch."""

    def close(self) -> None:
        """Free what ``open`` allocated."""

    def reset(self) -> None:
        """Start a new shot: a temporal model forgets the frames it has seen and drops those it holds
        (``finish`` first to have them). Backends that run a network keep its runner in ``_tiler``;
        others have no state."""
        runner = getattr(self, "_tiler", None)
        if hasattr(runner, "reset"):
            runner.reset()

    @property
    def backward_pass(self) -> BackwardPass | None:
        """A temporal model's backward stage (``vsr.models.backward_fusion``), which holds frames; None for others."""
        return getattr(getattr(self, "_tiler", None), "backward", None)

    @abstractmethod
    def process(self, frames: Sequence[av.VideoFrame]) -> list[av.VideoFrame]:
        """Upscale one batch; returns the output frames finished now, in input order (one per input
        frame unless the backend holds frames back: ``finish``)."""

    def finish(self) -> list[av.VideoFrame]:
        """The outputs still held back at the end of a section, in order (none for most backends)."""
        return []

    def run(self, batches: Iterable[Sequence[av.VideoFrame]]) -> Iterator[list[av.VideoFrame]]:
        for batch in batches:
            yield self.process(batch)
        yield self.finish()


def carry_timing(src: av.VideoFrame, dst: av.VideoFrame) -> av.VideoFrame:
    """Give ``dst`` the timestamp of ``src`` (one output frame per input frame, same time)."""
    dst.pts = src.pts
    dst.time_base = src.time_base
    return dst


def frame_time(frame: av.VideoFrame) -> float | None:
    """A frame's time in seconds (``None`` without a timestamp)."""
    return None if frame.pts is None or frame.time_base is None else float(frame.pts * frame.time_base)
