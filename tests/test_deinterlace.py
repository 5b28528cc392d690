"""Interlaced input is deinterlaced (bwdif) without changing the frame count or any timestamp."""

from __future__ import annotations

import av
import numpy as np
import pytest

from conftest import encode_frames

from vsr.io.deinterlace import Deinterlacer


def _interlaced_clip(path, frames: int = 12) -> None:
    """Fields from two different pictures woven together (strong combing), coded as interlaced."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"x264-params": "tff=1", "crf": "10"})
        s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"

        def picture(i: int) -> av.VideoFrame:
            img = np.zeros((96, 128, 3), np.uint8)
            img[0::2, :, :] = 40 + 4 * i  # top field dark
            img[1::2, :, :] = 210 - 4 * i  # bottom field bright
            return av.VideoFrame.from_ndarray(img, format="rgb24")

        encode_frames(out, s, (picture(i) for i in range(frames)))


def _frames(path):
    with av.open(str(path)) as c:
        return [(f.pts, f.interlaced_frame, f.to_ndarray(format="gray").astype(float)) for f in c.decode(video=0)]


def _combing(gray: np.ndarray) -> float:
    """Mean absolute difference between neighbouring lines (large when fields differ)."""
    return float(np.abs(np.diff(gray, axis=0)).mean())


def test_interlaced_input_is_deinterlaced_frame_for_frame(tmp_path, vsr):
    src = tmp_path / "tv.mkv"
    _interlaced_clip(src)
    before = _frames(src)
    if not any(flag for _, flag, _ in before):
        pytest.skip("this libx264 did not code the clip as interlaced")
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "--json")
    assert run.returncode == 0, str(run)
    assert run.json()["deinterlaced"] == len(before)
    after = _frames(out)
    assert [p for p, _, _ in after] == [p for p, _, _ in before]
    assert _combing(after[5][2]) < 0.3 * _combing(before[5][2])  # combing gone (scale doesn't matter)

    kept = tmp_path / "kept.mkv"
    run = vsr("upscale", src, "-o", kept, "--model", "bicubic", "--scale", "2", "--deinterlace", "off", "--json")
    assert run.returncode == 0 and run.json()["deinterlaced"] == 0


def test_progressive_frames_pass_untouched(make_clip, tmp_path):
    src = make_clip(tmp_path / "p.mkv", size=(64, 48), frames=6)
    with av.open(str(src)) as c:
        frames = list(c.decode(video=0))
    d = Deinterlacer("auto")
    out = list(d.apply(iter(frames)))
    assert d.frames_deinterlaced == 0 and all(a is b for a, b in zip(out, frames))
