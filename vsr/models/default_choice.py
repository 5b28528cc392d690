"""The model ``vsr upscale`` runs when ``--model`` is not given: ``temporal``, or ``temporal-archive`` for
input its codec quantised hard (``vsr.io.quantizer``).

The two are trained for different input: ``temporal`` on clean LR, ``temporal-archive`` on LR through
H.264 and MPEG-2 (their model cards). Each loses about a decibel or more on the other's input, so the
choice follows the codec's own record of how coarsely it quantised: the mean quantiser the decoder
reports over frames spread through the section. The thresholds are where ``temporal-archive`` began to
beat ``temporal`` on the held-out clips, per scale: the x2 network is hurt by lighter compression than the
x4 one (docs/quality.md, "Which temporal model"). x3 takes x4's threshold (``temporal-archive`` has no x3
member: its x4 member runs and is scaled down). A codec that reports no quantiser (HEVC, AV1, VP8, lossless,
raw) gets ``temporal``, and the plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from vsr.io.quantizer import Quantizer
from vsr.models.registry import DEFAULT_MODEL

COMPRESSED_MODEL = "temporal-archive"
# the least mean quantiser from which COMPRESSED_MODEL runs, per codec family and native scale (docs/quality.md)
COMPRESSED_FROM = {"h264": {2: 17.0, 4: 21.0}, "mpeg": {2: 3.0, 4: 5.2}}


@dataclass(frozen=True)
class DefaultModel:
    """The model picked, and why (for the plan)."""

    name: str
    reason: str


def threshold(kind: str, scale: int) -> float | None:
    """The mean quantiser from which ``COMPRESSED_MODEL`` runs for a ``kind`` stream at native ``scale``."""
    by_scale = COMPRESSED_FROM.get(kind)
    if not by_scale:
        return None
    return by_scale.get(scale, by_scale[max(by_scale)])


def default_model(quantizer: Quantizer | None, codec: str, scale: int) -> DefaultModel:
    """``temporal-archive`` where the codec's mean quantiser reaches the threshold for ``scale`` (the default
    family's member for the job), else ``temporal``."""
    bound = threshold(quantizer.kind, scale) if quantizer else None
    if bound is None:
        what = (f"{codec} reports no quantiser" if quantizer is None
                else f"{codec}, {quantizer.describe()}: no threshold measured for {quantizer.kind}")
        return DefaultModel(DEFAULT_MODEL, f"the default ({what}); --model {COMPRESSED_MODEL} for compressed video")
    if quantizer.mean >= bound:
        return DefaultModel(COMPRESSED_MODEL, f"picked for compressed input: {codec}, {quantizer.describe()} "
                                              f"(>= {bound:g} at x{scale}); --model {DEFAULT_MODEL} for clean video")
    return DefaultModel(DEFAULT_MODEL, f"picked for lightly compressed input: {codec}, {quantizer.describe()} "
                                       f"(< {bound:g} at x{scale}); --model {COMPRESSED_MODEL} for compressed video")
