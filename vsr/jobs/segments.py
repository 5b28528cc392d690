"""Where a job is cut: at the input's keyframes, about every ``segment_seconds``.

A segment owns exactly the frames whose presentation time falls in ``[start, end)``; the reader
decodes it from the keyframe at ``start`` (seeking backward) and keeps frames by pts, so open-GOP
leading pictures that follow a keyframe in decode order stay with the segment before it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import asdict, dataclass
from fractions import Fraction

import av

from vsr.errors import InputError
from vsr.io.probe import VideoInfo, open_input
from vsr.io.reader import Section


@dataclass(frozen=True)
class Segment:
    index: int
    start: float  # seconds, input time; the first segment starts where the job starts
    end: float | None  # None: to the job's end
    frames: int  # video packets whose pts fall in the range (what the segment should yield)
    context_start: float | None = None  # the frame before ``start`` (None: none)
    context_end: float | None = None  # just after the frame at ``end`` (None: to the job's end)
    warmup_start: float | None = None  # a temporal model's first warm-up frame (None: none, the job's start)
    lookahead_end: float | None = None  # just after a temporal model's last look-ahead frame (None: none)

    @property
    def section(self) -> Section:
        return Section(self.start, self.end)

    @property
    def with_context(self) -> Section:
        """The section plus one frame on each side: what a temporal filter (bwdif) looks at."""
        start = self.start if self.context_start is None else self.context_start
        return Section(start, self.context_end if self.end is not None else None)

    def decoded(self, *, deinterlace: bool, temporal: bool) -> Section:
        """What to decode: the section, with the deinterlacer's context and a temporal model's warm-up
        and look-ahead."""
        section = self.with_context if deinterlace else self.section
        if not temporal:
            return section
        start = self.warmup_start if self.warmup_start is not None and self.warmup_start < section.start else section.start
        end = section.end
        if self.lookahead_end is not None and end is not None and self.lookahead_end > end:
            end = self.lookahead_end
        return Section(start, end)

    @property
    def file_name(self) -> str:
        return f"segment-{self.index:05d}.vsrseg"

    def to_dict(self) -> dict:
        return asdict(self)


def video_packet_times(info: VideoInfo) -> list[tuple[float, bool]]:
    """(pts in seconds, is keyframe) of every video packet, in file order, without decoding."""
    times = []
    with open_input(info.path) as container:
        stream = container.streams[info.stream_index]
        tb = Fraction(stream.time_base)
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                times.append((float(packet.pts * tb), bool(packet.is_keyframe)))
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot read the keyframes of {info.path}: {exc}") from exc
    return times


def plan_segments(times: list[tuple[float, bool]], start: float, end: float | None, seconds: float, *,
                  warmup_frames: int = 0, lookahead_frames: int = 0) -> list[Segment]:
    """Cut [start, end) at keyframes at least ``seconds`` apart; never leave a last segment
    shorter than half of that (it joins the one before). ``warmup_frames``: how many frames before
    its start a segment runs through a temporal model (within [start, end): a single pass starts
    its state there too); ``lookahead_frames``: how many after its end (a backward pass's wait)."""
    inside = [(t, key) for t, key in times if t >= start - 1e-6 and (end is None or t < end - 1e-6)]
    if not inside:
        return [Segment(0, start, end, 0)]
    last_time = max(t for t, _ in inside)
    cuts = [start]
    for t in sorted(t for t, key in inside if key):
        if t - cuts[-1] >= seconds - 1e-6 and last_time - t >= seconds / 2:
            cuts.append(t)
    ordered = sorted(t for t, _ in inside)
    bounds = [*cuts, end]
    segments = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        first = bisect_left(ordered, a - 1e-6)
        after = len(ordered) if b is None else bisect_left(ordered, b - 1e-6)  # the frame at b (next segment's first)
        before = first - 1 if first > 0 else None
        context_end = ordered[after + 1] if after + 1 < len(ordered) else end
        warmup = ordered[max(0, first - warmup_frames)] if warmup_frames and first > 0 else None
        ahead = after + lookahead_frames  # the first frame past the look-ahead; past the last frame: the job's end
        last = end if end is not None else ordered[-1] + 1.0
        lookahead = (ordered[ahead] if ahead < len(ordered) else last) if lookahead_frames and b is not None else None
        segments.append(Segment(i, a, b, after - first, ordered[before] if before is not None else None,
                                context_end if b is not None else None, warmup, lookahead))
    return segments
