"""Decode the video stream (threaded) and demux the streams to copy, without dropping anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av

from vsr.errors import DamagedInputError
from vsr.io.probe import VideoInfo, open_input


@dataclass
class Section:
    """The part of the file to process, in seconds (``end`` None: to the end)."""

    start: float = 0.0
    end: float | None = None

    @property
    def is_whole(self) -> bool:
        return self.start <= 0 and self.end is None

    def contains(self, t: float) -> bool:
        return t >= self.start - 1e-6 and (self.end is None or t < self.end - 1e-6)


@dataclass
class DecodeStats:
    frames: int = 0
    damaged_packets: int = 0
    corrupt_frames: int = 0
    repaired_timestamps: int = 0
    errors: list[str] = field(default_factory=list)


class VideoReader:
    """Yields decoded frames of the first video stream in presentation order, each with a pts.

    Packets of every other stream that the output keeps are handed to ``on_packet`` as they are
    demuxed (for copying). Damage (packets the decoder rejects) is counted, or raised with
    ``strict``.
    """

    def __init__(self, info: VideoInfo, section: Section | None = None, *, strict: bool = False,
                 copy_streams: tuple[int, ...] = (), on_packet: Callable[[av.Packet], None] | None = None) -> None:
        self.info = info
        self.section = section or Section()
        self.strict = strict
        self.copy_streams = copy_streams
        self.on_packet = on_packet
        self.stats = DecodeStats()
        self._last_pts: int | None = None
        self._data_end = 0.0  # seconds: the latest end of any packet read
        self._kept: dict[int, bool] = {}  # stream index -> whether its last timed packet was in the section
        self._container: av.container.InputContainer | None = None

    def __enter__(self) -> VideoReader:
        self._container = open_input(self.info.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def frames(self) -> Iterator[av.VideoFrame]:
        container = self._container
        assert container is not None, "use VideoReader as a context manager"
        video = container.streams[self.info.stream_index]
        video.thread_type = "AUTO"  # frame + slice threads; must be set before the codec opens
        others = [s for s in container.streams if s.index != video.index]  # all: to see where the file ends
        if self.section.start > 0:
            self._seek(container, video)
        done = False
        for packet in self._demux(container, [video, *others]):
            if done and self._past_end(packet):
                break  # every stream is past the section (interleaving is well under 2 s)
            self._note_end(packet)
            if packet.stream_index != video.index:
                if self.on_packet is not None and packet.stream_index in self.copy_streams and self._keep_packet(packet):
                    self.on_packet(packet)
                continue
            if done:
                continue  # keep demuxing the copied streams to the section's end
            for frame in self._decode(video, packet):
                t = float(frame.pts * frame.time_base)
                if self.section.end is not None and t >= self.section.end - 1e-6:
                    done = True
                    break
                if t < self.section.start - 1e-6:
                    continue
                yield frame
            if done and not others:
                break
        if not done:
            for frame in self._decode(video, None):  # flush the decoder
                t = float(frame.pts * frame.time_base)
                if self.section.contains(t):
                    yield frame
        self._check_complete(container)

    def copied_packets(self) -> Iterator[av.Packet]:
        """The packets of the copied streams in the section, demuxed as ``frames`` hands them to
        ``on_packet`` but without decoding video (the join of a segmented job)."""
        container = self._container
        assert container is not None, "use VideoReader as a context manager"
        if not self.copy_streams:
            return
        if self.section.start > 0:
            self._seek(container, container.streams[self.info.stream_index])
        for packet in self._demux(container, [container.streams[i] for i in self.copy_streams]):
            if self._past_end(packet):
                break
            if self._keep_packet(packet):
                yield packet

    def _seek(self, container, video) -> None:
        """Seek to a keyframe at or before the section's start. Some demuxers (MPEG-TS) land after
        it, which would lose frames: then seek further back."""
        start = self.section.start
        for back in (0.0, 1.0, 4.0, 16.0, 64.0):
            target = int(max(0.0, start - back) * av.time_base)
            container.seek(target, backward=True, any_frame=False)
            try:
                first = next((p for p in container.demux(video) if p.size), None)
            except av.error.FFmpegError:
                first = None
            ts = None if first is None else (first.pts if first.pts is not None else first.dts)
            if ts is None or (first.is_keyframe and float(ts * video.time_base) <= start + 1e-6):
                container.seek(target, backward=True, any_frame=False)
                return
            if target == 0:
                break
        container.seek(0, backward=True, any_frame=False)  # from the beginning, then

    def _note_end(self, packet: av.Packet) -> None:
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is not None and packet.time_base:
            end = float((ts + (packet.duration or 0)) * packet.time_base)
            self._data_end = max(self._data_end, end)

    def _check_complete(self, container) -> None:
        """A file whose streams all stop well before the duration its header promises (or with
        fewer frames than its index lists) was cut short: count what is missing as damage."""
        info, section = self.info, self.section
        if section.end is not None and info.duration is not None and section.end < info.duration:
            return
        if info.frames and section.is_whole and self.stats.frames < info.frames:
            self._damage(f"file ends early: {info.frames - self.stats.frames} of {info.frames} frames missing")
            return
        promised = (container.duration / av.time_base) if container.duration else info.duration
        if promised is None:
            return
        start = (container.start_time or 0) / av.time_base
        gap = promised + start - self._data_end
        frame = 1 / float(info.frame_rate) if info.frame_rate else 0.04
        if gap > max(0.5, 3 * frame):
            self._damage(f"file ends early: about {gap:.2f} s (~{round(gap / frame)} frames) missing")

    def _past_end(self, packet: av.Packet) -> bool:
        ts = packet.dts if packet.dts is not None else packet.pts
        return ts is not None and self.section.end is not None and float(ts * packet.time_base) > self.section.end + 2.0

    def _before_section(self, frame: av.VideoFrame, stream) -> bool:
        return frame.pts is not None and float(frame.pts * (frame.time_base or stream.time_base)) < self.section.start - 1e-6

    def _keep_packet(self, packet: av.Packet) -> bool:
        """Whether a demuxed packet of a copied stream belongs to the section. Every packet that
        carries data counts, with or without a DTS (a demuxer may leave it unset); one with no
        timestamp at all goes with the previous packet of its stream."""
        if not packet.size:
            return False
        if self.section.is_whole:
            return True
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:
            return self._kept.get(packet.stream_index, False)
        kept = self._kept[packet.stream_index] = self.section.contains(float(ts * packet.time_base))
        return kept

    def _demux(self, container, streams) -> Iterator[av.Packet]:
        demux = container.demux(*streams)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:
                self._damage(f"read error: {exc}")
                return
            if packet.size == 0 and packet.dts is None:
                continue  # the demuxer's end-of-stream marker; decoders are flushed separately
            yield packet

    def _decode(self, stream, packet: av.Packet | None) -> list[av.VideoFrame]:
        try:
            frames = stream.codec_context.decode(packet)
        except av.error.FFmpegError as exc:
            self._damage(f"undecodable packet at dts {packet.dts if packet else 'flush'}: {exc}")
            return []
        out = []
        for frame in frames:
            if frame.is_corrupt and not self._before_section(frame, stream):  # open-GOP leading pictures decoded from a cut
                self.stats.corrupt_frames += 1
                if self.strict:
                    raise DamagedInputError(f"corrupt frame (#{self.stats.frames}) in {self.info.path}; drop --strict to process what decodes")
            out.append(self._with_pts(frame, stream))
        return out

    def _with_pts(self, frame: av.VideoFrame, stream) -> av.VideoFrame:
        """Every frame leaves with a pts that increases; missing or repeated ones are repaired."""
        if frame.time_base is None:
            frame.time_base = stream.time_base
        pts = frame.pts
        if pts is None:
            pts = getattr(frame, "best_effort_timestamp", None)
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            step = 1
            if self.info.frame_rate:
                step = max(1, round(1 / (self.info.frame_rate * Fraction(frame.time_base))))
            pts = (self._last_pts + step) if self._last_pts is not None else 0
            self.stats.repaired_timestamps += 1
        frame.pts = pts
        self._last_pts = pts
        self.stats.frames += 1
        return frame

    def _damage(self, message: str) -> None:
        self.stats.damaged_packets += 1
        if len(self.stats.errors) < 5:
            self.stats.errors.append(message)
        if self.strict:
            raise DamagedInputError(f"damaged input {self.info.path}: {message} (drop --strict to process what decodes)")
