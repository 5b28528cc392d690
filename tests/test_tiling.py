"""Tiled inference equals whole-frame inference; CUDA out-of-memory shrinks tiles, never loses a frame."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vsr.backends.tiling import AdaptiveTiler, run_tiled, tile_starts
from vsr.errors import BackendError


def _local_model(scale: int = 2) -> nn.Module:
    """Receptive field 5x5 (two 3x3 convs): tiles with overlap >= 2 reproduce the whole frame."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3 * scale * scale, 3, padding=1),
                         nn.PixelShuffle(scale)).eval()


@pytest.mark.parametrize("length, tile, overlap", [(100, 32, 4), (64, 64, 8), (65, 32, 8), (7, 32, 2)])
def test_tiles_cover_everything(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    assert all(b - a <= tile - 2 * overlap for a, b in zip(starts, starts[1:]))


@torch.inference_mode()
@pytest.mark.parametrize("size", [(37, 53), (64, 64), (20, 90)])
def test_tiled_equals_whole(size):
    model, x = _local_model(), torch.rand(2, 3, *size)
    whole = model(x)
    tiled = run_tiled(model, x, scale=2, tile=16, overlap=4)
    assert tiled.shape == whole.shape
    assert torch.allclose(tiled, whole, atol=1e-5)


def _out_of_memory_above(limit: int, model, calls: list):
    """``model``, raising CUDA's out-of-memory error for tiles larger than ``limit``; tile sizes logged."""

    def picky(x: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape[-2:]))
        if max(x.shape[-2:]) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return model(x)

    return picky


@torch.inference_mode()
def test_out_of_memory_retries_with_smaller_tiles():
    model, calls = _local_model(), []
    picky = _out_of_memory_above(32, model, calls)
    x = torch.rand(1, 3, 96, 128)
    tiler = AdaptiveTiler(picky, scale=2, tile=0, overlap=4)
    out = tiler(x)
    assert tiler.tile == 32  # 128 -> 64 -> 32
    assert torch.allclose(out, model(x), atol=1e-5)
    assert calls[0] == (96, 128)


def test_out_of_memory_gives_up_with_advice():
    def always_oom(x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    with pytest.raises(BackendError, match="out of GPU memory"):
        AdaptiveTiler(always_oom, scale=2, tile=64, overlap=8)(torch.rand(1, 3, 64, 64))


class Unshuffling(nn.Module):
    """Like RRDBNet x2: pixel-unshuffles 2x2 first, so H and W must be even."""

    size_multiple = 2

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(12, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 48, 3, padding=1), nn.PixelShuffle(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise RuntimeError(f"pixel_unshuffle needs even sizes, got {tuple(x.shape)}")
        return self.body(torch.nn.functional.pixel_unshuffle(x, 2))


@torch.inference_mode()
def test_out_of_memory_halving_keeps_the_models_size_multiple():
    """540 -> 270 -> 134 (not 135, which the unshuffle cannot take), and the result is still exact."""
    model, calls = Unshuffling().eval(), []
    picky = _out_of_memory_above(200, model, calls)
    x = torch.rand(1, 3, 540, 540)
    tiler = AdaptiveTiler(picky, scale=2, tile=540, overlap=8, multiple=Unshuffling.size_multiple)
    out = tiler(x)
    sizes = [max(c) for c in calls]
    assert sizes[:2] == [540, 270] and tiler.tile == 134 and set(sizes[2:]) == {134}
    assert torch.allclose(out, model(x), atol=1e-5)
    assert AdaptiveTiler(model, scale=2, tile=135, overlap=8, multiple=2).tile == 134  # --tile 135 rounds down
    assert all(s % 2 == 0 for s in tile_starts(540, 134, 9, multiple=2))  # odd overlap: steps stay even


def test_the_cache_is_emptied_after_the_failed_attempt_is_released(monkeypatch):
    """empty_cache() inside the ``except`` cannot return the failed attempt's memory: its traceback
    still holds the tensors. The tiler frees them first."""
    import sys
    import weakref

    model, failed_attempts, seen = _local_model(), [], []

    def greedy(x: torch.Tensor) -> torch.Tensor:
        activations = torch.empty(1 << 16)  # what the failed attempt had allocated
        failed_attempts.append(weakref.ref(activations))
        if max(x.shape[-2:]) > 32:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return model(x)

    def empty_cache() -> None:
        seen.append((sys.exc_info()[0], sum(r() is not None for r in failed_attempts)))

    monkeypatch.setattr(torch.cuda, "empty_cache", empty_cache)
    with torch.inference_mode():
        AdaptiveTiler(greedy, scale=2, tile=64, overlap=4)(torch.rand(1, 3, 64, 64))
    assert seen == [(None, 0)]  # one retry; no exception being handled, nothing of the attempt alive
