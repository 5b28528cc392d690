"""What the writer is told: the output file, the video encoder and its settings, the input it keeps things of.

The plan builds it (``Plan.encoder_spec``); the writer, a job's segment files and the join see this and
never the Plan, as backends see ``vsr.backends.spec.BackendSpec``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from vsr.io.colour import OutputColourTags
from vsr.io.hdr import HdrInfo


@dataclass(frozen=True)
class EncoderSpec:
    output: Path  # where the file goes (written beside it, renamed into place on success)
    source: Path  # the input: container metadata, chapters, copied streams' templates are read from it
    stream_index: int  # the input's video stream: its language, title and disposition are kept
    codec: str  # FFmpeg encoder name
    pix_fmt: str
    crf: int | None  # libx264/libx265/libsvtav1/... crf, NVENC cq; None: the encoder's default
    preset: str | None
    width: int  # coded size
    height: int
    sar: Fraction
    time_base: Fraction  # the input's: timestamps go through unchanged
    frame_rate: Fraction | None  # the encoder's nominal rate; None: unknown or variable
    colour: OutputColourTags  # matrix, primaries, transfer and range written on the stream and every frame
    hdr: HdrInfo  # HDR10 static metadata written in-band by the encoders that can (vsr.io.hdr.HDR_ENCODERS)
    rotation: int = 0  # display rotation, degrees counter-clockwise
