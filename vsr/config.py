"""Every option of ``vsr upscale`` / ``vsr probe`` as one frozen dataclass; defaults live here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vsr.backends.availability import BACKEND_OPTIONS

BACKENDS = BACKEND_OPTIONS  # --backend choices, from the table of backends (vsr.backends.availability)
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
CODECS = {  # short name -> FFmpeg encoder
    "h264": "libx264",
    "hevc": "libx265",
    "h265": "libx265",
    "av1": "libsvtav1",
    "prores": "prores_ks",
    "ffv1": "ffv1",
}
MP4_FAMILY = {".mp4", ".m4v", ".mov"}  # containers of the ISO BMFF family
MP4_SUBTITLES = {"mov_text"}  # the subtitle codec they can hold
# Named targets: (long side, short side) of the box the display frame must fit in.
TARGETS = {
    "480p": (854, 480),
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "1440p": (2560, 1440),
    "2k": (2560, 1440),
    "4k": (3840, 2160),
    "2160p": (3840, 2160),
    "8k": (7680, 4320),
    "4320p": (7680, 4320),
}


@dataclass(frozen=True)
class UpscaleOptions:
    """What the user asked for; ``vsr.plan.make_plan`` turns it into decisions."""

    input: Path
    output: Path | None = None
    to: str | None = None
    scale: float | None = None
    model: str | None = None  # None: the plan picks (vsr.models.default_choice)
    arch: str | None = None
    backend: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    batch: int | None = None  # None: chosen by the plan
    tile: int = 0  # 0: whole frames
    tile_overlap: int = 16
    codec: str | None = None  # None: chosen from the input by the plan (HEVC for 10-bit/HDR, else H.264)
    crf: int | None = None  # None: the encoder's quality default chosen in the plan
    preset: str | None = None
    pix_fmt: str | None = None
    start: float | None = None
    duration: float | None = None
    overwrite: bool = False
    strict: bool = False
    deinterlace: str = "auto"  # auto: frames flagged interlaced; on: all; off: none
    engine_dir: Path | None = None
    skip_duplicates: bool = True  # repeated pictures reuse the previous output (vsr.duplicates)


@dataclass(frozen=True)
class JobOptions:
    """How ``vsr upscale`` splits and schedules the work (vsr.jobs); defaults: one process."""

    segment_seconds: float = 30.0  # cut at the first keyframe after this long; 0: never cut
    workers: int = 1  # segments encoded at once, each in its own process
    devices: tuple[str, ...] = ()  # --device cuda:0,cuda:1: one worker per device
    ray: str | None = None  # Ray cluster address, or "local" to start one
    restart: bool = False  # throw away a previous job folder for this output
    keep_job: bool = False  # keep the job folder (segments, manifest) after the join
