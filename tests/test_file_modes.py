"""Files vsr creates get the mode the umask gives a new file; a replaced file keeps its mode.

Covers every writer that goes through vsr.atomic: the upscale output (CLI, in a subprocess with
its own umask), ONNX export, saved weights, TensorRT engine cache writes and model downloads.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from contextlib import contextmanager

import pytest

from vsr import atomic
from vsr.errors import OutputError
from vsr.models.loaded import LoadedModel

from conftest import vsr_env

UMASKS = [(0o022, 0o644), (0o077, 0o600)]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def umask(value: int):
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def vsr_with_umask(value: int, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "vsr", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=vsr_env(),
                          preexec_fn=lambda: os.umask(value))


@pytest.mark.parametrize("mask, expected", UMASKS)
def test_upscale_output_follows_umask(make_clip, tmp_path, mask, expected):
    src = make_clip(tmp_path / "in.mp4", size=(32, 24), frames=3)
    out = tmp_path / "out.mp4"
    run = vsr_with_umask(mask, "upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "-q")
    assert run.returncode == 0, run.stderr
    assert mode(out) == expected, oct(mode(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"], "temporary file left behind"


def test_overwrite_keeps_the_replaced_files_mode(make_clip, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=3)
    out = tmp_path / "out.mkv"
    out.write_bytes(b"old")
    os.chmod(out, 0o640)
    run = vsr_with_umask(0o022, "upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "-q", "--overwrite")
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 3, "not replaced"
    assert mode(out) == 0o640, oct(mode(out))


@pytest.mark.parametrize("mask, expected", UMASKS)
def test_atomic_helpers_follow_umask(tmp_path, mask, expected):
    with umask(mask):
        written = atomic.write_bytes(tmp_path / "a.bin", b"x")
        with atomic.atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"y")
    assert mode(written) == expected and mode(tmp_path / "b.bin") == expected


def test_atomic_path_failure_leaves_the_destination(tmp_path):
    dest = tmp_path / "keep.bin"
    dest.write_bytes(b"original")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(dest) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert dest.read_bytes() == b"original"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


def test_unwritable_directory_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="cannot write"):
        atomic.write_bytes(tmp_path / "missing" / "x.bin", b"x")


@pytest.mark.parametrize("mask, expected", UMASKS)
def test_export_and_saved_weights_follow_umask(tmp_path, mask, expected):
    from vsr.backends.onnx_export import export_onnx
    from vsr.models.loader import build, save

    model = build("srcnn", scale=2)
    with umask(mask):
        onnx_path = export_onnx(LoadedModel.of(model), tmp_path / "m.onnx", sample_size=(16, 16))
        weights = save(model, tmp_path / "m.safetensors")
    assert mode(onnx_path) == expected and mode(weights) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.safetensors"]


@pytest.mark.parametrize("mask, expected", UMASKS)
def test_engine_cache_write_follows_umask(tmp_path, mask, expected):
    from vsr.backends.engine_cache import write_atomic

    with umask(mask):
        path = tmp_path / "x.engine"
        write_atomic(path, b"engine bytes")
    assert mode(path) == expected


@pytest.mark.parametrize("mask, expected", UMASKS)
def test_downloaded_weights_follow_umask(monkeypatch, tmp_path, mask, expected):
    from vsr.models import registry, zoo

    payload = b"weights" * 100
    source = tmp_path / "published.pth"
    source.write_bytes(payload)
    monkeypatch.setenv("VSR_CACHE", str(tmp_path / "cache"))
    entry = registry.ModelEntry(name="tiny-x2", arch="edsr", scale=2, filename="tiny_x2.pth",
                                family="tiny", sha256=hashlib.sha256(payload).hexdigest())
    monkeypatch.setattr(registry, "PUBLISHED", registry.PUBLISHED + (entry,))
    with umask(mask):
        path = zoo.download("tiny-x2", url=source.as_uri())
    assert path.read_bytes() == payload
    assert mode(path) == expected and mode(path.with_name(path.name + ".sha256")) == expected
