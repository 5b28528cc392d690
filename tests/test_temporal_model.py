"""The temporal model: detection, its start from EDSR, warping by DIS flow, and the recurrent runner
(state carried across batches, restarted at scene cuts and on reset, one state per tile)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsr.backends.recurrent import RecurrentRunner, frame_runner
from vsr.backends.tiling import AdaptiveTiler
from vsr.models.edsr import EDSR
from vsr.models.loader import inspect, load, save
from vsr.models.motion import FlowEstimator, content_change, grey, is_cut
from vsr.models.temporal import TemporalEDSR, warp


def tiny(scale: int = 2, seed: int = 0) -> TemporalEDSR:
    """A small temporal model whose recurrent inputs matter (random, non-zero weights)."""
    torch.manual_seed(seed)
    return TemporalEDSR(num_features=8, num_blocks=1, scale=scale).eval()


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return img.astype(np.uint8)


def as_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames).transpose(0, 3, 1, 2).copy()).float().div_(255.0)


def panning(n: int, h: int = 24, w: int = 32, step: int = 1, seed: int = 0) -> list[np.ndarray]:
    big = textured(h + 16, w + 16 + n * step, seed)
    return [np.ascontiguousarray(big[8 : 8 + h, 8 + i * step : 8 + i * step + w]) for i in range(n)]


def test_saved_temporal_model_is_detected_with_its_hyper_parameters(tmp_path):
    path = save(TemporalEDSR(num_features=8, num_blocks=2, scale=3), tmp_path / "t.safetensors")
    assert inspect(path) == ("temporal", 3)
    model = load(path)
    assert isinstance(model, TemporalEDSR)
    assert (model.scale, model.num_features, len(model.body) - 1) == (3, 8, 2)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_direct_upsampler_outputs_its_state_unfolded_and_is_detected(tmp_path, scale):
    """The direct upsampler's LR output *is* the state: the picture is that, pixel-shuffled, plus the mean."""
    import torch.nn.functional as F

    torch.manual_seed(4)
    model = TemporalEDSR(num_features=8, num_blocks=2, scale=scale, upsampler="direct").eval()
    x = torch.rand(1, 3, 6, 8)
    with torch.no_grad():
        y, state = model(x, x, model.initial_state(x), torch.zeros(1, 2, 6, 8))
    assert y.shape == (1, 3, 6 * scale, 8 * scale) and state.shape == (1, 3 * scale * scale, 6, 8)
    assert torch.allclose(y * 255, F.pixel_shuffle(state, scale) + model.add_mean.bias.view(1, 3, 1, 1), atol=1e-3)
    path = save(model, tmp_path / "d.safetensors")
    assert inspect(path) == ("temporal", scale)
    again = load(path)
    assert isinstance(again, TemporalEDSR) and again.upsampler == "direct" and len(again.body) - 1 == 2
    with torch.no_grad():
        assert torch.equal(again(x, x, again.initial_state(x), torch.zeros(1, 2, 6, 8))[0], y)
    with pytest.raises(ValueError, match="upsampler"):
        TemporalEDSR(upsampler="bilinear")


def test_image_evaluation_runs_a_temporal_model_as_the_first_frame_of_a_shot():
    from vsr.models.temporal import shot_start_args
    from vsr.quality.eval import sr_image

    model = tiny()
    lr = textured(10, 12)
    out = sr_image(model, lr, torch.device("cpu"))
    x = as_tensor([lr])
    with torch.no_grad():
        expected = model(*shot_start_args(model, x))[0][0].mul(255).round().clamp(0, 255).permute(1, 2, 0)
    assert out.shape == (20, 24, 3) and np.array_equal(out, expected.to(torch.uint8).numpy())


def test_plain_edsr_is_not_mistaken_for_temporal(tmp_path):
    path = save(EDSR(num_features=8, num_blocks=1, scale=2), tmp_path / "e.safetensors")
    assert inspect(path) == ("edsr", 2)


def test_from_edsr_starts_exactly_as_that_edsr_whatever_the_state():
    torch.manual_seed(1)
    edsr = EDSR(num_features=8, num_blocks=2, scale=2).eval()
    model = TemporalEDSR(num_features=8, num_blocks=2, scale=2).eval()
    model.from_edsr(edsr.state_dict())
    x = torch.rand(1, 3, 12, 16)
    with torch.no_grad():
        y, state = model(x, torch.rand_like(x), torch.randn(1, 12, 12, 16), torch.randn(1, 2, 12, 16) * 3)
        assert torch.allclose(y, edsr(x), atol=1e-5)
    assert state.shape == (1, model.state_channels, 12, 16) and model.state_channels == 3 * 2 * 2


def test_state_is_the_output_folded_and_is_warped_at_output_resolution():
    """A quarter-LR-pixel motion at x4 moves the previous output by exactly one HR pixel (a warp of
    LR-size features would blend whole 4x4 output blocks instead)."""
    import torch.nn.functional as F

    from vsr.models.temporal import warp_folded

    torch.manual_seed(2)
    model = TemporalEDSR(num_features=8, num_blocks=1, scale=4).eval()
    x = torch.rand(1, 3, 6, 8)
    with torch.no_grad():
        y, state = model(x, x, model.initial_state(x), torch.zeros(1, 2, 6, 8))
        shift = torch.zeros(1, 2, 6, 8)
        shift[:, 0] = 0.25  # each pixel reads from a quarter LR pixel to its right
        moved = F.pixel_shuffle(warp_folded(state, shift, 4), 4)
    shifted_mean = F.pixel_shuffle(state, 4)  # the output less the mean, at HR
    assert torch.allclose(y * 255, shifted_mean + model.add_mean.bias.view(1, 3, 1, 1), atol=1e-3)
    assert torch.allclose(moved[..., :-1], shifted_mean[..., 1:], atol=1e-4)


def test_dis_flow_and_warp_align_the_previous_frame():
    frames = panning(2, 48, 64, step=2)
    flow = FlowEstimator()(grey(frames[1]), grey(frames[0]))
    assert flow.shape == (2, 48, 64)
    assert abs(float(np.median(flow[0])) - 2.0) < 0.25 and abs(float(np.median(flow[1]))) < 0.25
    prev, cur = as_tensor(frames[:1]), as_tensor(frames[1:])
    aligned = warp(prev, torch.from_numpy(flow)[None])
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    assert (aligned - cur)[inner].abs().mean() < 0.25 * (prev - cur)[inner].abs().mean()


def test_dis_flow_is_sub_pixel_accurate():
    """A quarter LR pixel is one output pixel at x4: the flow must resolve such shifts."""
    import cv2

    big = textured(64, 96, seed=3)
    for dx, dy in ((0.25, 0.0), (0.4, -0.3), (1.6, 0.7)):
        moved = cv2.warpAffine(big, np.float32([[1, 0, dx], [0, 1, dy]]), (96, 64), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT)
        flow = FlowEstimator()(grey(moved), grey(big))[:, 8:-8, 8:-8]
        # moved(p) = big(p - d): each pixel of the new frame lies at p - d in the previous one
        assert abs(float(np.median(flow[0])) + dx) < 0.05 and abs(float(np.median(flow[1])) + dy) < 0.05


def test_align_warps_at_output_resolution_with_a_low_resolution_flow():
    from vsr.models.motion import align

    img = textured(32, 48, seed=1)
    flow = np.zeros((2, 8, 12), np.float32)
    flow[0] = 0.5  # half an LR pixel at x4: two output pixels
    out = align(img, flow)
    np.testing.assert_array_equal(out[:, :-2], img[:, 2:])


def test_scene_cut_is_a_large_content_change_and_motion_is_not():
    a, b = panning(2, 48, 64, step=3)
    other = textured(48, 64, seed=5)
    assert not is_cut(a, b)
    assert is_cut(a, other)
    assert content_change(a, a) == 0.0


def runner(model: TemporalEDSR, tile: int = 0, overlap: int = 0) -> RecurrentRunner:
    return frame_runner(model, model, scale=model.scale, tile=tile, overlap=overlap)


def test_state_is_carried_across_batches_exactly():
    model, frames = tiny(), as_tensor(panning(6))
    whole = runner(model)(frames)
    one_by_one = runner(model)
    split = torch.cat([one_by_one(frames[i : i + 1]) for i in range(6)])
    assert torch.equal(whole, split)
    fresh = runner(model)(frames[3:4])
    assert not torch.allclose(whole[3:4], fresh, atol=1e-4), "the state must change the output"


def test_reset_and_scene_cut_restart_the_shot():
    model = tiny()
    shot_a, shot_b = as_tensor(panning(4, seed=0)), as_tensor([255 - f for f in panning(3, seed=7)])
    run = runner(model)
    out = run(torch.cat([shot_a, shot_b]))
    assert run.cuts == 1
    assert torch.equal(out[4:], runner(model)(shot_b)), "the frames after a cut must not see the shot before"
    run.reset()
    assert torch.equal(run(shot_b), out[4:])


def test_tiled_run_keeps_one_state_per_tile_and_covers_the_frame():
    model, frames = tiny(), as_tensor(panning(4, 40, 56))
    run = runner(model, tile=24, overlap=4)
    out = run(frames)
    assert out.shape == (4, 3, 80, 112)
    assert len(run._states) == 6  # 2 rows x 3 columns of tiles
    whole = runner(model)(frames)
    assert (out - whole).abs().mean() < 0.02  # same network, seams cropped; only tile borders differ


def test_single_image_models_keep_the_adaptive_tiler():
    model = EDSR(num_features=8, num_blocks=1, scale=2)
    assert isinstance(frame_runner(model, model, scale=2, tile=0, overlap=0), AdaptiveTiler)


@pytest.mark.parametrize("aug_seed", range(6))
def test_training_patches_keep_flow_consistent_with_flips_and_transposes(aug_seed):
    from vsr.quality.video_data import ClipDataset, make_clip
    from vsr.quality.video_degrade import parse_video

    hr = panning(3, 96, 128, step=4, seed=3)
    clip = make_clip(hr, 2, parse_video("", ""), np.random.default_rng(0))
    data = ClipDataset([clip], scale=2, patch=32, seed=aug_seed)
    lr, hr_t, flow, starts = data[0]
    assert starts.tolist() == [True, False, False]
    assert lr.shape == (3, 3, 32, 32) and hr_t.shape == (3, 3, 64, 64) and flow.shape == (3, 2, 32, 32)
    aligned = warp(lr[1:2], flow[2:3])
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    assert (aligned - lr[2:3])[inner].abs().mean() < 0.4 * (lr[1:2] - lr[2:3])[inner].abs().mean()


def test_still_samples_upscale_every_frame_alone_and_leave_the_other_samples_unchanged():
    from vsr.quality.train_video import run_clip
    from vsr.quality.video_data import ClipDataset, make_clip
    from vsr.quality.video_degrade import parse_video

    clip = make_clip(panning(3, 96, 128, step=4, seed=3), 2, parse_video("", ""), np.random.default_rng(0))
    plain = ClipDataset([clip], scale=2, patch=32, seed=5)
    mixed = ClipDataset([clip], scale=2, patch=32, seed=5, still_share=0.5)
    kinds = []
    for k in range(12):
        a, b = plain[k], mixed[k]
        assert all(torch.equal(x, y) for x, y in zip(a[:2], b[:2]))  # the same patches
        still = bool(b[3].all())
        kinds.append(still)
        if still:
            assert not b[2].any()
        else:
            assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])
    assert 0 < sum(kinds) < len(kinds)
    lr, _, flow, starts = mixed[kinds.index(True)]
    model = tiny()
    with torch.no_grad():
        out = run_clip(model, lr[None], flow[None], starts[None])[0]
        alone = run_clip(model, lr[None, 2:], flow[None, 2:], starts[None, 2:])[0]
    assert torch.equal(out[2:], alone)


def test_training_clips_restart_at_cuts_as_the_pipeline_does():
    """A clip across a scene cut: the cut is marked (flow 0 there), and the model run over the clip in
    training gives the frames after it exactly what the pipeline's runner gives (the state restarts)."""
    from vsr.quality.train_video import run_clip
    from vsr.quality.video_data import make_clip
    from vsr.quality.video_degrade import parse_video

    hr = panning(3, 64, 96, step=4, seed=0) + [255 - f for f in panning(2, 64, 96, step=4, seed=7)]
    clip = make_clip(hr, 2, parse_video("", ""), np.random.default_rng(0))
    assert clip.starts.tolist() == [True, False, False, True, False] and not clip.flow[3].any()
    model = tiny()
    lr = torch.from_numpy(clip.lr.transpose(0, 3, 1, 2).copy()).float().div(255)
    with torch.no_grad():
        trained = run_clip(model, lr[None], torch.from_numpy(clip.flow.astype(np.float32))[None],
                           torch.from_numpy(clip.starts)[None])[0]
        alone = run_clip(model, lr[None, 3:], torch.from_numpy(clip.flow[3:].astype(np.float32))[None],
                         torch.from_numpy(clip.starts[3:])[None])[0]
    assert torch.equal(trained[3:], alone)


@pytest.mark.parametrize("upsampler, fusion", [("edsr", "none"), ("direct", "none"), ("direct", "lr"), ("edsr", "output")])
def test_onnx_export_carries_the_state_as_inputs_and_outputs(tmp_path, upsampler, fusion):
    ort = pytest.importorskip("onnxruntime")
    from vsr.backends.onnx_export import TEMPORAL_INPUTS, TEMPORAL_OUTPUTS, export_onnx
    from vsr.models.loaded import LoadedModel

    torch.manual_seed(0)
    model = TemporalEDSR(num_features=8, num_blocks=1, scale=2, upsampler=upsampler, fusion=fusion).eval()
    path = export_onnx(LoadedModel.of(model), tmp_path / "t.onnx", opset=17)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(TEMPORAL_INPUTS)
    assert [o.name for o in session.get_outputs()] == list(TEMPORAL_OUTPUTS)
    frames = as_tensor(panning(4, 20, 28))
    state = model.initial_state(frames[:1])
    prev = frames[:1]
    flow = torch.zeros(1, 2, 20, 28)
    for i in range(4):  # the graph run recurrently equals the module run recurrently
        x = frames[i : i + 1]
        with torch.no_grad():
            y, new_state = model(x, prev, state, flow)
        oy, ostate = session.run(None, {"input": x.numpy(), "prev": prev.numpy(), "state": state.numpy(), "flow": flow.numpy()})
        assert np.abs(oy - y.numpy()).max() < 1e-4 and np.abs(ostate - new_state.numpy()).max() < 1e-3
        state, prev, flow = new_state, x, torch.full((1, 2, 20, 28), 0.5)


def test_flop_count_of_a_temporal_model_includes_its_wider_head():
    from vsr.bench import conv_flops
    from vsr.models.loaded import LoadedModel

    model = tiny()
    per_pixel = conv_flops(LoadedModel.of(model), 10, 10) / 100
    head = 2 * 9 * (3 + 3 + 3 * 2 * 2) * 8  # x, prev and the previous output folded (x2: 12 channels)
    body = 3 * 2 * 9 * 8 * 8  # one block (2 convs) and the body's last conv
    tail = 2 * 9 * 8 * 32 + 4 * 2 * 9 * 8 * 3  # x2 upsampler conv at LR, last conv at HR
    mean_shift = 2 * (2 * 3 * 3) + 4 * (2 * 3 * 3)  # sub_mean twice (x, prev) at LR, add_mean at HR
    assert per_pixel == pytest.approx(head + body + tail + mean_shift)
