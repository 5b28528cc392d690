"""The colour tables (one place): YCbCr matrices, the tags they imply, and the output's tags.

Matrices go by their swscale names (what ``vsr.io.probe`` reports and PyAV's ``reformat`` takes).
"""

from __future__ import annotations

from dataclasses import dataclass

UNSPECIFIED = 2
RANGE_LIMITED, RANGE_FULL = 1, 2  # AVColorRange: MPEG (tv), JPEG (pc)


@dataclass(frozen=True)
class Matrix:
    kr: float  # luma coefficients: Y = kr R + (1 - kr - kb) G + kb B
    kb: float
    tags: tuple[int, int, int]  # (AVColorSpace, AVColorPrimaries, AVColorTransferCharacteristic) it implies
    filter_name: str  # the name FFmpeg's scale filter gives it


MATRICES: dict[str, Matrix] = {
    "itu709": Matrix(0.2126, 0.0722, (1, 1, 1), "bt709"),
    "itu601": Matrix(0.299, 0.114, (6, 6, 6), "bt601"),
    "smpte170m": Matrix(0.299, 0.114, (6, 6, 6), "bt601"),
    "smpte240m": Matrix(0.212, 0.087, (7, 7, 7), "smpte240m"),
    "fcc": Matrix(0.30, 0.11, (4, 4, 4), "fcc"),
    "bt2020": Matrix(0.2627, 0.0593, (9, 9, 14), "bt2020"),
}
# a stream's AVColorSpace -> the matrix that decodes it (BT.470BG is BT.601's matrix; 10 is BT.2020 CL)
MATRIX_OF_COLORSPACE = {1: "itu709", 4: "fcc", 5: "itu601", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}


@dataclass(frozen=True)
class ColourInfo:
    """How to turn this stream's YUV into RGB and back, and the tags to write out."""

    matrix: str  # swscale name: itu601, itu709, bt2020, ...
    full_range: bool
    colorspace: int  # AVColorSpace tag as found (2 = unspecified)
    primaries: int
    transfer: int
    matrix_guessed: bool = False

    @property
    def range_tag(self) -> int:
        return RANGE_FULL if self.full_range else RANGE_LIMITED

    @property
    def description(self) -> str:
        guess = " (guessed from size: untagged)" if self.matrix_guessed else ""
        return f"{self.matrix}{guess}, {'full' if self.full_range else 'limited'} range"


def colour_of(codec_context, pix_fmt: str, height: int) -> ColourInfo:
    """Matrix and range of a stream; untagged streams get what players assume (SD 601, HD 709)."""
    cs = int(codec_context.colorspace or UNSPECIFIED)
    matrix = MATRIX_OF_COLORSPACE.get(cs)
    guessed = matrix is None
    if matrix is None:
        matrix = "itu709" if height >= 720 else "itu601"
    rng = int(codec_context.color_range or 0)
    full = rng == RANGE_FULL or (rng == 0 and pix_fmt.startswith("yuvj"))
    return ColourInfo(
        matrix=matrix,
        full_range=full,
        colorspace=cs,
        primaries=int(codec_context.color_primaries or UNSPECIFIED),
        transfer=int(codec_context.color_trc or UNSPECIFIED),
        matrix_guessed=guessed,
    )


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
    known = MATRICES.get(colour.matrix)
    cs, prim, trc = known.tags if known else (UNSPECIFIED,) * 3
    if colour.matrix == "itu601" and height == 576:
        cs, prim = 5, 5  # PAL: BT.470BG (same matrix as SMPTE 170M, PAL primaries)
    return OutputColourTags(
        colorspace=colour.colorspace if colour.colorspace != UNSPECIFIED else cs,
        primaries=colour.primaries if colour.primaries != UNSPECIFIED else prim,
        transfer=colour.transfer if colour.transfer != UNSPECIFIED else trc,
        color_range=colour.range_tag,
    )
