"""Join: one mux of the segments' video packets (not re-encoded) and the input's other streams.

The output is written by the same VideoWriter as a single pass (metadata, chapters, copied
streams, the video stream's settings), fed encoded packets instead of frames, and renamed into
place only when complete.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av

from vsr.errors import OutputError
from vsr.io.probe import VideoInfo
from vsr.io.reader import Section, VideoReader
from vsr.io.spec import EncoderSpec
from vsr.io.writer import VideoWriter
from vsr.jobs.segment_file import read_packets, read_trailer


def join_segments(spec: EncoderSpec, source: VideoInfo, section: Section, copy_streams: tuple[int, ...],
                  files: list[Path]) -> int:
    """Write ``spec.output`` from the segment ``files`` (in order), with the ``copy_streams`` of ``source``
    over ``section``; returns the video packets written."""
    headers = [read_trailer(f)["extradata"] for f in files]
    if any(h != headers[0] for h in headers):
        bad = next(f for f, h in zip(files, headers) if h != headers[0])
        raise OutputError(f"{bad.name} was encoded with other encoder headers than {files[0].name}: run again with --restart")
    writer = VideoWriter(spec, copy_streams, time_offset=section.start, time_end=section.end)
    reader = VideoReader(source, section, copy_streams=copy_streams)
    count = 0
    with writer, reader:
        video = ((_seconds(p) + section.start, 0, n, p) for n, p in enumerate(_monotonic(_chain(files))))
        other = ((_seconds(p), 1, n, p) for n, p in enumerate(reader.copied_packets()))
        for _, kind, _, packet in heapq.merge(video, other):
            if kind == 0:
                writer.mux_video(packet)
                count += 1
                if count == 1:
                    _check_headers(writer, headers[0], files[0])
            else:
                writer.copy(packet)
        writer.commit()
    return count


def _chain(files: Iterable[Path]) -> Iterator[av.Packet]:
    for f in files:
        yield from read_packets(f)


def _monotonic(packets: Iterator[av.Packet]) -> Iterator[av.Packet]:
    """Decode times must increase across a join. Each segment's encoder starts its dts a B-frame
    delay before its first pts; with very uneven frame times that can reach back past the previous
    segment's last dts: such a dts moves up to one tick after it (never past the packet's pts)."""
    last = None
    for p in packets:
        if last is not None and p.dts is not None and p.dts <= last:
            if p.pts is not None and last + 1 > p.pts:
                raise OutputError(f"cannot join segments: decode time {p.dts} after {last} (pts {p.pts}); "
                                  "run without segments (--segment-seconds 0)")
            p.dts = last + 1
        if p.dts is not None:
            last = p.dts
        yield p


def _seconds(packet: av.Packet) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * Fraction(packet.time_base)) if ts is not None else 0.0


def _check_headers(writer: VideoWriter, expected: bytes, first: Path) -> None:
    """The join's encoder (opened, never fed) must announce what the segments' encoders did."""
    made = writer._video.codec_context.extradata or b""  # noqa: SLF001 - the writer's own stream
    if made != expected:
        raise OutputError(f"the encoder here makes other stream headers than the one that encoded {first.name} "
                          "(another FFmpeg build or settings?): run again with --restart")
