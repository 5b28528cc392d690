"""``vsr upscale`` keeps what a user checks: every frame, in order, at its time; audio and subtitles
byte for byte; colours (range, matrix, bit depth); aspect ratio and rotation; sections.

Clips are tiny and the models cheap (bicubic/lanczos in swscale, a 1-block EDSR on CPU).
Tolerances: times 1 ms; flat colours 2 code values; lossless (ffv1) comparisons as stated per test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import listing, plane_array, probe_plan, read_video, stream_metadata, stream_packets

TIME_TOL = 0.001  # seconds


def assert_same_times(out_times, in_times, shift=0.0):
    assert len(out_times) == len(in_times), f"{len(out_times)} frames out, {len(in_times)} in"
    worst = max((abs(o - (i - shift)) for o, i in zip(out_times, in_times)), default=0.0)
    assert worst <= TIME_TOL, f"timestamps moved by up to {worst * 1000:.2f} ms\nout={out_times}\nin={in_times}"


def assert_packets_copied(out_path, in_path, kind):
    src, dst = stream_packets(in_path, kind), stream_packets(out_path, kind)
    assert len(dst) == len(src), f"{len(src)} {kind} streams in, {len(dst)} out"
    for s, d in zip(src, dst):
        assert len(d) == len(s), f"{kind}: {len(s)} packets in, {len(d)} out"
        for k, ((ts, bs), (td, bd)) in enumerate(zip(s, d)):
            assert bd == bs, f"{kind} packet {k} differs"
            assert abs(td - ts) <= TIME_TOL, f"{kind} packet {k} at {td:.4f} s, was {ts:.4f} s"


def psnr(a, b, peak=255.0):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def norm_y(mean_code: float, full_range: bool, depth: int = 8) -> float:
    """A Y code value as 0..255 of the nominal range, whatever the range/depth it was coded in."""
    k = (1 << depth) / 256.0
    return mean_code / k * 255.0 / 255.0 if full_range else (mean_code / k - 16.0) * 255.0 / 219.0


def norm_c(mean_code: float, full_range: bool, depth: int = 8) -> float:
    k = (1 << depth) / 256.0
    return mean_code / k if full_range else (mean_code / k - 128.0) * 255.0 / 224.0 + 128.0


# ---------------------------------------------------------------------------- frames and times


def test_every_frame_at_its_time_with_json_summary(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=20, audio=True, content="moving")
    out = tmp_path / "out" / "up.mp4"
    out.parent.mkdir()
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "--json")
    assert run.returncode == 0, str(run)
    summary = run.json()  # exactly one JSON object on stdout
    for key in ("output", "frames", "width", "height", "seconds", "fps", "model", "backend"):
        assert key in summary, key
    assert summary["frames"] == 20 and (summary["width"], summary["height"]) == (128, 96)
    assert summary["model"] == "bicubic"
    assert str(summary["output"]).endswith("up.mp4")
    a, b = read_video(src), read_video(out)
    assert (b.width, b.height) == (128, 96)
    assert_same_times(b.times, a.times)
    assert listing(out.parent) == {"up.mp4"}, "no temp files left"


def test_frame_order_kept_in_batches(make_clip, vsr, tmp_path):
    """Each output frame, shrunk back, is nearest to the input frame with the same index."""
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=17, codec="ffv1", content="moving")
    out = tmp_path / "up.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "--codec", "ffv1", "--batch", "4")
    assert run.returncode == 0, str(run)
    ins = read_video(src, keep="y").frames
    with av.open(str(out)) as c:
        outs = [plane_array(f.reformat(width=64, height=48, interpolation="AREA"), 0) for f in c.decode(video=0)]
    assert len(outs) == len(ins)
    for i, o in enumerate(outs):
        errors = [float(np.mean((o.astype(float) - x.astype(float)) ** 2)) for x in ins]
        assert int(np.argmin(errors)) == i, f"output frame {i} looks like input frame {int(np.argmin(errors))}"


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_vfr_stays_vfr(make_clip, vsr, tmp_path, ext):
    pts = [0, 40, 100, 120, 200, 210, 300, 333, 400, 480, 490, 600]
    src = make_clip(tmp_path / f"vfr.{ext}", size=(64, 48), vfr_pts=pts, content="moving")
    out = tmp_path / f"out.{ext}"
    run = vsr("upscale", src, "-o", out, "--model", "lanczos", "--scale", "2")
    assert run.returncode == 0, str(run)
    a, b = read_video(src), read_video(out)
    assert [round(t, 3) for t in a.times] == [p / 1000 for p in pts], "fixture sanity"
    assert_same_times(b.times, a.times)


def test_bicubic_output_matches_a_bicubic_resize(make_clip, vsr, tmp_path):
    """The picture itself: a smooth gradient upscaled by vsr is close to swscale's own bicubic
    (35 dB on Y: different bicubic kernels agree closely on smooth content; a shift, flip or
    colour swap would not)."""
    src = make_clip(tmp_path / "in.mkv", size=(96, 64), frames=3, codec="ffv1", content="gradient")
    out = tmp_path / "up.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "--codec", "ffv1")
    assert run.returncode == 0, str(run)
    with av.open(str(src)) as c:
        ref = [plane_array(f.reformat(width=192, height=128, interpolation="BICUBIC"), 0) for f in c.decode(video=0)]
    got = read_video(out, keep="y").frames
    assert len(got) == len(ref)
    for r, g in zip(ref, got):
        assert psnr(r[4:-4, 4:-4], g[4:-4, 4:-4]) >= 35.0


# ---------------------------------------------------------------------------- other streams


def test_audio_and_subtitles_copied_byte_for_byte(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=15, audio=True, subtitles=True)
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    assert_packets_copied(out, src, "audio")
    assert_packets_copied(out, src, "subtitle")
    for kind, expected in (("audio", {"language": "fre", "title": "Commentary"}), ("subtitle", {"language": "eng", "title": "Signs"})):
        meta = stream_metadata(out, kind)
        assert meta, f"no {kind} stream in the output"
        for key, value in expected.items():
            assert meta[0].get(key) == value, (kind, key, meta[0])
    assert_same_times(read_video(out).times, read_video(src).times)


def test_audio_copied_in_mp4(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=15, audio=True)
    out = tmp_path / "out.mp4"
    run = vsr("upscale", src, "-o", out, "--model", "lanczos", "--scale", "2")
    assert run.returncode == 0, str(run)
    assert_packets_copied(out, src, "audio")
    assert stream_metadata(out, "audio")[0].get("language") == "fre"


# ---------------------------------------------------------------------------- colour


# Colours are inside the RGB gamut for both matrices (a YUV -> RGB -> YUV path must not clip them).
@pytest.mark.parametrize(
    "pix_fmt, full_range, yuv, colorspace",
    [
        ("yuvj420p", True, (128, 128, 128), 1),  # full-range grey
        ("yuvj420p", True, (150, 100, 150), 1),  # full-range colour, BT.709
        ("yuvj420p", True, (150, 100, 150), 5),  # full-range colour, BT.601 (BT.470BG)
        ("yuv420p", False, (126, 128, 128), 1),  # limited-range grey
        ("yuv420p", False, (180, 100, 160), 1),  # limited-range colour, BT.709
        ("yuv420p", False, (180, 100, 160), 6),  # limited-range colour, BT.601 (SMPTE 170M)
        ("yuv420p", True, (40, 150, 110), 1),  # full range signalled by the tag only
    ],
)
def test_flat_colour_and_range_preserved(make_clip, vsr, tmp_path, pix_fmt, full_range, yuv, colorspace):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=4, pix_fmt=pix_fmt, full_range=full_range,
                    content="flat", yuv=yuv, colorspace=colorspace)
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    b = read_video(out, keep="yuv")
    assert b.color_range in (1, 2), "colour range tag written"
    assert b.colorspace == colorspace, f"matrix tag {colorspace} kept (got {b.colorspace})"
    out_full = b.color_range == 2 or b.pix_fmt.startswith("yuvj")
    y, u, v = (float(np.mean(p)) for p in b.frames[-1])
    assert abs(norm_y(y, out_full) - norm_y(yuv[0], full_range)) <= 2.0, (y, out_full)
    assert abs(norm_c(u, out_full) - norm_c(yuv[1], full_range)) <= 2.0, (u, out_full)
    assert abs(norm_c(v, out_full) - norm_c(yuv[2], full_range)) <= 2.0, (v, out_full)


def test_full_range_stays_full_range(make_clip, vsr, tmp_path):
    """A full-range grey keeps its code value when the output keeps full range (the usual choice)."""
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=3, pix_fmt="yuvj420p", content="flat", yuv=(200, 128, 128))
    out = tmp_path / "out.mp4"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    b = read_video(out, keep="y")
    assert b.color_range == 2 or b.pix_fmt.startswith("yuvj"), "full range tag kept"
    assert abs(float(np.mean(b.frames[0])) - 200) <= 2


def test_untagged_input_gets_tags(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=3)
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    b = read_video(out)
    assert b.color_range in (1, 2) and b.colorspace not in (0, 2), (b.color_range, b.colorspace)


@pytest.mark.parametrize("codec_args", [[], ["--codec", "ffv1"], ["--codec", "hevc"]])
def test_ten_bit_stays_ten_bit(make_clip, vsr, tmp_path, codec_args):
    src = make_clip(tmp_path / "in.mkv", size=(96, 64), frames=3, codec="ffv1", pix_fmt="yuv420p10le", content="gradient")
    a = read_video(src, keep="y")
    assert (a.frames[0] % 4 != 0).mean() > 0.5, "fixture sanity: a 10-bit gradient"
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", *codec_args)
    assert run.returncode == 0, str(run)
    b = read_video(out, keep="y")
    assert "10" in b.pix_fmt, f"output is {b.pix_fmt}"
    y = b.frames[0]
    assert y.dtype == np.uint16
    in_range = y[(y >= 400) & (y <= 600)]
    assert in_range.size > 0.5 * y.size, "gradient kept its 10-bit levels"
    assert (y % 4 != 0).mean() > 0.5, "values quantised to 8 bits (multiples of 4)"
    assert len(np.unique(in_range)) > 100, "fewer distinct levels than a 10-bit ramp has"


def test_ten_bit_from_hevc(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=3, codec="libx265", pix_fmt="yuv420p10le", content="gradient")
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "lanczos", "--scale", "2", "--codec", "ffv1")
    assert run.returncode == 0, str(run)
    b = read_video(out, keep="y")
    assert "10" in b.pix_fmt and (b.frames[0] % 4 != 0).mean() > 0.5


# ---------------------------------------------------------------------------- geometry


def test_sar_becomes_square_pixels(make_clip, vsr, tmp_path):
    """A small PAL-like 90x72 with SAR 16:15 (display 96x72) into a 320x240 box: 320x240, SAR 1."""
    src = make_clip(tmp_path / "in.mkv", size=(90, 72), frames=4, sar=Fraction(16, 15))
    assert read_video(src).sar == Fraction(16, 15), "fixture sanity"
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "lanczos", "--to", "320x240")
    assert run.returncode == 0, str(run)
    b = read_video(out)
    assert (b.width, b.height) == (320, 240)
    assert b.sar in (None, Fraction(1), Fraction(0)), f"SAR {b.sar}"


def test_scale_keeps_sar(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(90, 72), frames=3, sar=Fraction(16, 15))
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    b = read_video(out)
    assert (b.width, b.height) == (180, 144) and b.sar == Fraction(16, 15)


def test_to_720p_default_name(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "clip.mp4", size=(320, 180), frames=3)
    run = vsr("upscale", src, "--model", "lanczos", "--to", "720p")
    assert run.returncode == 0, str(run)
    out = tmp_path / "clip.720p.mp4"
    assert listing(tmp_path) == {"clip.mp4", "clip.720p.mp4"}
    b = read_video(out)
    assert (b.width, b.height) == (1280, 720) and len(b.times) == 3


def test_default_name_for_scale(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "clip.mkv", size=(64, 48), frames=3)
    run = vsr("upscale", src, "--model", "bicubic", "--scale", "2", "--quiet")
    assert run.returncode == 0, str(run)
    assert listing(tmp_path) == {"clip.mkv", "clip.x2.mkv"}
    assert run.stdout.strip() == "" and run.stderr.strip() == "", "--quiet prints nothing on success"


def test_rotation_kept(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=3, rotation=90)
    assert read_video(src).rotation == 90, "fixture sanity"
    out = tmp_path / "out.mp4"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    b = read_video(out)
    assert (b.width, b.height) == (128, 96), "frames stay stored as they were"
    assert b.rotation == 90


def test_rotated_box_in_display_orientation(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=3, rotation=90)
    out = tmp_path / "out.mkv"
    # displayed 48x64 (portrait); a 96x128 display box -> stored 128x96
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--to", "96x128")
    assert run.returncode == 0, str(run)
    b = read_video(out)
    assert (b.width, b.height) == (128, 96) and b.rotation == 90


@pytest.mark.parametrize("args", [["--to", "320x240"], ["--scale", "1.5"], ["--scale", "3"]])
def test_odd_input_even_output(make_clip, vsr, tmp_path, args):
    src = make_clip(tmp_path / "in.mkv", size=(99, 75), frames=3, codec="ffv1")
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "lanczos", *args)
    assert run.returncode == 0, str(run)
    b = read_video(out)
    assert b.width % 2 == 0 and b.height % 2 == 0
    plan = probe_plan(src, "--model", "lanczos", *args)
    assert (b.width, b.height) == (plan["width"], plan["height"]), "upscale does what probe says"
    assert len(b.times) == 3


# ---------------------------------------------------------------------------- sections


def test_start_and_duration_cut_video_and_audio(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=50, audio=True, content="moving")
    out = tmp_path / "cut.mkv"
    start, duration = 0.4, 0.79  # frames at 0.40 ... 1.16: 20 frames, no frame on either edge
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "--start", start, "--duration", duration)
    assert run.returncode == 0, str(run)
    a, b = read_video(src), read_video(out)
    section = [t for t in a.times if start - 1e-6 <= t < start + duration]
    assert len(section) == 20
    assert len(b.times) == len(section), f"{len(b.times)} frames, the section has {len(section)}"
    assert abs(b.times[0]) <= 0.02, f"output starts at {b.times[0]:.3f} s"
    shift = section[0] - b.times[0]
    assert_same_times(b.times, section, shift)

    src_audio = stream_packets(src, "audio")[0]
    out_audio = stream_packets(out, "audio")
    assert out_audio and out_audio[0], "audio kept"
    out_audio = out_audio[0]
    packet_s = 1024 / 48000
    assert abs(out_audio[0][0]) <= 2 * packet_s, f"audio starts at {out_audio[0][0]:.3f} s"
    span = out_audio[-1][0] + packet_s - out_audio[0][0]
    assert abs(span - duration) <= 3 * packet_s, f"audio lasts {span:.3f} s, section {duration} s"
    by_bytes = {}
    for t, data in src_audio:
        by_bytes.setdefault(data, []).append(t)
    for t, data in out_audio:
        assert data in by_bytes, "audio packets are copied, not re-encoded"
        t_in = min(by_bytes[data], key=lambda x: abs(x - (t + shift)))
        assert abs(t_in - (t + shift)) <= TIME_TOL, "audio moved relative to video"
        assert start - 2 * packet_s <= t_in <= start + duration + packet_s, f"audio from {t_in:.3f} s is outside the section"


def test_start_only(make_clip, vsr, tmp_path):
    src = make_clip(tmp_path / "in.mp4", size=(64, 48), frames=25, content="moving")
    out = tmp_path / "tail.mp4"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "--start", "0.6")
    assert run.returncode == 0, str(run)
    b = read_video(out)
    assert len(b.times) == 10 and abs(b.times[0]) <= 0.02


# ---------------------------------------------------------------------------- learned model


def _edsr_reference(checkpoint, rgb_frames):
    import torch
    from safetensors.torch import load_file

    from vsr.models.edsr import EDSR

    model = EDSR(num_features=8, num_blocks=1, scale=2)
    model.load_state_dict(load_file(str(checkpoint)))
    model.eval()
    x = torch.from_numpy(np.stack(rgb_frames)).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        y = model(x).clamp(0, 1)
    return (y * 255.0).round().byte().permute(0, 2, 3, 1).numpy()


def test_edsr_checkpoint_cpu(make_clip, vsr, tmp_path, edsr_checkpoint):
    """The network really runs: the output is what the model gives on the decoded RGB frames
    (within colour conversion and 8-bit rounding: 35 dB), not a plain resize."""
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), frames=3, codec="ffv1", pix_fmt="yuv444p", content="gradient", colorspace=6)
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", edsr_checkpoint, "--scale", "2", "--device", "cpu",
              "--backend", "torch", "--codec", "ffv1", "--pix-fmt", "yuv444p", "--json")
    assert run.returncode == 0, str(run)
    summary = run.json()
    assert summary["backend"] == "torch" and summary["frames"] == 3
    expected = _edsr_reference(edsr_checkpoint, read_video(src, keep="rgb24").frames)
    got = read_video(out, keep="rgb24").frames
    assert len(got) == 3 and got[0].shape == (96, 128, 3)
    with av.open(str(src)) as c:
        resized = [f.reformat(width=128, height=96, interpolation="BICUBIC").to_ndarray(format="rgb24") for f in c.decode(video=0)]
    for e, g, r in zip(expected, got, resized):
        assert psnr(e, g) >= 35.0, f"PSNR vs the model's own output {psnr(e, g):.1f} dB"
        assert psnr(e, g) > psnr(r, g) + 3, "looks like a resize, not the model"


def test_tiled_equals_untiled(make_clip, vsr, tmp_path, edsr_checkpoint):
    src = make_clip(tmp_path / "in.mkv", size=(96, 72), frames=2, codec="ffv1", content="noise")
    whole, tiled = tmp_path / "whole.mkv", tmp_path / "tiled.mkv"
    common = ["--model", edsr_checkpoint, "--scale", "2", "--device", "cpu", "--codec", "ffv1"]
    r1 = vsr("upscale", src, "-o", whole, *common)
    r2 = vsr("upscale", src, "-o", tiled, *common, "--tile", "32", "--tile-overlap", "8")
    assert r1.returncode == 0, str(r1)
    assert r2.returncode == 0, str(r2)
    a, b = read_video(whole, keep="yuv"), read_video(tiled, keep="yuv")
    assert len(a.frames) == len(b.frames) == 2
    for fa, fb in zip(a.frames, b.frames):
        for pa, pb in zip(fa, fb):
            diff = np.abs(pa.astype(int) - pb.astype(int))
            assert diff.max() <= 2, f"tiling changes the picture by up to {diff.max()} codes"
