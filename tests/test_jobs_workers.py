"""``--workers N``: segments encoded in N processes give what one process gives; stopping or killing
the driver or a worker keeps the finished segments and leaves no process or partial file behind."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import listing, one_line_error, popen_vsr, read_video

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes and signals")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _done_segments(out: Path) -> int:
    try:
        m = json.loads((out.parent / f".{out.name}.vsr-job" / "manifest.json").read_text())
    except (OSError, ValueError):
        return 0
    return sum(s["state"] == "done" for s in m["segments"])


def test_two_workers_equal_one_process_learned_model(make_clip, vsr, tmp_path, edsr_checkpoint):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=100, content="moving", audio=True)
    common = ["--model", edsr_checkpoint, "--scale", "2", "--device", "cpu", "--codec", "ffv1", "--segment-seconds", "1"]
    one, two = tmp_path / "one.mkv", tmp_path / "two.mkv"
    r1 = vsr("upscale", src, "-o", one, *common, "--json")
    r2 = vsr("upscale", src, "-o", two, *common, "--workers", "2", "--json")
    assert r1.returncode == 0, str(r1)
    assert r2.returncode == 0, str(r2)
    assert r2.json()["segments"] == r1.json()["segments"] >= 3
    a, b = read_video(one, keep="y"), read_video(two, keep="y")
    assert b.times == a.times and len(b.times) == 100
    for k, (x, y) in enumerate(zip(a.frames, b.frames)):
        diff = int(np.abs(x.astype(int) - y.astype(int)).max())
        assert diff <= 2, f"frame {k}: up to {diff} codes from the one-process result (thread counts differ)"
    assert listing(tmp_path) == {"in.mkv", "one.mkv", "two.mkv"}


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory):
    from conftest import make_clip_file

    return make_clip_file(tmp_path_factory.mktemp("workers_src") / "long.mkv", size=(320, 240), frames=250, content="moving")


SLOW = ["--model", "lanczos", "--scale", "4", "--segment-seconds", "1", "--workers", "2"]


def _wait_for_segments(proc, out, count=1, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and _done_segments(out) < count:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail(f"vsr ended (rc={proc.returncode}) before it could be stopped\n{proc.communicate()[1]}")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)], ids=["SIGINT", "SIGKILL"])
def test_stopping_the_driver_stops_the_workers(slow_clip, vsr, tmp_path, sig, code):
    out = tmp_path / "up.mkv"
    proc = popen_vsr("upscale", slow_clip, "-o", out, *SLOW)
    _wait_for_segments(proc, out)
    workers = _children(proc.pid)
    assert len(workers) >= 2, "two worker processes (and multiprocessing's resource tracker)"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "worker processes outlived the driver"
    if sig == signal.SIGINT:
        assert "run the same command again to resume" in err and "Traceback" not in err, err
    run = vsr("upscale", slow_clip, "-o", out, *SLOW, "--json", timeout=300)
    assert run.returncode == 0, str(run)
    assert run.json()["resumed_frames"] > 0
    assert len(read_video(out).times) == 250
    assert listing(tmp_path) == {"up.mkv"}


def test_a_worker_killed_fails_in_one_line_and_keeps_segments(slow_clip, vsr, tmp_path):
    out = tmp_path / "up.mkv"
    proc = popen_vsr("upscale", slow_clip, "-o", out, *SLOW)
    _wait_for_segments(proc, out)
    workers = [pid for pid in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "died" in err and "resume" in err and "Traceback" not in err, err
    assert _done_segments(out) >= 1
    job = tmp_path / ".up.mkv.vsr-job"
    assert not [p for p in job.iterdir() if p.name.endswith(".partial")]


def test_device_list_needs_one_worker_per_device(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=5)
    run = vsr("upscale", src, "-o", tmp_path / "o.mp4", "--device", "cuda:0,cuda:1", "--workers", "3")
    assert run.returncode == 2, str(run)
    one_line_error(run)
