"""Segment planning (cuts at keyframes, frames owned by pts) and the manifest's change detection."""

from __future__ import annotations

import os

from vsr.jobs.manifest import Manifest, input_identity
from vsr.jobs.segments import Segment, plan_segments


def _times(n=250, rate=25, gop=12):
    """Packet (pts, keyframe) of a CFR clip with a keyframe every ``gop`` frames."""
    return [(i / rate, i % gop == 0) for i in range(n)]


def test_cuts_at_keyframes_at_least_s_apart():
    segments = plan_segments(_times(), 0.0, None, 2.0)
    starts = [s.start for s in segments]
    assert starts[0] == 0.0
    for a, b in zip(starts, starts[1:]):
        assert b - a >= 2.0 - 1e-9
        assert round(b * 25) % 12 == 0, "every cut is a keyframe"
    assert [s.end for s in segments[:-1]] == starts[1:] and segments[-1].end is None
    assert sum(s.frames for s in segments) == 250


def test_no_short_tail_and_short_clip_is_one_segment():
    segments = plan_segments(_times(n=130), 0.0, None, 2.0)  # 5.2 s: a cut at 4.8 s would leave 0.4 s
    assert segments[-1].start <= 5.2 - 1.0
    assert plan_segments(_times(n=40), 0.0, None, 2.0) == [Segment(0, 0.0, None, 40)]


def test_a_temporal_segment_decodes_its_warm_up_before_and_its_look_ahead_after():
    from vsr.io.reader import Section

    def frames_later(t: float, n: int) -> float:  # the packet time n frames after (or before) the one at t
        return (round(t * 25) + n) / 25

    segments = plan_segments(_times(n=100), 0.0, None, 1.0, warmup_frames=30, lookahead_frames=20)
    first, second, last = segments[0], segments[1], segments[-1]
    assert (first.warmup_start, first.lookahead_end) == (None, frames_later(second.start, 20))
    assert first.decoded(deinterlace=False, temporal=True) == Section(0.0, frames_later(second.start, 20))
    assert first.decoded(deinterlace=False, temporal=False) == first.section
    assert second.decoded(deinterlace=False, temporal=True) == Section(frames_later(second.start, -30),
                                                                       frames_later(second.end, 20))
    assert last.lookahead_end is None and last.decoded(deinterlace=False, temporal=True).end is None
    # a look-ahead never passes the job's end; with no look-ahead a segment stops at its end
    near_end = plan_segments(_times(n=100), 0.0, 3.5, 1.6, lookahead_frames=20)
    assert near_end[-1].lookahead_end == 3.5 == near_end[-1].decoded(deinterlace=False, temporal=True).end
    plain = plan_segments(_times(n=100), 0.0, None, 1.0, warmup_frames=30)
    assert plain[0].lookahead_end is None and plain[0].decoded(deinterlace=False, temporal=True).end == plain[0].end


def test_the_default_segment_length_a_user_gets(make_clip, tmp_path, monkeypatch):
    """What ``vsr upscale`` passes on without --segment-seconds: a film is a few hundred segments,
    a clip under 45 s one plain pass."""
    from dataclasses import replace

    from click.testing import CliRunner

    from vsr.cli import main
    from vsr.errors import VsrError
    from vsr.jobs import runner

    seen = {}

    def run_job(plan, job, **kwargs):
        seen.update(plan=plan, job=job)
        raise VsrError("stopped by the test")

    monkeypatch.setattr(runner, "run_job", run_job)
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    result = CliRunner().invoke(main, ["upscale", str(clip), "--model", "bicubic", "--scale", "2", "--no-estimate", "-q"])
    assert "stopped by the test" in result.output, result.output
    plan, job = seen["plan"], seen["job"]
    film = plan_segments(_times(n=2 * 3600 * 25, gop=250), 0.0, None, job.segment_seconds)
    assert 100 <= len(film) <= 300, "a two-hour film: a few hundred segments"
    assert len(runner._plan(replace(plan, source=replace(plan.source, duration=44.0)), job)) == 1


def test_frames_owned_by_pts_with_reordered_packets():
    # decode order I0 P3 B1 B2 | I4 (open GOP: B leading pictures 2.5 after it) ...
    times = [(0.0, True), (3.0, False), (1.0, False), (2.0, False), (4.0, True), (3.5, False), (6.0, False),
             (5.0, False), (8.0, True), (7.0, False), (9.0, False)]
    segments = plan_segments(times, 0.0, None, 4.0)
    assert [(s.start, s.end, s.frames) for s in segments] == [(0.0, 4.0, 5), (4.0, None, 6)]


def test_section_bounds_are_kept():
    segments = plan_segments(_times(), 1.3, 7.3, 2.0)
    assert segments[0].start == 1.3 and segments[-1].end == 7.3
    assert sum(s.frames for s in segments) == sum(1 for i in range(250) if 1.3 - 1e-6 <= i / 25 < 7.3 - 1e-6)


def test_manifest_round_trip_and_differences(tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(3 << 20))
    identity = input_identity(src)
    settings = {"crf": 18, "model": "lanczos", "segment_seconds": 30.0}
    m = Manifest(tmp_path / "manifest.json", identity, settings, [Segment(0, 0.0, 4.0, 100), Segment(1, 4.0, None, 50)])
    m.done[0] = 100
    m.save()
    loaded = Manifest.load(m.path)
    assert loaded.segments == m.segments and loaded.done == {0: 100}
    assert loaded.differences(identity, settings) == []
    assert loaded.differences(identity, {**settings, "crf": 20}) == ["crf"]
    with open(src, "r+b") as f:  # same size, last MiB edited
        f.seek(-10, os.SEEK_END)
        f.write(b"0123456789")
    assert "input sha256_ends" in loaded.differences(input_identity(src), settings)
