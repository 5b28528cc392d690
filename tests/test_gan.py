"""vsr train --gan without downloaded weights: U-Net discriminator, feature matching, EMA export, resume."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file  # noqa: E402

from test_train import _cfg, _images  # noqa: E402
from vsr.errors import TrainingDiverged, UsageError  # noqa: E402
from vsr.models.discriminator import UNetDiscriminatorSN  # noqa: E402
from vsr.quality.gan import EMA, feature_matching_loss, loss_weights, refuse_gan_options  # noqa: E402
from vsr.quality.train import TrainConfig, train  # noqa: E402

# the parameter names of Real-ESRGAN's UNetDiscriminatorSN (realesrgan/archs/discriminator_arch.py)
REAL_ESRGAN_KEYS = {"conv0.weight", "conv0.bias", "conv9.weight", "conv9.bias"} | {
    f"conv{i}.{k}" for i in range(1, 9) for k in ("weight_orig", "weight_u", "weight_v")}


def test_unet_discriminator_gives_a_logit_per_pixel():
    d = UNetDiscriminatorSN(num_features=4)
    assert set(d.state_dict()) == REAL_ESRGAN_KEYS
    with torch.no_grad():
        assert d(torch.rand(2, 3, 32, 48)).shape == (2, 1, 32, 48)
        logits, feats = d.forward_with_features(torch.rand(1, 3, 21, 27))  # not a multiple of 8
    assert logits.shape == (1, 1, 21, 27) and len(feats) == 9


def test_feature_matching_is_zero_for_identical_inputs_and_positive_otherwise():
    d = UNetDiscriminatorSN(num_features=4).eval()  # eval: no power iteration between the two calls
    x = torch.rand(2, 3, 16, 16)
    y = (x + 0.1 * torch.randn_like(x)).requires_grad_(True)
    same = feature_matching_loss(d.forward_with_features(x)[1], d.forward_with_features(x.clone())[1])
    assert same.item() == 0.0
    fake, real = d.forward_with_features(y)[1], d.forward_with_features(x)[1]
    differ = feature_matching_loss(fake, real)
    assert differ.item() > 0
    differ.backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_ema_averages_parameters_and_copies_buffers():
    model = torch.nn.BatchNorm2d(2)
    ema = EMA(model, 0.75)
    with torch.no_grad():
        model.weight.fill_(5.0)
        model.running_mean.fill_(3.0)
    ema.update(model)
    torch.testing.assert_close(ema.model.weight, torch.full((2,), 2.0))  # 0.75 * 1 + 0.25 * 5
    torch.testing.assert_close(ema.model.running_mean, torch.full((2,), 3.0))
    assert not ema.model.training and not ema.model.weight.requires_grad


def test_loss_weights_follow_the_recipe_unless_given():
    base = TrainConfig(data=("x",), out_dir="o", gan=True)
    w = loss_weights(base)
    assert (w.pixel, w.content, w.fm, w.adv) == (1.0, 0.0, 1.0, 0.1)
    srgan = loss_weights(TrainConfig(data=("x",), out_dir="o", gan=True, vgg_weights="vgg.pth"))
    assert (srgan.pixel, srgan.content, srgan.fm, srgan.adv) == (1e-2, 0.006, 0.0, 1e-3)
    given = loss_weights(TrainConfig(data=("x",), out_dir="o", gan=True, fm_weight=0.5, adv_weight=0.0))
    assert (given.fm, given.adv) == (0.5, 0.0)


def test_gan_options_without_gan_are_refused():
    with pytest.raises(UsageError, match="--discriminator is an option of the GAN stage: add --gan"):
        refuse_gan_options(TrainConfig(data=("x",), out_dir="o", discriminator="vgg"))
    refuse_gan_options(TrainConfig(data=("x",), out_dir="o"))  # defaults: nothing to refuse


# ----------------------------------------------------------------------- training (tiny models)

GAN = dict(gan=True, d_features=8, steps=4, ckpt_every=2)


@pytest.mark.slow
def test_gan_without_vgg_weights_trains_and_exports_the_ema(tmp_path):
    events = []
    res = train(_cfg(tmp_path, out_dir=str(tmp_path / "gan"), **GAN), lambda k, i: events.append((k, i)))
    terms = [i["terms"] for k, i in events if k == "step"]
    assert len(terms) == 4 and set(terms[0]) == {"pixel", "perceptual", "adv", "d"}
    assert all(t["perceptual"] > 0 and t["d"] > 0 for t in terms)
    exported = load_file(res["export"])
    ck = torch.load(tmp_path / "gan" / "last.pt", weights_only=True)
    assert set(ck["gan"]) == {"disc", "d_opt", "sched", "ema"}
    for k, v in exported.items():
        assert torch.equal(v, ck["gan"]["ema"][k].float()), k
    assert any(not torch.equal(v, ck["model"][k].float()) for k, v in exported.items()), "EMA equals the raw weights"


@pytest.mark.slow
def test_gan_resume_is_bit_identical(tmp_path):
    full = train(_cfg(tmp_path, out_dir=str(tmp_path / "full"), **GAN))
    train(_cfg(tmp_path, out_dir=str(tmp_path / "split"), stop_at=2, **GAN))
    resumed = train(_cfg(tmp_path, out_dir=str(tmp_path / "split"), resume=True, **GAN))
    a, b = load_file(full["export"]), load_file(resumed["export"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ca = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    cb = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    for part in ("disc", "ema"):
        assert all(torch.equal(v, cb["gan"][part][k]) for k, v in ca["gan"][part].items()), part


@pytest.mark.slow
def test_vgg_discriminator_with_feature_matching(tmp_path):
    res = train(_cfg(tmp_path, scale=4, **{**GAN, "steps": 2, "discriminator": "vgg"}))  # HR patch 32: the minimum
    assert load_file(res["export"])
    with pytest.raises(UsageError, match="at least 32 px"):
        train(_cfg(tmp_path, out_dir=str(tmp_path / "small"), **{**GAN, "discriminator": "vgg"}))


@pytest.mark.slow
def test_a_diverging_gan_is_a_runtime_failure_with_advice(tmp_path):
    with pytest.raises(TrainingDiverged, match="--adv-weight") as err:
        train(_cfg(tmp_path, lr=float("inf"), **GAN))
    assert err.value.exit_code == 1


@pytest.mark.slow
def test_gan_cli_on_archive_like_input(tmp_path):
    from click.testing import CliRunner

    from vsr.cli.train import train as train_cmd

    hr = _images(tmp_path / "hr", size=48)
    out = tmp_path / "cli"
    common = ["--data", str(hr), "--batch", "2", "--patch", "8", "--num-features", "8", "--num-blocks", "1",
              "--threads", "1", "--device", "cpu"]
    pre = CliRunner().invoke(train_cmd, [*common, "--out", str(tmp_path / "pre"), "--steps", "1"])
    assert pre.exit_code == 0, pre.output
    r = CliRunner().invoke(train_cmd, [*common, "--out", str(out), "--steps", "2", "--gan", "--d-features", "8",
                                       "--init", str(tmp_path / "pre" / "model.safetensors"), "--degrade", "archive",
                                       "--degrade-variants", "1", "--amp", "bf16"])
    assert r.exit_code == 0, r.output
    assert (out / "model.safetensors").is_file() and "discriminator='unet'" in (out / "train.log").read_text()
    refused = CliRunner().invoke(train_cmd, [*common, "--out", str(out), "--fm-weight", "2"])
    assert refused.exit_code == 2 and "add --gan" in refused.output
