"""Read what a media file holds (streams, sizes, colour, timing) without decoding it all."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av

from vsr.errors import InputError, UsageError
from vsr.io.colour import ColourInfo, colour_of
from vsr.io.hdr import HdrInfo, hdr_from_side_data

@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str  # video, audio, subtitle, data, attachment
    codec: str
    language: str | None = None
    title: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream of a file and the file's other streams."""

    path: Path
    container: str
    stream_index: int
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    sar: Fraction
    rotation: int  # degrees counter-clockwise, from the display matrix
    colour: ColourInfo
    time_base: Fraction
    frame_rate: Fraction | None
    duration: float | None  # seconds
    frames: int | None  # as the container says (may be missing or approximate)
    streams: tuple[StreamInfo, ...] = field(default=())
    interlaced: bool = False  # the first frame is flagged interlaced
    hdr: HdrInfo = field(default_factory=HdrInfo)  # transfer, HDR10 static and dynamic metadata

    @property
    def display_width(self) -> float:
        return self.width * float(self.sar)

    @property
    def rotated(self) -> bool:
        return self.rotation % 180 != 0


def _bit_depth(pix_fmt: str) -> int:
    try:
        fmt = av.VideoFormat(pix_fmt)
        return max(c.bits for c in fmt.components)
    except (ValueError, av.error.FFmpegError):
        return 8


def _first_frame(container: av.container.InputContainer, stream, transfer: int) -> tuple[int, bool, HdrInfo]:
    """(rotation, interlaced, HDR) of the first frame: FFmpeg attaches the display matrix and the
    HDR metadata (from SEI or from the container) to frames."""
    tag = _codec_tag(stream)
    try:
        for frame in container.decode(stream):
            hdr = hdr_from_side_data(transfer, frame.side_data, tag)
            return int(round(frame.rotation or 0)), bool(frame.interlaced_frame), hdr
    except av.error.FFmpegError:
        pass
    return 0, False, hdr_from_side_data(transfer, (), tag)


def _codec_tag(stream) -> str:
    try:
        return str(stream.codec_context.codec_tag or "")
    except (AttributeError, ValueError, UnicodeDecodeError):
        return ""


def open_input(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a media file, turning every failure into an InputError that says what is wrong."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"input not found: {p}")
    if p.is_dir():
        raise UsageError(f"input is a directory, not a video file: {p}")
    try:
        return av.open(str(p), metadata_errors="ignore")
    except PermissionError as exc:
        raise InputError(f"cannot read {p}: permission denied") from exc
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"not a media file FFmpeg can read: {p} ({exc})") from exc


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe the first video stream of ``path`` (raises InputError if there is none)."""
    p = Path(path)
    with open_input(p) as container:
        videos = [s for s in container.streams if s.type == "video" and not _is_cover_art(s)]
        if not videos:
            raise InputError(f"no video stream in {p} (streams: {_kinds(container)})")
        vs = videos[0]
        cc = vs.codec_context
        if not cc.width or not cc.height:
            raise InputError(f"video stream of {p} has no size: the file may be damaged")
        pix_fmt = cc.pix_fmt or "yuv420p"
        sar = vs.sample_aspect_ratio or cc.sample_aspect_ratio
        sar = Fraction(sar) if sar and sar > 0 else Fraction(1)
        rate = vs.average_rate or vs.guessed_rate
        duration = None
        if vs.duration is not None and vs.time_base:
            duration = float(vs.duration * vs.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        streams = tuple(_stream_info(s) for s in container.streams)
        info = VideoInfo(
            path=p,
            container=container.format.name,
            stream_index=vs.index,
            codec=cc.name,
            width=cc.width,
            height=cc.height,
            pix_fmt=pix_fmt,
            bit_depth=_bit_depth(pix_fmt),
            sar=sar,
            rotation=0,
            colour=colour_of(cc, pix_fmt, cc.height),
            time_base=Fraction(vs.time_base) if vs.time_base else Fraction(1, 90000),
            frame_rate=Fraction(rate) if rate else None,
            duration=duration,
            frames=vs.frames or None,
            streams=streams,
        )
        rotation, interlaced, hdr = _first_frame(container, vs, info.colour.transfer)
    return replace(info, rotation=rotation, interlaced=interlaced, hdr=hdr)


def _is_cover_art(stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic) if hasattr(av.stream, "Disposition") else False


def _kinds(container) -> str:
    return ", ".join(s.type for s in container.streams) or "none"


def _stream_info(s) -> StreamInfo:
    detail = ""
    if s.type == "audio":
        cc = s.codec_context
        detail = f"{cc.sample_rate} Hz, {cc.layout.name if cc.layout else '?'}"
    elif s.type == "video":
        cc = s.codec_context
        detail = f"{cc.width}x{cc.height} {cc.pix_fmt}"
    codec = s.codec_context.name if s.codec_context else "?"
    return StreamInfo(
        index=s.index,
        kind=s.type,
        codec=codec,
        language=s.metadata.get("language"),
        title=s.metadata.get("title"),
        detail=detail,
    )
