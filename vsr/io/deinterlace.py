"""Deinterlacing with FFmpeg's bwdif filter, one frame out per frame in (timestamps kept).

Super-resolution magnifies combing, so interlaced TV/DVD/camcorder footage is deinterlaced before
the model. ``auto`` touches only frames the decoder flags as interlaced; ``on`` every frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import av

MODES = ("auto", "on", "off")


class Deinterlacer:
    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"deinterlace mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.frames_deinterlaced = 0

    def apply(self, frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
        if self.mode == "off":
            yield from frames
            return
        graph = None
        pending: deque[av.VideoFrame] = deque()  # inputs whose output has not come out yet
        for frame in frames:
            if graph is None:
                if self.mode == "auto" and not frame.interlaced_frame:
                    yield frame  # progressive so far: no filter, no delay
                    continue
                graph = self._build(frame)
            if frame.interlaced_frame or self.mode == "on":
                self.frames_deinterlaced += 1
            pending.append(frame)
            graph.push(frame)
            yield from self._pull(graph, pending)
        if graph is not None:
            graph.push(None)
            yield from self._pull(graph, pending)

    def _build(self, frame: av.VideoFrame) -> av.filter.Graph:
        graph = av.filter.Graph()
        src = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format.name,
                               time_base=frame.time_base)
        deint = "interlaced" if self.mode == "auto" else "all"
        bwdif = graph.add("bwdif", f"mode=send_frame:parity=auto:deint={deint}")
        sink = graph.add("buffersink")
        src.link_to(bwdif)
        bwdif.link_to(sink)
        graph.configure()
        return graph

    @staticmethod
    def _pull(graph: av.filter.Graph, pending: deque) -> Iterator[av.VideoFrame]:
        """Outputs in input order; each takes its input's exact pts and time base (bwdif's own
        output time base is twice as fine)."""
        while True:
            try:
                out = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            source = pending.popleft()
            out.pts, out.time_base = source.pts, source.time_base
            yield out
