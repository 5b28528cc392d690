"""Training a temporal model on clips (`vsr train --arch temporal`): the data, the codec over whole
clips, resuming bit-identically, safe checkpoints, validation by the video protocol."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from conftest import make_clip_file
from test_temporal_model import textured
from vsr.errors import UsageError
from vsr.quality.train_video import VideoTrainConfig, train_video


@pytest.fixture(scope="module")
def stills(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stills")
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), textured(96, 128, seed=i)[..., ::-1])
    return folder


@pytest.fixture(scope="module")
def reel(tmp_path_factory):
    return make_clip_file(tmp_path_factory.mktemp("reel") / "reel.mp4", size=(128, 96), frames=12, content="noise")


def config(stills, reel, out, **kw) -> VideoTrainConfig:
    base = dict(data=(str(stills),), videos=(str(reel),), out_dir=str(out), scale=2, num_features=8, num_blocks=1,
                frames=3, patch=12, batch=2, clips=4, clip_size=24, steps=4, warmup=0, ckpt_every=2, threads=1,
                codec="h264=20:30|none", val_videos=(str(reel),), val_frames=3, val_every=2)
    return VideoTrainConfig(**{**base, **kw})


def weights(path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_resumed_run_ends_with_the_same_weights_as_one_run(stills, reel, tmp_path):
    whole = train_video(config(stills, reel, tmp_path / "a"))
    half = config(stills, reel, tmp_path / "b", stop_at=2)
    assert train_video(half)["export"] is None
    resumed = train_video(dataclasses.replace(half, stop_at=0, resume=True))
    a, b = weights(whole["export"]), weights(resumed["export"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert whole["best"] > 10  # PSNR-Y of the validation clips, clean and CRF 25


def test_checkpoint_loads_with_weights_only(stills, reel, tmp_path):
    res = train_video(config(stills, reel, tmp_path, steps=2))
    ck = torch.load(res["checkpoint"], map_location="cpu", weights_only=True)
    assert ck["step"] == 2 and ck["config"]["frames"] == 3


def test_starts_from_edsr_weights_of_the_same_width(stills, reel, tmp_path):
    from vsr.models.edsr import EDSR
    from vsr.models.loader import save
    from vsr.quality.train_video import build

    edsr = save(EDSR(num_features=8, num_blocks=1, scale=2), tmp_path / "e.safetensors")
    exact, source = build(config(stills, reel, tmp_path, init=str(edsr), recurrent_init=0.0))
    assert source is None  # same upsampler: nothing to fit
    assert torch.equal(exact.state_dict()["body.0.body.0.weight"], weights(edsr)["body.0.body.0.weight"])
    assert exact.state_dict()["head.0.weight"][:, 3:].abs().sum() == 0
    nudged = build(config(stills, reel, tmp_path, init=str(edsr), recurrent_init=1e-3))[0].state_dict()["head.0.weight"]
    assert torch.equal(nudged[:, :3], weights(edsr)["head.0.weight"])
    assert 0.5e-3 < float(nudged[:, 3:].std()) < 2e-3
    temporal = save(build(config(stills, reel, tmp_path, init=str(edsr)))[0], tmp_path / "t.safetensors")
    again = build(config(stills, reel, tmp_path, init=str(temporal)))[0].state_dict()
    assert all(torch.equal(again[k], v) for k, v in weights(temporal).items()), "a temporal --init continues it"


def test_direct_upsampler_is_fitted_to_the_init_and_training_goes_on_from_it(stills, reel, tmp_path):
    """--upsampler direct from an EDSR-upsampler model: head and body copied, the one-conv upsampler
    solved by least squares on the training clips (not left random), then trained; a direct --init
    continues as it is, and an EDSR-upsampler run refuses it."""
    from vsr.models.loader import load, save
    from vsr.models.temporal import TemporalEDSR
    from vsr.quality.train_video import build, fit_direct_upsampler
    from vsr.quality.video_data import ClipCache, VideoSource, image_files
    from vsr.quality.video_degrade import parse_video

    torch.manual_seed(3)
    init = save(TemporalEDSR(num_features=8, num_blocks=1, scale=2), tmp_path / "t.safetensors")
    cfg = config(stills, reel, tmp_path / "run", init=str(init), upsampler="direct", steps=2)
    model, source = build(cfg)
    assert model.upsampler == "direct" and source is not None and source.upsampler == "edsr"
    assert torch.equal(model.state_dict()["body.0.body.0.weight"], weights(init)["body.0.body.0.weight"])
    clips = ClipCache(images=image_files(cfg.data), videos=[VideoSource.parse(cfg.videos[0])], count=4, frames=3,
                      lr_size=24, scale=2, degradation=parse_video("", "none"), seed=0, real_share=0.5).clips
    random_tail = model.tail[0].weight.detach().clone()
    assert fit_direct_upsampler(model, source, clips, None) == 4 * 3 * 24 * 24
    assert not torch.equal(model.tail[0].weight, random_tail)

    result = train_video(cfg)
    trained = load(result["export"])
    assert isinstance(trained, TemporalEDSR) and trained.upsampler == "direct" and result["best"] > 10
    again, fitted = build(dataclasses.replace(cfg, init=result["export"]))
    assert fitted is None and torch.equal(again.tail[0].weight, weights(result["export"])["tail.0.weight"])
    with pytest.raises(UsageError, match="--upsampler direct"):
        build(dataclasses.replace(cfg, init=result["export"], upsampler="edsr"))


def test_training_through_the_fusion_saves_it_with_the_model(stills, reel, tmp_path):
    from vsr.models.loader import load

    result = train_video(config(stills, reel, tmp_path, steps=2, upsampler="direct", fusion="lr"))
    trained = load(result["export"])
    assert trained.fusion is not None and trained.fusion.mode == "lr" and result["best"] > 10


def test_recurrent_weights_step_faster_by_their_multiplier():
    from vsr.models.temporal import TemporalEDSR
    from vsr.quality.train_video import boost_recurrent

    torch.manual_seed(0)
    model = TemporalEDSR(num_features=8, num_blocks=1, scale=2)
    x = torch.rand(1, 3, 8, 8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    start = model.head[0].weight.detach().clone()
    model(x, x.flip(-1), torch.rand(1, model.state_channels, 8, 8), torch.zeros(1, 2, 8, 8))[0].mean().backward()
    before = model.recurrent_weight.detach().clone()
    opt.step()
    plain = model.head[0].weight.detach() - start
    boost_recurrent(model, before, 10.0)
    step = model.head[0].weight.detach() - start
    assert torch.equal(step[:, :3], plain[:, :3])
    assert torch.allclose(step[:, 3:], 10 * plain[:, 3:], atol=1e-7) and plain[:, 3:].abs().sum() > 0


def test_cli_refuses_image_only_options_and_fp16(stills, reel, tmp_path, vsr):
    run = vsr("train", "--arch", "temporal", "--data", stills, "--video", reel, "--out", tmp_path, "--gan")
    assert run.returncode == 2 and "does not take --gan" in run.stderr
    run = vsr("train", "--data", stills, "--out", tmp_path, "--recurrent-lr", "5")
    assert run.returncode == 2 and "--recurrent-lr trains a temporal model" in run.stderr
    with pytest.raises(UsageError, match="bf16 or off"):
        train_video(config(stills, reel, tmp_path, amp="fp16"))


@pytest.mark.parametrize("codec", ["h264", "mpeg2", "vp9"])
def test_clip_codec_is_deterministic_and_inter_coded(codec):
    from vsr.quality.video_degrade import decode_packets, encode_packets, parse_video

    base = textured(64, 96, seed=1)
    frames = [np.ascontiguousarray(np.roll(base, i, axis=1)) for i in range(12)]
    degrade = parse_video("noise=2", f"{codec}=8")
    a, what = degrade(frames, np.random.default_rng(5))
    b, _ = degrade(frames, np.random.default_rng(5))
    assert what.startswith(codec) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], frames[0])
    from av.video.frame import PictureType

    types = {PictureType(f.pict_type).name for f in decode_packets(encode_packets(frames, codec, 8), codec)}
    assert ({"I", "P"} if codec == "vp9" else {"I", "P", "B"}) <= types  # VP9 predicts from hidden alt-ref frames, not B
