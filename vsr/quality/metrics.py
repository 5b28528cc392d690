"""PSNR and SSIM on the BT.601 luma channel, as the SR papers report them.

Inputs are HxWx3 RGB arrays in [0, 255] (uint8 or float). ``shave`` pixels are cut from every
border before measuring (the papers shave ``scale`` pixels).
"""

from __future__ import annotations

import numpy as np


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235] from RGB in [0, 255]: 16 + (65.481 R + 128.553 G + 24.966 B) / 255."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 2:
        return img
    return 16.0 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255.0


def shave_borders(a: np.ndarray, shave: int) -> np.ndarray:
    """``a`` without ``shave`` pixels at each border (all of it when ``shave`` is 0)."""
    return a[shave:-shave, shave:-shave] if shave > 0 else a


def psnr_y(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    """PSNR (dB) between the Y channels of two RGB images in [0, 255]."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    ya, yb = shave_borders(rgb_to_y(a), shave), shave_borders(rgb_to_y(b), shave)
    mse = float(np.mean((ya - yb) ** 2))
    if mse == 0:
        return float("inf")
    return 10.0 * np.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    ax = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(ax**2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def _filter_valid(img: np.ndarray, win: np.ndarray) -> np.ndarray:
    """2-D correlation, 'valid' region (MATLAB ``filter2(win, img, 'valid')``)."""
    import cv2

    k = win.shape[0] // 2
    out = cv2.filter2D(img, cv2.CV_64F, win, borderType=cv2.BORDER_REFLECT)
    return out[k:-k, k:-k]


def ssim_gray(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of Wang et al. 2004 (gaussian 11x11, sigma 1.5, K1=0.01, K2=0.03, L=255), mean over the valid map."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    win = _gaussian_window()
    mu1, mu2 = _filter_valid(a, win), _filter_valid(b, win)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = _filter_valid(a * a, win) - mu1_sq
    s2 = _filter_valid(b * b, win) - mu2_sq
    s12 = _filter_valid(a * b, win) - mu12
    ssim_map = ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    return float(ssim_map.mean())


def ssim_y(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    """SSIM between the Y channels of two RGB images in [0, 255]."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    return ssim_gray(shave_borders(rgb_to_y(a), shave), shave_borders(rgb_to_y(b), shave))
