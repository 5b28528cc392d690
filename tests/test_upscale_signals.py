"""Crash safety: SIGINT/SIGTERM during ``vsr upscale`` leave no temp file and no (partial) output,
and never touch an existing output that --overwrite would have replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import listing, popen_vsr

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """320x240, 300 frames: at x4 with x264's default preset this takes many seconds."""
    from conftest import make_clip_file

    d = tmp_path_factory.mktemp("sig_src")
    return make_clip_file(d / "long.mp4", size=(320, 240), frames=300, content="moving", audio=True)


def _interrupt(proc: subprocess.Popen, outdir, before: set[str], sig: int, *, wait_for_file: float = 20.0) -> tuple[int, str]:
    """Wait until the run has started writing (a new file in the output directory), then signal it."""
    deadline = time.monotonic() + wait_for_file
    while time.monotonic() < deadline and proc.poll() is None:
        if listing(outdir) - before:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # well inside the encode loop
    if proc.poll() is not None:
        out, err = proc.communicate()
        pytest.fail(f"vsr finished (rc={proc.returncode}) before it could be interrupted; make the clip longer\n{err}")
    started_writing = bool(listing(outdir) - before)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"vsr did not stop within 60 s of signal {sig}")
    return proc.returncode, err + ("" if started_writing else "\n[test: no temp file seen in the output directory]")


@pytest.mark.parametrize("sig, codes", [(signal.SIGINT, {130}), (signal.SIGTERM, None)], ids=["SIGINT", "SIGTERM"])
def test_signal_leaves_nothing(long_clip, tmp_path, sig, codes):
    outdir = tmp_path / "out"
    outdir.mkdir()
    before = listing(outdir)
    proc = popen_vsr("upscale", long_clip, "-o", outdir / "up.mp4", "--model", "lanczos", "--scale", "4")
    rc, err = _interrupt(proc, outdir, before, sig)
    if codes:
        assert rc in codes, f"exit {rc}\n{err}"
    else:
        assert rc != 0, f"exit {rc}\n{err}"
    assert "Traceback" not in err, err
    assert listing(outdir) == before, f"left behind: {listing(outdir) - before}\n{err}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_keeps_existing_output(long_clip, tmp_path, sig):
    outdir = tmp_path / "out"
    outdir.mkdir()
    existing = outdir / "up.mp4"
    content = os.urandom(50_000)
    existing.write_bytes(content)
    before = listing(outdir)
    proc = popen_vsr("upscale", long_clip, "-o", existing, "--model", "lanczos", "--scale", "4", "--overwrite")
    rc, err = _interrupt(proc, outdir, before, sig)
    assert rc != 0, err
    if sig == signal.SIGINT:
        assert rc == 130, f"exit {rc}\n{err}"
    assert existing.read_bytes() == content, "the existing output was changed by an interrupted run"
    assert listing(outdir) == before, f"left behind: {listing(outdir) - before}\n{err}"


def test_sigint_during_torch_model(long_clip, tmp_path, edsr_checkpoint):
    outdir = tmp_path / "out"
    outdir.mkdir()
    before = listing(outdir)
    proc = popen_vsr("upscale", long_clip, "-o", outdir / "up.mp4", "--model", edsr_checkpoint, "--scale", "2",
                     "--device", "cpu", "--backend", "torch")
    rc, err = _interrupt(proc, outdir, before, signal.SIGINT, wait_for_file=40.0)
    assert rc == 130, f"exit {rc}\n{err}"
    assert "Traceback" not in err, err
    assert listing(outdir) == before, f"left behind: {listing(outdir) - before}\n{err}"
