"""Degrade an LR clip *as a video*: per-frame stages, then a real codec over the whole clip.

Archives are inter-coded: the codec predicts each picture from its neighbours (P and B frames), so
its artefacts move, pulse at GOP boundaries and differ from an intra-coded still's. Here the
``vsr.quality.degrade`` stages run on each frame (frame ``i`` from its own generator, so noise
changes from frame to frame), then the whole clip goes through libx264 at a CRF, mpeg2video at a
fixed quantiser with B-frames, or libvpx-vp9 at a CRF (YouTube's codec; hidden alt-ref frames instead of
B-frames), single-threaded, and is decoded back: the same clip and seed give the same pictures on every run.

Codec spec (the degrade grammar: ``|`` alternatives picked uniformly, ``lo:hi`` drawn uniformly)::

    h264=25                     # libx264 CRF 25, preset medium, 3 B-frames, GOP 250
    vp9=40                      # libvpx-vp9 CRF 40 (0-63), good quality, cpu-used 2, GOP 250
    h264=18:32|mpeg2=4:12|none  # training: a random codec and strength per clip
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from vsr.errors import UsageError
from vsr.quality.degrade import Degradation, parse

Image = np.ndarray
CODECS = {"h264": ("libx264", "h264", (0.0, 51.0)), "mpeg2": ("mpeg2video", "mpeg2video", (2.0, 31.0)),
          "vp9": ("libvpx-vp9", "vp9", (0.0, 63.0))}
CRF_CODECS = ("h264", "vp9")  # strength is a CRF (the others: a fixed quantiser)
B_FRAMES = 3
GOP = 250
PAD_WIDTH, PAD_HEIGHT = 128, 16  # coded size multiples (see encode_packets)


@dataclass(frozen=True)
class ClipCodec:
    """One codec alternative: ``name`` (h264, mpeg2, none) and the range its strength is drawn from."""

    name: str
    low: float = 0.0
    high: float = 0.0

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high)) if self.high > self.low else self.low


def parse_codec(spec: str | None) -> tuple[ClipCodec, ...]:
    """The alternatives of a codec spec (empty for none)."""
    out = []
    for alt in filter(None, (a.strip() for a in (spec or "").split("|"))):
        name, _, arg = alt.partition("=")
        name = name.strip().lower()
        if name == "none":
            out.append(ClipCodec("none"))
            continue
        if name not in CODECS:
            raise UsageError(f"unknown video codec {name!r} in {spec!r}: use h264=CRF, mpeg2=Q, vp9=CRF or none")
        lo, _, hi = arg.partition(":")
        try:
            low = float(lo)
            high = float(hi) if hi else low
        except ValueError:
            raise UsageError(f"video codec {alt!r}: give a number or a range, e.g. h264=25 or h264=18:32") from None
        rmin, rmax = CODECS[name][2]
        if not rmin <= low <= high <= rmax:
            raise UsageError(f"video codec {alt!r}: {name} takes values in [{rmin:g}, {rmax:g}], low <= high")
        out.append(ClipCodec(name, low, high))
    return tuple(out)


def encode_packets(frames: Sequence[Image], codec: str, value: float, *, fps: int = 25) -> list:
    """RGB frames encoded by a real codec (4:2:0, BT.601 limited range, I/P/B frames), single-threaded.

    The pictures are padded (edges repeated) to a width of a multiple of 128 and a height of a
    multiple of 16: at other widths the chroma rows end before the frame buffer's alignment, and
    libx264 with B-frames then gave different bits on some runs (the padding's bytes are whatever the
    allocator left there). ``encode_clip`` crops the padding off again."""
    import av

    encoder = CODECS[codec][0]
    h, w = frames[0].shape[:2]
    pad = ((0, -h % PAD_HEIGHT), (0, -w % PAD_WIDTH), (0, 0))
    enc = av.CodecContext.create(encoder, "w")
    enc.width, enc.height = w + pad[1][1], h + pad[0][1]
    enc.pix_fmt, enc.time_base, enc.framerate = "yuv420p", Fraction(1, fps), Fraction(fps)
    enc.thread_count = 1  # deterministic
    if codec == "h264":
        enc.options = {"crf": f"{value:.1f}", "preset": "medium", "bf": str(B_FRAMES), "g": str(GOP)}
    elif codec == "vp9":
        enc.options = {"crf": str(int(round(value))), "b": "0", "deadline": "good", "cpu-used": "2", "g": str(GOP),
                       "row-mt": "0", "tile-columns": "0"}
    else:
        q = str(int(round(value)))
        enc.options = {"qmin": q, "qmax": q, "b": "50M", "bf": "2", "g": "15"}
    packets = []
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.pad(rgb, pad, mode="edge"), format="rgb24").reformat(
            format="yuv420p", dst_colorspace="ITU601", dst_color_range="MPEG", interpolation="BICUBIC")
        frame.pts = i
        packets += enc.encode(frame)
    return packets + list(enc.encode(None))


def decode_packets(packets: list, codec: str, options: dict[str, str] | None = None) -> list:
    """The frames of ``packets`` (from ``encode_packets``) in display order; ``options`` for the decoder (e.g.
    ``{"export_side_data": "venc_params"}``)."""
    import av

    dec = av.CodecContext.create(CODECS[codec][1], "r")
    dec.thread_count = 1
    dec.options = options or {}
    return sorted((f for p in [*packets, None] for f in dec.decode(p)), key=lambda f: f.pts)


def encode_clip(frames: Sequence[Image], codec: str, value: float, *, fps: int = 25) -> list[Image]:
    """Encode RGB frames with a real codec (4:2:0, BT.601 limited range, I/P/B) and decode them back."""
    h, w = frames[0].shape[:2]
    decoded = decode_packets(encode_packets(frames, codec, value, fps=fps), codec)
    if len(decoded) != len(frames):
        raise RuntimeError(f"{CODECS[codec][0]}: {len(frames)} frames in, {len(decoded)} out")
    # a copy: to_ndarray() views the reformatter's output, whose memory PyAV hands to the next reformat
    return [f.reformat(format="rgb24", src_colorspace="ITU601", src_color_range="MPEG",
                       interpolation="BICUBIC").to_ndarray()[:h, :w].copy() for f in decoded]


@dataclass(frozen=True)
class VideoDegradation:
    """Per-frame stages (a ``vsr.quality.degrade`` spec), then one codec alternative over the clip."""

    frames: Degradation
    codec: tuple[ClipCodec, ...]

    @property
    def is_clean(self) -> bool:
        return self.frames.is_clean and all(c.name == "none" for c in self.codec)

    @property
    def label(self) -> str:
        parts = [self.frames.spec] if self.frames.spec else []
        parts += ["|".join(f"{c.name}={c.low:g}" + (f":{c.high:g}" if c.high > c.low else "") if c.name != "none"
                           else "none" for c in self.codec)] if self.codec else []
        return " + ".join(parts) or "clean"

    def __call__(self, frames: Sequence[Image], rng: np.random.Generator) -> tuple[list[Image], str]:
        """The degraded clip and what was done (e.g. ``h264 crf 24.3``)."""
        keys = rng.integers(2**63, size=len(frames) + 2)
        out = [self.frames(f, np.random.default_rng(int(k))) for f, k in zip(frames, keys)]
        if not self.codec:
            return out, "frames only"
        choice_rng = np.random.default_rng(int(keys[-1]))
        codec = self.codec[int(choice_rng.integers(len(self.codec)))]
        if codec.name == "none":
            return out, "no codec"
        value = codec.draw(choice_rng)
        unit = "crf" if codec.name in CRF_CODECS else "q"
        return encode_clip(out, codec.name, value), f"{codec.name} {unit} {value:.1f}"


def parse_video(frames_spec: str | None, codec_spec: str | None) -> VideoDegradation:
    return VideoDegradation(parse(frames_spec), parse_codec(codec_spec))
