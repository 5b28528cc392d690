"""Video metrics (vsr.quality.video_metrics): tOF as TecoGAN computes it, flicker, per-frame scores."""

from __future__ import annotations

import numpy as np
import pytest

from vsr.quality.metrics import psnr_y, ssim_y
from vsr.quality.video_metrics import FARNEBACK, ClipScorer, flicker, rgb_to_y, tecogan_crop


def moving(n: int = 6, w: int = 64, h: int = 48, speed: float = 1.5) -> list[np.ndarray]:
    """A textured pattern panning right and down, values kept inside 40..215 (room for offsets)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = []
    for t in range(n):
        x, y = xx - speed * t, yy - 0.5 * t
        img = np.stack([128 + 80 * np.sin(2 * np.pi * (x / (11 + 3 * k) + y / (15 - 2 * k))) for k in range(3)], axis=2)
        frames.append(img.round().astype(np.uint8))
    return frames


def score(outs, gts) -> list:
    scorer = ClipScorer()
    return [scorer.add(o, g) for o, g in zip(outs, gts)]


def mean_tof(outs, gts) -> float:
    return float(np.mean([s.tof for s in score(outs, gts)[1:]]))


def test_farneback_parameters_are_tecogans():
    assert FARNEBACK == {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5,
                         "poly_sigma": 1.2, "flags": 0}


@pytest.mark.parametrize(("h", "w", "box"), [(48, 64, (8, 40, 16, 48)), (720, 1280, (8, 712, 16, 1264)),
                                               (576, 704, (16, 560, 16, 688)), (40, 64, (0, 40, 16, 48))])
def test_tecogan_crop(h, w, box):
    """TecoGAN's crop_8x8: a multiple of 32 per side, >= 8 px off every border, centred; a side under 48 kept."""
    a = np.arange(h * w).reshape(h, w)
    y0, y1, x0, x1 = box
    np.testing.assert_array_equal(tecogan_crop(a), a[y0:y1, x0:x1])


def test_output_equal_to_ground_truth_scores_zero_tof_and_flicker():
    gts = moving()
    scores = score(gts, gts)
    assert scores[0].tof is None and scores[0].flicker is None
    assert all(s.tof == 0.0 and s.flicker == 0.0 for s in scores[1:])
    assert all(s.psnr_y == np.inf and s.ssim_y == pytest.approx(1.0) for s in scores)


def test_per_frame_psnr_and_ssim_are_the_image_metrics_without_shave():
    rng = np.random.default_rng(1)
    gts = moving(3)
    outs = [np.clip(g + rng.normal(0, 3, g.shape), 0, 255).astype(np.uint8) for g in gts]
    for s, o, g in zip(score(outs, gts), outs, gts):
        assert s.psnr_y == psnr_y(o, g) and s.ssim_y == ssim_y(o, g)


def test_tof_grows_with_jitter():
    """An output that shakes (each frame moved by up to k pixels at random) moves unlike the ground truth."""
    gts = moving(8)
    rng = np.random.default_rng(0)
    shifts = rng.choice([-1, 1], size=(8, 2))
    values = []
    for k in (0, 1, 2):
        outs = [np.roll(g, tuple(k * shifts[t]), axis=(0, 1)) for t, g in enumerate(gts)]
        values.append(mean_tof(outs, gts))
    assert values[0] == 0.0
    assert values[0] < values[1] < values[2]
    assert values[2] > 0.5  # pixels of flow error per pixel, not a rounding effect


def test_tof_grows_with_added_flicker_noise():
    gts = moving(6)
    values = []
    for sigma in (0, 4, 16):
        rng = np.random.default_rng(3)
        outs = [np.clip(g + rng.normal(0, sigma, g.shape[:2])[..., None], 0, 255).astype(np.uint8) for g in gts]
        values.append(mean_tof(outs, gts))
    assert values[0] == 0.0 < values[1] < values[2]


def test_flicker_ignores_a_steady_error_and_measures_a_changing_one():
    gts = moving(6)
    steady = [g + 10 for g in gts]  # every frame 10 levels brighter: wrong, but not flickering
    assert all(s.flicker == pytest.approx(0.0, abs=1e-9) for s in score(steady, gts)[1:])
    d = 10
    pumping = [(g.astype(int) + (d if t % 2 else -d)).astype(np.uint8) for t, g in enumerate(gts)]
    expected = 2 * d * (65.481 + 128.553 + 24.966) / 255  # Y change of +-d on R=G=B, twice per pair
    assert all(s.flicker == pytest.approx(expected, abs=1e-9) for s in score(pumping, gts)[1:])


def test_flicker_function_on_y_planes():
    gy = [rgb_to_y(g) for g in moving(2)]
    assert flicker(gy[0], gy[1], gy[0], gy[1]) == 0.0
    assert flicker(gy[0], gy[0], gy[0], gy[1]) == pytest.approx(float(np.abs(gy[1] - gy[0]).mean()))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="frame 0"):
        ClipScorer().add(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8))
