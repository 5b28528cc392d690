"""vsr.plan: output sizes, aspect ratio, rotation, model-scale choice, default names, path checks.

Pure unit tests on synthetic VideoInfo objects (no media files, no torch), except where a
checkpoint file is the point.
"""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import av
import pytest

from vsr.backends.precision import choose_precision
from vsr.config import TARGETS, UpscaleOptions
from vsr.errors import UsageError
from vsr.io.colour import ColourInfo
from vsr.io.probe import VideoInfo
from vsr.plan import check_output, choose_scale, default_output, even, make_plan, output_size

from conftest import fit_in_box


def info(w, h, *, sar=Fraction(1), rotation=0, pix_fmt="yuv420p", bit_depth=8, path="/videos/clip.mp4") -> VideoInfo:
    return VideoInfo(
        path=Path(path),
        container="mov,mp4,m4a,3gp,3g2,mj2",
        stream_index=0,
        codec="h264",
        width=w,
        height=h,
        pix_fmt=pix_fmt,
        bit_depth=bit_depth,
        sar=Fraction(sar),
        rotation=rotation,
        colour=ColourInfo(matrix="itu709", full_range=False, colorspace=1, primaries=1, transfer=1),
        time_base=Fraction(1, 12800),
        frame_rate=Fraction(25),
        duration=1.0,
        frames=25,
    )


def plan_for(vi: VideoInfo, **opts):
    opts.setdefault("model", "bicubic")
    return make_plan(UpscaleOptions(input=vi.path, **opts), vi, check_paths=False)


# ---------------------------------------------------------------------------- named targets


@pytest.mark.parametrize(
    "w, h, sar, to, expected",
    [
        (1280, 720, 1, "4k", (3840, 2160)),
        (1920, 1080, 1, "4k", (3840, 2160)),
        (1920, 1080, 1, "8k", (7680, 4320)),
        (1280, 720, 1, "1440p", (2560, 1440)),
        (640, 360, 1, "1080p", (1920, 1080)),
        (320, 180, 1, "720p", (1280, 720)),
        (720, 576, Fraction(16, 15), "4k", (2880, 2160)),  # PAL 4:3 DVD
        (720, 576, Fraction(64, 45), "4k", (3840, 2160)),  # PAL 16:9 DVD: display 1024x576
        (720, 480, Fraction(8, 9), "1080p", (1440, 1080)),  # NTSC 4:3: display 640x480
        (1440, 1080, Fraction(4, 3), "4k", (3840, 2160)),  # HDV anamorphic
        (1080, 1920, 1, "4k", (2160, 3840)),  # portrait: the box turns with the frame
        (640, 480, 1, "4k", (2880, 2160)),
        (1920, 800, 1, "4k", (3840, 1600)),  # scope: width-limited
    ],
)
def test_named_targets(w, h, sar, to, expected):
    width, height, out_sar, label = output_size(info(w, h, sar=Fraction(sar)), to, None)
    assert (width, height) == expected
    assert out_sar == 1, "--to gives square pixels"
    assert label == to


def test_target_names_case_insensitive():
    assert output_size(info(1280, 720), "4K", None)[:2] == (3840, 2160)


@pytest.mark.parametrize("to", ["720x480", "640:480"])
def test_explicit_box(to):
    width, height, sar, _ = output_size(info(320, 240), to, None)
    assert (width, height) == (640, 480) and sar == 1


def test_explicit_box_keeps_aspect():
    # 16:9 into a 4:3 box: width-limited, letterbox-free size (no stretching).
    width, height, _, _ = output_size(info(640, 360), "1024x768", None)
    assert (width, height) == (1024, 576)


def _random_cases(n=300, seed=1234):
    rnd = random.Random(seed)
    sars = [Fraction(1), Fraction(16, 15), Fraction(64, 45), Fraction(8, 9), Fraction(32, 27), Fraction(4, 3), Fraction(10, 11)]
    for _ in range(n):
        w = rnd.randint(16, 1920)
        h = rnd.randint(16, 1080)
        if rnd.random() < 0.3:
            w, h = h, w
        yield w, h, rnd.choice(sars), rnd.choice(sorted(TARGETS))


@pytest.mark.parametrize("w, h, sar, to", list(_random_cases()))
def test_target_rule(w, h, sar, to):
    """The rule, for any size and SAR: display aspect kept, fits the box oriented like the frame,
    touches it on one side, both dims even."""
    width, height, out_sar, _ = output_size(info(w, h, sar=sar), to, None)
    exact_w, exact_h = fit_in_box(w, h, sar, *TARGETS[to])
    long_side, short_side = TARGETS[to]
    box = (long_side, short_side) if w * sar >= h else (short_side, long_side)
    assert width % 2 == 0 and height % 2 == 0
    assert width <= box[0] and height <= box[1], f"{width}x{height} outside box {box}"
    assert abs(width - exact_w) <= 2 and abs(height - exact_h) <= 2
    assert width == box[0] or height == box[1] or abs(width - box[0]) <= 2 or abs(height - box[1]) <= 2
    assert out_sar == 1


# ---------------------------------------------------------------------------- rotation


def test_rotated_named_target_uses_stored_orientation():
    # A phone clip stored 320x180 with a 90-degree display matrix is shown 180x320.
    # '4k' means a 3840-long side whatever the orientation: the stored frame becomes 3840x2160.
    width, height, _, _ = output_size(info(320, 180, rotation=90), "4k", None)
    assert (width, height) == (3840, 2160)


def test_rotated_explicit_box_is_in_display_orientation():
    # The user describes what they see (portrait 720x1280); frames are stored turned.
    width, height, _, _ = output_size(info(320, 180, rotation=90), "720x1280", None)
    assert (width, height) == (1280, 720)
    width, height, _, _ = output_size(info(320, 180, rotation=-90), "720x1280", None)
    assert (width, height) == (1280, 720)
    # 180 degrees does not swap anything.
    width, height, _, _ = output_size(info(320, 180, rotation=180), "1280x720", None)
    assert (width, height) == (1280, 720)


# ---------------------------------------------------------------------------- --scale


@pytest.mark.parametrize(
    "w, h, scale, expected",
    [(64, 48, 2, (128, 96)), (99, 75, 2, (198, 150)), (99, 75, 1.5, None), (101, 77, 3, None), (320, 180, 4, (1280, 720))],
)
def test_scale(w, h, scale, expected):
    width, height, sar, label = output_size(info(w, h, sar=Fraction(16, 15)), None, scale)
    assert width % 2 == 0 and height % 2 == 0
    assert abs(width - w * scale) <= 1 and abs(height - h * scale) <= 1
    if expected:
        assert (width, height) == expected
    assert sar == Fraction(16, 15), "--scale keeps the pixel shape, so the SAR is kept"
    assert label == f"x{scale:g}"


@pytest.mark.parametrize("w, h", [(99, 75), (63, 47), (175, 143), (17, 9)])
@pytest.mark.parametrize("to", ["720p", "1080p", "4k", "300x200"])
def test_odd_inputs_give_even_outputs(w, h, to):
    width, height, _, _ = output_size(info(w, h), to, None)
    assert width % 2 == 0 and height % 2 == 0


def test_even_helper():
    assert even(3) in (2, 4) and even(3) % 2 == 0
    assert even(0.4) == 2 and even(1) == 2
    assert even(101.0) in (100, 102)
    assert even(2880) == 2880


# ---------------------------------------------------------------------------- usage errors


def test_to_and_scale_together():
    with pytest.raises(UsageError):
        output_size(info(320, 240), "4k", 2)


@pytest.mark.parametrize("to", ["5k", "4kk", "1080", "x720", "0x0", "100x0", "huge"])
def test_unknown_targets(to):
    with pytest.raises(UsageError) as e:
        output_size(info(320, 240), to, None)
    assert e.value.exit_code == 2


@pytest.mark.parametrize("scale", [0, -1, -0.5])
def test_bad_scale(scale):
    with pytest.raises(UsageError):
        output_size(info(320, 240), None, scale)


@pytest.mark.parametrize("w, h, to", [(1280, 720, "720p"), (1920, 1080, "1080p"), (3840, 2160, "1080p"), (640, 480, "640x480")])
def test_not_an_upscale(w, h, to):
    with pytest.raises(UsageError) as e:
        plan_for(info(w, h), to=to)
    assert e.value.exit_code == 2
    assert "upscale" in str(e.value).lower() or "larger" in str(e.value).lower()


def test_scale_one_is_not_an_upscale():
    with pytest.raises(UsageError):
        plan_for(info(320, 240), scale=1)


def test_resampler_needs_a_size():
    with pytest.raises(UsageError):
        plan_for(info(320, 240))


@pytest.mark.parametrize("opts", [dict(batch=0), dict(tile=-1), dict(tile=32, tile_overlap=16), dict(start=-1), dict(duration=0)])
def test_option_validation(opts):
    with pytest.raises(UsageError):
        plan_for(info(320, 240), scale=2, **opts)


# ---------------------------------------------------------------------------- model scale choice


@pytest.mark.parametrize(
    "available, needed, expected",
    [([2, 3, 4], 2.0, 2), ([2, 3, 4], 2.01, 3), ([2, 3, 4], 2.7, 3), ([2, 4], 2.7, 4), ([2, 4], 6, 4), ([4], 1.5, 4), ([2, 3, 4], 3.0, 3)],
)
def test_choose_scale(available, needed, expected):
    assert choose_scale(available, needed) == expected


@pytest.mark.parametrize("size, scale, expected", [((213, 120), 3, 3), ((133, 55), 3, 3), ((213, 120), 3.01, 4),
                                                   ((640, 360), 2, 2), ((101, 50), 2, 2)])
def test_rounding_to_even_sizes_does_not_pick_a_larger_member(size, scale, expected):
    """--scale 3 on 213x120 makes 640x360 (even sizes): the x3 member's 639x360 covers it; x4 would cost 1.8x."""
    plan = plan_for(info(*size), model="edsr-baseline", scale=scale, device="cpu")
    assert plan.model_scale == expected
    assert ("largest available scale" in plan.backend_reason) is False


# ---------------------------------------------------------------------------- plan object


def test_resampler_plan():
    plan = plan_for(info(320, 180), to="720p", model="lanczos")
    assert (plan.width, plan.height) == (1280, 720)
    assert plan.is_resampler and plan.backend == "swscale" and plan.model == "lanczos"
    assert plan.target == "720p"
    d = plan.to_dict()
    assert d["width"] == 1280 and d["height"] == 720 and d["output"].endswith("clip.720p.mp4")


def test_the_backend_is_told_the_probed_input_and_the_planned_output():
    """What the backend gets: the input as probed (size, format, colour) and the output as planned."""
    vi = info(320, 180, pix_fmt="yuv420p10le", bit_depth=10)
    plan = plan_for(vi, to="720p", model="lanczos", codec="ffv1", tile=64, tile_overlap=8)
    spec = plan.backend_spec()
    assert (spec.input.width, spec.input.height, spec.input.pix_fmt, spec.input.colour) == (320, 180, "yuv420p10le", vi.colour)
    assert (spec.output.width, spec.output.height, spec.output.pix_fmt) == (1280, 720, plan.pix_fmt)
    assert (spec.backend, spec.model, spec.tile, spec.tile_overlap, spec.batch) == ("swscale", "lanczos", 64, 8, plan.batch)


def test_ten_bit_input_keeps_ten_bits():
    vi = info(320, 180, pix_fmt="yuv420p10le", bit_depth=10)
    for codec in ("ffv1", "hevc"):
        plan = plan_for(vi, scale=2, codec=codec)
        assert _bits(plan.pix_fmt) == 10, (codec, plan.pix_fmt)
    assert _bits(plan_for(info(320, 180), scale=2, codec="ffv1").pix_fmt) == 8


def _bits(pix_fmt: str) -> int:
    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def test_unknown_encoder_is_usage_error():
    with pytest.raises(UsageError):
        plan_for(info(320, 180), scale=2, codec="nosuchcodec")


def test_rotated_plan_sizes():
    plan = plan_for(info(320, 180, rotation=90), to="720x1280")
    assert (plan.width, plan.height) == (1280, 720)


# ---------------------------------------------------------------------------- default output name


@pytest.mark.parametrize(
    "name, label, codec, expected",
    [
        ("clip.mp4", "4k", "libx264", "clip.4k.mp4"),
        ("clip.mkv", "x2", "libx264", "clip.x2.mkv"),
        ("my.movie.mov", "1080p", "libx264", "my.movie.1080p.mov"),
        ("clip.mp4", "x1.5", "libx264", "clip.x1.5.mp4"),
        ("clip.mp4", "4k", "prores_ks", "clip.4k.mov"),
    ],
)
def test_default_output(name, label, codec, expected):
    out = default_output(info(64, 48, path=f"/videos/{name}"), label, codec)
    assert out == Path("/videos") / expected


def test_default_output_from_plan():
    assert plan_for(info(64, 48, path="/v/a.mp4"), scale=2).output == Path("/v/a.x2.mp4")
    assert plan_for(info(320, 180, path="/v/a.mkv"), to="4k").output == Path("/v/a.4k.mkv")


# ---------------------------------------------------------------------------- output checks


def test_check_output(tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"x")
    out = tmp_path / "out.mp4"
    check_output(out, src, overwrite=False)  # fine: does not exist yet
    out.write_bytes(b"old")
    with pytest.raises(UsageError):
        check_output(out, src, overwrite=False)
    check_output(out, src, overwrite=True)
    assert out.read_bytes() == b"old", "checking must not touch the file"
    with pytest.raises(UsageError):
        check_output(tmp_path / "missing" / "out.mp4", src, overwrite=False)
    with pytest.raises(UsageError):
        check_output(src, src, overwrite=True)


# ---------------------------------------------------------------------------- learned model from a file


def test_checkpoint_plan(edsr_checkpoint):
    plan = plan_for(info(64, 48), model=str(edsr_checkpoint), scale=2, device="cpu")
    assert plan.model_scale == 2
    assert not plan.is_resampler
    assert plan.backend == "torch" and plan.device == "cpu"
    assert plan.precision == choose_precision("auto", "cpu").precision  # bf16 on CPUs with avx512_bf16/amx
    assert plan.resample == "none"
    assert (plan.width, plan.height) == (128, 96)


def test_checkpoint_without_size_uses_its_scale(edsr_checkpoint):
    plan = plan_for(info(64, 48), model=str(edsr_checkpoint), device="cpu")
    assert (plan.width, plan.height) == (128, 96)
    assert plan.target == "x2"


def test_checkpoint_with_other_scale_resamples(edsr_checkpoint):
    plan = plan_for(info(64, 48), model=str(edsr_checkpoint), scale=3, device="cpu")
    assert (plan.width, plan.height) == (192, 144)
    assert plan.resample != "none"


def test_an_enlarged_model_output_is_shown_with_why(edsr_checkpoint):
    """x3 asked of an x2 model: the plan enlarges its output, and probe/--json say so in words."""
    plan = plan_for(info(64, 48), model=str(edsr_checkpoint), scale=3, device="cpu", backend="torch")
    assert (plan.native_size, plan.resample_direction) == ((128, 96), "up")
    assert plan.resample == "antialiased bicubic 128x96 -> 192x144 (up, on cpu)"
    assert plan.backend_reason == "asked for with --backend torch; largest available scale x2 < needed x3"
    d = plan.to_dict()
    assert (d["resample"], d["backend_reason"], d["backend_basis"]) == (plan.resample, plan.backend_reason, "option")
