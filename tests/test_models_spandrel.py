"""Community checkpoints (spandrel's architectures) in the layouts their publishers use.

Random-weight models are built with spandrel's own architecture classes and saved as publishers
save them: bare state dict, ``params``/``params_ema`` wrapping, safetensors, the old ESRGAN layout.
``vsr.models.load`` must give the right scale and spandrel's own output (within 1e-3).
"""

from __future__ import annotations

import pickle

import pytest
import torch

spandrel = pytest.importorskip("spandrel")  # a core dependency: .ci/run installs it, so this never skips there

from spandrel.architectures.Compact import Compact  # noqa: E402
from spandrel.architectures.DAT import DAT  # noqa: E402
from spandrel.architectures.DnCNN import DnCNN  # noqa: E402
from spandrel.architectures.ESRGAN import ESRGAN  # noqa: E402
from spandrel.architectures.HAT import HAT  # noqa: E402
from spandrel.architectures.OmniSR import OmniSR  # noqa: E402
from spandrel.architectures.PLKSR import RealPLKSR  # noqa: E402
from spandrel.architectures.RealCUGAN import UpCunet2x  # noqa: E402
from spandrel.architectures.SAFMN import SAFMN  # noqa: E402
from spandrel.architectures.SCUNet import SCUNet  # noqa: E402
from spandrel.architectures.SPAN import SPAN  # noqa: E402
from spandrel.architectures.SwinIR import SwinIR  # noqa: E402

from conftest import PicklePayload  # noqa: E402
from vsr.errors import ModelError, UnsupportedModelError  # noqa: E402
from vsr.models import load  # noqa: E402
from vsr.models.loader import describe, load_model  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# name -> (factory of a tiny random-weight network, scale, loader vsr should use)
TINY = {
    "esrgan-old-x4": (lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4), 4, "spandrel"),
    "esrgan-old-x2-unshuffle": (lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2, shuffle_factor=2), 2, "spandrel"),
    "compact": (lambda: Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4), 4, "vsr"),
    "span": (lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=2), 2, "vsr"),
    "realplksr": (lambda: RealPLKSR(dim=16, n_blocks=2, upscaling_factor=2), 2, "spandrel"),
    "realcugan": (lambda: UpCunet2x(in_channels=3, out_channels=3), 2, "spandrel"),
    "dat": (lambda: DAT(upscale=2, embed_dim=16, depth=[1], num_heads=[2], split_size=[2, 4], expansion_factor=2.0, img_size=16), 2, "spandrel"),
    "hat": (lambda: HAT(upscale=2, embed_dim=12, depths=[1], num_heads=[2], window_size=4, img_size=16, num_feat=8,
                        compress_ratio=2, squeeze_factor=2), 2, "spandrel"),
    "swinir-light": (lambda: SwinIR(upscale=2, embed_dim=12, depths=[1], num_heads=[2], window_size=4,
                                    upsampler="pixelshuffledirect", img_size=16), 2, "spandrel"),
    "omnisr": (lambda: OmniSR(num_feat=8, up_scale=2, res_num=1, block_num=1, window_size=4), 2, "spandrel"),
    "scunet-1x": (lambda: SCUNet(in_nc=3, config=[1, 1, 1, 1, 1, 1, 1], dim=64), 1, "spandrel"),
    "dncnn-1x-grey": (lambda: DnCNN(in_nc=1, out_nc=1, nc=8, nb=5), 1, "spandrel"),
    "safmn": (lambda: SAFMN(dim=8, n_blocks=1, upscaling_factor=2), 2, "spandrel"),
}
LAYOUTS = ("bare.pth", "params.pth", "params_ema.pth", "safetensors")


def save_as(state: dict, path_stem, layout: str):
    """Save ``state`` the way a publisher does."""
    state = {k: v.detach().clone().contiguous() for k, v in state.items()}
    if layout == "safetensors":
        from safetensors.torch import save_file

        path = path_stem.with_suffix(".safetensors")
        save_file(state, str(path), metadata={"modelspec.author": "a tester", "modelspec.license": "CC0"})
        return path
    path = path_stem.with_suffix(".pth")
    if layout == "bare.pth":
        torch.save(state, path)
    elif layout == "params.pth":
        torch.save({"params": state}, path)
    else:  # BasicSR training output: EMA weights next to the raw ones (which must not be picked)
        torch.save({"params": {k: torch.zeros_like(v) for k, v in state.items()}, "params_ema": state}, path)
    return path


def reference(descriptor, x: torch.Tensor) -> torch.Tensor:
    """spandrel's own output, image by image (grey models: channel by channel)."""
    outs = []
    for i in range(x.shape[0]):
        if descriptor.input_channels == 1:
            outs.append(torch.cat([descriptor(x[i : i + 1, c : c + 1]) for c in range(3)], dim=1))
        else:
            outs.append(descriptor(x[i : i + 1]))
    return torch.cat(outs)


@pytest.fixture(scope="module")
def networks():
    torch.manual_seed(0)
    return {name: make().eval() for name, (make, _, _) in TINY.items()}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(TINY))
def test_community_checkpoint_loads_and_matches_spandrel(tmp_path, networks, name, layout):
    _, scale, loader_name = TINY[name]
    state = networks[name].state_dict()
    path = save_as(state, tmp_path / name, layout)
    loaded = load_model(path)
    assert loaded.scale == scale and loaded.module.scale == scale
    assert loaded.describe().loader == loader_name
    descriptor = spandrel.ModelLoader().load_from_state_dict(dict(state))
    x = torch.rand(2, 3, 20, 27, generator=torch.Generator().manual_seed(1))  # not a multiple of anything
    with torch.inference_mode():
        ours = load(path)(x).clamp(0, 1)
    ref = reference(descriptor, x)
    assert ours.shape == (2, 3, 20 * scale, 27 * scale)
    assert float((ours - ref).abs().max()) < 1e-3


def test_facts_say_loader_why_and_precisions(tmp_path, networks):
    dat = save_as(networks["dat"].state_dict(), tmp_path / "dat", "safetensors")
    facts = describe(dat)
    assert (facts.arch, facts.scale, facts.loader) == ("DAT", 2, "spandrel")
    assert "fp16" not in facts.precisions and "bf16" in facts.precisions  # spandrel: DAT does not support fp16
    assert "spandrel" in facts.why
    assert facts.metadata == {"modelspec.author": "a tester", "modelspec.license": "CC0"}
    assert facts.params == sum(p.numel() for p in networks["dat"].parameters())
    compact = describe(save_as(networks["compact"].state_dict(), tmp_path / "compact", "bare.pth"))
    assert compact.loader == "vsr" and "detected from the tensor shapes" in compact.why
    swinir = describe(save_as(networks["swinir-light"].state_dict(), tmp_path / "swinir", "params.pth"))
    assert swinir.tiling == "discouraged"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_code_pickle_next_to_community_weights_is_refused_unrun(tmp_path, networks):
    marker = tmp_path / "pwned"
    evil = tmp_path / "4x_esrgan.pth"
    state = dict(networks["esrgan-old-x4"].state_dict())
    torch.save({"params_ema": state, "hook": PicklePayload(str(marker))}, evil)
    with pytest.raises(ModelError, match="refuses to unpickle code"):
        load(evil)
    with open(tmp_path / "raw.pth", "wb") as f:
        pickle.dump({**state, "x": PicklePayload(str(marker))}, f)
    with pytest.raises(ModelError, match="refuses to unpickle code"):
        describe(tmp_path / "raw.pth")
    assert not marker.exists()


def test_truncated_and_unknown_files_are_usage_errors(tmp_path, networks):
    path = save_as(networks["hat"].state_dict(), tmp_path / "hat", "bare.pth")
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsupportedModelError, match="truncated") as err:
        load(tmp_path / "cut.pth")
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
    torch.save({"encoder.layer0.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "x.pth")
    with pytest.raises(UnsupportedModelError, match="neither vsr's architectures .* nor spandrel's"):
        load(tmp_path / "x.pth")


def test_batches_run_like_single_frames(tmp_path, networks):
    """A custom spandrel call function (DnCNN) and padding give the same pictures in a batch."""
    path = save_as(networks["dncnn-1x-grey"].state_dict(), tmp_path / "dncnn", "bare.pth")
    net = load(path)
    x = torch.rand(3, 3, 17, 19)
    with torch.inference_mode():
        whole = net(x)
        single = torch.cat([net(x[i : i + 1]) for i in range(3)])
    assert torch.allclose(whole, single, atol=1e-5)


def test_arch_takes_spandrel_names(tmp_path, networks):
    """--arch DAT (any case) loads with spandrel's DAT only; the wrong one, or a name nobody knows, says so."""
    dat = save_as(networks["dat"].state_dict(), tmp_path / "dat", "bare.pth")
    old = save_as(networks["esrgan-old-x4"].state_dict(), tmp_path / "old", "bare.pth")
    assert load_model(dat, arch="dat").describe().arch == "DAT"
    assert describe(dat, arch="DAT").scale == 2
    assert load_model(old, arch="ESRGAN").scale == 4  # vsr's esrgan (rrdbnet) layout does not fit: spandrel's does
    with pytest.raises(UnsupportedModelError, match="does not look like spandrel's HAT.*leave out --arch"):
        load_model(dat, arch="hat")
    with pytest.raises(UnsupportedModelError, match="does not look like rrdbnet or spandrel's ESRGAN"):
        load_model(dat, arch="esrgan")
    with pytest.raises(ModelError, match=r"unknown architecture 'nope'; vsr's: .*edsr.*spandrel's: .*DAT.*SwinIR"):
        load_model(dat, arch="nope")


def test_models_info_describes_each_member_of_a_family(vsr):
    from vsr.models import registry

    family = next((e.family for e in registry.installed_shipped() if e.family), None)
    if family is None:
        pytest.skip("no shipped family installed")
    members = sorted((e.scale, e.name) for e in registry.installed_shipped() if e.family == family)
    run = vsr("models", "info", family)
    assert run.returncode == 0, str(run)
    assert run.stdout.splitlines()[0].startswith(f"{family}: {len(members)} members installed")
    for scale, name in members:
        assert f"x{scale}: {name}" in run.stdout and f"scale          x{scale}" in run.stdout
    data = vsr("models", "info", family, "--json").json()
    assert data["family"] == family and [m["scale"] for m in data["members"]] == [s for s, _ in members]
