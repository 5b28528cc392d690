"""vsr train: the loss goes down, resuming equals an uninterrupted run, --init, export keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file  # noqa: E402

from vsr.quality.datasets import write_rgb  # noqa: E402
from vsr.quality.train import TrainConfig, train  # noqa: E402


def _images(folder: Path, n: int = 3, size: int = 40) -> Path:
    """Smooth synthetic images (gradients + blobs): learnable at tiny scale."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        chans = []
        for c in range(3):
            fx, fy, ph = rng.uniform(1, 4, 3)
            chans.append(0.5 + 0.4 * np.sin(2 * np.pi * (fx * xx + fy * yy) + ph))
        img = (np.stack(chans, axis=2) * 255).round().astype(np.uint8)
        write_rgb(folder / f"img{i}.png", img)
    return folder


def _cfg(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(data=(str(_images(tmp_path / "hr")),), out_dir=str(tmp_path / "run"), scale=2, num_features=8,
                num_blocks=1, patch=8, batch=4, steps=6, lr=1e-3, seed=1, ckpt_every=3, threads=1, amp="off",
                device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_a_few_steps_reduce_the_loss(tmp_path):
    losses = []
    cfg = _cfg(tmp_path, steps=40, lr=2e-3, val_dir=str(tmp_path / "hr"), val_every=40)
    res = train(cfg, lambda kind, info: losses.append(info["loss"]) if kind == "step" else None)
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert res["val_psnr"] is not None and res["val_psnr"] > 15
    assert Path(res["export"]).is_file() and (tmp_path / "run" / "best.safetensors").is_file()


def test_resume_equals_uninterrupted_run(tmp_path):
    full = train(_cfg(tmp_path, out_dir=str(tmp_path / "full")))
    train(_cfg(tmp_path, out_dir=str(tmp_path / "split"), stop_at=3))
    resumed = train(_cfg(tmp_path, out_dir=str(tmp_path / "split"), resume=True))
    a, b = load_file(full["export"]), load_file(resumed["export"])
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_workers_give_the_same_batches(tmp_path):
    one = train(_cfg(tmp_path, out_dir=str(tmp_path / "w0"), steps=3))
    two = train(_cfg(tmp_path, out_dir=str(tmp_path / "w1"), steps=3, workers=1))
    a, b = load_file(one["export"]), load_file(two["export"])
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_export_has_edsr_keys_and_init_copies_all_but_upsampler(tmp_path):
    from vsr.models.edsr import EDSR

    x2 = train(_cfg(tmp_path, out_dir=str(tmp_path / "x2"), steps=2))
    sd = load_file(x2["export"])
    ref = EDSR(num_features=8, num_blocks=1, scale=2).state_dict()
    assert set(sd) == set(ref)
    x3 = train(_cfg(tmp_path, out_dir=str(tmp_path / "x3"), scale=3, steps=1, lr=1e-12, min_lr=1e-12, init=x2["export"]))
    sd3 = load_file(x3["export"])
    torch.testing.assert_close(sd3["head.0.weight"], sd["head.0.weight"], atol=1e-6, rtol=0)
    assert sd3["tail.0.0.weight"].shape[0] == 9 * 8  # x3 upsampler, freshly initialised
    model = EDSR(num_features=8, num_blocks=1, scale=3)
    model.load_state_dict(sd3, strict=True)


def test_train_cli_runs(tmp_path):
    from click.testing import CliRunner

    from vsr.cli.train import train as train_cmd

    hr = _images(tmp_path / "hr")
    out = tmp_path / "cli"
    r = CliRunner().invoke(train_cmd, ["--data", str(hr), "--out", str(out), "--steps", "2", "--batch", "2",
                                       "--patch", "8", "--num-features", "8", "--num-blocks", "1",
                                       "--threads", "1", "--device", "cpu", "--val", str(hr), "--val-every", "2"])
    assert r.exit_code == 0, r.output
    assert (out / "model.safetensors").is_file() and (out / "last.pt").is_file()
    assert "val step 2" in (out / "train.log").read_text()


def _tiny_vgg(path: Path) -> Path:
    """A random network in VGG19's torchvision layout (4 channels per conv) in place of real VGG weights."""
    from safetensors.torch import save_file

    from vsr.quality.losses import VGG19_CONVS

    g = torch.Generator().manual_seed(0)
    sd, in_ch = {}, 3
    for i in VGG19_CONVS:
        sd[f"features.{i}.weight"] = torch.randn(4, in_ch, 3, 3, generator=g) * 0.3
        sd[f"features.{i}.bias"] = torch.zeros(4)
        in_ch = 4
    save_file(sd, str(path))
    return path


def test_srgan_stage_from_pretrained_srresnet(tmp_path):
    vgg = _tiny_vgg(tmp_path / "vgg.safetensors")
    pre = train(_cfg(tmp_path, arch="srresnet", scale=4, patch=8, out_dir=str(tmp_path / "pre"), steps=2))
    events = []
    gan_cfg = dict(arch="srresnet", scale=4, patch=8, gan=True, vgg_weights=str(vgg), init=pre["export"], steps=4,
                   ckpt_every=2)
    res = train(_cfg(tmp_path, out_dir=str(tmp_path / "gan"), **gan_cfg), lambda k, i: events.append((k, i)))
    assert any("copied" in i.get("message", "") for k, i in events if k == "log")
    assert np.isfinite([i["loss"] for k, i in events if k == "step"]).all()
    ck = torch.load(tmp_path / "gan" / "last.pt", weights_only=True)  # plain tensors and numbers only
    assert "disc" in ck["gan"]
    # resuming the GAN stage equals the uninterrupted run
    train(_cfg(tmp_path, out_dir=str(tmp_path / "gan2"), stop_at=2, **gan_cfg))
    res2 = train(_cfg(tmp_path, out_dir=str(tmp_path / "gan2"), resume=True, **gan_cfg))
    a, b = load_file(res["export"]), load_file(res2["export"])
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


class _Payload:
    """Unpickling this would run code: a resume must refuse it, with nothing run."""

    def __reduce__(self):
        return (Path("/tmp/vsr-resume-payload-ran").touch, ())


def test_resume_refuses_a_checkpoint_that_would_run_code(tmp_path):
    from vsr.errors import UsageError

    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": _Payload()}, run / "last.pt")
    marker = Path("/tmp/vsr-resume-payload-ran")
    marker.unlink(missing_ok=True)
    with pytest.raises(UsageError, match="vsr can load safely"):
        train(_cfg(tmp_path, resume=True))
    assert not marker.exists()


def test_a_diverging_loss_is_a_runtime_failure_with_advice(tmp_path):
    from vsr.errors import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="lower --lr") as err:
        train(_cfg(tmp_path, lr=float("inf"), steps=3))
    assert err.value.exit_code == 1
