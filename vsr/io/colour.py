"""Colour tags to write for the output, derived from the input's (guessed where untagged)."""

from __future__ import annotations

from dataclasses import dataclass

from vsr.io.probe import ColourInfo

# swscale matrix name -> (AVColorSpace, AVColorPrimaries, AVColorTransferCharacteristic) to tag
_DEFAULT_TAGS = {
    "itu709": (1, 1, 1),
    "itu601": (6, 6, 6),
    "smpte170m": (6, 6, 6),
    "smpte240m": (7, 7, 7),
    "fcc": (4, 4, 4),
    "bt2020": (9, 9, 14),
}
UNSPECIFIED = 2


@dataclass(frozen=True)
class OutputColourTags:
    colorspace: int
    primaries: int
    transfer: int
    color_range: int


def output_tags(colour: ColourInfo, height: int) -> OutputColourTags:
    """Tags for the output: the input's where it had them, else what its matrix implies.

    An untagged SD input is played as BT.601 but an untagged 4K output would be played as BT.709,
    so the output is always tagged explicitly.
    """
    cs, prim, trc = _DEFAULT_TAGS.get(colour.matrix, (UNSPECIFIED,) * 3)
    if colour.matrix == "itu601" and height == 576:
        cs, prim = 5, 5  # PAL: BT.470BG (same matrix as SMPTE 170M, PAL primaries)
    return OutputColourTags(
        colorspace=colour.colorspace if colour.colorspace != UNSPECIFIED else cs,
        primaries=colour.primaries if colour.primaries != UNSPECIFIED else prim,
        transfer=colour.transfer if colour.transfer != UNSPECIFIED else trc,
        color_range=colour.range_tag,
    )
