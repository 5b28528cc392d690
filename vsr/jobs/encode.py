"""Encoding one segment of a job into its own file (run by every executor: local, workers, Ray)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from vsr import pipeline
from vsr.jobs.segment_file import SegmentWriter
from vsr.jobs.segments import Segment
from vsr.plan import Plan


def encode_segment(plan: Plan, segment: Segment, folder: Path,
                   on_frames: Callable[[int], None] | None = None) -> dict:
    """Encode one segment into its file in ``folder``; a plain dict comes back (it crosses
    process and Ray boundaries)."""
    outcome, finish = start_segment(plan, segment, folder, on_frames)
    finish()
    return outcome


def start_segment(plan: Plan, segment: Segment, folder: Path,
                  on_frames: Callable[[int], None] | None = None) -> tuple[dict, Callable[[], None]]:
    """Encode one segment, leaving the encoder's flush (its lookahead: about a second of serial
    work at HD) to a thread, so the next segment can start meanwhile; ``finish()`` waits for it."""
    path = folder / segment.file_name
    writer = SegmentWriter(plan.encoder_spec(), path, time_offset=plan.start or 0.0, background=True)
    progress = (lambda p: on_frames(p.frames)) if on_frames else None
    # bwdif looks at the frames on either side, a temporal model at the frames before: decode those
    # too, so the frames at a join are as in a single pass (they cost a GOP more decoding).
    deinterlace = plan.deinterlace == "on" or (plan.deinterlace == "auto" and plan.source.interlaced)
    section = segment.decoded(deinterlace=deinterlace, temporal=plan.temporal)
    result = pipeline.run(replace(plan, copy_streams=()), progress, writer=writer, section=section,
                          keep=segment.section)
    d = result.decode
    return {"index": segment.index, "frames": result.frames, "warnings": result.warnings,
            "deinterlaced": result.deinterlaced, "reused": result.reused, "damaged_packets": d.damaged_packets,
            "corrupt_frames": d.corrupt_frames, "repaired_timestamps": d.repaired_timestamps,
            "errors": d.errors}, writer.wait
