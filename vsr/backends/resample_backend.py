"""The non-learned resamplers (bicubic, lanczos) run by FFmpeg's own ``scale`` filter.

This is the same libswscale code path as ``ffmpeg -vf scale=W:H:flags=bicubic``, without torch
and without leaving YUV: the colour matrix and range are kept as they are (and tagged).
"""

from __future__ import annotations

from collections.abc import Sequence

import av

from vsr.backends.base import Backend, carry_timing
from vsr.io.colour import MATRICES


class ResampleBackend(Backend):
    name = "swscale"

    def open(self) -> None:
        colour = self.spec.input.colour
        self._range = "full" if colour.full_range else "limited"
        self._matrix = MATRICES[colour.matrix].filter_name if colour.matrix in MATRICES else "bt601"
        self._graph: av.filter.Graph | None = None
        self._graph_key: tuple | None = None

    def process(self, frames: Sequence[av.VideoFrame]) -> list[av.VideoFrame]:
        return [self._resize(f) for f in frames]

    def _build(self, frame: av.VideoFrame) -> None:
        spec, out = self.spec, self.spec.output
        graph = av.filter.Graph()
        source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format.name,
                                  time_base=frame.time_base)
        scale = graph.add(
            "scale",
            f"w={out.width}:h={out.height}:flags={spec.model}"
            f":in_range={self._range}:out_range={self._range}"
            f":in_color_matrix={self._matrix}:out_color_matrix={self._matrix}",
        )
        fmt = graph.add("format", out.pix_fmt)
        sink = graph.add("buffersink")
        source.link_to(scale)
        scale.link_to(fmt)
        fmt.link_to(sink)
        graph.configure()
        self._graph = graph
        self._graph_key = (frame.width, frame.height, frame.format.name)

    def _resize(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self._graph_key != (frame.width, frame.height, frame.format.name):
            self._build(frame)  # first frame, or the stream changed size mid-way
        self._graph.push(frame)
        out = self._graph.pull()
        return carry_timing(frame, out)
