"""HDR signalling: the transfer function (PQ, HLG), HDR10 static metadata, dynamic metadata.

Static metadata (SMPTE ST 2086 mastering display colour volume, CTA-861.3 content light level)
is read from the first decoded frame's side data: FFmpeg attaches it there both from the
bitstream's SEI messages and from container-level boxes. It is written back as libx265's
``master-display`` / ``max-cll`` parameters (x265 then emits the SEI messages in the new
bitstream) or SVT-AV1's ``mastering-display`` / ``content-light`` (metadata OBUs). PyAV 18 can
set no other encoder's HDR side data, nor container-level boxes (mp4 ``mdcv``/``clli``): players
and ffprobe read the in-band SEI/OBUs. Dynamic metadata (Dolby Vision RPUs, HDR10+) describes each frame of the original
encode and cannot be carried through a re-encode: it is reported so the user can be warned.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

# AVColorTransferCharacteristic values
TRC_PQ, TRC_HLG = 16, 18  # SMPTE ST 2084, ARIB STD-B67

# frame side-data type name (av.sidedata.sidedata.Type) -> dynamic metadata it signals
_DYNAMIC = {"DOVI_RPU_BUFFER": "Dolby Vision", "DOVI_METADATA": "Dolby Vision", "DYNAMIC_HDR_PLUS": "HDR10+",
            "DYNAMIC_HDR_VIVID": "HDR Vivid"}
# codec tags of Dolby Vision tracks (the RPUs may be absent from the first frame)
_DOLBY_VISION_TAGS = {"dvh1", "dvhe", "dav1", "dva1", "dvav"}


@dataclass(frozen=True)
class MasteringDisplay:
    """SMPTE ST 2086: CIE 1931 xy chromaticities and luminance (cd/m²) of the mastering display."""

    red: tuple[Fraction, Fraction]
    green: tuple[Fraction, Fraction]
    blue: tuple[Fraction, Fraction]
    white: tuple[Fraction, Fraction]
    min_luminance: Fraction
    max_luminance: Fraction

    def x265(self) -> str:
        """libx265 ``master-display``: chromaticities in 0.00002 units, luminance in 0.0001 cd/m²."""
        def xy(p: tuple[Fraction, Fraction]) -> str:
            return f"({round(p[0] * 50000)},{round(p[1] * 50000)})"

        return (f"G{xy(self.green)}B{xy(self.blue)}R{xy(self.red)}WP{xy(self.white)}"
                f"L({round(self.max_luminance * 10000)},{round(self.min_luminance * 10000)})")

    def svtav1(self) -> str:
        """SVT-AV1 ``mastering-display``: the same order with decimal values."""
        def xy(p: tuple[Fraction, Fraction]) -> str:
            return f"({float(p[0]):.5f},{float(p[1]):.5f})"

        return (f"G{xy(self.green)}B{xy(self.blue)}R{xy(self.red)}WP{xy(self.white)}"
                f"L({float(self.max_luminance):.4f},{float(self.min_luminance):.4f})")

    def __str__(self) -> str:
        def xy(p: tuple[Fraction, Fraction]) -> str:
            return f"({float(p[0]):.4f},{float(p[1]):.4f})"

        return (f"R{xy(self.red)} G{xy(self.green)} B{xy(self.blue)} WP{xy(self.white)}, "
                f"{float(self.min_luminance):g}-{float(self.max_luminance):g} cd/m²")


@dataclass(frozen=True)
class ContentLight:
    """CTA-861.3: maximum content light level and maximum frame-average light level (cd/m²)."""

    max_cll: int
    max_fall: int


@dataclass(frozen=True)
class HdrInfo:
    transfer: int = 2  # AVColorTransferCharacteristic of the stream
    mastering: MasteringDisplay | None = None
    light: ContentLight | None = None
    dynamic: tuple[str, ...] = ()  # "Dolby Vision", "HDR10+": cannot survive a re-encode

    @property
    def kind(self) -> str | None:
        """HDR10 / PQ / HLG, or None for SDR."""
        if self.transfer == TRC_HLG:
            return "HLG"
        if self.transfer == TRC_PQ or self.mastering or self.light:
            return "HDR10" if self.mastering or self.light else "PQ"
        return None

    @property
    def is_hdr(self) -> bool:
        return self.kind is not None

    @property
    def description(self) -> str:
        if not self.is_hdr and not self.dynamic:
            return "SDR"
        parts = [self.kind or "SDR"]
        if self.mastering:
            parts.append(f"mastering display {self.mastering}")
        if self.light:
            parts.append(f"MaxCLL {self.light.max_cll}, MaxFALL {self.light.max_fall} cd/m²")
        if self.dynamic:
            parts.append(" + ".join(self.dynamic) + " dynamic metadata")
        return "; ".join(parts)

    def dynamic_warning(self) -> str | None:
        """One line for the user, or None when there is nothing that will be lost."""
        if not self.dynamic:
            return None
        what = " and ".join(self.dynamic)
        return (f"{what} dynamic metadata cannot be carried through a re-encode: the output keeps "
                f"the {'HDR10 static metadata' if self.mastering or self.light else 'colour tags'} only")


def mastering_from_bytes(data: bytes) -> MasteringDisplay | None:
    """Parse FFmpeg's AVMasteringDisplayMetadata (10 AVRationals, has_primaries, has_luminance)."""
    if len(data) < 88:
        return None
    v = struct.unpack_from("<20i2i", data)
    q = [Fraction(v[i], v[i + 1]) if v[i + 1] else Fraction(0) for i in range(0, 20, 2)]
    has_primaries, has_luminance = v[20], v[21]
    if not (has_primaries and has_luminance):
        return None  # x265 (and HDR10) need both halves
    return MasteringDisplay(red=(q[0], q[1]), green=(q[2], q[3]), blue=(q[4], q[5]), white=(q[6], q[7]),
                            min_luminance=q[8], max_luminance=q[9])


def light_from_bytes(data: bytes) -> ContentLight | None:
    """Parse FFmpeg's AVContentLightMetadata (two unsigned ints)."""
    if len(data) < 8:
        return None
    max_cll, max_fall = struct.unpack_from("<2I", data)
    return ContentLight(max_cll, max_fall)


def hdr_from_side_data(transfer: int, side_data: Iterable, codec_tag: str = "") -> HdrInfo:
    """HdrInfo from a decoded frame's side data (``frame.side_data``) and the stream's codec tag."""
    mastering = light = None
    dynamic: list[str] = []
    if codec_tag.lower() in _DOLBY_VISION_TAGS:
        dynamic.append("Dolby Vision")
    for sd in side_data:
        name = sd.type.name
        if name == "MASTERING_DISPLAY_METADATA":
            mastering = mastering_from_bytes(bytes(sd))
        elif name == "CONTENT_LIGHT_LEVEL":
            light = light_from_bytes(bytes(sd))
        elif name in _DYNAMIC and _DYNAMIC[name] not in dynamic:
            dynamic.append(_DYNAMIC[name])
    return HdrInfo(transfer=transfer, mastering=mastering, light=light, dynamic=tuple(dynamic))


HDR_ENCODERS = {"libx265": "x265-params", "libsvtav1": "svtav1-params"}  # encoder -> its params option


def encoder_hdr_params(codec: str, hdr: HdrInfo) -> list[str]:
    """``key=value`` entries for the encoder's params option that write ``hdr``'s static metadata
    into the new bitstream (the PQ/HLG transfer itself is the stream's colour tag, written for
    every encoder); [] for encoders that cannot."""
    params = []
    if codec == "libx265":
        if hdr.mastering:
            params.append(f"master-display={hdr.mastering.x265()}")
        if hdr.light:
            params.append(f"max-cll={hdr.light.max_cll},{hdr.light.max_fall}")
    elif codec == "libsvtav1":
        if hdr.mastering:
            params.append(f"mastering-display={hdr.mastering.svtav1()}")
        if hdr.light:
            params.append(f"content-light={hdr.light.max_cll},{hdr.light.max_fall}")
    return params
