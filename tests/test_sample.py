"""vsr sample: the shipped real clip is written, decodes, and the README's first command works on it."""

from __future__ import annotations

import pytest

from conftest import REPO, read_video
from vsr.models.default_choice import COMPRESSED_MODEL


def test_sample_writes_a_decodable_clip(vsr, tmp_path):
    out = tmp_path / "s.mp4"
    run = vsr("sample", "-o", out)
    assert run.returncode == 0, str(run)
    assert f"wrote {out.resolve()}" in run.stderr and "CC BY 4.0" in run.stderr
    clip = read_video(out)
    assert (clip.width, clip.height, clip.pix_fmt, clip.codec) == (320, 180, "yuv420p", "h264")
    assert len(clip.times) == 44 and 1.4 < clip.times[-1] < 1.6
    assert clip.times == sorted(clip.times)


def test_sample_again_and_conflicts(vsr, tmp_path):
    out = tmp_path / "sample.mp4"
    assert vsr("sample", cwd=tmp_path).returncode == 0, "default name in the current directory"
    again = vsr("sample", "-o", out)
    assert again.returncode == 0 and "already there" in again.stderr, str(again)
    other = tmp_path / "mine.mp4"
    other.write_bytes(b"not the sample")
    refused = vsr("sample", "-o", other)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr, str(refused)
    assert other.read_bytes() == b"not the sample"
    assert vsr("sample", "-o", other, "--overwrite").returncode == 0
    assert other.read_bytes() == out.read_bytes()


def test_readme_first_command_on_the_sample(vsr, tmp_path):
    """`vsr sample && vsr upscale sample.mp4 --to 1080p` with the default model (two frames of it): the sample is
    a compressed web copy (H.264, mean QP about 30), so the default runs the archive model, and says why."""
    assert vsr("sample", cwd=tmp_path).returncode == 0
    run = vsr("upscale", "sample.mp4", "--to", "1080p", "--duration", "0.05", cwd=tmp_path)
    assert run.returncode == 0, str(run)
    result = tmp_path / "sample.1080p.mp4"
    assert f"wrote {result}" in run.stderr, "says where the result is"
    assert f"{COMPRESSED_MODEL} (x4)" in run.stderr
    assert "picked for damaged input: h264, mean QP" in run.stderr
    out = read_video(result)
    assert (out.width, out.height) == (1920, 1080) and len(out.times) == 2


def test_sample_is_package_data():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "*.mp4" in config["tool"]["setuptools"]["package-data"]["vsr.samples"]
    assert (REPO / "vsr" / "samples" / "bottles.md").read_text().count("CC BY 4.0") >= 1
    readme = (REPO / "README.md").read_text()
    assert "vsr sample && vsr upscale sample.mp4 --to 1080p" in readme
