"""Device colour conversion (run here on CPU tensors) against FFmpeg's swscale.

swscale's reference is taken with ACCURATE_RND | FULL_CHR_H_INT: its default fast path replicates
chroma (nearest neighbour) and is itself ~42 dB from the source on smooth 4:2:0 content.
"""

from __future__ import annotations

import av
import av.logging
import numpy as np
import pytest
import torch

from vsr.backends import gpu_color as gc
from vsr.io.colour import MATRICES

I = av.video.reformatter.Interpolation
ACCURATE = I.BILINEAR | I.ACCURATE_RND | I.FULL_CHR_H_INT
W, H = 192, 108


def smooth(h: int, w: int, seed: int, lo: float, hi: float) -> np.ndarray:
    """Low-frequency content: what survives chroma subsampling, so references can agree."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    v = np.zeros((h, w))
    for _ in range(3):
        fx, fy, ph = rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0), rng.uniform(0, 6.28)
        v += np.sin(2 * np.pi * (fx * xx / w + fy * yy / h) + ph)
    return lo + (hi - lo) * (v - v.min()) / (v.max() - v.min())


def source_rgb(bits: int, seed: int = 3) -> np.ndarray:
    peak = (1 << (16 if bits > 8 else 8)) - 1
    rgb = np.stack([smooth(H, W, seed + i, 0.08, 0.92) for i in range(3)], -1)
    return np.round(rgb * peak).astype(np.uint16 if bits > 8 else np.uint8)


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(peak**2 / max(mse, 1e-12))


def as_tensor(buf: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(buf.view(np.int16) if buf.dtype.itemsize == 2 else buf)[None]


def codes(t: torch.Tensor) -> np.ndarray:
    return (t.to(torch.int32) & 0xFFFF).numpy().astype(np.int64)


def swscale_yuv(rgb: np.ndarray, fmt: str, matrix: str, full: bool) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le" if rgb.dtype == np.uint16 else "rgb24")
    return frame.reformat(format=fmt, dst_colorspace=matrix, dst_color_range="JPEG" if full else "MPEG", interpolation=ACCURATE)


CASES = [
    ("yuv420p", "itu709", False),
    ("yuv420p", "itu601", False),
    ("yuvj420p", "itu601", True),
    ("yuv422p", "bt2020", False),
    ("yuv444p", "itu709", True),
    ("yuv420p10le", "bt2020", False),
    ("yuv422p10le", "itu709", True),
    ("yuv444p10le", "itu601", False),
]


@pytest.mark.parametrize("fmt,matrix,full", CASES)
def test_decoded_planes_to_rgb_match_swscale(fmt: str, matrix: str, full: bool) -> None:
    layout = gc.PlaneLayout.of(fmt, W, H)
    frame = swscale_yuv(source_rgb(layout.bits), fmt, matrix, full)
    buf = np.empty(layout.elements, layout.numpy_dtype)
    gc.frame_to_buffer(frame, layout, buf)
    deep = layout.bits > 8
    peak = 65535 if deep else 255
    ref = frame.reformat(  # (gbrp16le: swscale's accurate 4:2:0 10-bit -> rgb48le path is broken, ~10 dB)
        format="gbrp16le" if deep else "rgb24", src_colorspace=matrix, src_color_range="JPEG" if full else "MPEG", interpolation=ACCURATE
    ).to_ndarray()
    ours = gc.to_rgb(as_tensor(buf), layout, matrix, full)[0].permute(1, 2, 0).numpy() * peak
    assert psnr(ours, ref, peak) > 45.0


@pytest.mark.parametrize("fmt,matrix,full", CASES + [("yuv444p", "bt2020", True)])
def test_rgb_survives_encode_and_decode(fmt: str, matrix: str, full: bool) -> None:
    layout = gc.PlaneLayout.of(fmt, W, H)
    rgb = source_rgb(layout.bits)
    peak = 65535.0 if layout.bits > 8 else 255.0
    planes = gc.from_rgb(torch.from_numpy(rgb.astype(np.float32) / peak).permute(2, 0, 1)[None], layout, matrix, full)
    back = gc.to_rgb(planes, layout, matrix, full)[0].permute(1, 2, 0).numpy() * peak
    assert psnr(back, rgb, peak) > 45.0


@pytest.mark.parametrize("fmt,matrix,full", CASES)
def test_rgb_to_encoder_planes_match_swscale(fmt: str, matrix: str, full: bool) -> None:
    layout = gc.PlaneLayout.of(fmt, W, H)
    rgb = source_rgb(layout.bits)
    ref = np.empty(layout.elements, layout.numpy_dtype)
    gc.frame_to_buffer(swscale_yuv(rgb, fmt, matrix, full), layout, ref)
    peak = 65535.0 if layout.bits > 8 else 255.0
    ours = codes(gc.from_rgb(torch.from_numpy(rgb.astype(np.float32) / peak).permute(2, 0, 1)[None], layout, matrix, full)[0])
    err = np.abs(ours - ref.astype(np.int64))
    steps = 1 << (layout.bits - 8)  # one 8-bit code, in this format's codes
    assert psnr(ours, ref, layout.full_scale) > 50.0
    assert err.max() <= 3 * steps  # chroma filters differ slightly; luma and 4:4:4 agree within 1
    assert err.mean() < 0.6 * steps


@pytest.mark.parametrize("fmt,matrix,full", CASES)
def test_rgb_round_trip_gives_back_the_decoded_codes(fmt: str, matrix: str, full: bool) -> None:
    layout = gc.PlaneLayout.of(fmt, W, H)
    buf = np.empty(layout.elements, layout.numpy_dtype)
    gc.frame_to_buffer(swscale_yuv(source_rgb(layout.bits), fmt, matrix, full), layout, buf)
    back = codes(gc.from_rgb(gc.to_rgb(as_tensor(buf), layout, matrix, full), layout, matrix, full)[0])
    err = np.abs(back - buf.astype(np.int64))
    if layout.sub_x == layout.sub_y == 0:
        assert err.max() == 0  # 4:4:4: exact
    else:  # subsampled chroma: within two 8-bit codes on smooth content
        assert err.max() <= 2 << (layout.bits - 8)


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv422p10le", "yuv444p", "gray", "rgb24"])
def test_frame_buffer_packing_is_lossless_at_odd_sizes(fmt: str) -> None:
    layout = gc.PlaneLayout.of(fmt, 67, 35)
    rng = np.random.default_rng(0)
    buf = rng.integers(0, layout.full_scale + 1, layout.elements).astype(layout.numpy_dtype)
    frame = gc.buffer_to_frame(buf, layout)
    assert (frame.width, frame.height, frame.format.name) == (67, 35, fmt)
    again = np.zeros_like(buf)
    gc.frame_to_buffer(frame, layout, again)
    np.testing.assert_array_equal(again, buf)


def test_limited_range_output_stays_in_nominal_range() -> None:
    layout = gc.PlaneLayout.of("yuv420p10le", 64, 32)
    wild = torch.randn(2, 3, 32, 64) * 3  # a model overshooting [0, 1]
    y, u, v = gc.split_planes(gc.from_rgb(wild, layout, "itu709", False), layout)
    assert y.min() >= 64 and y.max() <= 940
    assert min(u.min(), v.min()) >= 64 and max(u.max(), v.max()) <= 960


def test_hardware_decoder_formats_are_repacked_not_converted() -> None:
    assert gc.device_format("nv12") == "yuv420p"
    assert gc.device_format("p010le") == "yuv420p10le"
    assert gc.device_format("yuv422p10le") == "yuv422p10le"
    assert gc.device_format("gbrp") == gc.device_format("bgra") == "rgb24"  # no YUV matrix in between
    assert gc.device_format("yuva420p") == "yuv420p"
    rgb = source_rgb(8)
    nv12 = swscale_yuv(rgb, "nv12", "itu709", False)
    planar = swscale_yuv(rgb, "yuv420p", "itu709", False)
    a = gc.prepare_frame(nv12)
    layout = gc.PlaneLayout.of("yuv420p", W, H)
    ba, bp = np.empty(layout.elements, np.uint8), np.empty(layout.elements, np.uint8)
    gc.frame_to_buffer(a, layout, ba)
    gc.frame_to_buffer(planar, layout, bp)
    np.testing.assert_array_equal(ba, bp)


def test_residual_resize_is_antialiased_bicubic() -> None:
    x = torch.rand(2, 3, 40, 60)
    assert gc.residual_resize(x, (40, 60)) is x
    up = gc.residual_resize(x, (90, 130))
    assert up.shape == (2, 3, 90, 130)
    flat = gc.residual_resize(torch.full((1, 3, 40, 60), 0.25), (27, 41))
    assert torch.allclose(flat, torch.tensor(0.25), atol=1e-5)
    # 2x down of a 1-pixel checkerboard: antialiasing averages it out, plain bicubic would alias
    checker = (torch.arange(64)[None, :] + torch.arange(64)[:, None]) % 2
    down = gc.residual_resize(checker.float()[None, None].expand(1, 3, 64, 64), (32, 32))
    assert (down - 0.5).abs().max() < 0.05


# ------------------------------------------------------------------------------ chroma siting


def _chroma_ramp_frame(siting: gc.ChromaSiting, w: int = 32, h: int = 16) -> tuple[torch.Tensor, gc.PlaneLayout]:
    """Full-range 4:2:0 codes: flat luma, Cb a ramp of 2 codes per luma pixel in x and y, sampled at
    ``siting``'s positions (whole codes at every siting, so nothing is lost to rounding)."""
    layout = gc.PlaneLayout.of("yuvj420p", w, h)
    ch, cw = layout.chroma_size
    xs = torch.arange(cw, dtype=torch.float64) * 2 + siting.x  # luma column of each chroma sample
    ys = torch.arange(ch, dtype=torch.float64) * 2 + siting.y
    cb = 64 + 2 * xs[None, :] + 2 * ys[:, None]
    y = torch.full((h, w), 128.0, dtype=torch.float64)
    packed = torch.cat([y.flatten(), cb.flatten(), torch.full((ch * cw,), 128.0, dtype=torch.float64)])
    return packed.round().to(torch.uint8)[None], layout


def _cb_of(rgb: torch.Tensor, matrix: str = "itu601") -> torch.Tensor:
    kr, kb = MATRICES[matrix].kr, MATRICES[matrix].kb
    y = kr * rgb[:, 0] + (1 - kr - kb) * rgb[:, 1] + kb * rgb[:, 2]
    return (rgb[:, 2] - y) / (2 * (1 - kb)) * 255 + 128  # back to Cb codes at every luma sample


@pytest.mark.parametrize("name", ["left", "center", "topleft", "bottom"])
def test_chroma_is_interpolated_where_the_stream_sited_it(name: str) -> None:
    """A chroma ramp comes back as the same ramp at every (interior) luma sample only when the
    upsampling uses the siting the samples were taken at; another siting shifts it half a pixel."""
    siting = gc.siting_of(name)
    packed, layout = _chroma_ramp_frame(siting)
    cb = _cb_of(gc.to_rgb(packed, layout, "itu601", True, siting))[0].double()
    want = 64 + 2 * torch.arange(32.0)[None, :] + 2 * torch.arange(16.0)[:, None]
    inner = (slice(2, -2), slice(2, -2))
    assert (cb - want)[inner].abs().max() < 1e-3
    other = gc.siting_of("center" if siting.x == 0 else "left")
    shifted = _cb_of(gc.to_rgb(packed, layout, "itu601", True, other))[0].double()
    shift = 2.0 * ((siting.x - other.x) + (siting.y - other.y))  # 2 codes per pixel of misplacement
    assert shift != 0 and torch.allclose((shifted - want)[inner], torch.tensor(shift, dtype=torch.float64), atol=1e-3)


@pytest.mark.parametrize("name", ["left", "center", "topleft", "bottom"])
def test_every_siting_survives_decode_and_encode(name: str) -> None:
    siting = gc.siting_of(name)
    layout = gc.PlaneLayout.of("yuv420p", W, H)
    buf = np.empty(layout.elements, layout.numpy_dtype)
    gc.frame_to_buffer(swscale_yuv(source_rgb(8), "yuv420p", "itu709", False), layout, buf)
    rgb = gc.to_rgb(as_tensor(buf), layout, "itu709", False, siting)
    back = codes(gc.from_rgb(rgb, layout, "itu709", False, siting=siting)[0])
    assert np.abs(back - buf.astype(np.int64)).max() <= 2


def test_a_frame_without_a_chroma_location_falls_back_to_the_codecs_convention() -> None:
    frame = av.VideoFrame(16, 8, "yuv420p")  # made here, not decoded: unspecified
    level = av.logging.get_level()
    assert gc.frame_chroma_location(frame) is None
    assert av.logging.get_level() == level  # FFmpeg's log level is put back
    assert gc.input_siting("mjpeg", frame).name == "center" and gc.input_siting("hevc", frame) == gc.LEFT


def test_siting_names_codes_and_codec_conventions() -> None:
    assert gc.siting_of(0) == gc.siting_of("unspecified") == gc.siting_of(1) == gc.LEFT
    assert (gc.siting_of(2).x, gc.siting_of(2).y) == (0.5, 0.5) and gc.siting_of("topleft") == gc.siting_of(3)
    assert gc.input_siting("mjpeg").name == gc.input_siting("mpeg1video").name == "center"  # JPEG / MPEG-1
    assert gc.input_siting("dvvideo").name == "topleft"
    assert gc.input_siting("h264") == gc.input_siting("hevc") == gc.input_siting("mpeg2video") == gc.LEFT
    with pytest.raises(ValueError, match="chroma location"):
        gc.siting_of("middle")
