"""Repeated pictures reuse the previous output: same frames out as a run that computes them all."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import read_video
from vsr.duplicates import DuplicateSkipper, copy_frame, same_picture


def _frame(values: np.ndarray, fmt: str = "yuv420p") -> av.VideoFrame:
    frame = av.VideoFrame(values.shape[1], values.shape[0], fmt)
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        rows[:] = 128
    y = np.frombuffer(frame.planes[0], np.uint8).reshape(frame.planes[0].height, frame.planes[0].line_size)
    y[:, : values.shape[1]] = values
    return frame


def _picture(i: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A square moving on a gradient: picture ``i``."""
    img = np.tile(np.linspace(30, 200, w, dtype=np.uint8), (h, 1))
    img[8:24, 4 + 6 * i : 20 + 6 * i] = 235
    return img


def write_on_twos(path, pictures: list[int], rate: int = 24) -> None:
    """A lossless (FFV1) clip showing ``pictures[k]`` at frame k (animation drawn on twos: 0,0,1,1,...)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for k, i in enumerate(pictures):
            frame = _frame(_picture(i))
            frame.pts = k
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_same_picture_threshold_size_and_format() -> None:
    a = _frame(_picture(0))
    nudged = _picture(0).copy()
    nudged[0, 0] += 1
    assert same_picture(a, _frame(_picture(0)))
    assert same_picture(a, _frame(nudged))  # one code: within the threshold
    nudged[0, 0] += 1
    assert not same_picture(a, _frame(nudged))
    assert not same_picture(a, _frame(_picture(1)))
    assert not same_picture(a, _frame(np.zeros((48, 80), np.uint8)))  # size change
    assert not same_picture(a, a.reformat(format="yuv444p"))  # format change
    assert same_picture(_frame(_picture(0)).reformat(format="yuv420p10le"), _frame(_picture(0)).reformat(format="yuv420p10le"))


def test_a_slow_fade_does_not_accumulate() -> None:
    """Each frame is one code brighter than the one before: the reference is the last computed frame."""
    skipper = DuplicateSkipper()
    admitted = [skipper.admit(_frame(np.full((48, 64), 100 + k, np.uint8))) for k in range(6)]
    assert admitted == [True, False, True, False, True, False]


def test_disabled_admits_everything() -> None:
    skipper = DuplicateSkipper(enabled=False)
    assert all(skipper.admit(_frame(_picture(0))) for _ in range(3))


def test_emit_restores_order_and_timestamps() -> None:
    skipper = DuplicateSkipper()
    frames = [_frame(_picture(i)) for i in (0, 0, 0, 1, 2, 2)]
    for k, f in enumerate(frames):
        f.pts, f.time_base = k, Fraction(1, 24)
    admitted = [f for f in frames if skipper.admit(f)]
    assert len(admitted) == 3
    outputs = [copy_frame(f, f.pts, f.time_base) for f in admitted]  # stand-in for the model's outputs
    written = skipper.emit(outputs[:2]) + skipper.emit(outputs[2:]) + skipper.finish()
    assert [f.pts for f in written] == list(range(6))
    assert skipper.reused == 3
    assert len({id(f) for f in written}) == 6  # the writer shifts timestamps: every frame is its own object
    y = [np.frombuffer(f.planes[0], np.uint8).reshape(48, -1)[:, :64] for f in written]
    assert np.array_equal(y[1], y[0]) and np.array_equal(y[2], y[0]) and np.array_equal(y[5], y[4])


@pytest.mark.parametrize("batch", ["1", "3"])
def test_upscale_on_twos_reuses_and_matches_a_full_run(vsr, edsr_checkpoint, tmp_path, batch) -> None:
    clip = tmp_path / "twos.mkv"
    pictures = [0, 0, 1, 1, 2, 2, 3, 4, 4, 4]
    write_on_twos(clip, pictures)
    common = ["--model", edsr_checkpoint, "--codec", "ffv1", "--batch", batch, "--json", "--no-estimate"]
    skipped = vsr("upscale", clip, "-o", tmp_path / "skip.mkv", *common)
    full = vsr("upscale", clip, "-o", tmp_path / "full.mkv", "--no-skip-duplicates", *common)
    assert skipped.returncode == 0 and full.returncode == 0, skipped.stderr + full.stderr
    assert skipped.json()["reused_duplicates"] == 5 and full.json()["reused_duplicates"] == 0
    assert skipped.json()["frames"] == full.json()["frames"] == len(pictures)
    a, b = read_video(tmp_path / "skip.mkv", keep="yuv"), read_video(tmp_path / "full.mkv", keep="yuv")
    assert a.times == b.times and len(a.frames) == len(pictures)
    for x, y in zip(a.frames, b.frames):  # exact repeats: the reused output is the computed one
        assert all(np.array_equal(p, q) for p, q in zip(x, y))
