"""MATLAB-compatible bicubic imresize: hand-computed taps, identities, symmetry, ramps."""

from __future__ import annotations

import numpy as np
import pytest

from vsr.quality.matlab_resize import contributions, cubic, imresize


def test_cubic_kernel_values():
    # Keys a=-0.5: k(0)=1, k(1)=k(2)=0, k(0.5)=0.5625, k(1.5)=-0.0625
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    np.testing.assert_allclose(cubic(x), [1.0, 0.5625, 0.0, -0.0625, 0.0, 0.0], atol=1e-12)


def test_upscale_x2_first_pixel_hand_computed():
    # 4 -> 8, output pixel 1: u = 0.75, taps at 1-based -2..3, distances 2.75..-2.25;
    # k(1.75)=-0.0234375, k(0.75)=0.2265625, k(0.25)=0.8671875, k(1.25)=-0.0703125;
    # mirrored indices -1 -> 2, 0 -> 1, so out[0] = (0.2265625+0.8671875) v0 + (-0.0234375-0.0703125) v1.
    v = np.array([[10.0, 20.0, 30.0, 40.0]])
    out = imresize(v, output_shape=(1, 8), scale=None)
    assert out.shape == (1, 8)
    assert out[0, 0] == pytest.approx(1.09375 * 10 - 0.09375 * 20, abs=1e-12)


def test_contributions_weights_sum_to_one_and_mirror():
    for n_in, n_out, s in [(10, 5, 0.5), (7, 21, 3.0), (9, 3, 1 / 3), (5, 20, 4.0)]:
        w, idx = contributions(n_in, n_out, s)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
        assert idx.min() >= 0 and idx.max() < n_in


def test_identity_at_scale_one():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    np.testing.assert_array_equal(imresize(img, 1.0), img)


def test_output_size_is_ceil_and_uint8_stays_uint8():
    img = np.zeros((10, 15, 3), np.uint8)
    out = imresize(img, 1 / 4)
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    assert imresize(img.astype(np.float32), 3.0).shape == (30, 45, 3)


@pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.25, 2.0, 3.0, 4.0])
def test_constant_image_stays_constant(scale):
    img = np.full((24, 36, 3), 117, np.uint8)
    assert np.all(imresize(img, scale) == 117)
    np.testing.assert_allclose(imresize(img.astype(np.float64) / 3, scale), 39.0, atol=1e-9)


@pytest.mark.parametrize("scale", [0.5, 0.25, 2.0])
def test_symmetry_flip_commutes(scale):
    rng = np.random.default_rng(1)
    img = rng.random((16, 20))
    out = imresize(img, scale)
    np.testing.assert_allclose(imresize(img[::-1, ::-1], scale), out[::-1, ::-1], atol=1e-12)
    np.testing.assert_allclose(imresize(img.T, scale), out.T, atol=1e-12)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_downscale_ramp_is_exact_away_from_borders(factor):
    # The antialiased kernel is symmetric and normalised, so a linear ramp is reproduced exactly:
    # output pixel j (1-based) sits at input coordinate u = factor*j - (factor-1)/2 (1-based).
    n = 48
    ramp = np.tile(np.arange(n, dtype=np.float64), (4, 1))  # value = 0-based column
    out = imresize(ramp, output_shape=(4, n // factor), scale=None)
    j = np.arange(1, n // factor + 1)
    expected = factor * j - (factor - 1) / 2 - 1
    inner = slice(3, n // factor - 3)  # the kernel spans 4*factor input pixels
    np.testing.assert_allclose(out[0, inner], expected[inner], atol=1e-9)


def test_downscale_uses_antialiasing():
    # Pixel-wide stripes shrunk by 3: output pixels sit on input pixels, so plain bicubic just samples
    # them (0 or 255); MATLAB's antialiased kernel (stretched x3) averages them to nearly grey.
    img = (np.indices((36, 36))[1] % 2 * 255).astype(np.float64)
    out = imresize(img, 1 / 3)
    assert np.abs(out[:, 2:-2] - 127.5).max() < 2.0
    plain = imresize(img, 1 / 3, antialiasing=False)
    assert np.abs(plain[:, 2:-2] - 127.5).max() == pytest.approx(127.5)


def test_lanczos3_constant():
    img = np.full((12, 12), 50.0)
    np.testing.assert_allclose(imresize(img, 2.0, method="lanczos3"), 50.0, atol=1e-9)
