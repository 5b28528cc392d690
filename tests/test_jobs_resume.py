"""Resume: a job killed at any moment (SIGKILL, SIGINT, SIGTERM) keeps its finished segments; the
same command finishes it frame-exact, redoing only what was in flight, and says what it reused.
A changed input or changed options are refused in one line; --restart starts over."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import listing, one_line_error, popen_vsr, read_video, stream_packets

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# 320x240 -> 1280x960 with x264's default preset: each 1 s segment takes about a second here.
SLOW = ["--model", "lanczos", "--scale", "4", "--segment-seconds", "1"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from conftest import make_clip_file

    d = tmp_path_factory.mktemp("resume_src")
    return make_clip_file(d / "long.mkv", size=(320, 240), frames=200, content="moving", audio=True)


def _manifest(out: Path) -> dict | None:
    path = out.parent / f".{out.name}.vsr-job" / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _stop_after_segments(proc: subprocess.Popen, out: Path, sig: int, done: int = 2, timeout: float = 120) -> str:
    """Send ``sig`` once ``done`` segments are finished; returns stderr."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        m = _manifest(out)
        if m and sum(s["state"] == "done" for s in m["segments"]) >= done:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        _, err = proc.communicate()
        pytest.fail(f"vsr finished (rc={proc.returncode}) before it could be stopped\n{err}")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return err


def _finish(vsr, clip, out, *extra):
    run = vsr("upscale", clip, "-o", out, *SLOW, *extra, "--json", timeout=300)
    assert run.returncode == 0, str(run)
    return run


def _assert_complete(out, clip):
    got, want = read_video(out), read_video(clip)
    assert [round(t, 6) for t in got.times] == [round(t, 6) for t in want.times]
    assert stream_packets(out, "audio") == stream_packets(clip, "audio")
    assert listing(out.parent) == {out.name}, "the job folder is removed after the join"


def test_sigkill_then_rerun_reuses_finished_segments(clip, vsr, tmp_path):
    out = tmp_path / "up.mkv"
    proc = popen_vsr("upscale", clip, "-o", out, *SLOW)
    _stop_after_segments(proc, out, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    kept = _manifest(out)
    done = [s for s in kept["segments"] if s["state"] == "done"]
    assert 2 <= len(done) < len(kept["segments"])
    assert not out.exists()
    summary = _finish(vsr, clip, out).json()
    assert summary["resumed_frames"] == sum(s["frames_written"] for s in done) > 0
    assert summary["frames"] == 200 and summary["segments"] == len(kept["segments"])
    _assert_complete(out, clip)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)], ids=["SIGINT", "SIGTERM"])
def test_signal_keeps_finished_segments(clip, vsr, tmp_path, sig, code):
    out = tmp_path / "up.mkv"
    proc = popen_vsr("upscale", clip, "-o", out, *SLOW)
    err = _stop_after_segments(proc, out, sig, done=1)
    assert proc.returncode == code, err
    assert "Traceback" not in err, err
    assert "run the same command again to resume" in err, err
    job = tmp_path / ".up.mkv.vsr-job"
    assert not [p for p in job.iterdir() if p.name.endswith(".partial")], "no partial segment left"
    assert listing(tmp_path) == {job.name}
    summary = _finish(vsr, clip, out).json()
    assert summary["resumed_frames"] > 0
    _assert_complete(out, clip)


def _started_job(vsr, clip, out) -> None:
    """A job stopped after its first segment (SIGINT)."""
    proc = popen_vsr("upscale", clip, "-o", out, *SLOW)
    _stop_after_segments(proc, out, signal.SIGINT, done=1)
    assert proc.returncode == 130


def test_changed_options_refused_then_restart(clip, vsr, tmp_path):
    out = tmp_path / "up.mkv"
    _started_job(vsr, clip, out)
    run = vsr("upscale", clip, "-o", out, *SLOW, "--crf", "30")
    assert run.returncode == 2, str(run)
    one_line_error(run)
    assert "crf" in run.stderr and "--restart" in run.stderr, run.stderr
    summary = _finish(vsr, clip, out, "--crf", "30", "--restart").json()
    assert summary["resumed_frames"] == 0 and summary["frames"] == 200
    _assert_complete(out, clip)


def test_changed_input_refused(clip, vsr, tmp_path):
    from conftest import make_clip_file

    src = tmp_path / "src.mkv"
    src.write_bytes(clip.read_bytes())
    out = tmp_path / "up.mkv"
    _started_job(vsr, src, out)
    make_clip_file(src, size=(320, 240), frames=200, content="moving", audio=True, seed=3, rate=24)
    run = vsr("upscale", src, "-o", out, *SLOW)
    assert run.returncode == 2, str(run)
    one_line_error(run)
    assert "input" in run.stderr and "--restart" in run.stderr, run.stderr


def test_progress_starts_at_frames_done(clip, tmp_path):
    """Library level: the first progress report of a resumed job counts the reused frames."""
    from vsr.config import JobOptions, UpscaleOptions
    from vsr.jobs.runner import run_job
    from vsr.plan import make_plan

    out = tmp_path / "up.mkv"
    plan = make_plan(UpscaleOptions(input=clip, output=out, model="bicubic", scale=2, codec="ffv1"))
    job = JobOptions(segment_seconds=1)

    class Stop(Exception):
        pass

    def stop_after_60_frames(progress):
        if progress.frames >= 60:
            raise Stop

    with pytest.raises(Stop):
        run_job(plan, job, on_progress=stop_after_60_frames)
    seen: list = []
    result = run_job(plan, job, on_progress=seen.append)
    assert result.resumed_frames > 0 and seen[0].frames == result.resumed_frames
    assert seen[0].total == 200 and seen[-1].frames == 200 == result.frames
