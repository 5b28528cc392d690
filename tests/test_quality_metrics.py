"""PSNR/SSIM on BT.601 Y against the reference formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vsr.quality.metrics import psnr_y, rgb_to_y, ssim_gray, ssim_y


def test_rgb_to_y_bt601():
    assert rgb_to_y(np.array([[[0, 0, 0]]], np.uint8))[0, 0] == pytest.approx(16.0)
    assert rgb_to_y(np.array([[[255, 255, 255]]], np.uint8))[0, 0] == pytest.approx(235.0, abs=1e-9)
    assert rgb_to_y(np.array([[[255, 0, 0]]], np.uint8))[0, 0] == pytest.approx(16 + 65.481)


def test_psnr_matches_formula_with_shave():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (20, 24, 3)).astype(np.uint8)
    b = a.copy()
    # grey offset of 4 on R=G=B changes Y by 4*(65.481+128.553+24.966)/255 = 4*219/255 inside the shave border
    b[2:-2, 2:-2] = np.clip(a[2:-2, 2:-2].astype(int) + 4, 0, 255)
    ya, yb = rgb_to_y(a)[2:-2, 2:-2], rgb_to_y(b)[2:-2, 2:-2]
    expected = 10 * math.log10(255**2 / np.mean((ya - yb) ** 2))
    assert psnr_y(a, b, shave=2) == pytest.approx(expected, abs=1e-9)
    assert psnr_y(a, a) == math.inf


def test_psnr_constant_offset_value():
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a + 5
    d = 5 * 219 / 255
    assert psnr_y(a, b) == pytest.approx(10 * math.log10(255**2 / d**2), abs=1e-9)


def _ssim_reference(a, b):
    """Direct per-window SSIM (Wang et al. 2004): gaussian 11x11 sigma 1.5, valid windows, mean."""
    ax = np.arange(11) - 5.0
    g = np.exp(-(ax**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            pa, pb = a[i : i + 11, j : j + 11], b[i : i + 11, j : j + 11]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * (pa - ma) ** 2).sum(), (w * (pb - mb) ** 2).sum()
            cov = (w * (pa - ma) * (pb - mb)).sum()
            vals.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_ssim_matches_reference_formula():
    rng = np.random.default_rng(3)
    a = rng.random((18, 21)) * 255
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    assert ssim_gray(a, b) == pytest.approx(_ssim_reference(a, b), abs=1e-9)


def test_ssim_identity_and_range():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (24, 24, 3)).astype(np.uint8)
    assert ssim_y(a, a, shave=2) == pytest.approx(1.0)
    less = np.clip(a + rng.normal(0, 10, a.shape), 0, 255).astype(np.uint8)
    more = np.clip(a + rng.normal(0, 60, a.shape), 0, 255).astype(np.uint8)
    assert 0 < ssim_y(a, more) < ssim_y(a, less) < 1
