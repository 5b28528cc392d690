"""How hard the input's codec quantised it: the mean quantiser the decoder reports, read from the bitstream.

FFmpeg's decoders for H.264, VP9 and the MPEG family (MPEG-1, MPEG-2, MPEG-4 part 2) export each frame's
quantiser per block (``export_side_data=venc_params``, ``AVVideoEncParams``). Its mean over a sample of
frames says how much codec damage the pictures carry, whatever their size or bitrate: H.264's QP (0-51,
+6 doubles the quantiser step), VP9's quantiser index (0-255), the MPEG family's quantiser scale (FFmpeg
reports MPEG-2's units: twice MPEG-1's and MPEG-4's qscale). Other codecs (HEVC, AV1, ...) report
nothing: ``measure`` returns ``None``.

The sample is a few runs of consecutive frames spread over the section (a film's first frames are often
titles or black), each run decoded from the keyframe before it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# AVVideoEncParamsType -> (our name for the codec family, the unit's name)
_KINDS = {0: ("vp9", "quantiser index"), 1: ("h264", "QP"), 2: ("mpeg", "quantiser scale")}
_HEADER = struct.Struct("=I4xQQii")  # nb_blocks, blocks_offset, block_size, type, qp (x86-64 and arm64 layout)
_BLOCK_DELTA = 16  # byte offset of delta_qp in AVVideoBlockParams (src_x, src_y, w, h, delta_qp: int32 each)
MEASURABLE = ("h264", "vp9", "mpeg1video", "mpeg2video", "mpeg4")  # FFmpeg decoders that export the quantiser
RUNS = 4  # runs of frames sampled over the section
RUN_FRAMES = 12  # frames decoded per run


@dataclass(frozen=True)
class Quantizer:
    """The mean quantiser of ``frames`` decoded frames of a ``kind`` stream (``h264``, ``vp9``, ``mpeg``)."""

    kind: str
    mean: float
    frames: int

    @property
    def unit(self) -> str:
        return next(unit for kind, unit in _KINDS.values() if kind == self.kind)

    def describe(self) -> str:
        return f"mean {self.unit} {self.mean:.1f} over {self.frames} frames"


def frame_quantizer(side_data: bytes) -> tuple[str, float] | None:
    """``(kind, mean quantiser)`` of one frame's ``AVVideoEncParams`` side data (``None``: a type we do not read)."""
    if len(side_data) < _HEADER.size:
        return None
    blocks, offset, size, kind, qp = _HEADER.unpack_from(side_data)
    if kind not in _KINDS:
        return None
    if not blocks:
        return _KINDS[kind][0], float(qp)
    end = offset + blocks * size
    if size < _BLOCK_DELTA + 4 or end > len(side_data):
        return None
    deltas = np.ndarray((blocks,), dtype=np.int32, buffer=side_data, offset=offset + _BLOCK_DELTA, strides=(size,))
    return _KINDS[kind][0], float(qp + deltas.mean())


def measure(path: str | Path, stream_index: int, start: float = 0.0, end: float | None = None) -> Quantizer | None:
    """The mean quantiser over ``RUNS`` runs of ``RUN_FRAMES`` frames spread over ``[start, end)`` seconds
    (``end`` ``None``: the first run only, from ``start``); ``None`` where the codec reports none."""
    import av

    found: list[tuple[str, float]] = []
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams[stream_index]
        if stream.codec_context.name not in MEASURABLE:
            return None
        stream.codec_context.options = {"export_side_data": "venc_params"}
        span = (end - start) if end is not None and end > start else 0.0
        for t in [start + span * i / RUNS for i in range(RUNS)] if span else [start]:
            found += _run(container, stream, t)
    if not found:
        return None  # no frame reported one (or none was decoded)
    return Quantizer(found[0][0], float(np.mean([value for _, value in found])), len(found))


def _run(container, stream, seconds: float) -> list[tuple[str, float]]:
    """The quantisers of the next ``RUN_FRAMES`` frames from ``seconds`` on (a frame may lack them: MPEG-2 skips
    some)."""
    import av

    if stream.time_base:
        base = stream.start_time or 0
        container.seek(base + int(seconds / stream.time_base), stream=stream, backward=True)
    found: list[tuple[str, float]] = []
    try:
        for count, frame in enumerate(container.decode(stream), 1):
            params = [bytes(sd) for sd in frame.side_data if sd.type.name == "VIDEO_ENC_PARAMS"]
            value = frame_quantizer(params[0]) if params else None
            if value is not None:
                found.append(value)
            if count >= RUN_FRAMES:
                break
    except av.error.FFmpegError:
        pass
    return found
