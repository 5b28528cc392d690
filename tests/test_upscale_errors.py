"""``vsr upscale`` failures: one short line on stderr, the right exit code (2 usage, 1 runtime), and
nothing left behind in the output directory (no output, no temp file). Damaged input is processed
as far as it decodes (warning, exit 0) unless --strict."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import listing, one_line_error, read_video


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from conftest import make_clip_file

    d = tmp_path_factory.mktemp("err_src")
    return make_clip_file(d / "small.mp4", size=(64, 48), frames=5)


@pytest.fixture(scope="module")
def hd(tmp_path_factory):
    from conftest import make_clip_file

    d = tmp_path_factory.mktemp("err_hd")
    return make_clip_file(d / "hd.mp4", size=(1280, 720), frames=2, content="flat")


@pytest.fixture
def outdir(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    (d / "unrelated.txt").write_text("keep me")
    return d


def assert_failed_cleanly(run, code, outdir, before):
    assert run.returncode == code, str(run)
    one_line_error(run)
    assert listing(outdir) == before, f"left behind: {listing(outdir) - before}"


# ---------------------------------------------------------------------------- usage errors: exit 2


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "4k", "--scale", "2"],
        ["--to", "5k"],
        ["--scale", "0"],
        ["--scale", "-2"],
        ["--scale", "2", "--model", "no-such-model"],
        ["--scale", "2", "--model", "/no/such/file.safetensors"],
        ["--scale", "2", "--tile", "32", "--tile-overlap", "16"],
    ],
    ids=["to+scale", "5k", "scale0", "scale-neg", "unknown-model", "missing-model-file", "overlap"],
)
def test_usage_errors(vsr, small, outdir, args):
    before = listing(outdir)
    model = [] if "--model" in args else ["--model", "bicubic"]
    run = vsr("upscale", small, "-o", outdir / "o.mp4", *model, *args)
    assert_failed_cleanly(run, 2, outdir, before)


def test_not_an_upscale(vsr, hd, outdir):
    before = listing(outdir)
    run = vsr("upscale", hd, "-o", outdir / "o.mp4", "--model", "bicubic", "--to", "720p")
    assert_failed_cleanly(run, 2, outdir, before)


def test_output_exists(vsr, small, outdir):
    existing = outdir / "o.mp4"
    existing.write_bytes(b"precious" * 1000)
    before = listing(outdir)
    run = vsr("upscale", small, "-o", existing, "--model", "bicubic", "--scale", "2")
    assert_failed_cleanly(run, 2, outdir, before)
    assert existing.read_bytes() == b"precious" * 1000


def test_overwrite_replaces(vsr, small, outdir):
    existing = outdir / "o.mp4"
    existing.write_bytes(b"old")
    run = vsr("upscale", small, "-o", existing, "--model", "bicubic", "--scale", "2", "--overwrite")
    assert run.returncode == 0, str(run)
    assert len(read_video(existing).times) == 5
    assert listing(outdir) == {"o.mp4", "unrelated.txt"}


def test_output_dir_missing(vsr, small, tmp_path):
    run = vsr("upscale", small, "-o", tmp_path / "nowhere" / "o.mp4", "--model", "bicubic", "--scale", "2")
    assert run.returncode == 2, str(run)
    one_line_error(run)
    assert not (tmp_path / "nowhere").exists()


def test_missing_input(vsr, outdir):
    before = listing(outdir)
    run = vsr("upscale", outdir / "nope.mp4", "-o", outdir / "o.mp4", "--model", "bicubic", "--scale", "2")
    assert_failed_cleanly(run, 2, outdir, before)


# ---------------------------------------------------------------------------- runtime errors: exit 1


def test_not_a_media_file(vsr, tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    before = listing(tmp_path)
    run = vsr("upscale", bad, "--model", "bicubic", "--scale", "2")
    assert_failed_cleanly(run, 1, tmp_path, before)


def test_debug_shows_traceback(vsr, tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"\x00garbage" * 500)
    run = vsr("upscale", bad, "--model", "bicubic", "--scale", "2", "--debug")
    assert run.returncode == 1, str(run)
    assert "Traceback" in run.stderr


def test_audio_only(vsr, tmp_path):
    path = tmp_path / "sound.mka"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000, layout="mono")
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, i * 1024
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)
    before = listing(tmp_path)
    run = vsr("upscale", path, "--model", "bicubic", "--scale", "2")
    assert_failed_cleanly(run, 1, tmp_path, before)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only directories")
def test_output_dir_not_writable(vsr, small, outdir):
    before = listing(outdir)
    outdir.chmod(0o555)
    try:
        run = vsr("upscale", small, "-o", outdir / "o.mp4", "--model", "bicubic", "--scale", "2")
    finally:
        outdir.chmod(0o755)
    assert_failed_cleanly(run, 1, outdir, before)


def test_cuda_without_cuda(vsr, small, outdir, edsr_checkpoint):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    before = listing(outdir)
    run = vsr("upscale", small, "-o", outdir / "o.mp4", "--model", edsr_checkpoint, "--scale", "2", "--device", "cuda")
    assert_failed_cleanly(run, 1, outdir, before)


# ---------------------------------------------------------------------------- damaged input


def decodable_frames(path) -> int:
    """How many frames PyAV gets out of a (damaged) file before the first error."""
    n = 0
    try:
        with av.open(str(path)) as c:
            for _ in c.decode(video=0):
                n += 1
    except av.error.FFmpegError:
        pass
    return n


@pytest.fixture(params=["mkv", "mp4"])
def truncated(request, make_clip, tmp_path) -> tuple[Path, int]:
    ext = request.param
    full = make_clip(tmp_path / f"full.{ext}", size=(64, 48), frames=30, codec="libx264", content="noise",
                     audio=True, faststart=(ext == "mp4"))
    data = full.read_bytes()
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    cut = src_dir / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    full.unlink()
    n = decodable_frames(cut)
    assert 0 < n < 30, f"fixture sanity: {n} frames decodable from half a file"
    return cut, n


def test_truncated_processed_as_far_as_it_decodes(vsr, truncated, tmp_path):
    cut, n = truncated
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / f"o{cut.suffix}"
    run = vsr("upscale", cut, "-o", out, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    assert "warning" in run.stderr.lower(), "a warning about the damaged input is expected on stderr"
    assert "Traceback" not in run.stderr
    assert listing(outdir) == {out.name}
    got = read_video(out)
    assert (got.width, got.height) == (128, 96)
    assert len(got.times) == n, f"{len(got.times)} frames written, {n} decodable"


def test_truncated_strict_fails(vsr, truncated, tmp_path):
    cut, _ = truncated
    outdir = tmp_path / "out"
    outdir.mkdir()
    run = vsr("upscale", cut, "-o", outdir / f"o{cut.suffix}", "--model", "bicubic", "--scale", "2", "--strict")
    assert_failed_cleanly(run, 1, outdir, set())
