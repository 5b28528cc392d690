"""Colour conversion on the compute device: decoder planes -> float RGB [0, 1] -> encoder planes.

Everything here is plain torch, so it runs wherever the tensors live (CUDA in production, CPU in
the tests, where it is checked against FFmpeg's swscale).

Frames travel between host and device as one flat buffer per frame (``PlaneLayout``): the Y plane,
then U, then V, each without line padding, in the storage dtype (uint8 for 8-bit formats, int16 for
deeper ones, holding the 16-bit little-endian code as its bit pattern). Packing and unpacking
``av.VideoFrame`` objects to and from that buffer are the only host-side steps.

Conventions (those of MPEG-2/H.264/HEVC and of swscale):
- limited range: Y = (16 + 219 Y') << (n - 8), C = (128 + 224 P) << (n - 8);
  full range: Y = (2^n - 1) Y', C = (2^n - 1) P + 2^(n - 1);
- chroma siting (``ChromaSiting``): the decoder's (signalled in H.264/HEVC/AV1 headers), else the
  codec's convention (JPEG and MPEG-1 "center", DV "topleft", otherwise "left": horizontally
  co-sited with even luma columns, vertically between rows, as MPEG-2/H.264/HEVC); upsampling is linear in that geometry, downsampling its matching
  filter ([1 2 1]/4 co-sited, [1 1]/2 centred), so ``from_rgb(to_rgb(x)) == x`` within one code for
  smooth chroma and exactly for 4:4:4; output is written "left", what encoders and players assume
  for untagged H.264/HEVC;
- RGB is clamped to [0, 1] before quantising (NaN becomes 0), so codes stay in the nominal range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vsr.io.colour import MATRICES

if TYPE_CHECKING:
    import av
    import torch


# Formats the device code reads or writes directly; others are repacked by swscale on the host
# first (a lossless shuffle of the same samples for the common hardware-decoder formats).
_REPACK = {
    "nv12": "yuv420p",
    "nv21": "yuv420p",
    "p010le": "yuv420p10le",
    "p016le": "yuv420p16le",
    "nv16": "yuv422p",
    "yuyv422": "yuv422p",
    "uyvy422": "yuv422p",
    "p210le": "yuv422p10le",
    "nv24": "yuv444p",
    "rgba": "rgb24",
    "bgra": "rgb24",
    "argb": "rgb24",
    "abgr": "rgb24",
    "bgr24": "rgb24",
    "rgb0": "rgb24",
    "bgr0": "rgb24",
}


@dataclass(frozen=True)
class PlaneLayout:
    """Where each plane of one frame sits in its flat host/device buffer."""

    pix_fmt: str
    width: int
    height: int
    kind: str  # "yuv", "gray" or "rgb" (packed rgb24)
    bits: int
    sub_x: int  # log2 of the horizontal chroma subsampling (1 for 4:2:0 and 4:2:2)
    sub_y: int  # log2 of the vertical one (1 for 4:2:0)

    @classmethod
    def of(cls, pix_fmt: str, width: int, height: int) -> PlaneLayout:
        import av

        fmt = av.VideoFormat(pix_fmt, 64, 64)  # a size divisible by every subsampling factor
        name = fmt.name
        if name == "rgb24":
            return cls(name, width, height, "rgb", 8, 0, 0)
        comps = fmt.components
        bits = max(c.bits for c in comps)
        planar = all(c.plane == i for i, c in enumerate(comps[:3]))
        if name.startswith("gray") and len(comps) == 1:
            return cls(name, width, height, "gray", bits, 0, 0)
        if not (name.startswith("yuv") and len(comps) == 3 and planar) or fmt.is_big_endian or bits > 16:
            raise ValueError(f"{name} is not a planar YUV, gray or rgb24 format")
        return cls(name, width, height, "yuv", bits, _log2(64 // comps[1].width), _log2(64 // comps[1].height))

    @property
    def chroma_size(self) -> tuple[int, int]:
        """(height, width) of a chroma plane."""
        return -(-self.height // (1 << self.sub_y)), -(-self.width // (1 << self.sub_x))

    @property
    def plane_shapes(self) -> list[tuple[int, ...]]:
        if self.kind == "rgb":
            return [(self.height, self.width, 3)]
        if self.kind == "gray":
            return [(self.height, self.width)]
        return [(self.height, self.width), self.chroma_size, self.chroma_size]

    @property
    def elements(self) -> int:
        """Samples per frame in the flat buffer."""
        return sum(int(np.prod(s)) for s in self.plane_shapes)

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bits <= 8 else np.dtype("<u2")

    @property
    def torch_dtype(self) -> torch.dtype:
        import torch

        return torch.uint8 if self.bits <= 8 else torch.int16

    @property
    def full_scale(self) -> int:
        return (1 << self.bits) - 1


def _log2(ratio: int) -> int:
    if ratio not in (1, 2, 4):
        raise ValueError(f"unsupported chroma subsampling 1/{ratio}")
    return ratio.bit_length() - 1


def device_format(pix_fmt: str) -> str:
    """The format a decoded frame is repacked to on the host before upload (often itself)."""
    if pix_fmt in _REPACK:
        return _REPACK[pix_fmt]
    try:
        PlaneLayout.of(pix_fmt, 2, 2)
        return pix_fmt
    except ValueError:
        import av

        fmt = av.VideoFormat(pix_fmt)
        if fmt.is_rgb or fmt.has_palette:  # RGB stays RGB (no matrix involved)
            return "rgb24"
        if pix_fmt.startswith("yuva"):  # alpha is dropped, the YUV planes kept as they are
            return device_format("yuv" + pix_fmt[4:])
        deep = max(c.bits for c in fmt.components) > 8
        return "yuv444p16le" if deep else "yuv444p"


def output_format(pix_fmt: str) -> str:
    """The planar format the device writes for an encoder format (repacked on the host if different)."""
    return device_format(pix_fmt)


# ---------------------------------------------------------------------------------------------
# Host side: av.VideoFrame <-> flat buffer


def frame_to_buffer(frame: av.VideoFrame, layout: PlaneLayout, out: np.ndarray) -> None:
    """Copy the planes of ``frame`` (already in ``layout.pix_fmt``) into ``out`` (1-D, layout dtype)."""
    if frame.format.name != layout.pix_fmt or (frame.width, frame.height) != (layout.width, layout.height):
        raise ValueError(
            f"frame is {frame.format.name} {frame.width}x{frame.height}, "
            f"buffer expects {layout.pix_fmt} {layout.width}x{layout.height}"
        )
    dt = layout.numpy_dtype
    pos = 0
    for plane, shape in zip(frame.planes, layout.plane_shapes):
        h, w = shape[0], int(np.prod(shape[1:]))
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[:h].view(dt)[:, :w]
        out[pos : pos + h * w].reshape(h, w)[...] = rows
        pos += h * w


def buffer_to_frame(buf: np.ndarray, layout: PlaneLayout) -> av.VideoFrame:
    """A new ``av.VideoFrame`` holding the planes in ``buf`` (the inverse of ``frame_to_buffer``)."""
    import av

    frame = av.VideoFrame(layout.width, layout.height, layout.pix_fmt)
    dt = layout.numpy_dtype
    pos = 0
    for plane, shape in zip(frame.planes, layout.plane_shapes):
        h, w = shape[0], int(np.prod(shape[1:]))
        dst = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[:h].view(dt)
        dst[:, :w] = buf[pos : pos + h * w].reshape(h, w)
        pos += h * w
    return frame


def prepare_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """Repack a decoded frame to the format the device reads, keeping its samples and range."""
    target = device_format(frame.format.name)
    if target == frame.format.name:
        return frame
    return frame.reformat(format=target)


# ---------------------------------------------------------------------------------------------
# Device side: flat buffers <-> float RGB


def split_planes(packed: torch.Tensor, layout: PlaneLayout) -> list[torch.Tensor]:
    """Views of a (B, elements) buffer as (B, h, w) planes (or (B, h, w, 3) for rgb24)."""
    out, pos = [], 0
    for shape in layout.plane_shapes:
        n = int(np.prod(shape))
        out.append(packed[:, pos : pos + n].reshape(packed.shape[0], *shape))
        pos += n
    return out


def _codes_to_float(x: torch.Tensor, bits: int) -> torch.Tensor:
    import torch

    if x.dtype == torch.int16:  # 16-bit codes stored as their bit pattern
        return (x.to(torch.int32) & 0xFFFF).to(torch.float32)
    return x.to(torch.float32)


def _matrix(matrix: str) -> tuple[float, float, float]:
    if matrix not in MATRICES:
        raise ValueError(f"unknown colour matrix {matrix!r}: use one of {', '.join(MATRICES)}")
    kr, kb = MATRICES[matrix].kr, MATRICES[matrix].kb
    return kr, 1.0 - kr - kb, kb


@dataclass(frozen=True)
class ChromaSiting:
    """Where a chroma sample sits in its subsampling cell, per axis: 0 on the cell's first (left or
    top) luma sample, 0.5 centred between its luma samples, 1 on its last (bottom) one."""

    name: str
    x: float
    y: float


# AVChromaLocation -> siting (0 = unspecified)
SITINGS = {
    1: ChromaSiting("left", 0.0, 0.5),  # MPEG-2, H.264/HEVC default
    2: ChromaSiting("center", 0.5, 0.5),  # MPEG-1, JPEG
    3: ChromaSiting("topleft", 0.0, 0.0),  # DV, BT.2020 UHD
    4: ChromaSiting("top", 0.5, 0.0),
    5: ChromaSiting("bottomleft", 0.0, 1.0),
    6: ChromaSiting("bottom", 0.5, 1.0),
}
LEFT = SITINGS[1]
# What FFmpeg's decoders set for codecs with a fixed convention (mjpegdec, mpeg12dec, h263dec, dv),
# for streams whose frames do not say (``frame_chroma_location``); everything else is "left".
CODEC_SITING = {"mjpeg": 2, "mpeg1video": 2, "h263": 2, "dvvideo": 3}


def siting_of(location: int | str) -> ChromaSiting:
    """The siting of an AVChromaLocation value or name ("left", "center", "topleft", ...; 0 = left)."""
    if isinstance(location, str):
        by_name = {s.name: s for s in SITINGS.values()} | {"unspecified": LEFT}
        if location not in by_name:
            raise ValueError(f"unknown chroma location {location!r}: use one of {', '.join(by_name)}")
        return by_name[location]
    return SITINGS.get(int(location), LEFT)


def input_siting(codec: str, frame: av.VideoFrame | None = None) -> ChromaSiting:
    """The chroma siting of a decoded stream of ``codec``: what the decoder attached to ``frame``
    (an H.264/HEVC/AV1 header can signal it) or else the codec's convention (``CODEC_SITING``)."""
    location = frame_chroma_location(frame) if frame is not None else None
    return siting_of(location if location is not None else CODEC_SITING.get(codec, 1))


def frame_chroma_location(frame: av.VideoFrame) -> str | None:
    """The chroma location FFmpeg attached to a decoded frame ("left", "topleft", ...), None if unspecified.

    PyAV 18 has no accessor for ``AVFrame.chroma_location``; FFmpeg's ``showinfo`` filter prints it
    (``cl:topleft``), so the frame goes once through a showinfo graph and that line is read from
    FFmpeg's log, captured for this thread only (the log level is restored afterwards).
    """
    import re
    from fractions import Fraction

    import av.filter
    import av.logging

    graph = av.filter.Graph()
    src = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                           time_base=frame.time_base or Fraction(1, 25))
    info, sink = graph.add("showinfo"), graph.add("buffersink")
    src.link_to(info)
    info.link_to(sink)
    graph.configure()
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.INFO)
    try:
        with av.logging.Capture() as logs:
            graph.push(frame)
            graph.pull()
    finally:
        av.logging.set_level(previous)
    found = re.search(r"\bcl:(\w+)", "".join(msg for _, name, msg in logs if name == "showinfo"))
    if found is None or found.group(1) not in {s.name for s in SITINGS.values()}:
        return None
    return found.group(1)


def _upsample(c: torch.Tensor, dim: int, ratio: int, size: int, pos: float) -> torch.Tensor:
    """Linear interpolation along ``dim`` of chroma samples sitting at luma positions
    ``j * ratio + pos * (ratio - 1)`` onto the luma positions ``0 .. size - 1`` (edges replicate)."""
    import torch

    dim %= c.dim()
    n = c.shape[dim]
    coord = (torch.arange(size, device=c.device, dtype=torch.float64) - pos * (ratio - 1)) / ratio
    lo = coord.floor()
    shape = [1] * c.dim()
    shape[dim] = size
    w = (coord - lo).to(c.dtype).view(shape)
    lo = lo.long()
    return c.index_select(dim, lo.clamp(0, n - 1)) * (1 - w) + c.index_select(dim, (lo + 1).clamp(0, n - 1)) * w


def _downsample(x: torch.Tensor, dim: int, ratio: int, size: int, pos: float) -> torch.Tensor:
    """The matching decimation along ``dim`` to ``size`` samples at ``j * ratio + pos * (ratio - 1)``:
    the mean of the cell's ``ratio`` samples when centred, a tent over +-(ratio - 1) samples
    ([1 2 1]/4 for 2:1) when co-sited (edges replicate)."""
    import torch

    dim %= x.dim()
    n = x.shape[dim]
    base = torch.arange(size, device=x.device) * ratio
    if pos == 0.5:
        taps = [(k, 1.0 / ratio) for k in range(ratio)]
    else:
        at = round(pos * (ratio - 1))
        taps = [(at + t, (ratio - abs(t)) / ratio**2) for t in range(1 - ratio, ratio)]
    out = None
    for k, weight in taps:
        term = x.index_select(dim, (base + k).clamp(0, n - 1)) * weight
        out = term if out is None else out + term
    return out


def to_rgb(
    packed: torch.Tensor, layout: PlaneLayout, matrix: str, full_range: bool, siting: ChromaSiting = LEFT
) -> torch.Tensor:
    """(B, elements) codes -> (B, 3, H, W) float32 RGB in [0, 1]; chroma interpolated for ``siting``."""
    import torch

    planes = split_planes(packed, layout)
    n = layout.bits
    if layout.kind == "rgb":
        return (planes[0].permute(0, 3, 1, 2).to(torch.float32) / 255.0).contiguous()
    y = _codes_to_float(planes[0], n)
    if full_range:
        yf = y / layout.full_scale
    else:
        yf = (y / (1 << (n - 8)) - 16.0) / 219.0
    if layout.kind == "gray":
        return yf.clamp_(0.0, 1.0).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()
    chroma = []
    for p in planes[1:]:
        c = _codes_to_float(p, n)
        c = (c - (1 << (n - 1))) / layout.full_scale if full_range else (c / (1 << (n - 8)) - 128.0) / 224.0
        if layout.sub_x:
            c = _upsample(c, -1, 1 << layout.sub_x, layout.width, siting.x)
        if layout.sub_y:
            c = _upsample(c, -2, 1 << layout.sub_y, layout.height, siting.y)
        chroma.append(c)
    pb, pr = chroma
    kr, kg, kb = _matrix(matrix)
    r = yf + (2.0 * (1.0 - kr)) * pr
    b = yf + (2.0 * (1.0 - kb)) * pb
    g = (yf - kr * r - kb * b) / kg
    return torch.stack([r, g, b], dim=1).clamp_(0.0, 1.0)


def _quantise(x: torch.Tensor, layout: PlaneLayout) -> torch.Tensor:
    import torch

    q = torch.round(x).clamp_(0, layout.full_scale).to(torch.int32)
    if layout.torch_dtype == torch.uint8:
        return q.to(torch.uint8)
    return torch.where(q > 32767, q - 65536, q).to(torch.int16)


def from_rgb(
    rgb: torch.Tensor,
    layout: PlaneLayout,
    matrix: str,
    full_range: bool,
    out: torch.Tensor | None = None,
    siting: ChromaSiting = LEFT,
) -> torch.Tensor:
    """(B, 3, H, W) float RGB -> (B, elements) codes of ``layout`` (written into ``out`` if given),
    chroma decimated for ``siting``."""
    import torch

    b_ = rgb.shape[0]
    if tuple(rgb.shape[2:]) != (layout.height, layout.width):
        raise ValueError(f"RGB is {tuple(rgb.shape[2:])}, layout wants {(layout.height, layout.width)}")
    rgb = rgb.float().nan_to_num(nan=0.0, posinf=1.0, neginf=0.0).clamp_(0.0, 1.0)  # clamp() keeps NaN
    n = layout.bits
    if layout.kind == "rgb":
        planes = [_quantise(rgb.permute(0, 2, 3, 1) * 255.0, layout)]
    else:
        kr, kg, kb = _matrix(matrix)
        r, g, bl = rgb[:, 0], rgb[:, 1], rgb[:, 2]
        y = kr * r + kg * g + kb * bl
        if full_range:
            planes = [_quantise(y * layout.full_scale, layout)]
        else:
            planes = [_quantise((16.0 + 219.0 * y) * (1 << (n - 8)), layout)]
        if layout.kind == "yuv":
            ch, cw = layout.chroma_size
            for c in ((bl - y) / (2.0 * (1.0 - kb)), (r - y) / (2.0 * (1.0 - kr))):
                if layout.sub_x:
                    c = _downsample(c, -1, 1 << layout.sub_x, cw, siting.x)
                if layout.sub_y:
                    c = _downsample(c, -2, 1 << layout.sub_y, ch, siting.y)
                if full_range:
                    planes.append(_quantise(c * layout.full_scale + (1 << (n - 1)), layout))
                else:
                    planes.append(_quantise((128.0 + 224.0 * c) * (1 << (n - 8)), layout))
    flat = torch.cat([p.reshape(b_, -1) for p in planes], dim=1)
    if out is None:
        return flat
    out.copy_(flat)
    return out


def residual_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bicubic resize of (B, C, H, W) to ``size`` = (height, width); identity if equal."""
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False, antialias=True)
