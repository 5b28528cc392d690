"""Every architecture: build -> state dict -> .pth / .safetensors -> load with no hints -> same model."""

from __future__ import annotations

import pytest
import torch

from vsr.models import loader

torch.set_num_threads(1)

# Tiny variants: every detectable hyper-parameter differs from its default.
VARIANTS = [
    ("edsr", dict(num_features=8, num_blocks=2, scale=2)),
    ("edsr", dict(num_features=8, num_blocks=3, scale=3)),
    ("edsr", dict(num_features=8, num_blocks=1, scale=4)),
    ("msrresnet", dict(num_features=8, num_blocks=2, scale=2)),
    ("msrresnet", dict(num_features=8, num_blocks=2, scale=3)),
    ("msrresnet", dict(num_features=8, num_blocks=1, scale=4)),
    ("srresnet", dict(num_features=8, num_blocks=2, scale=4)),
    ("srresnet", dict(num_features=8, num_blocks=1, scale=3)),
    ("rrdbnet", dict(num_features=8, num_blocks=2, growth_channels=4, scale=4)),
    ("rrdbnet", dict(num_features=8, num_blocks=1, growth_channels=4, scale=2)),
    ("rrdbnet", dict(num_features=8, num_blocks=1, growth_channels=4, scale=1)),
    ("srvgg", dict(num_features=8, num_conv=3, scale=4)),
    ("srvgg", dict(num_features=8, num_conv=2, scale=2)),
    ("srcnn", dict(num_features=8, kernel_sizes=(9, 1, 5))),
    ("vdsr", dict(num_features=8, num_layers=5)),
]
IDS = [f"{a}-" + "-".join(f"{v}" for v in kw.values()) for a, kw in VARIANTS]


def _same(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        ya, yb = a(x), b(x)
    assert ya.shape == yb.shape
    assert torch.allclose(ya, yb, atol=1e-5)


@pytest.mark.parametrize(("arch", "kwargs"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_raw_state_dict_round_trip(tmp_path, arch, kwargs, suffix):
    torch.manual_seed(0)
    model = loader.build(arch, **kwargs).eval()
    path = tmp_path / f"w{suffix}"
    if suffix == ".pth":
        torch.save(model.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    loaded = loader.load(path)  # no hints at all
    assert loaded.arch == arch and not loaded.training
    assert loaded.scale == model.scale
    assert loaded.config == model.config
    x = torch.rand(2, 3, 8, 12)
    _same(model, loaded, x)
    assert loaded(x).shape == (2, 3, 8 * model.scale, 12 * model.scale)
    assert loader.inspect(path) == (arch, model.scale)


@pytest.mark.parametrize(
    ("arch", "kwargs"),
    [
        ("edsr", dict(num_features=8, num_blocks=2, scale=3, res_scale=0.1, rgb_range=1.0)),
        ("srcnn", dict(num_features=8, scale=4)),
        ("vdsr", dict(num_features=8, num_layers=4, scale=3)),
        ("srvgg", dict(num_features=8, num_conv=2, scale=4, act_type="leakyrelu")),
    ],
    ids=["edsr-res-scale", "srcnn-x4", "vdsr-x3", "srvgg-lrelu"],
)
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_save_keeps_what_weights_cannot_show(tmp_path, arch, kwargs, suffix):
    torch.manual_seed(0)
    model = loader.build(arch, **kwargs).eval()
    path = loader.save(model, tmp_path / f"m{suffix}")
    loaded = loader.load(path)
    assert loaded.config == model.config
    _same(model, loaded, torch.rand(1, 3, 6, 7))
    assert loader.inspect(path) == (arch, kwargs["scale"])


def test_overrides_and_arch_hint(tmp_path):
    model = loader.build("vdsr", num_features=8, num_layers=4)
    path = tmp_path / "vdsr.pth"
    torch.save(model.state_dict(), path)
    assert loader.load(path).scale == 2  # not in the weights: default
    assert loader.load(path, scale=4).scale == 4
    assert loader.load(path, arch="VDSR", scale=3).scale == 3
    from vsr.errors import ModelError

    with pytest.raises(ModelError, match="does not look like rrdbnet"):
        loader.load(path, arch="esrgan")
    with pytest.raises(ModelError, match="unknown architecture"):
        loader.load(path, arch="transformer9000")


def test_load_model_describes_what_callers_need(tmp_path):
    """RRDBNet x2 unshuffles 2x2 pixels: tiles and ONNX samples must be even, and it still takes RGB."""
    model = loader.build("rrdbnet", num_features=8, num_blocks=1, growth_channels=4, scale=2)
    path = loader.save(model, tmp_path / "x2.safetensors")
    loaded = loader.load_model(path)
    assert (loaded.arch, loaded.scale, loaded.size_multiple, loaded.in_channels) == ("rrdbnet", 2, 2, 3)
    assert loaded.config == model.config and loaded.source == str(path)
    _same(model, loaded.module, torch.rand(1, 3, 6, 8))


def test_discriminator_any_size():
    from vsr.models.discriminator import VGGStyleDiscriminator

    d = VGGStyleDiscriminator(num_features=4).eval()
    with torch.no_grad():
        assert d(torch.rand(2, 3, 64, 64)).shape == (2, 1)
        assert d(torch.rand(1, 3, 128, 96)).shape == (1, 1)
