"""Chains of models (--model A+B): scale, overlap, size multiple, resolver, precision fit."""

from __future__ import annotations

import pytest
import torch

from vsr.backends.precision import PrecisionChoice, fit_precision
from vsr.backends.tiling import run_tiled
from vsr.errors import UsageError
from vsr.models import loader
from vsr.models.chain import chain_multiple, chain_overlap, split_chain
from vsr.models.resolver import resolve


@pytest.fixture()
def two_models(tmp_path):
    torch.manual_seed(0)
    a = loader.save(loader.build("srvgg", num_features=8, num_conv=2, scale=1), tmp_path / "1x_a.safetensors")
    b = loader.save(loader.build("srvgg", num_features=8, num_conv=2, scale=2), tmp_path / "2x_b.safetensors")
    return a, b


def test_chain_is_its_links_back_to_back(two_models):
    a, b = two_models
    chain = loader.load_model(f"{a}+{b}")
    assert chain.scale == 2 and chain.describe().loader == "chain"
    assert [f.arch for f in chain.describe().links] == ["srvgg", "srvgg"]
    x = torch.rand(2, 3, 13, 17)
    with torch.inference_mode():
        assert torch.allclose(chain.module(x), loader.load(b)(loader.load(a)(x)), atol=1e-6)


def test_tiles_through_the_chain_match_whole_frames(two_models):
    a, b = two_models
    chain = loader.load_model(f"{a}+{b}").module
    x = torch.rand(1, 3, 40, 52)
    overlap = chain_overlap(16, [1, 2])
    with torch.inference_mode():
        whole = chain(x)
        tiled = run_tiled(chain, x, scale=2, tile=overlap * 2 + 8, overlap=overlap)
    assert torch.allclose(whole, tiled, atol=1e-5)


def test_overlap_and_multiple_cover_every_link():
    assert chain_overlap(16, [1, 2]) == 32
    assert chain_overlap(16, [2, 4]) == 16 + 8
    assert chain_multiple([(1, 1), (4, 2)]) == 4  # a x2 unshuffle-by-4 link after a 1x one
    assert chain_multiple([(1, 2), (4, 2)]) == 2  # after x2, four of its pixels are two of the input's


def test_resolver_multiplies_scales_and_expands_families(two_models):
    a, _ = two_models
    resolved = resolve(f"{a}+edsr-baseline")
    assert sorted(resolved.scales) == [2, 3, 4]
    assert resolved.source(3) == f"{a}+edsr-baseline-x3"
    with pytest.raises(UsageError, match="resampler"):
        resolve(f"{a}+lanczos")
    with pytest.raises(UsageError, match="two or more models"):
        split_chain(f"{a}+ ")


def test_a_file_with_plus_in_its_name_is_a_file(two_models, tmp_path):
    a, _ = two_models
    odd = tmp_path / "1x+sharp.safetensors"
    odd.write_bytes(a.read_bytes())
    assert not loader.is_chain(odd) and loader.load_model(odd).scale == 1


def test_precision_fits_what_the_model_computes_correctly(monkeypatch):
    fp16 = PrecisionChoice("fp16", "CUDA GPU: fp16 tensor cores")
    assert fit_precision(fp16, ("fp32", "fp16", "bf16"), "auto", "cuda", "m") is fp16
    import torch.cuda

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    picked = fit_precision(fp16, ("fp32", "bf16"), "auto", "cuda", "DAT")
    assert picked.precision == "bf16" and "DAT does not support fp16" in picked.reason
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert fit_precision(fp16, ("fp32", "bf16"), "auto", "cuda", "DAT").precision == "fp32"
    bf16 = PrecisionChoice("bf16", "CPU computes bf16 natively")
    assert fit_precision(bf16, ("fp32",), "auto", "cpu", "x.onnx").precision == "fp32"
    with pytest.raises(UsageError, match="--precision fp16: DAT does not compute correctly in fp16"):
        fit_precision(PrecisionChoice("fp16", "asked"), ("fp32", "bf16"), "fp16", "cuda", "DAT")
