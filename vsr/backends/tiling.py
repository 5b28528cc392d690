"""Run a model over overlapping tiles so large frames fit in memory; seams are cropped away."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch


def tile_starts(length: int, tile: int, overlap: int, multiple: int = 1) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap``;
    steps are multiples of ``multiple`` (a model that unshuffles pixels groups them alike in every tile)."""
    if tile >= length:
        return [0]
    step = max(multiple, (tile - 2 * overlap) // multiple * multiple)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def run_tiled(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, scale: int, tile: int | tuple[int, int],
    overlap: int, multiple: int = 1
) -> torch.Tensor:
    """``model(x)`` computed tile by tile; each output pixel comes from the tile where it is
    farthest from an edge (at least ``overlap`` input pixels inside, except at frame borders).
    ``tile``: a side, or (height, width). A frame or tile whose sides are not multiples of ``multiple``
    is padded for the model and the padding's share cropped (``vsr.models.foreign.pad_run``)."""
    from vsr.models.foreign import pad_run

    n, c, h, w = x.shape
    tile_h, tile_w = tile if isinstance(tile, tuple) else (tile, tile)
    if tile_h <= 0 or (tile_h >= h and tile_w >= w):
        return pad_run(model, x, multiple, scale)
    th, tw = min(tile_h, h), min(tile_w, w)
    out: torch.Tensor | None = None
    ys, xs = tile_starts(h, th, overlap, multiple), tile_starts(w, tw, overlap, multiple)
    for i, y in enumerate(ys):
        # rows this tile is responsible for: from the midpoint of the overlap with the previous tile
        y0 = 0 if i == 0 else (ys[i - 1] + th + y) // 2
        y1 = h if i == len(ys) - 1 else (y + th + ys[i + 1]) // 2
        for j, x0_ in enumerate(xs):
            x0 = 0 if j == 0 else (xs[j - 1] + tw + x0_) // 2
            x1 = w if j == len(xs) - 1 else (x0_ + tw + xs[j + 1]) // 2
            result = pad_run(model, x[:, :, y : y + th, x0_ : x0_ + tw], multiple, scale)
            if out is None:
                out = result.new_empty((n, result.shape[1], h * scale, w * scale))
            out[:, :, y0 * scale : y1 * scale, x0 * scale : x1 * scale] = result[
                :, :, (y0 - y) * scale : (y1 - y) * scale, (x0 - x0_) * scale : (x1 - x0_) * scale
            ]
    assert out is not None
    return out


_MIN_TILE = 32

log = logging.getLogger(__name__)


def free_cached_memory() -> None:
    """Return the caching allocator's free blocks to the driver (a no-op without CUDA).

    Call it after leaving the ``except`` block of an out-of-memory error: while the exception is
    being handled its traceback keeps the failed attempt's frames, and so its tensors, alive
    (PyTorch FAQ, "my out of memory exception handler can't allocate memory").
    """
    torch.cuda.empty_cache()


class AdaptiveTiler:
    """Runs a model tiled as asked; on CUDA out-of-memory frees the cache and retries the same
    batch with tiles half the size (down to a floor), so no frame is ever lost to OOM.

    Tiles stay a multiple of the model's ``size_multiple`` (RRDBNet x2 unshuffles 2x2 pixels:
    540 -> 270 -> 134, never 135).
    """

    def __init__(
        self, model: Callable[[torch.Tensor], torch.Tensor], *, scale: int, tile: int, overlap: int, multiple: int = 1
    ) -> None:
        self.model, self.scale, self.overlap, self.multiple = model, scale, overlap, max(1, int(multiple))
        self.tile = tile // self.multiple * self.multiple if tile > 0 else tile

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        while True:
            try:
                return run_tiled(self.model, x, scale=self.scale, tile=self.tile, overlap=self.overlap, multiple=self.multiple)
            except torch.cuda.OutOfMemoryError:
                pass  # recover below, once the exception (and the failed attempt's tensors) are gone
            self._shrink(x)

    def _shrink(self, x: torch.Tensor) -> None:
        free_cached_memory()
        current = self.tile or max(x.shape[-2:])
        smaller = current // 2 // self.multiple * self.multiple
        if smaller < max(_MIN_TILE, 2 * self.overlap + 8):
            from vsr.errors import BackendError

            raise BackendError(
                f"out of GPU memory even with {current}px tiles: use --batch 1, --precision fp16 or a smaller model"
            )
        log.warning("CUDA out of memory: retrying this batch with %dpx tiles", smaller)
        self.tile = smaller
