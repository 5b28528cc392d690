"""Back-projection fusion (vsr.models.fusion): MATLAB's downscaling, what the stage keeps of the past and
of the current frame, and its place in the temporal model (state, metadata, shot starts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vsr.models.fusion import BackProjectionFusion
from vsr.models.loader import load, save
from vsr.models.temporal import TemporalEDSR, warp_hr
from vsr.quality.matlab_resize import imresize


def picture(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A detailed picture (1,3,h,w) less its mean, in 0..255 levels."""
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.2)
    img = (img - img.min()) / (img.max() - img.min()) * 255 - 128
    return torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_down_is_matlab_bicubic_away_from_the_borders(scale):
    hr = np.random.default_rng(scale).random((12 * scale, 10 * scale, 3))
    ours = BackProjectionFusion("lr", scale, 1.0).down(torch.from_numpy(hr).permute(2, 0, 1)[None].float())
    ours = ours[0].permute(1, 2, 0).numpy()
    assert ours.shape == (12, 10, 3)
    np.testing.assert_allclose(ours[3:-3, 3:-3], imresize(hr, 1 / scale)[3:-3, 3:-3], atol=1e-5)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_the_exported_down_equals_the_eager_one_up_to_the_borders(scale):
    """The ONNX graph's convolutions and PyTorch's antialiased resize: the same picture, borders included."""
    fusion = BackProjectionFusion("lr", scale, 255.0)
    hr = picture(7 * scale, 9 * scale, seed=scale)
    eager = fusion.down(hr)
    assert torch.allclose(fusion.down_exportable(hr), eager, atol=1e-3) and eager.shape == (1, 3, 7, 9)


def test_back_projection_makes_the_output_agree_with_the_lr_frame():
    fusion = BackProjectionFusion("lr", 4, 255.0)
    truth = picture(64, 64)
    x = fusion.down(truth)
    blurred = fusion.up(x)  # a soft guess
    fused = fusion(blurred, torch.zeros_like(truth), x, torch.zeros(1, 1, 1, 1))
    assert mse(fusion.down(fused), x) < 0.1 * mse(fusion.down(blurred), x)
    assert mse(fused, truth) < mse(blurred, truth)


def test_a_matching_past_is_kept_and_a_wrong_one_is_dropped():
    fusion = BackProjectionFusion("lr", 4, 255.0)
    truth = picture(64, 64, seed=1)
    x = fusion.down(truth)
    guess = fusion.up(x)
    alone = fusion(guess, torch.zeros_like(truth), x, torch.zeros(1, 1, 1, 1))
    with_truth = fusion(guess, truth, x, torch.ones(1, 1, 1, 1))
    assert mse(with_truth, truth) < 0.2 * mse(alone, truth)  # the aligned past holds the detail
    wrong = fusion(guess, picture(64, 64, seed=2), x, torch.ones(1, 1, 1, 1))
    assert mse(wrong, alone) < 0.05 * mse(alone, truth)  # a past unlike the frame changes next to nothing


def test_at_a_shot_start_the_past_is_ignored():
    fusion = BackProjectionFusion("output", 2, 255.0)
    y, past = picture(32, 32, seed=3), picture(32, 32, seed=4)
    x = fusion.down(y)
    start = torch.zeros(1, 1, 1, 1)
    assert torch.equal(fusion(y, past, x, start), fusion(y, torch.zeros_like(y), x, start))


def test_output_mode_keeps_the_network_output_where_there_is_no_past():
    """Compressed input: the target is the network's output brought down, never the noisy LR frame."""
    fusion = BackProjectionFusion("output", 4, 255.0)
    y = picture(48, 48, seed=5)
    noisy = fusion.down(y) + torch.randn(1, 3, 12, 12) * 10
    out = fusion(y, torch.zeros_like(y), noisy, torch.zeros(1, 1, 1, 1))
    assert mse(out, y) < 1.0


def test_unknown_fusion_is_refused():
    with pytest.raises(ValueError, match="fusion"):
        TemporalEDSR(fusion="median")


def test_fusion_is_saved_with_the_model_and_follows_the_network(tmp_path):
    torch.manual_seed(0)
    model = TemporalEDSR(num_features=8, num_blocks=1, scale=2, upsampler="direct", fusion="lr").eval()
    again = load(save(model, tmp_path / "f.safetensors"))
    assert again.fusion is not None and again.fusion.mode == "lr"
    plain = TemporalEDSR(num_features=8, num_blocks=1, scale=2, upsampler="direct").eval()
    plain.load_state_dict(model.state_dict())
    assert plain.fusion is None
    x, prev = torch.rand(1, 3, 12, 16), torch.rand(1, 3, 12, 16)
    flow = torch.randn(1, 2, 12, 16)
    x_shifted = model.sub_mean(x * 255)
    with torch.no_grad():
        _, state_plain = plain(x, x, plain.initial_state(x), flow)
        _, state = model(x, x, model.initial_state(x), flow)  # a shot start: the network's output, back-projected
        expected = model.fusion(F.pixel_shuffle(state_plain, 2), torch.zeros(1, 3, 24, 32), x_shifted, torch.zeros(1, 1, 1, 1))
        assert torch.allclose(F.pixel_shuffle(state, 2), expected, atol=1e-3)
        # later frames: fused with the state, which is the fused output (less the mean, folded)
        y2, state2 = model(x, prev, state, flow)
        _, net_only = plain(x, prev, state, flow)
        past = warp_hr(F.pixel_shuffle(state, 2), flow, 2, "bicubic")
        expected = model.fusion(F.pixel_shuffle(net_only, 2), past, x_shifted, torch.ones(1, 1, 1, 1))
        assert torch.allclose(F.pixel_shuffle(state2, 2), expected, atol=1e-3)
        assert not torch.allclose(state2, net_only, atol=1e-2)
        assert torch.allclose(y2 * 255, F.pixel_shuffle(state2, 2) + model.add_mean.bias.view(1, 3, 1, 1), atol=1e-3)


def test_shipped_temporal_families_carry_their_fusion():
    assert load("temporal-x4").fusion.mode == "lr"
    assert load("temporal-archive-x4").fusion.mode == "output"


def test_fusion_settings_benchmark_applies_its_settings_and_0_1_0_is_the_network_alone(monkeypatch):
    from conftest import load_script
    from vsr.models import fusion

    bench = load_script("benchmarks/fusion_settings.py")
    off, other = bench.parse_settings("0,1,0;0.9,0.02,3")
    assert other == fusion.FusionSettings(0.9, 0.02, 3)
    monkeypatch.setitem(fusion.SETTINGS, "lr", off)
    stage = BackProjectionFusion("lr", 2, 255.0)
    y, past = picture(32, 32, seed=6), picture(32, 32, seed=7)
    assert torch.equal(stage(y, past, stage.down(past), torch.ones(1, 1, 1, 1)), y)


def test_vsr_train_offers_exactly_the_fusion_modes():
    from vsr.cli.train import train
    from vsr.models.fusion import FUSIONS

    option = next(p for p in train.params if p.name == "fusion")
    assert tuple(option.type.choices) == FUSIONS  # the CLI spells them out to keep torch out of its start-up
