"""SPAN (``vsr.models.span``): golden values from the reference, detection, round trip, published keys.

Golden values: the reference is spandrel's SPAN, ``chaiNNer-org/spandrel``
``libs/spandrel/spandrel/architectures/SPAN/__arch/span.py`` @ 6ef8616 (the older @ b38aa2e, which
re-fuses ``eval_conv`` on every eval call, gives bit-identical output). It is not part of this
repository. A scratch script built it for each case below, checked that its ``state_dict()`` keys
and shapes equal ``published_span``, loaded ``span_weights`` (with the case's gain) strictly, ran
it in eval mode on ``_input(INPUT_SHAPE)`` and recorded ``_summary`` (4 values at fixed positions,
the sum and a weighted checksum); the weights, input and summary are the portable integer-hash helpers of
``test_models_reference``, so the numbers do not depend on the torch version or RNG.
"""

from __future__ import annotations


import pytest
import torch
from safetensors.torch import save_file
from test_models_reference import _input, _weights, assert_matches_golden
from test_models_roundtrip import VARIANTS

from vsr.models import architectures, loader
from vsr.models.loaded import LoadedModel
from vsr.models.span import ARCHITECTURE, SPAN, Conv3XC

torch.set_num_threads(1)

INPUT_SHAPE = (1, 3, 10, 12)
IMG_RANGE = 255.0

# --------------------------------------------------------------------------- published layout


def _conv(key: str, cout: int, cin: int, k: int) -> dict[str, tuple[int, ...]]:
    return {f"{key}.weight": (cout, cin, k, k), f"{key}.bias": (cout,)}


def _conv3xc(key: str, cin: int, cout: int) -> dict[str, tuple[int, ...]]:
    return (
        _conv(f"{key}.sk", cout, cin, 1)
        | _conv(f"{key}.conv.0", 2 * cin, cin, 1)
        | _conv(f"{key}.conv.1", 2 * cout, 2 * cin, 3)
        | _conv(f"{key}.conv.2", cout, 2 * cout, 1)
        | _conv(f"{key}.eval_conv", cout, cin, 3)
    )


def published_span(
    nf: int, scale: int, norm: bool = True, in_ch: int = 3, out_ch: int = 3
) -> dict[str, tuple[int, ...]]:
    """The key set and shapes of a published SPAN checkpoint (reference ``state_dict()``)."""
    s = {} if norm else {"no_norm": (1,)}
    s |= _conv3xc("conv_1", in_ch, nf)
    for b in range(1, 7):
        for c in (1, 2, 3):
            s |= _conv3xc(f"block_{b}.c{c}_r", nf, nf)
    s |= _conv("conv_cat", nf, 4 * nf, 1) | _conv3xc("conv_2", nf, nf)
    return s | _conv("upsampler.0", out_ch * scale * scale, nf, 3)


def span_weights(shapes: dict[str, tuple[int, ...]], gain: float = 1.3) -> dict[str, torch.Tensor]:
    """``_weights`` with every conv weight times ``gain`` and, when normalised, ``conv_1``'s
    input-side weights divided by ``img_range`` (as a trained model's are); ``no_norm`` is zeros.

    SPAB's attention ``(out + x) * (sigmoid(out) - 0.5)`` shrinks small signals quadratically and
    grows large ones geometrically: at ``_weights``' own scale blocks 2-5 barely reach the output;
    with the x255 input unscaled the outputs run to ~100 and float32 rounding of the fused convs
    dominates. The gains below keep the outputs O(1) with every block visible in them (changing
    any block's weights by 10% moves the output by far more than the tolerance)."""
    out = {k: v * gain if v.dim() == 4 else v for k, v in _weights(shapes).items()}
    if "no_norm" in out:
        out["no_norm"] = torch.zeros(1)
    else:
        for key in ("conv_1.sk.weight", "conv_1.conv.0.weight"):
            out[key] = out[key] / IMG_RANGE
    return out


# --------------------------------------------------------------------------- golden values
# name: (feature_channels, scale, norm, weight gain); an input in [0, 1] without the mean shift
# needs a lower gain than the shifted one for the same output range.

CASES = {
    "span_f16_x1": (16, 1, True, 1.3),
    "span_f16_x2": (16, 2, True, 1.3),
    "span_f16_x3": (16, 3, True, 1.3),
    "span_f16_x4": (16, 4, True, 1.3),
    "span_f48_x2": (48, 2, True, 1.3),
    "span_f48_x4": (48, 4, True, 1.3),
    "span_f16_x2_no_norm": (16, 2, False, 1.2),
}

# Computed by the reference (see the module docstring): shape, then
# [out[0], out[n//3], out[2n//3], out[-1], sum, weighted checksum].
GOLDEN: dict[str, tuple[tuple[int, ...], list[float]]] = {
    "span_f16_x1": ((1, 3, 10, 12), [0.2341107, 0.1107922, 0.2424549, 0.3756124, 91.7523661, -6.1389037]),
    "span_f16_x2": ((1, 3, 20, 24), [0.2341107, 0.1484706, 0.2042916, -0.0294654, 125.2530167, -16.4593521]),
    "span_f16_x2_no_norm": ((1, 3, 20, 24), [-0.2329028, 0.656258, 0.2731032, -0.3916063, 5.1101075, 48.1901985]),
    "span_f16_x3": ((1, 3, 30, 36), [0.2341107, 0.3007673, 0.2622809, -0.3779464, 165.5833925, -9.9292482]),
    "span_f16_x4": ((1, 3, 40, 48), [0.2341107, 0.197849, -0.2656168, 0.4076976, 172.4658815, 25.2079338]),
    "span_f48_x2": ((1, 3, 20, 24), [0.3751763, 0.4157797, -0.3398458, -0.1035254, -31.5798282, 6.6516762]),
    "span_f48_x4": ((1, 3, 40, 48), [0.3751763, 0.1657628, 0.0877472, 0.6099171, 12.2789166, 8.2978164]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference_implementation(tmp_path, name):
    nf, scale, norm, gain = CASES[name]
    path = tmp_path / f"{name}.safetensors"
    save_file(span_weights(published_span(nf, scale, norm), gain), str(path))
    model = loader.load(path)  # detection from the header shapes, strict load
    assert (model.arch, model.scale, model.config["num_features"], model.config["norm"]) == ("span", scale, nf, norm)
    assert not model.training
    with torch.no_grad():
        y = model(_input(INPUT_SHAPE))
    assert_matches_golden(y, GOLDEN[name], point=5e-5, per_sqrt_n=1e-5, relative=1e-6)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("nf", "scale", "norm"), [(48, 2, True), (48, 4, True), (32, 2, False), (16, 1, True), (16, 3, True), (64, 8, True)]
)
def test_detects_hyper_parameters_from_shapes(nf, scale, norm):
    found = architectures.detect(published_span(nf, scale, norm))
    assert found is not None and found.arch == "span"
    assert found.kwargs == {"in_channels": 3, "out_channels": 3, "num_features": nf, "scale": scale, "norm": norm}
    assert found.guessed == {"img_range"}


def test_detection_channels_and_inconsistent_shapes():
    gray = ARCHITECTURE.detect(published_span(16, 2, norm=False, in_ch=1, out_ch=1))
    assert (gray.kwargs["in_channels"], gray.kwargs["out_channels"], gray.kwargs["scale"]) == (1, 1, 2)
    # 12 = 3 * 2**2: a 4-channel input whose output is RGB (spandrel's candidates: in, 3, 4, 1)
    rgba_in = ARCHITECTURE.detect(published_span(16, 2, norm=False, in_ch=4, out_ch=3))
    assert (rgba_in.kwargs["out_channels"], rgba_in.kwargs["scale"]) == (3, 2)
    five_blocks = {k: v for k, v in published_span(16, 2).items() if not k.startswith("block_6.")}
    assert ARCHITECTURE.detect(five_blocks) is None
    bad_cat = published_span(16, 2) | {"conv_cat.weight": (16, 48, 1, 1)}
    assert ARCHITECTURE.detect(bad_cat) is None
    with pytest.raises(ValueError, match="norm=True needs in_channels=3"):
        SPAN(in_channels=1, out_channels=1, num_features=8)


@pytest.mark.parametrize(("arch", "kwargs"), VARIANTS, ids=[a for a, _ in VARIANTS])
def test_no_confusion_with_other_architectures(arch, kwargs):
    """SPAN's layout does not claim another architecture's keys, nor any other layout SPAN's."""
    other = {k: tuple(v.shape) for k, v in loader.build(arch, **kwargs).state_dict().items()}
    assert ARCHITECTURE.detect(other) is None
    assert architectures.detect(other).arch == arch
    span_shapes = published_span(16, 2)
    for spec in architectures.ARCHITECTURES:
        if spec.name != "span":
            assert spec.detect(span_shapes) is None, spec.name


def test_inspect_reads_safetensors_header_only(tmp_path, monkeypatch):
    path = loader.save(SPAN(num_features=8, scale=2), tmp_path / "span.safetensors")
    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "load_file", lambda *a, **k: pytest.fail("read tensors"))
    assert loader.inspect(path) == ("span", 2)


# --------------------------------------------------------------------------- round trip


def _same(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        ya, yb = a(x), b(x)
    assert ya.shape == yb.shape
    assert torch.allclose(ya, yb, atol=1e-5)


SPAN_VARIANTS = [
    dict(num_features=8, scale=2),
    dict(num_features=8, scale=3),
    dict(num_features=12, scale=4),
    dict(num_features=8, scale=2, norm=False),
]


@pytest.mark.parametrize("kwargs", SPAN_VARIANTS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_raw_state_dict_round_trip(tmp_path, kwargs, suffix):
    torch.manual_seed(0)
    model = loader.build("span", **kwargs).eval()
    path = tmp_path / f"w{suffix}"
    if suffix == ".pth":
        torch.save(model.state_dict(), path)
    else:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    loaded = loader.load(path)  # no hints
    assert loaded.arch == "span" and loaded.config == model.config
    x = torch.rand(2, 3, 8, 12)
    _same(model, loaded, x)
    assert loaded(x).shape == (2, 3, 8 * model.scale, 12 * model.scale)
    assert loader.inspect(path) == ("span", model.scale)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_save_keeps_img_range(tmp_path, suffix):
    torch.manual_seed(0)
    model = SPAN(num_features=8, scale=2, img_range=1.0).eval()
    loaded = loader.load(loader.save(model, tmp_path / f"m{suffix}"))
    assert loaded.config == model.config and loaded.img_range == 1.0
    _same(model, loaded, torch.rand(1, 3, 6, 7))


# --------------------------------------------------------------------------- published checkpoints


def test_published_layout_loads_strict(tmp_path):
    """A traiNNer-style ``{"params_ema": ...}`` .pth with every published key (branches and
    ``eval_conv``) loads strict; the stored ``eval_conv`` is not what evaluation uses."""
    shapes = published_span(48, 2)
    sd = span_weights(shapes)
    path = tmp_path / "2xLiveActionV1_SPAN.pth"
    torch.save({"params_ema": sd, "params": {k: v * 0 for k, v in sd.items()}}, path)
    model = loader.load(path)
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert own == shapes
    stale = {k: (torch.zeros_like(v) if ".eval_conv." in k else v) for k, v in sd.items()}
    torch.save({"params_ema": stale}, tmp_path / "stale.pth")
    x = _input(INPUT_SHAPE)
    with torch.no_grad():
        assert torch.equal(model(x), loader.load(tmp_path / "stale.pth")(x))
    with pytest.raises(RuntimeError, match="no_norm"):
        model.load_state_dict(sd | {"no_norm": torch.zeros(1)}, strict=True)


def test_conv3xc_fused_equals_branches():
    """Eval (one fused 3x3 conv) equals training (the branches, which zero-pad before their first
    1x1 conv), borders included; a fresh module's eval_conv already holds the fused conv."""
    torch.manual_seed(0)
    conv = Conv3XC(4, 6)
    for p in conv.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.rand(2, 4, 9, 11)
    with torch.no_grad():
        train_out = conv.train()(x)
        eval_out = conv.eval()(x)
    assert torch.allclose(train_out, eval_out, atol=1e-5)
    fresh = Conv3XC(4, 6)
    weight, bias = fresh.fused()
    assert torch.allclose(fresh.eval_conv.weight, weight) and torch.allclose(fresh.eval_conv.bias, bias)


def test_eval_conv_follows_the_branches(tmp_path):
    """Weights loaded into a model already in eval mode, or changed in training mode, reach eval."""
    sd = span_weights(published_span(8, 2))
    path = tmp_path / "w.safetensors"
    save_file(sd, str(path))
    want = loader.load(path)
    model = SPAN(num_features=8, scale=2).eval()
    model.load_state_dict(sd)
    x = _input(INPUT_SHAPE)
    with torch.no_grad():
        assert torch.equal(model(x), want(x))
        model.train()
        model.block_2.c1_r.conv[1].weight.mul_(2.0)
        model.eval()
        assert not torch.allclose(model(x), want(x), atol=1e-4)


def test_onnx_export_matches_torch(tmp_path):
    """The fused convs are plain Conv2d in eval mode, so the TorchScript ONNX exporter sees constant kernels."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (pip install 'vsr[test]')")
    from vsr.backends.onnx_export import export_onnx

    model = SPAN(num_features=8, scale=2).eval()
    model.load_state_dict(span_weights(published_span(8, 2)))
    path = tmp_path / "span.onnx"
    export_onnx(LoadedModel.of(model), path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = _input((2, 3, 6, 9))
    with torch.no_grad():
        want = model(x)
    got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-5)
