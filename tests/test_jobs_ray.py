"""``--ray local``: segments run as tasks on a local Ray instance give what one process gives;
without Ray installed, ``--ray`` fails in one line that says how to install it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import listing, read_video, stream_packets, vsr_env


def test_ray_local_equals_one_process(make_clip, vsr, tmp_path):
    pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e '.[test]'")
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=100, content="moving", audio=True, subtitles=True)
    common = ["--model", "bicubic", "--scale", "2", "--codec", "ffv1", "--segment-seconds", "1", "--json"]
    one, ray_out = tmp_path / "one.mkv", tmp_path / "ray.mkv"
    r1 = vsr("upscale", src, "-o", one, *common)
    r2 = vsr("upscale", src, "-o", ray_out, *common, "--ray", "local", timeout=300)
    assert r1.returncode == 0, str(r1)
    assert r2.returncode == 0, str(r2)
    assert r2.json()["segments"] == r1.json()["segments"] >= 3
    a, b = read_video(one, keep="yuv"), read_video(ray_out, keep="yuv")
    assert b.times == a.times and len(b.times) == 100
    for x, y in zip(a.frames, b.frames):
        assert all((p == q).all() for p, q in zip(x, y)), "Ray's segments differ from one process's"
    for kind in ("audio", "subtitle"):
        assert stream_packets(ray_out, kind) == stream_packets(one, kind)
    assert listing(tmp_path) == {"in.mkv", "one.mkv", "ray.mkv"}


def test_without_ray_one_line_error(make_clip, tmp_path):
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=60)
    fake = tmp_path / "no_ray"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = vsr_env()
    env["PYTHONPATH"] = f"{fake}:{env['PYTHONPATH']}"
    proc = subprocess.run([sys.executable, "-m", "vsr", "upscale", src, "-o", tmp_path / "o.mp4", "--model", "bicubic",
                           "--scale", "2", "--segment-seconds", "1", "--ray", "local"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'vsr[ray]'" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3
    assert listing(tmp_path) == {"in.mp4", "no_ray"}, "no job folder made"
