"""Encode the upscaled video, copy the other streams packet for packet, and only rename the
result into place when everything succeeded. What to write is an ``EncoderSpec`` (``Plan.encoder_spec``)."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av

from vsr.atomic import AtomicFile
from vsr.config import MP4_FAMILY
from vsr.errors import OutputError
from vsr.io.hdr import HDR_ENCODERS, encoder_hdr_params
from vsr.io.probe import open_input
from vsr.io.spec import EncoderSpec

log = logging.getLogger(__name__)

# Container-level metadata that describes the old file rather than its content.
_SKIP_METADATA = {"encoder", "major_brand", "minor_version", "compatible_brands", "creation_time"}
_THREADED_ENCODERS = {"libx264", "libx265", "libsvtav1", "prores_ks", "ffv1", "libaom-av1", "mpeg4"}


class VideoWriter:
    """Writes to a temporary file beside ``output``; ``commit`` renames it into place."""

    def __init__(self, spec: EncoderSpec, copy_streams: tuple[int, ...], time_offset: float = 0.0,
                 time_end: float | None = None, *, encoder_threads: int = 0) -> None:
        self.spec = spec
        self.encoder_threads = encoder_threads  # 0: the encoder uses every core
        self.output = Path(spec.output)
        self.copy_streams = copy_streams
        self.time_offset = time_offset  # seconds subtracted from every timestamp (for --start)
        self.time_end = time_end  # end of the section in input time (None: to the end)
        self.frames_written = 0
        self._file = AtomicFile(self.output, suffix=f".partial{self.output.suffix}")
        self._container: av.container.OutputContainer | None = None
        self._video = None
        self._copied: dict[int, av.stream.Stream] = {}
        self._last_video_dts: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> VideoWriter:
        tmp = self._file.create()
        try:
            fmt = av.format.ContainerFormat(_format_for(self.output), "w").name
            self._container = av.open(str(tmp), mode="w", format=fmt)
            self._setup()
        except Exception:
            self.abort()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()

    def abort(self) -> None:
        """Close and delete the temporary file; an existing output is never touched."""
        if self._container is not None:
            try:
                self._container.close()
            except av.error.FFmpegError:
                pass  # the file is being thrown away; its trailer does not matter
            self._container = None
        self._file.abort()

    def commit(self) -> Path:
        """Flush the encoder, finish the file and rename it into place."""
        assert self._container is not None
        for packet in self._video.encode(None):
            self.mux_video(packet)
        self._container.close()
        self._container = None
        return self._file.commit()

    # -- setup -----------------------------------------------------------------------------------
    def _setup(self) -> None:
        out = self._container
        with open_input(self.spec.source) as src:
            out.metadata.update({k: v for k, v in src.metadata.items() if k.lower() not in _SKIP_METADATA})
            in_video = src.streams[self.spec.stream_index]
            self._add_video(out, in_video)
            for index in self.copy_streams:
                template = src.streams[index]
                stream = out.add_stream_from_template(template)
                stream.metadata.update(template.metadata)
                stream.disposition = template.disposition
                self._copied[index] = stream
            chapters = section_chapters(src.chapters(), self.time_offset, self.time_end)
            if chapters:
                out.set_chapters(chapters)

    def _add_video(self, out, in_video) -> None:
        spec = self.spec
        options = {}
        if spec.crf is not None and spec.codec in ("libx264", "libx265", "libsvtav1", "libaom-av1", "libvpx-vp9"):
            options["crf"] = str(spec.crf)
        elif spec.crf is not None and spec.codec.endswith("_nvenc"):
            options["cq"] = str(spec.crf)
        if spec.preset:
            options["preset"] = spec.preset
        # HDR10 static metadata go into the new bitstream (SEI messages / metadata OBUs)
        params = (["log-level=error"] if spec.codec == "libx265" else []) + encoder_hdr_params(spec.codec, spec.hdr)
        if spec.codec == "libx265" and self.encoder_threads:
            params.append(f"pools={self.encoder_threads}")
        if params:
            options[HDR_ENCODERS[spec.codec]] = ":".join(params)
        try:
            video = out.add_stream(spec.codec, rate=spec.frame_rate, options=options)
        except (av.error.FFmpegError, ValueError) as exc:
            raise OutputError(f"cannot use encoder {spec.codec}: {exc}") from exc
        cc = video.codec_context
        cc.width, cc.height = spec.width, spec.height
        cc.pix_fmt = spec.pix_fmt
        cc.time_base = spec.time_base
        video.time_base = spec.time_base
        cc.sample_aspect_ratio = spec.sar
        tags = self._tags = spec.colour
        cc.colorspace, cc.color_primaries = tags.colorspace, tags.primaries
        cc.color_trc, cc.color_range = tags.transfer, tags.color_range
        if spec.codec in _THREADED_ENCODERS:
            cc.thread_count = self.encoder_threads
            cc.thread_type = "AUTO"
        video.metadata.update({k: v for k, v in in_video.metadata.items() if k in ("language", "title")})
        video.disposition = in_video.disposition
        if spec.rotation:
            video.set_display_rotation(spec.rotation)
        if spec.codec == "libx265" and self.output.suffix.lower() in MP4_FAMILY:
            cc.codec_tag = "hvc1"  # parameter sets in the sample entry: what Apple players require
        self._video = video

    # -- writing -----------------------------------------------------------------------------------
    def write(self, frame: av.VideoFrame) -> None:
        if self.time_offset:
            frame.pts -= round(self.time_offset / Fraction(frame.time_base))
        frame.pict_type = av.video.frame.PictureType.NONE
        tags = self._tags  # the output's colour tags are set here only (and on the stream in _add_video)
        frame.colorspace, frame.color_range = tags.colorspace, tags.color_range
        frame.color_primaries, frame.color_trc = tags.primaries, tags.transfer
        try:
            packets = self._video.encode(frame)
        except av.error.FFmpegError as exc:
            raise OutputError(f"encoder {self.spec.codec} failed: {exc}") from exc
        for packet in packets:
            self.mux_video(packet)
        self.frames_written += 1

    def mux_video(self, packet: av.Packet) -> None:
        """Mux one encoded packet of the output video (also how a segmented job's join writes the
        packets its segments encoded: ``packet.time_base`` must be the encoder's)."""
        packet.stream = self._video
        if packet.pts is not None and packet.time_base is not None:
            packet.dts = repaired_dts(packet.pts, packet.dts, self._last_video_dts, Fraction(packet.time_base))
            if packet.dts is not None:
                self._last_video_dts = packet.dts
        self._container.mux(packet)

    def copy(self, packet: av.Packet) -> None:
        """Mux a packet of a copied stream unchanged (timestamps shifted only for --start).

        The input container may already be closed, so the packet's own ``stream_index`` is used:
        ``packet.stream`` would read the freed input stream.
        """
        stream = self._copied.get(packet.stream_index)
        if stream is None:
            raise OutputError(f"internal error: packet of input stream #{packet.stream_index}, which is not copied")
        if self.time_offset:
            shift = round(self.time_offset / Fraction(packet.time_base))
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        packet.stream = stream
        self._container.mux(packet)


def section_chapters(chapters: list[dict], start: float, end: float | None) -> list[dict]:
    """Chapters overlapping [start, end), clipped to it and shifted to start at 0."""
    kept = []
    for ch in chapters:
        tb = Fraction(ch["time_base"])
        offset = round(start / tb)
        first, last = ch["start"] - offset, ch["end"] - offset
        limit = round((end - start) / tb) if end is not None else None
        if last <= 0 or (limit is not None and first >= limit):
            continue
        kept.append({**ch, "start": max(0, first), "end": last if limit is None else min(last, limit)})
    return kept


def _format_for(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    return {"mkv": "matroska", "m4v": "mp4", "mov": "mov", "mp4": "mp4", "webm": "webm", "avi": "avi",
            "ts": "mpegts", "nut": "nut", "mxf": "mxf"}.get(ext, ext or "matroska")


def repaired_dts(pts: int, dts: int | None, last_dts: int | None, time_base: Fraction) -> int | None:
    """``dts``, unless it cannot be one: more than an hour from ``pts`` is no reordering delay but an
    unset value (libx265 sometimes hands one out when it flushes a clip shorter than its lookahead);
    such a DTS becomes the earliest valid one: after ``last_dts``, and never after ``pts``."""
    if dts is None or abs(pts - dts) * time_base <= 3600:
        return dts
    return pts if last_dts is None else min(pts, last_dts + 1)
