"""Image folders for evaluation and training: reading, mod-crop, LR by MATLAB bicubic, patches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vsr.errors import InputError
from vsr.quality.matlab_resize import imresize

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")


def list_images(folder: str | Path, *, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (sorted); raises InputError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}")
    it = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(p for p in it if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_EXTS)}) in {folder}")
    return files


def read_rgb(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB; grey images are converted to RGB, alpha is dropped."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"cannot read image {path}")
    if img.dtype != np.uint8:
        img = (img.astype(np.float64) / np.iinfo(img.dtype).max * 255.0).round().clip(0, 255).astype(np.uint8)
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[..., None], 3, axis=2))
    if img.shape[2] == 4:
        img = img[..., :3]
    return np.ascontiguousarray(img[..., ::-1])


def write_rgb(path: str | Path, img: np.ndarray) -> None:
    import cv2

    cv2.imwrite(str(path), np.ascontiguousarray(img[..., ::-1]))


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so both sides are multiples of ``scale`` (as the papers do)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """LR uint8 image = MATLAB ``imresize(hr, 1/scale, 'bicubic')``."""
    return imresize(hr, 1.0 / scale)


@dataclass
class Pair:
    name: str
    hr: np.ndarray  # uint8 HxWx3, mod-cropped
    lr: np.ndarray  # uint8 (H/s)x(W/s)x3


def load_pairs(hr_dir: str | Path, scale: int, lr_dir: str | Path | None = None) -> list[Pair]:
    """HR images (mod-cropped) with LR images made by MATLAB bicubic, or read from ``lr_dir``.

    In ``lr_dir`` the LR image of ``name.png`` is looked up as ``name.png``, ``nameX{scale}.png``
    or ``name_x{scale}.png`` (any image extension).
    """
    pairs = []
    lr_files = {p.stem.lower(): p for p in list_images(lr_dir)} if lr_dir is not None else {}
    for path in list_images(hr_dir):
        hr = mod_crop(read_rgb(path), scale)
        if lr_dir is not None:
            stem = path.stem.lower()
            cands = [stem, f"{stem}x{scale}", f"{stem}_x{scale}", f"{stem}_lr"]
            found = next((lr_files[c] for c in cands if c in lr_files), None)
            if found is None:
                raise InputError(f"no LR image for {path.name} in {lr_dir} (tried {', '.join(cands)})")
            lr = read_rgb(found)
            eh, ew = hr.shape[0] // scale, hr.shape[1] // scale
            if lr.shape[:2] != (eh, ew):
                raise InputError(f"LR {found.name} is {lr.shape[1]}x{lr.shape[0]}, expected {ew}x{eh} for x{scale}")
        else:
            lr = make_lr(hr, scale)
        pairs.append(Pair(path.stem, hr, lr))
    return pairs
