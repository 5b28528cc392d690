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
    assert same_picture(a, _frame(_picture(0)))
    speck = _picture(0).copy()
    speck[40, 40] = min(255, int(speck[40, 40]) + 100)  # one sample off by 100: 0.39 code over its block
    assert same_picture(a, _frame(speck))
    speck[40, 41] = min(255, int(speck[40, 41]) + 100)  # two: 0.78 code, a visible change
    assert not same_picture(a, _frame(speck))
    brighter = _picture(0).copy()
    brighter[32:48, 48:64] += 1  # one whole block one code brighter
    assert not same_picture(a, _frame(brighter))
    assert not same_picture(a, _frame(_picture(1)))
    assert not same_picture(a, _frame(np.zeros((48, 80), np.uint8)))  # size change
    assert not same_picture(a, a.reformat(format="yuv444p"))  # format change
    deep = _frame(_picture(0)).reformat(format="yuv420p10le")
    assert same_picture(deep, _frame(_picture(0)).reformat(format="yuv420p10le"))
    assert not same_picture(deep, _frame(_picture(1)).reformat(format="yuv420p10le"))


def test_a_slow_fade_does_not_accumulate() -> None:
    """Frame k has 40k samples of one block a code brighter: each differs from the one before by
    0.16 code, but the reference is the last computed frame, so the drift starts a new one."""
    skipper = DuplicateSkipper()
    admitted = []
    for k in range(7):
        img = np.full((48, 64), 100, np.uint8)
        block = img[:16, :16].reshape(-1)  # a copy of the block
        block[: 40 * k] += 1
        img[:16, :16] = block.reshape(16, 16)
        admitted.append(skipper.admit(_frame(img)))
    assert admitted == [True, False, False, False, True, False, False]


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
