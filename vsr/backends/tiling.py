"""Run a model over overlapping tiles so large frames fit in memory; seams are cropped away."""

from __future__ import annotations

from collections.abc import Callable

import torch


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap``."""
    if tile >= length:
        return [0]
    step = tile - 2 * overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def run_tiled(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, scale: int, tile: int, overlap: int) -> torch.Tensor:
    """``model(x)`` computed tile by tile; each output pixel comes from the tile where it is
    farthest from an edge (at least ``overlap`` input pixels inside, except at frame borders)."""
    n, c, h, w = x.shape
    if tile <= 0 or (tile >= h and tile >= w):
        return model(x)
    th, tw = min(tile, h), min(tile, w)
    out: torch.Tensor | None = None
    ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
    for i, y in enumerate(ys):
        # rows this tile is responsible for: from the midpoint of the overlap with the previous tile
        y0 = 0 if i == 0 else (ys[i - 1] + th + y) // 2
        y1 = h if i == len(ys) - 1 else (y + th + ys[i + 1]) // 2
        for j, x0_ in enumerate(xs):
            x0 = 0 if j == 0 else (xs[j - 1] + tw + x0_) // 2
            x1 = w if j == len(xs) - 1 else (x0_ + tw + xs[j + 1]) // 2
            result = model(x[:, :, y : y + th, x0_ : x0_ + tw])
            if out is None:
                out = result.new_empty((n, result.shape[1], h * scale, w * scale))
            out[:, :, y0 * scale : y1 * scale, x0 * scale : x1 * scale] = result[
                :, :, (y0 - y) * scale : (y1 - y) * scale, (x0 - x0_) * scale : (x1 - x0_) * scale
            ]
    assert out is not None
    return out


_MIN_TILE = 32


class AdaptiveTiler:
    """Runs a model tiled as asked; on CUDA out-of-memory frees the cache and retries the same
    batch with tiles half the size (down to a floor), so no frame is ever lost to OOM."""

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], *, scale: int, tile: int, overlap: int) -> None:
        self.model, self.scale, self.tile, self.overlap = model, scale, tile, overlap

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import logging

        while True:
            try:
                return run_tiled(self.model, x, scale=self.scale, tile=self.tile, overlap=self.overlap)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                current = self.tile or max(x.shape[-2:])
                smaller = current // 2
                if smaller < max(_MIN_TILE, 2 * self.overlap + 8):
                    from vsr.errors import BackendError

                    raise BackendError(
                        f"out of GPU memory even with {current}px tiles: use --batch 1, --precision fp16 or a smaller model"
                    ) from None
                logging.getLogger(__name__).warning("CUDA out of memory: retrying this batch with %dpx tiles", smaller)
                self.tile = smaller
