"""benchmarks/pan_clips.py: synthetic camera moves over still pictures, as clip folders for vsr eval."""

from __future__ import annotations

import cv2
import numpy as np

from conftest import load_script
from vsr.quality.datasets import write_rgb
from vsr.quality.video_clips import find_clips

pan_clips = load_script("benchmarks/pan_clips.py")


def test_one_moving_clip_per_large_enough_picture_the_same_on_every_run(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    write_rgb(tmp_path / "in" / "big.png", rng.integers(0, 256, (100, 120, 3), dtype=np.uint8))
    write_rgb(tmp_path / "in" / "small.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    kw = dict(frames=5, size=48, max_speed=4.0, seed=0)
    first = pan_clips.write_pan_clips(tmp_path / "in", tmp_path / "a", **kw)
    again = pan_clips.write_pan_clips(tmp_path / "in", tmp_path / "b", **kw)
    assert [p.name for p in first] == ["big"]  # the 40x40 picture is smaller than the crop
    files = sorted(first[0].glob("*.png"))
    frames = [cv2.imread(str(p)) for p in files]
    assert len(frames) == 5 and frames[0].shape == (48, 48, 3)
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])  # the crop moves
    assert all(np.array_equal(f, cv2.imread(str(again[0] / p.name))) for f, p in zip(frames, files))
    assert [c.name for c in find_clips(tmp_path / "a")] == ["big"]  # what vsr eval reads as video
