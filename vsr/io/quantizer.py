"""How hard the input's codec quantised it: the mean quantiser the decoder reports, read from the bitstream.

FFmpeg's decoders for H.264, VP9 and the MPEG family (MPEG-1, MPEG-2, MPEG-4 part 2) export each frame's
quantiser per block (``export_side_data=venc_params``, ``AVVideoEncParams``). Its mean over a sample of
frames says how much codec damage the pictures carry, whatever their size or bitrate: H.264's QP (0-51,
+6 doubles the quantiser step), VP9's quantiser index (0-255), the MPEG family's quantiser scale (FFmpeg
reports MPEG-2's units: twice MPEG-1's and MPEG-4's qscale). Other codecs (HEVC, AV1, ...) report
nothing. ``vsr.io.damage`` samples the frames.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_KINDS = {0: "vp9", 1: "h264", 2: "mpeg"}  # AVVideoEncParamsType -> our name for the codec family
UNITS = {"vp9": "quantiser index", "h264": "QP", "mpeg": "quantiser scale"}  # what Quantizer.kind can be
# AVVideoEncParams on 64-bit machines (x86-64, arm64): nb_blocks, padding, blocks_offset, block_size, type, qp
_HEADER = struct.Struct("=I4xQQii")
_BLOCK_DELTA = 16  # byte offset of delta_qp in AVVideoBlockParams (src_x, src_y, w, h, delta_qp: int32 each)
MEASURABLE = ("h264", "vp9", "mpeg1video", "mpeg2video", "mpeg4")  # FFmpeg decoders that export the quantiser


@dataclass(frozen=True)
class Quantizer:
    """The mean quantiser of ``frames`` decoded frames of a ``kind`` stream (``h264``, ``vp9``, ``mpeg``)."""

    kind: str
    mean: float
    frames: int

    def describe(self) -> str:
        return f"mean {UNITS[self.kind]} {self.mean:.1f} over {self.frames} frames"


def frame_quantizer(side_data: bytes, bit_depth: int = 8) -> tuple[str, float] | None:
    """``(kind, mean quantiser)`` of one frame's ``AVVideoEncParams`` side data, weighted by block area (VP9's
    segments differ in size; H.264's and MPEG's blocks are all 16x16); ``None``: a type we do not read.

    FFmpeg reports H.264's QP' (QP plus ``6 * (bit_depth - 8)``): it is brought back to QP, so that 10-bit
    footage is judged on the scale 8-bit footage is."""
    if len(side_data) < _HEADER.size:
        return None
    blocks, offset, size, kind, qp = _HEADER.unpack_from(side_data)
    if kind not in _KINDS:
        return None
    name = _KINDS[kind]
    base = qp - 6 * (bit_depth - 8) if name == "h264" else qp
    if not blocks:
        return name, float(base)
    if size < _BLOCK_DELTA + 4 or offset + blocks * size > len(side_data):
        return None
    fields = np.ndarray((blocks, 5), dtype=np.int32, buffer=side_data, offset=offset, strides=(size, 4))
    area = fields[:, 2].astype(np.float64) * fields[:, 3]
    return name, base + float(np.average(fields[:, 4], weights=area if area.sum() > 0 else None))


def frame_quantizer_of(frame) -> tuple[str, float] | None:
    """``frame_quantizer`` of a decoded PyAV frame's side data (``None``: it carries none)."""
    params = [bytes(sd) for sd in frame.side_data if sd.type.name == "VIDEO_ENC_PARAMS"]
    return frame_quantizer(params[0], frame.format.components[0].bits) if params else None
