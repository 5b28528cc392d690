"""What a backend is told: which model, where and how to run it, the frames in and the frames out.

The plan builds it (``Plan.backend_spec``); backends see this and never the Plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsr.io.colour import ColourInfo


@dataclass(frozen=True)
class Frames:
    """Pictures of one coded size and pixel format."""

    width: int
    height: int
    pix_fmt: str


@dataclass(frozen=True)
class SourceFrames(Frames):
    """The decoded input: also its codec (chroma siting convention) and colour (matrix, range)."""

    codec: str
    colour: ColourInfo


@dataclass(frozen=True)
class BackendSpec:
    backend: str  # swscale | torch | openvino | tensorrt
    model: str  # name as resolved: the swscale flags of a resampler, the engine cache's label
    model_source: str | None  # what vsr.models.loader.load_model gets (it says the scale); None: resampler
    arch: str | None  # architecture override for checkpoints (--arch)
    device: str  # cpu | cuda | cuda:N
    precision: str  # fp32 | fp16 | bf16
    batch: int
    tile: int  # input pixels; 0 = whole frames
    tile_overlap: int
    input: SourceFrames
    output: Frames
    engine_dir: Path | None = None  # TensorRT engine cache
    frame_rate: float | None = None  # the input's average frame rate (sizes a temporal model's backward blocks)
