"""The least-squares fit of a direct upsampler (vsr.quality.tail_fit)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsr.quality.tail_fit import TailFit


def test_fit_recovers_a_convolution_from_its_inputs_and_outputs():
    torch.manual_seed(0)
    weight, bias = torch.randn(12, 5, 3, 3), torch.randn(12)
    fit = TailFit(features=5, out_channels=12)
    for _ in range(3):
        f = torch.randn(2, 5, 16, 20)
        fit.add(f, F.conv2d(f, weight, bias, padding=1))
    w, b = fit.solve(ridge=1e-9)
    assert fit.samples == 3 * 2 * 16 * 20
    assert torch.allclose(w, weight, atol=1e-3) and torch.allclose(b, bias, atol=1e-3)


def test_fit_is_the_least_squares_solution_when_no_convolution_fits_exactly():
    torch.manual_seed(1)
    f, target = torch.randn(1, 4, 12, 12), torch.randn(1, 3, 12, 12)
    fit = TailFit(features=4, out_channels=3)
    fit.add(f, target)
    w, b = fit.solve(ridge=0.0)
    best = (F.conv2d(f, w, b, padding=1) - target).pow(2).sum()
    for _ in range(5):  # any nudge of the solution fits worse
        nudged = (F.conv2d(f, w + 1e-2 * torch.randn_like(w), b, padding=1) - target).pow(2).sum()
        assert nudged > best


def test_too_few_samples_are_refused():
    fit = TailFit(features=8, out_channels=4)
    fit.add(torch.randn(1, 8, 4, 4), torch.randn(1, 4, 4, 4))
    with pytest.raises(ValueError, match="more pictures"):
        fit.solve()


def test_target_is_the_direct_upsampler_output_and_inputs_are_the_body_features():
    """``folded_target`` of a direct model's own picture is what its upsampler output (its state), and
    ``upsampler_inputs`` sees exactly the features that upsampler took."""
    from vsr.models.temporal import TemporalEDSR, shot_start_args
    from vsr.quality.tail_fit import folded_target, upsampler_inputs

    torch.manual_seed(2)
    model = TemporalEDSR(num_features=8, num_blocks=1, scale=3, upsampler="direct").eval()
    x = torch.rand(1, 3, 6, 7)
    with torch.no_grad(), upsampler_inputs(model) as seen:
        y, state = model(*shot_start_args(model, x))
        assert len(seen) == 1 and torch.allclose(model.tail(seen[0]), state)
        assert torch.allclose(folded_target(y, model, 3), state, atol=1e-3)
    assert not model.tail._forward_pre_hooks, "the hook is removed afterwards"
