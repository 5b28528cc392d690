"""OpenCV's remap in CPU inference: the same values as PyTorch's grid_sample, which it replaces."""

from __future__ import annotations

import pytest
import torch

from vsr.models import opencv_ops
from vsr.models.temporal import warp, warp_hr


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_warps_match_grid_sample(monkeypatch, mode) -> None:
    torch.manual_seed(0)
    x, hr = torch.rand(2, 3, 12, 16), torch.rand(2, 3, 48, 64)
    flow = torch.randn(2, 2, 12, 16) * 2
    with torch.inference_mode():
        fast = warp(x, flow, mode), warp_hr(hr, flow, 4, mode)
        monkeypatch.setattr("vsr.models.temporal.runs_in_opencv", lambda *tensors: False)
        slow = warp(x, flow, mode), warp_hr(hr, flow, 4, mode)
    for a, b in zip(fast, slow):
        assert a.shape == b.shape and (a - b).abs().max() < 1e-4


def test_training_tracing_and_gpus_keep_pytorch() -> None:
    x = torch.rand(1, 3, 4, 4, requires_grad=True)
    assert not opencv_ops.runs_in_opencv(x)  # gradients wanted
    with torch.no_grad():
        assert opencv_ops.runs_in_opencv(x)
        assert not opencv_ops.runs_in_opencv(torch.rand(1, 5, 4, 4)), "OpenCV's remap takes up to 4 channels"
        assert not opencv_ops.runs_in_opencv(torch.rand(1, 3, 4, 4, device="meta"))
