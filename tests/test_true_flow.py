"""benchmarks/true_flow.py: the exact flow of a synthetic pan, against which DIS is measured."""

from __future__ import annotations

import cv2
import numpy as np

from conftest import load_script
from vsr.models.loader import save
from vsr.models.motion import align
from vsr.models.temporal import TemporalEDSR
from vsr.quality.datasets import write_rgb
from vsr.quality.video_data import pan_path, render_pan

true_flow = load_script("benchmarks/true_flow.py")


def smooth_picture(h: int, w: int, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).random((h, w, 3)).astype(np.float32) * 255
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 3) * 4 - 382, 0, 255).astype(np.uint8)


def test_the_true_flow_aligns_the_previous_frame_onto_the_current_one():
    size = 64
    maps = pan_path((200, 200), 3, size, np.random.default_rng(0), max_speed=4.0)  # about 1.4 px a frame
    frames = [f.astype(np.float32) for f in render_pan(smooth_picture(200, 200, 1), maps, size)]
    flow = true_flow.true_lr_flow(maps[2], maps[1], (size, size), 1)
    inner = np.s_[8:-8, 8:-8]
    aligned = np.abs(align(frames[1], flow) - frames[2])[inner].mean()
    unaligned = np.abs(frames[1] - frames[2])[inner].mean()
    assert unaligned > 5 and aligned < unaligned / 10


def test_the_lr_flow_is_the_hr_flow_at_the_lr_pixel_centres_in_lr_pixels():
    maps = pan_path((300, 300), 2, 96, np.random.default_rng(5), max_speed=6.0)
    hr = true_flow.true_lr_flow(maps[1], maps[0], (96, 96), 1)
    lr = true_flow.true_lr_flow(maps[1], maps[0], (24, 24), 4)
    # an LR pixel's centre is HR 4i + 1.5, midway between HR pixels 4i + 1 and 4i + 2; the flow is affine
    hr_at_centres = (hr[:, 1::4, 1::4] + hr[:, 2::4, 2::4]) / 2
    assert np.abs(hr).max() > 1 and np.allclose(lr, hr_at_centres / 4, atol=1e-4)


def test_the_benchmark_scores_each_clip_with_both_flows(tmp_path, capsys, monkeypatch):
    (tmp_path / "in").mkdir()
    write_rgb(tmp_path / "in" / "a.png", smooth_picture(90, 90, 2))
    write_rgb(tmp_path / "in" / "tiny.png", smooth_picture(20, 20, 3))
    model = save(TemporalEDSR(num_features=8, num_blocks=1, scale=2, upsampler="direct", fusion="lr"),
                 tmp_path / "t.safetensors")
    monkeypatch.setattr("sys.argv", ["true_flow.py", str(tmp_path / "in"), "--model", str(model), "--scale", "2",
                                     "--frames", "3", "--size", "32"])
    true_flow.main()
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| a |") and rows[2].startswith("| mean of 1 |")  # tiny.png: smaller than the crop
    dis, exact = (float(v) for v in rows[2].split("|")[2:4])
    assert 10 < dis < 60 and 10 < exact < 60
