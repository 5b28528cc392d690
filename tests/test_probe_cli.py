"""``vsr probe``: streams and plan, without writing anything. Big output sizes are checked here
(plan only); real upscales stay small in test_upscale_fidelity.py."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from conftest import fit_in_box, listing, one_line_error, probe_plan


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A few two-frame clips at real broadcast sizes (cheap: 2 frames, ultrafast x264)."""
    from conftest import make_clip_file

    d = tmp_path_factory.mktemp("probe_clips")
    return {
        "hd": make_clip_file(d / "hd.mp4", size=(1280, 720), frames=2, content="flat"),
        "fhd": make_clip_file(d / "fhd.mkv", size=(1920, 1080), frames=2, content="flat"),
        "pal": make_clip_file(d / "pal.mkv", size=(720, 576), frames=2, sar=Fraction(16, 15), content="flat"),
        "pal_wide": make_clip_file(d / "palw.mkv", size=(720, 576), frames=2, sar=Fraction(64, 45), content="flat"),
        "phone": make_clip_file(d / "phone.mp4", size=(320, 180), frames=2, rotation=90, content="flat"),
        "portrait": make_clip_file(d / "portrait.mp4", size=(180, 320), frames=2, content="flat"),
        "odd": make_clip_file(d / "odd.mkv", size=(99, 75), frames=2, codec="ffv1", content="flat"),
        "av": make_clip_file(d / "av.mkv", size=(64, 48), frames=5, audio=True, subtitles=True),
    }


@pytest.mark.parametrize(
    "clip, to, expected",
    [
        ("hd", "4k", (3840, 2160)),
        ("hd", "1080p", (1920, 1080)),
        ("hd", "1440p", (2560, 1440)),
        ("fhd", "4k", (3840, 2160)),
        ("fhd", "8k", (7680, 4320)),
        ("pal", "4k", (2880, 2160)),
        ("pal_wide", "4k", (3840, 2160)),
        ("portrait", "4k", (2160, 3840)),
        ("phone", "4k", (3840, 2160)),  # stored landscape, shown portrait: 4k long side either way
        ("phone", "720x1280", (1280, 720)),  # WxH as displayed; the stored frame is turned
        ("hd", "3840x2160", (3840, 2160)),
    ],
)
def test_probe_plan_sizes(clips, vsr, clip, to, expected):
    before = listing(clips[clip].parent)
    plan = probe_plan(clips[clip], "--to", to)
    assert (plan["width"], plan["height"]) == expected
    assert Fraction(str(plan["sar"])) == 1
    assert listing(clips[clip].parent) == before, "probe must not write anything"


def test_probe_pal_follows_the_rule(clips):
    plan = probe_plan(clips["pal"], "--to", "4k")
    exact = fit_in_box(720, 576, Fraction(16, 15), 3840, 2160)
    assert abs(plan["width"] - exact[0]) <= 2 and abs(plan["height"] - exact[1]) <= 2
    assert plan["width"] <= 3840 and plan["height"] <= 2160
    assert plan["width"] % 2 == 0 and plan["height"] % 2 == 0


def test_probe_reports_rotation_and_sar(clips):
    plan = probe_plan(clips["phone"], "--to", "4k")
    src = plan["source"] if "source" in plan else plan
    assert src["rotation"] % 360 in (90, 270) or src["rotation"] == -90
    plan = probe_plan(clips["pal"], "--to", "4k")
    src = plan["source"] if "source" in plan else plan
    assert Fraction(str(src["sar"])) == Fraction(16, 15)


def test_probe_scale_and_default_output(clips):
    plan = probe_plan(clips["odd"], "--scale", "2")
    assert (plan["width"], plan["height"]) == (198, 150)
    assert str(plan["output"]).endswith("odd.x2.mkv")
    plan = probe_plan(clips["hd"], "--to", "4k")
    assert str(plan["output"]).endswith("hd.4k.mp4")
    assert str(clips["hd"].parent) in str(plan["output"]), "default output goes beside the input"


def test_probe_odd_size_even_dims(clips):
    for to in ("720p", "320x240", "1080p"):
        plan = probe_plan(clips["odd"], "--to", to)
        assert plan["width"] % 2 == 0 and plan["height"] % 2 == 0, (to, plan["width"], plan["height"])


def test_probe_lists_streams(clips, vsr):
    run = vsr("probe", clips["av"], "--scale", "2", "--json")
    assert run.returncode == 0, str(run)
    data = run.json()  # one JSON object on stdout, nothing else
    text = json.dumps(data)
    assert "fre" in text and "Commentary" in text, "audio language/title shown"
    assert "ass" in text or "ssa" in text, "subtitle stream shown"
    run = vsr("probe", clips["av"], "--scale", "2")
    assert run.returncode == 0, str(run)
    for word in ("audio", "subtitle", "fre"):
        assert word in run.stdout, (word, run.stdout)


def test_probe_human_output_mentions_plan(clips, vsr):
    run = vsr("probe", clips["hd"], "--to", "4k", "--model", "bicubic")
    assert run.returncode == 0, str(run)
    assert "3840x2160" in run.stdout and "bicubic" in run.stdout


def test_probe_writes_nothing_even_with_output(clips, vsr, tmp_path):
    out = tmp_path / "never.mp4"
    run = vsr("probe", clips["hd"], "--to", "4k", "-o", out)
    assert run.returncode == 0, str(run)
    assert not out.exists() and listing(tmp_path) == set()


@pytest.mark.parametrize(
    "args, code",
    [
        (["--to", "5k"], 2),
        (["--to", "4k", "--scale", "2"], 2),
        (["--to", "720p"], 2),  # hd is already 720p: not an upscale
        (["--scale", "0"], 2),
        (["--scale", "2", "--model", "no-such-model"], 2),
    ],
)
def test_probe_usage_errors(clips, vsr, args, code):
    run = vsr("probe", clips["hd"], *args)
    assert run.returncode == code, str(run)
    one_line_error(run)


def test_probe_missing_input(vsr, tmp_path):
    run = vsr("probe", tmp_path / "nope.mp4", "--scale", "2")
    assert run.returncode == 2, str(run)
    one_line_error(run)


def test_probe_not_media(vsr, tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(bytes(range(256)) * 64)
    run = vsr("probe", bad, "--scale", "2")
    assert run.returncode == 1, str(run)
    one_line_error(run)
