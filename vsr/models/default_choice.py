"""The model ``vsr upscale`` runs when ``--model`` is not given: ``temporal``, or ``temporal-archive`` for
input its codec quantised hard or that is noisy (``vsr.io.damage``).

The two are trained for different input: ``temporal`` on clean LR, ``temporal-archive`` on LR through
H.264 and MPEG-2, lightly noisy at times (their model cards). Each loses about a decibel or more on the
other's input, so the choice follows what a sample of the input's frames shows: the mean quantiser the
decoder reports, and the noise in the pictures. The thresholds are where ``temporal-archive`` began to beat
``temporal`` on the held-out clips, per scale: at x2 it pays off from lighter compression than at x4
(docs/quality.md, "Which temporal model"). x3 takes x4's thresholds (``temporal-archive`` has no x3 member:
its x4 member runs and is scaled down). A codec that reports no quantiser (HEVC, AV1, VP8, lossless, raw) is
judged by its noise alone, and the plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from vsr.io.damage import InputDamage
from vsr.io.quantizer import MEASURABLE
from vsr.models.registry import DEFAULT_MODEL

COMPRESSED_MODEL = "temporal-archive"
# the least mean quantiser from which COMPRESSED_MODEL runs, per codec family and native scale (docs/quality.md)
COMPRESSED_FROM = {"h264": {2: 17.0, 4: 21.0}, "mpeg": {2: 3.0, 4: 5.2}, "vp9": {2: 54.0, 4: 79.0}}
# the least noise sigma (vsr.io.damage.noise_sigma, 8-bit luma) from which COMPRESSED_MODEL runs, per native scale
NOISE_FROM = {2: 1.5, 4: 2.5}


@dataclass(frozen=True)
class DefaultModel:
    """The model picked, and why (for the plan)."""

    name: str
    reason: str


def _at_scale(by_scale: dict[int, float], scale: int) -> float:
    return by_scale.get(scale, by_scale[max(by_scale)])


def threshold(kind: str, scale: int) -> float:
    """The mean quantiser from which ``COMPRESSED_MODEL`` runs for a ``kind`` stream (``vsr.io.quantizer``'s kinds)
    at native ``scale``."""
    return _at_scale(COMPRESSED_FROM[kind], scale)


def noise_threshold(scale: int) -> float:
    """The noise sigma from which ``COMPRESSED_MODEL`` runs at native ``scale``."""
    return _at_scale(NOISE_FROM, scale)


def default_model(damage: InputDamage, codec: str, scale: int) -> DefaultModel:
    """``temporal-archive`` where the mean quantiser or the noise reaches its threshold for ``scale`` (the
    default family's member for the job), else ``temporal``."""
    q, seen, damaged = damage.quantizer, [], False
    if q is None and damage.noise is None:
        return DefaultModel(DEFAULT_MODEL, f"the default (no frame of the section could be measured); --model "
                                           f"{COMPRESSED_MODEL} for compressed or noisy video")
    if q is None:
        seen.append(f"{codec}: no quantiser in the frames sampled" if codec in MEASURABLE
                    else f"{codec} reports no quantiser")
    else:
        bound = threshold(q.kind, scale)
        seen.append(f"{codec}, {q.describe()} (from {bound:g} at x{scale})")
        damaged = q.mean >= bound
    if damage.noise is not None:
        seen.append(f"noise sigma {damage.noise:.1f} (from {noise_threshold(scale):g})")
        damaged = damaged or damage.noise >= noise_threshold(scale)
    if damaged:
        return DefaultModel(COMPRESSED_MODEL, f"picked for damaged input: {'; '.join(seen)}; "
                                              f"--model {DEFAULT_MODEL} for clean video")
    return DefaultModel(DEFAULT_MODEL, f"picked for clean input: {'; '.join(seen)}; "
                                       f"--model {COMPRESSED_MODEL} for compressed or noisy video")
