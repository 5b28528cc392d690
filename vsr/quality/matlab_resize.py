"""MATLAB-compatible ``imresize(img, scale, 'bicubic')`` in numpy.

Reproduces MATLAB's algorithm (``imresize.m`` / ``contributions``):

- cubic kernel with a = -0.5, support 4;
- when downscaling (scale < 1) the kernel is stretched by 1/scale and its height scaled by ``scale``
  (antialiasing), so its support becomes ``4 / scale``;
- output size ``ceil(in * scale)``; input coordinate of output pixel x (1-based) is
  ``u = x / scale + 0.5 * (1 - 1 / scale)``;
- each output pixel takes ``ceil(kernel_width) + 2`` taps starting at ``floor(u - kernel_width / 2)``,
  weights normalised to sum to 1, out-of-range indices mirrored like MATLAB's ``symmetric`` padding
  (``[1..n, n..1]`` repeated), all-zero tap columns dropped;
- the dimension with the smaller scale factor is resized first (rows first when equal);
- uint8 input gives uint8 output: like MATLAB, each pass is rounded and clamped to [0, 255].

The evaluation protocol of the SR papers (SRCNN, VDSR, EDSR, ...) makes its LR images this way.
"""

from __future__ import annotations

import math

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's bicubic kernel (Keys, a = -0.5)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def lanczos3(x: np.ndarray) -> np.ndarray:
    """MATLAB's ``lanczos3`` kernel (support 6)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sinc(x) * np.sinc(x / 3.0) * (np.abs(x) < 3)


KERNELS = {"bicubic": (cubic, 4.0), "lanczos3": (lanczos3, 6.0)}


def contributions(in_length: int, out_length: int, scale: float, antialiasing: bool = True, method: str = "bicubic"):
    """Return (weights [out, P], indices [out, P] 0-based) exactly as MATLAB's ``contributions``."""
    base, kernel_width = KERNELS[method]
    if scale < 1 and antialiasing:
        kernel_width = kernel_width / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * base(scale * x)
    else:
        kernel = base
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    p = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(p, dtype=np.float64)[None, :]  # 1-based
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # MATLAB's symmetric index mirroring: aux = [1:n, n:-1:1]
    aux = np.concatenate([np.arange(1, in_length + 1), np.arange(in_length, 0, -1)])
    idx = aux[np.mod(indices.astype(np.int64) - 1, aux.size)] - 1
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], idx[:, keep]


def _resize_axis(
    a: np.ndarray, axis: int, out_length: int, scale: float, antialiasing: bool, method: str = "bicubic"
) -> np.ndarray:
    w, idx = contributions(a.shape[axis], out_length, scale, antialiasing, method)
    a = np.moveaxis(a, axis, 0)
    gathered = a[idx]  # [out, P, ...]
    w = w.reshape(w.shape + (1,) * (a.ndim - 1))
    out = (gathered * w).sum(axis=1)
    return np.moveaxis(out, 0, axis)


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    *,
    output_shape: tuple[int, int] | None = None,
    antialiasing: bool = True,
    method: str = "bicubic",
) -> np.ndarray:
    """Resize an HxW or HxWxC image like MATLAB ``imresize(img, scale, method)`` (bicubic or lanczos3).

    uint8 in -> uint8 out (rounded and clamped after each pass, as MATLAB does);
    float in -> float64 out, not clamped.
    """
    if method not in KERNELS:
        raise ValueError(f"unknown method {method!r}: use {', '.join(KERNELS)}")
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects HxW or HxWxC, got shape {img.shape}")
    is_uint8 = img.dtype == np.uint8
    h, w = img.shape[:2]
    if scale is None and output_shape is None:
        raise ValueError("give scale or output_shape")
    if output_shape is None:
        scales = (float(scale), float(scale))
        out_hw = (int(math.ceil(h * scale)), int(math.ceil(w * scale)))
    else:
        out_hw = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_hw[0] / h, out_hw[1] / w) if scale is None else (float(scale), float(scale))
    out = img.astype(np.float64)
    order = sorted(range(2), key=lambda d: (scales[d], d))
    for dim in order:
        if out_hw[dim] == out.shape[dim] and scales[dim] == 1.0:
            continue
        out = _resize_axis(out, dim, out_hw[dim], scales[dim], antialiasing, method)
        if is_uint8:
            out = np.clip(np.round(out), 0, 255)
    if is_uint8:
        return out.astype(np.uint8)
    return out
