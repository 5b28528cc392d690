"""vsr.models.load reproduces the publishers' own implementations (golden values).

Each case writes a checkpoint in a publisher's exact layout and container (official EDSR-PyTorch:
a bare ``state_dict``; BasicSR: ``{"params": ...}``; Real-ESRGAN x4plus: ``{"params_ema": ...}``),
with weights from a portable integer hash (no RNG, so the values do not depend on the torch
version), loads it with ``vsr.models.load`` without hints, runs a fixed input and compares with
numbers that the REFERENCE code computed on the same weights and input:

- official EDSR: ``sanghyun-son/EDSR-PyTorch`` ``src/model/edsr.py`` + ``common.py``, fed
  ``x * rgb_range`` and divided back (it works on [0, rgb_range]);
- ``XPixelGroup/BasicSR`` @ 8d56e3a ``basicsr/archs/{edsr,srresnet,rrdbnet}_arch.py`` (+ ``arch_util``);
- ``xinntao/Real-ESRGAN`` @ a4abfb2 ``realesrgan/archs/srvgg_arch.py``.

The reference code is not part of this repository. The golden numbers were produced by a scratch
script that built each reference class, checked that its ``state_dict()`` keys and shapes equal
the layout functions below, loaded these weights with ``strict=True`` and ran it on ``_input``.
Recorded per case: the output shape, 4 output values at fixed positions, the plain sum and a
weighted checksum over every output value (weights from the same hash), so any difference in a
layer, ordering or constant shows up.
"""

from __future__ import annotations

import math

import pytest
import torch

from vsr.models import loader

torch.set_num_threads(1)

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


# --------------------------------------------------------------------------- portable values


def _hash_uniform(n: int, salt: int) -> torch.Tensor:
    """n values in [-1, 1) from an integer hash of (index, salt): identical on every platform."""
    h = (torch.arange(n, dtype=torch.int64) * 2654435761 + salt * 97531 + 12345) % 2**32
    h = ((h ^ (h >> 15)) * 2246822519) % 2**32
    h = ((h ^ (h >> 13)) * 3266489917) % 2**32
    h = h ^ (h >> 16)
    return (h.to(torch.float64) / 2**31 - 1.0).to(torch.float32)


def _weights(shapes: dict[str, tuple[int, ...]], *, rgb_range: float = 255.0) -> dict[str, torch.Tensor]:
    """Deterministic weights for a layout; MeanShift constants as the official code sets them."""
    out = {}
    for salt, key in enumerate(sorted(shapes)):
        shape = shapes[key]
        if key.startswith(("sub_mean.", "add_mean.")):
            sign = -1.0 if key.startswith("sub_mean.") else 1.0
            out[key] = (
                torch.eye(3).view(3, 3, 1, 1)
                if key.endswith("weight")
                else sign * rgb_range * torch.tensor(DIV2K_MEAN)
            )
            continue
        u = _hash_uniform(math.prod(shape), salt).view(shape)
        if len(shape) == 4:  # conv weight: variance-preserving-ish scale
            out[key] = u * (1.5 / math.sqrt(math.prod(shape[1:])))
        elif key.endswith("weight"):  # PReLU slopes
            out[key] = 0.2 + 0.1 * u
        else:  # bias
            out[key] = 0.05 * u
    return out


def _input(shape: tuple[int, ...]) -> torch.Tensor:
    return (_hash_uniform(math.prod(shape), 424242).view(shape) + 1.0) / 2.0  # [0, 1)


def _summary(y: torch.Tensor) -> list[float]:
    flat = y.detach().double().flatten()
    n = flat.numel()
    picks = [flat[i].item() for i in (0, n // 3, (2 * n) // 3, n - 1)]
    checksum = (flat * _hash_uniform(n, 777).double()).sum().item()
    return [*picks, flat.sum().item(), checksum]


def assert_matches_golden(y, golden, *, point: float, per_sqrt_n: float, relative: float) -> None:
    """``y`` against ``(shape, summary)`` from the reference: four outputs within ``point``; the two
    sums over all outputs within a tolerance that grows with their count."""
    want_shape, want = golden
    assert tuple(y.shape) == want_shape
    got = _summary(y)
    for g, w in zip(got[:4], want[:4]):
        assert abs(g - w) <= point, (got, want)
    tol = per_sqrt_n * math.sqrt(y.numel()) + relative * abs(want[4])
    assert abs(got[4] - want[4]) <= tol and abs(got[5] - want[5]) <= tol, (got, want)


# --------------------------------------------------------------------------- publisher layouts


def _conv(key: str, cout: int, cin: int, k: int = 3) -> dict[str, tuple[int, ...]]:
    return {f"{key}.weight": (cout, cin, k, k), f"{key}.bias": (cout,)}


def _upsample_stages(prefix: str, nf: int, scale: int) -> dict[str, tuple[int, ...]]:
    """conv, PixelShuffle, conv, PixelShuffle, ...: convs at even indices (EDSR / BasicSR Upsample)."""
    if scale == 3:
        return _conv(f"{prefix}.0", 9 * nf, nf)
    out = {}
    for i in range(int(math.log2(scale))):
        out |= _conv(f"{prefix}.{2 * i}", 4 * nf, nf)
    return out


def official_edsr(nb: int, nf: int, scale: int) -> dict[str, tuple[int, ...]]:
    s = {"sub_mean.weight": (3, 3, 1, 1), "sub_mean.bias": (3,), "add_mean.weight": (3, 3, 1, 1), "add_mean.bias": (3,)}
    s |= _conv("head.0", nf, 3)
    for i in range(nb):
        s |= _conv(f"body.{i}.body.0", nf, nf) | _conv(f"body.{i}.body.2", nf, nf)
    s |= _conv(f"body.{nb}", nf, nf)
    return s | _upsample_stages("tail.0", nf, scale) | _conv("tail.1", 3, nf)


def basicsr_edsr(nb: int, nf: int, scale: int) -> dict[str, tuple[int, ...]]:
    s = _conv("conv_first", nf, 3)
    for i in range(nb):
        s |= _conv(f"body.{i}.conv1", nf, nf) | _conv(f"body.{i}.conv2", nf, nf)
    return s | _conv("conv_after_body", nf, nf) | _upsample_stages("upsample", nf, scale) | _conv("conv_last", 3, nf)


def basicsr_msrresnet(nb: int, nf: int, scale: int) -> dict[str, tuple[int, ...]]:
    s = _conv("conv_first", nf, 3)
    for i in range(nb):
        s |= _conv(f"body.{i}.conv1", nf, nf) | _conv(f"body.{i}.conv2", nf, nf)
    if scale == 4:
        s |= _conv("upconv1", 4 * nf, nf) | _conv("upconv2", 4 * nf, nf)
    else:
        s |= _conv("upconv1", scale * scale * nf, nf)
    return s | _conv("conv_hr", nf, nf) | _conv("conv_last", 3, nf)


def basicsr_rrdbnet(nb: int, nf: int, gc: int, scale: int) -> dict[str, tuple[int, ...]]:
    s = _conv("conv_first", nf, 3 * {4: 1, 2: 4, 1: 16}[scale])
    for i in range(nb):
        for r in (1, 2, 3):
            for c in range(1, 5):
                s |= _conv(f"body.{i}.rdb{r}.conv{c}", gc, nf + (c - 1) * gc)
            s |= _conv(f"body.{i}.rdb{r}.conv5", nf, nf + 4 * gc)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        s |= _conv(name, nf, nf)
    return s | _conv("conv_last", 3, nf)


def realesrgan_srvgg(nc: int, nf: int, scale: int) -> dict[str, tuple[int, ...]]:
    s = _conv("body.0", nf, 3) | {"body.1.weight": (nf,)}
    for i in range(nc):
        s |= _conv(f"body.{2 * i + 2}", nf, nf) | {f"body.{2 * i + 3}.weight": (nf,)}
    return s | _conv(f"body.{2 * nc + 2}", 3 * scale * scale, nf)


# --------------------------------------------------------------------------- cases
# name: (layout, container key or None for a bare state dict, input shape, load overrides, rgb_range)

CASES = {
    "official_edsr_baseline_x2": (lambda: official_edsr(16, 64, 2), None, (1, 3, 6, 7), {}, 255.0),
    "official_edsr_baseline_x3": (lambda: official_edsr(16, 64, 3), None, (1, 3, 6, 7), {}, 255.0),
    "official_edsr_baseline_x4": (lambda: official_edsr(16, 64, 4), None, (1, 3, 6, 7), {}, 255.0),
    "official_edsr_r4f32_rs0.1_x2": (lambda: official_edsr(4, 32, 2), None, (1, 3, 6, 7), {"res_scale": 0.1}, 255.0),
    "official_edsr_r2f256_rs0.1_x2": (lambda: official_edsr(2, 256, 2), None, (1, 3, 4, 5), {}, 255.0),
    "official_edsr_rgb_range1_x2": (lambda: official_edsr(4, 32, 2), None, (1, 3, 6, 7), {}, 1.0),
    "basicsr_edsr_x2": (lambda: basicsr_edsr(4, 32, 2), "params", (1, 3, 6, 7), {}, 255.0),
    "basicsr_edsr_x4": (lambda: basicsr_edsr(4, 32, 4), "params", (1, 3, 6, 7), {}, 255.0),
    "basicsr_msrresnet_x4": (lambda: basicsr_msrresnet(4, 32, 4), "params", (1, 3, 6, 7), {}, 255.0),
    "basicsr_rrdbnet_x4": (lambda: basicsr_rrdbnet(2, 16, 8, 4), "params_ema", (1, 3, 6, 7), {}, 255.0),
    "basicsr_rrdbnet_x2": (lambda: basicsr_rrdbnet(2, 16, 8, 2), "params_ema", (1, 3, 6, 8), {}, 255.0),
    "realesrgan_srvgg_c16_x4": (lambda: realesrgan_srvgg(16, 16, 4), "params", (1, 3, 6, 7), {}, 255.0),
    "realesrgan_srvgg_c32_x4": (lambda: realesrgan_srvgg(32, 16, 4), "params", (1, 3, 6, 7), {}, 255.0),
}

# Computed by the reference implementations (see the module docstring): shape, then
# [out[0], out[n//3], out[2n//3], out[-1], sum, weighted checksum].
GOLDEN: dict[str, tuple[tuple[int, ...], list[float]]] = {
    'basicsr_edsr_x2': ((1, 3, 12, 14), [0.5483993, 0.4009725, 0.3816803, 0.4580398, 214.5220627, -1.7935431]),
    'basicsr_edsr_x4': ((1, 3, 24, 28), [0.3646004, 0.3837979, 0.3804841, 0.3523692, 860.5466356, -5.9853862]),
    'basicsr_msrresnet_x4': ((1, 3, 24, 28), [0.3364684, 0.6073833, 0.3826154, 0.2225407, 1010.0878777, -6.0361914]),
    'basicsr_rrdbnet_x2': ((1, 3, 12, 16), [0.0738646, -0.0339361, -0.0098482, 0.0371949, 59.229518, 5.2698237]),
    'basicsr_rrdbnet_x4': ((1, 3, 24, 28), [0.0845413, -0.0424536, 0.1089748, 0.0981786, 229.5129934, 1.3661565]),
    'official_edsr_baseline_x2': ((1, 3, 12, 14), [0.6514556, 0.4595397, 0.4947608, 0.7573044, 293.9141682, 14.3719576]),
    'official_edsr_baseline_x3': ((1, 3, 18, 21), [0.8257101, -0.1523336, 0.3250673, 0.2835148, 392.2373245, 6.3072852]),
    'official_edsr_baseline_x4': ((1, 3, 24, 28), [0.5452059, 0.270353, 0.3261998, 0.43251, 767.3512261, 0.1599404]),
    'official_edsr_r2f256_rs0.1_x2': ((1, 3, 8, 10), [0.4884667, 0.5451505, 0.2201539, 0.446838, 103.8971253, 0.5133879]),
    'official_edsr_r4f32_rs0.1_x2': ((1, 3, 12, 14), [0.5484775, 0.4116269, 0.3404441, 0.5532654, 214.4640141, 4.0228451]),
    'official_edsr_rgb_range1_x2': ((1, 3, 12, 14), [0.5709391, 0.5329447, 0.4132217, 0.6121576, 225.2337934, 4.7500747]),
    'realesrgan_srvgg_c16_x4': ((1, 3, 24, 28), [0.287609, 0.642554, 0.3023682, 0.2058698, 1006.5290874, -3.7108236]),
    'realesrgan_srvgg_c32_x4': ((1, 3, 24, 28), [0.2926313, 0.6376669, 0.3033852, 0.1592675, 1016.1935051, -3.4819848]),
}


def _checkpoint(tmp_path, name: str):
    layout, wrap, shape, overrides, rgb_range = CASES[name]
    state = _weights(layout(), rgb_range=rgb_range)
    path = tmp_path / f"{name}.pth"
    torch.save(state if wrap is None else {wrap: state}, path)
    return path, state, shape, overrides


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference_implementation(tmp_path, name):
    path, _, shape, overrides = _checkpoint(tmp_path, name)
    model = loader.load(path, **overrides)
    with torch.no_grad():
        y = model(_input(shape))
    assert_matches_golden(y, GOLDEN[name], point=1e-4, per_sqrt_n=1e-4, relative=1e-5)


def test_res_scale_is_not_in_the_weights(tmp_path):
    """A residual-scaled EDSR below 256 features needs ``res_scale=`` from the caller: the scale
    folds into conv2, so the weights cannot show it and the 1.0 guess gives different output."""
    path, _, shape, _ = _checkpoint(tmp_path, "official_edsr_r4f32_rs0.1_x2")
    model = loader.load(path)
    assert model.config["res_scale"] == 1.0
    with torch.no_grad():
        got = _summary(model(_input(shape)))
    assert abs(got[5] - GOLDEN["official_edsr_r4f32_rs0.1_x2"][1][5]) > 1e-2


def test_edsr_rgb_range_is_read_from_add_mean(tmp_path):
    path, *_ = _checkpoint(tmp_path, "official_edsr_rgb_range1_x2")
    assert loader.load(path).rgb_range == 1.0
    path, *_ = _checkpoint(tmp_path, "official_edsr_baseline_x2")
    assert loader.load(path).rgb_range == 255.0
