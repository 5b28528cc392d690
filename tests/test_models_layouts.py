"""Publishers' checkpoint layouts and containers, reference equivalence, and pickle safety."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

from conftest import PicklePayload
from vsr.errors import ModelError
from vsr.models import loader
from vsr.models.edsr import DIV2K_RGB_MEAN

torch.set_num_threads(1)


def _rand_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(*s, generator=g) * 0.1 for k, s in shapes.items()}


# --------------------------------------------------------------------------- containers


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"params_ema": sd, "params": {k: v * 0 for k, v in sd.items()}},  # EMA preferred
        lambda sd: {"params": sd},
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
    ],
    ids=["params_ema", "params", "state_dict", "model+module", "module"],
)
def test_publisher_containers(tmp_path, wrap):
    model = loader.build("rrdbnet", num_features=8, num_blocks=1, growth_channels=4, scale=4).eval()
    path = tmp_path / "RealESRGAN_tiny.pth"
    torch.save(wrap(model.state_dict()), path)
    loaded = loader.load(path)
    x = torch.rand(1, 3, 5, 6)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-6)


# --------------------------------------------------------------------------- EDSR layouts


def _basicsr_edsr_reference(sd, x, *, num_blocks, scale, res_scale=1.0, img_range=255.0):
    """BasicSR's EDSR forward written out functionally (independent of vsr.models.edsr)."""
    mean = torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1)
    conv = lambda t, name: F.conv2d(t, sd[f"{name}.weight"], sd[f"{name}.bias"], padding=1)  # noqa: E731
    h = conv((x - mean) * img_range, "conv_first")
    r = h
    for i in range(num_blocks):
        r = r + conv(F.relu(conv(r, f"body.{i}.conv1")), f"body.{i}.conv2") * res_scale
    r = conv(r, "conv_after_body") + h
    if scale == 3:
        r = F.pixel_shuffle(conv(r, "upsample.0"), 3)
    else:
        for k in range(0, 2 * (scale // 2), 2):
            r = F.pixel_shuffle(conv(r, f"upsample.{k}"), 2)
    return conv(r, "conv_last") / img_range + mean


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_basicsr_edsr_layout_matches_reference(tmp_path, scale):
    f, blocks = 8, 2
    shapes = {"conv_first.weight": (f, 3, 3, 3), "conv_first.bias": (f,)}
    for i in range(blocks):
        for c in ("conv1", "conv2"):
            shapes[f"body.{i}.{c}.weight"] = (f, f, 3, 3)
            shapes[f"body.{i}.{c}.bias"] = (f,)
    shapes["conv_after_body.weight"], shapes["conv_after_body.bias"] = (f, f, 3, 3), (f,)
    stages = [(0, 9)] if scale == 3 else [(2 * k, 4) for k in range(scale // 2)]
    for k, mult in stages:
        shapes[f"upsample.{k}.weight"], shapes[f"upsample.{k}.bias"] = (mult * f, f, 3, 3), (mult * f,)
    shapes["conv_last.weight"], shapes["conv_last.bias"] = (3, f, 3, 3), (3,)
    sd = _rand_state(shapes)
    path = tmp_path / f"EDSR_Mx{scale}_f8b2_DIV2K_official-00000000.pth"
    torch.save({"params": sd}, path)
    model = loader.load(path)
    assert (model.arch, model.scale, model.config["num_blocks"], model.config["num_features"]) == ("edsr", scale, blocks, f)
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        got = model(x)
    want = _basicsr_edsr_reference(sd, x, num_blocks=blocks, scale=scale)
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-4)


def test_official_edsr_full_x3_residual_scaled(tmp_path):
    """Official names, 256 features: res_scale 0.1 (paper) although the weights do not say so."""
    from vsr.models.edsr import EDSR

    torch.manual_seed(0)
    ref = EDSR(num_features=256, num_blocks=2, scale=3, res_scale=0.1).eval()
    path = tmp_path / "edsr_x3-ea3ef2c6.pt"
    torch.save(ref.state_dict(), path)  # the official release is a bare state dict
    model = loader.load(path)
    cfg = model.config
    assert (model.scale, cfg["res_scale"], cfg["num_features"], cfg["num_blocks"]) == (3, 0.1, 256, 2)
    x = torch.rand(1, 3, 4, 5)
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-5)
    assert loader.load(path, res_scale=1.0).config["res_scale"] == 1.0  # override
    baseline = EDSR(num_features=16, num_blocks=1, scale=3)
    torch.save(baseline.state_dict(), path)
    assert loader.load(path).config["res_scale"] == 1.0


def test_edsr_without_mean_shift_keys(tmp_path):
    from vsr.models.edsr import EDSR

    ref = EDSR(num_features=8, num_blocks=1, scale=2).eval()
    sd = {k: v for k, v in ref.state_dict().items() if "_mean" not in k}
    torch.save(sd, tmp_path / "e.pth")
    x = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        assert torch.allclose(loader.load(tmp_path / "e.pth")(x), ref(x), atol=1e-6)


# --------------------------------------------------------------------------- Real-ESRGAN / ESRGAN


def test_esrgan_original_key_names(tmp_path):
    model = loader.build("rrdbnet", num_features=8, num_blocks=2, growth_channels=4, scale=4).eval()
    renames = {"body.": "RRDB_trunk.", "conv_body.": "trunk_conv.", "conv_up1.": "upconv1.",
               "conv_up2.": "upconv2.", "conv_hr.": "HRconv."}
    sd = {}
    for k, v in model.state_dict().items():
        for new, old in renames.items():
            if k.startswith(new):
                k = old + k[len(new):]
        sd[k.replace(".rdb", ".RDB")] = v
    torch.save(sd, tmp_path / "RRDB_ESRGAN_x4.pth")
    loaded = loader.load(tmp_path / "RRDB_ESRGAN_x4.pth")
    x = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-6)


def test_rrdbnet_x2_unshuffle_is_basicsr_pixel_unshuffle():
    """BasicSR's pixel_unshuffle (view/permute) equals torch's, so x2plus weights see the same input."""
    x = torch.rand(2, 3, 8, 6)
    b, c, hh, hw = x.shape
    ref = x.view(b, c, hh // 2, 2, hw // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, c * 4, hh // 2, hw // 2)
    assert torch.equal(F.pixel_unshuffle(x, 2), ref)


def test_srvgg_matches_reference(tmp_path):
    """realesr-animevideov3 layout: body.N conv/PReLU pairs, pixel shuffle, + nearest input."""
    f, n = 8, 2
    shapes = {"body.0.weight": (f, 3, 3, 3), "body.0.bias": (f,), "body.1.weight": (f,)}
    for i in range(n):
        shapes[f"body.{2 + 2 * i}.weight"], shapes[f"body.{2 + 2 * i}.bias"] = (f, f, 3, 3), (f,)
        shapes[f"body.{3 + 2 * i}.weight"] = (f,)
    last = 2 + 2 * n
    shapes[f"body.{last}.weight"], shapes[f"body.{last}.bias"] = (48, f, 3, 3), (48,)
    sd = _rand_state(shapes)
    torch.save({"params": sd}, tmp_path / "realesr-tiny.pth")
    model = loader.load(tmp_path / "realesr-tiny.pth")
    assert (model.arch, model.scale, model.config["num_conv"], model.config["act_type"]) == ("srvgg", 4, n, "prelu")
    x = torch.rand(1, 3, 5, 4)
    out = x
    for i in range(0, last, 2):
        out = F.prelu(F.conv2d(out, sd[f"body.{i}.weight"], sd[f"body.{i}.bias"], padding=1), sd[f"body.{i + 1}.weight"])
    out = F.conv2d(out, sd[f"body.{last}.weight"], sd[f"body.{last}.bias"], padding=1)
    want = F.pixel_shuffle(out, 4) + F.interpolate(x, scale_factor=4, mode="nearest")
    with torch.no_grad():
        assert torch.allclose(model(x), want, atol=1e-5)


# --------------------------------------------------------------------------- errors and safety


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("suffix", [".pth", ".pt"])
def test_code_pickle_is_refused_and_never_runs(tmp_path, suffix):
    marker = tmp_path / "pwned"
    evil = tmp_path / f"evil{suffix}"
    with open(evil, "wb") as f:
        pickle.dump({"params": PicklePayload(str(marker))}, f)
    with pytest.raises(ModelError, match="refuses to unpickle code"):
        loader.load(evil)
    with pytest.raises(ModelError, match="refuses to unpickle code"):
        loader.inspect(evil)
    assert not marker.exists()
    # and inside torch's zip container too
    zipped = tmp_path / f"evil_zip{suffix}"
    torch.save({"params": PicklePayload(str(marker))}, zipped)
    assert not marker.exists()  # saving does not run it either
    with pytest.raises(ModelError, match="refuses to unpickle code"):
        loader.load(zipped)
    assert not marker.exists()


def test_unknown_layout_names_what_it_found(tmp_path):
    torch.save({"encoder.layer0.weight": torch.zeros(4, 3, 3, 3), "decoder.proj.bias": torch.zeros(3)}, tmp_path / "x.pth")
    with pytest.raises(ModelError, match=r"unrecognised layout.*decoder\.proj\.bias.*encoder\.layer0\.weight"):
        loader.load(tmp_path / "x.pth")


def test_bad_files_and_names(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        loader.load(tmp_path / "junk.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 4)
    with pytest.raises(ModelError):
        loader.inspect(tmp_path / "junk.safetensors")
    with pytest.raises(ModelError, match="not found"):
        loader.load(tmp_path / "missing.pth")
    with pytest.raises(ModelError, match="resampler"):
        loader.load("lanczos")
    with pytest.raises(ModelError, match="unknown model"):
        loader.load("no-such-model")
    with pytest.raises(ModelError, match="vsr models download"):
        loader.load("RealESRGAN_x4plus")  # published but not in the (empty) cache


def test_inspect_safetensors_reads_header_only(tmp_path, monkeypatch):
    model = loader.build("srvgg", num_features=8, num_conv=2, scale=4)
    path = loader.save(model, tmp_path / "m.safetensors")
    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "load_file", lambda *a, **k: pytest.fail("read tensors"))
    assert loader.inspect(path) == ("srvgg", 4)


@pytest.fixture(autouse=True)
def _empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VSR_CACHE", str(tmp_path / "cache"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_upscale_refuses_code_pickle_and_writes_nothing(tmp_path, make_clip, vsr):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"params": PicklePayload(str(marker))}, evil)
    clip = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=3)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = vsr("upscale", clip, "--model", evil, "--scale", "2", "-o", out_dir / "o.mp4")
    assert run.returncode == 1, str(run)
    assert "refuses to unpickle code" in run.stderr and "Traceback" not in run.stderr
    assert not marker.exists()
    assert list(out_dir.iterdir()) == []
