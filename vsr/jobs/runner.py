"""A job: resume what a previous run finished, encode the pending segments (here, in worker
processes or on Ray), then join. A short input stays one segment and runs as a plain single pass."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vsr import pipeline
from vsr.config import JobOptions
from vsr.errors import Interrupted, UsageError, VsrError
from vsr.io.reader import DecodeStats
from vsr.jobs.encode import start_segment
from vsr.jobs.join import join_segments
from vsr.jobs.manifest import MANIFEST, Manifest, input_identity, job_dir_for, settings_of
from vsr.jobs.segment_file import read_trailer
from vsr.jobs.segments import Segment, plan_segments, video_packet_times
from vsr.pipeline import Progress, Result
from vsr.plan import Plan


@dataclass
class JobResult(Result):
    segments: int = 1
    resumed_frames: int = 0  # frames of segments a previous run finished

    @property
    def fps(self) -> float:
        """Frames this run made per second (reused segments do not count)."""
        return (self.frames - self.resumed_frames) / self.seconds if self.seconds > 0 else 0.0


def run_job(plan: Plan, job: JobOptions, on_progress: Callable[[Progress], None] | None = None,
            on_note: Callable[[str], None] | None = None) -> JobResult:
    """Upscale ``plan.source`` into ``plan.output`` as a job over segments."""
    started = time.perf_counter()
    note = on_note or (lambda message: None)
    folder = job_dir_for(plan.output)
    if job.restart and folder.exists():
        shutil.rmtree(folder)
        note(f"--restart: removed the previous job folder {folder}")
    manifest = _resume(plan, job, folder)
    segments = _plan(plan, job) if manifest is None else manifest.segments
    if manifest is None and len(segments) == 1 and job.ray is None:
        return JobResult(**vars(pipeline.run(plan, on_progress)))
    executor = _executor(plan, job)  # before the job folder exists: a missing Ray fails cleanly
    if manifest is None:
        folder.mkdir(exist_ok=True)
        manifest = Manifest(folder / MANIFEST, input_identity(plan.source.path), settings_of(plan, job.segment_seconds), segments)
        manifest.save()
    else:
        note(f"resuming {folder.name}: {len(manifest.done)} of {len(manifest.segments)} segments already done")
    _remove_partials(folder)  # segments in flight when a previous run was killed

    total = sum(s.frames for s in manifest.segments)
    resumed = sum(manifest.done.values())
    pending = [s for s in manifest.segments if s.index not in manifest.done]
    in_flight: dict[int, int] = {}
    done_frames = [resumed]
    outcomes: list[dict] = []

    def report() -> None:
        if on_progress:
            on_progress(Progress(done_frames[0] + sum(in_flight.values()), total, time.perf_counter() - started))

    def on_frames(index: int, frames: int) -> None:
        in_flight[index] = frames
        report()

    def on_done(outcome: dict) -> None:
        in_flight.pop(outcome["index"], None)
        manifest.done[outcome["index"]] = outcome["frames"]
        manifest.save()
        done_frames[0] += outcome["frames"]
        outcomes.append(outcome)
        report()

    report()
    try:
        try:
            executor.run(pending, folder, on_frames, on_done)
        finally:
            _remove_partials(folder)  # segments a stopped worker left half-written
    except (KeyboardInterrupt, Interrupted) as exc:
        stopped = Interrupted(f"stopped: {len(manifest.done)} of {len(manifest.segments)} segments done, kept in "
                              f"{folder}; run the same command again to resume")
        stopped.exit_code = getattr(exc, "exit_code", 130)
        raise stopped from exc
    except VsrError as exc:
        if not manifest.done:
            shutil.rmtree(folder)  # nothing to resume
            raise
        raise type(exc)(f"{exc} ({len(manifest.done)} of {len(manifest.segments)} segments done, kept in {folder}: "
                        "run the same command again to resume)") from exc

    join_segments(plan.encoder_spec(), plan.source, plan.section, plan.copy_streams,
                  [manifest.segment_path(s) for s in manifest.segments])
    if not job.keep_job:
        shutil.rmtree(folder)
    return _result(plan, manifest, outcomes, resumed, time.perf_counter() - started)


def _remove_partials(folder: Path) -> None:
    for partial in folder.glob(".*.partial"):
        partial.unlink()


def _resume(plan: Plan, job: JobOptions, folder: Path) -> Manifest | None:
    """The previous run's manifest if it is for this input and these settings; None if there is none."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    manifest = Manifest.load(path)
    changed = manifest.differences(input_identity(plan.source.path), settings_of(plan, job.segment_seconds))
    if changed:
        raise UsageError(f"{folder} holds a job for another input or other options (changed: {', '.join(changed)}): "
                         "run with --restart to start over")
    for s in manifest.segments:  # the files are the truth: renamed into place only when complete
        if s.index in manifest.done and not manifest.segment_path(s).exists():
            del manifest.done[s.index]
        elif s.index not in manifest.done and manifest.segment_path(s).exists():
            manifest.done[s.index] = read_trailer(manifest.segment_path(s))["frames"]
    return manifest


def _plan(plan: Plan, job: JobOptions) -> list[Segment]:
    section = plan.section
    start, end = section.start, section.end
    info = plan.source
    span = (end if end is not None else (info.duration or 0.0)) - start
    seconds = job.segment_seconds if job.segment_seconds > 0 else float("inf")
    if job.ray is None and (seconds == float("inf") or (info.duration and span < 1.5 * seconds)):
        return [Segment(0, start, end, 0)]  # a single pass: no need to read the keyframes
    return plan_segments(video_packet_times(info), start, end, seconds, warmup_frames=plan.warmup_frames,
                         lookahead_frames=plan.lookahead_frames)


def _executor(plan: Plan, job: JobOptions):
    if job.ray is not None:
        from vsr.jobs.ray_tasks import RayExecutor

        return RayExecutor(plan, job.ray)
    if job.workers > 1 or len(job.devices) > 1:
        from vsr.jobs.workers import ProcessExecutor

        return ProcessExecutor(plan, job.devices or ("",) * job.workers)
    return LocalExecutor(plan)


class LocalExecutor:
    """Segments one after the other in this process; a segment's encoder flush overlaps the next
    segment's start."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def run(self, pending: list[Segment], folder: Path, on_frames, on_done) -> None:
        finishing = None
        try:
            for segment in pending:
                outcome, finish = start_segment(self.plan, segment, folder, lambda n, i=segment.index: on_frames(i, n))
                if finishing is not None:
                    finishing[1]()
                    on_done(finishing[0])
                finishing = (outcome, finish)
            if finishing is not None:
                finishing[1]()
                on_done(finishing[0])
                finishing = None
        finally:
            if finishing is not None:  # stopped meanwhile: let the segment before complete
                try:
                    finishing[1]()
                except VsrError:
                    pass  # that segment is not kept; the error already being raised says more


def _result(plan: Plan, manifest: Manifest, outcomes: list[dict], resumed: int, seconds: float) -> JobResult:
    stats = DecodeStats()
    warnings: list[str] = []
    for o in sorted(outcomes, key=lambda o: o["index"]):
        stats.frames += o["frames"]
        stats.damaged_packets += o["damaged_packets"]
        stats.corrupt_frames += o["corrupt_frames"]
        stats.repaired_timestamps += o["repaired_timestamps"]
        stats.errors.extend(o["errors"][: max(0, 5 - len(stats.errors))])
        warnings.extend(f"segment {o['index']}: {w}" for w in o["warnings"])
    frames = sum(manifest.done.values())
    expected = sum(s.frames for s in manifest.segments)
    if frames != expected:
        warnings.append(f"{frames} frames written, the input's packets promised {expected}")
    return JobResult(str(plan.output), frames, seconds, stats, warnings, sum(o["deinterlaced"] for o in outcomes),
                     sum(o.get("reused", 0) for o in outcomes), segments=len(manifest.segments), resumed_frames=resumed)
