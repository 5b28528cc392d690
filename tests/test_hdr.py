"""HDR: HDR10 static metadata and HLG tags survive vsr upscale; the default encoder follows the input.

The HDR10 clip is made here with libx265 (master-display, max-cll, 10-bit, BT.2020 + PQ tags).
There is no ffprobe on CI: the output is checked by decoding it with PyAV and reading the first
frame's side data, which is what ``ffprobe -show_frames`` prints as frame side data.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from fractions import Fraction
from types import SimpleNamespace

import av
import av.sidedata.sidedata
import numpy as np
import pytest

from vsr.config import UpscaleOptions
from vsr.io.hdr import HdrInfo, encoder_hdr_params, hdr_from_side_data, mastering_from_bytes
from vsr.io.probe import probe
from vsr.plan import make_plan

from conftest import encode_frames, probe_plan

# A P3-D65 mastering display of 1000 cd/m² (the usual HDR10 master), MaxCLL 1000, MaxFALL 400.
MASTER_DISPLAY = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"
MAX_CLL = (1000, 400)
BT2020, PQ, HLG = 9, 16, 18


def make_hdr_clip(path, *, transfer=PQ, metadata=True, size=(64, 48), frames=6, rate=24):
    """An HEVC Main 10 clip tagged BT.2020 + ``transfer``; with the HDR10 SEI messages if ``metadata``."""
    params = ["log-level=error"]
    if metadata:
        params += [f"master-display={MASTER_DISPLAY}", f"max-cll={MAX_CLL[0]},{MAX_CLL[1]}"]
    w, h = size
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx265", rate=rate, options={"x265-params": ":".join(params), "preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p10le"
        cc = s.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = BT2020, BT2020, transfer, 1
        ramp = np.linspace(0, 255, w, dtype=np.float32)

        def picture(i: int) -> av.VideoFrame:
            rgb = np.empty((h, w, 3), np.uint8)
            rgb[..., 0] = np.roll(ramp, 3 * i)[None, :]
            rgb[..., 1] = np.linspace(0, 255, h, dtype=np.float32)[:, None]
            rgb[..., 2] = 128
            return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p10le", dst_colorspace="bt2020")

        encode_frames(out, s, (picture(i) for i in range(frames)))
    return path


def first_frame_hdr(path) -> dict:
    """What a mastering suite checks on the output: codec, profile, bits, tags, frame side data."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        frame = next(c.decode(vs))
        side = {sd.type.name: bytes(sd) for sd in frame.side_data}
        return {
            "codec": vs.codec_context.name, "profile": vs.codec_context.profile, "pix_fmt": frame.format.name,
            "primaries": int(frame.color_primaries), "transfer": int(frame.color_trc), "matrix": int(frame.colorspace),
            "mastering": struct.unpack("<20i2i", side["MASTERING_DISPLAY_METADATA"]) if "MASTERING_DISPLAY_METADATA" in side else None,
            "light": struct.unpack("<2I", side["CONTENT_LIGHT_LEVEL"]) if "CONTENT_LIGHT_LEVEL" in side else None,
        }


@pytest.fixture(scope="module")
def hdr10(tmp_path_factory):
    path = make_hdr_clip(tmp_path_factory.mktemp("hdr") / "hdr10.mp4")
    src = first_frame_hdr(path)
    assert src["mastering"] is not None and src["light"] == MAX_CLL, "fixture sanity: x265 wrote the HDR10 SEI"
    return path, src


def test_probe_reads_hdr10_metadata(hdr10):
    path, _ = hdr10
    hdr = probe(path).hdr
    assert hdr.kind == "HDR10" and hdr.transfer == PQ and not hdr.dynamic
    assert (hdr.light.max_cll, hdr.light.max_fall) == MAX_CLL
    m = hdr.mastering
    assert m.red == (Fraction(34000, 50000), Fraction(16000, 50000)) and m.white == (Fraction(15635, 50000), Fraction(16450, 50000))
    assert (m.min_luminance, m.max_luminance) == (Fraction(50, 10000), Fraction(1000))
    assert m.x265() == MASTER_DISPLAY, "round trip into x265's syntax"


@pytest.mark.parametrize("args", [
    ["--model", "bicubic", "--scale", "2"],
    ["--model", "lanczos", "--to", "160x120", "-o", "{tmp}/out.mkv"],
    ["--model", "bicubic", "--scale", "2", "--start", "0.1", "--duration", "0.1"],
    ["--model", "edsr-baseline", "--scale", "2"],
])
def test_hdr10_survives_upscale_with_default_options(hdr10, vsr, tmp_path, args):
    path, src = hdr10
    args = [a.format(tmp=tmp_path) for a in args]
    if "-o" not in args:
        args += ["-o", tmp_path / "out.mp4"]
    out = args[args.index("-o") + 1]
    run = vsr("upscale", path, *args)
    assert run.returncode == 0, str(run)
    got = first_frame_hdr(out)
    assert (got["codec"], got["profile"], got["pix_fmt"]) == ("hevc", "Main 10", "yuv420p10le")
    assert (got["primaries"], got["transfer"], got["matrix"]) == (BT2020, PQ, BT2020)
    assert got["mastering"] == src["mastering"], "mastering display colour volume changed"
    assert got["light"] == MAX_CLL
    assert "warning" not in run.stderr, run.stderr


def test_hevc_in_mp4_is_tagged_hvc1(hdr10, vsr, tmp_path):
    path, _ = hdr10
    out = tmp_path / "out.mp4"
    assert vsr("upscale", path, "-o", out, "--model", "bicubic", "--scale", "2", "-q").returncode == 0
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.codec_tag == "hvc1"


def test_av1_carries_hdr10_metadata_too(hdr10, vsr, tmp_path):
    path, src = hdr10
    out = tmp_path / "out.mkv"
    run = vsr("upscale", path, "-o", out, "--model", "bicubic", "--scale", "2", "--codec", "av1", "--preset", "12")
    assert run.returncode == 0, str(run)
    got = first_frame_hdr(out)
    assert got["pix_fmt"] == "yuv420p10le" and got["transfer"] == PQ
    assert got["light"] == MAX_CLL
    # AV1 stores chromaticities in 1/65536 and luminance in 1/256 (max) and 1/16384 (min) units
    ref = mastering_from_bytes(struct.pack("<20i2i", *src["mastering"]))
    back = mastering_from_bytes(struct.pack("<20i2i", *got["mastering"]))
    assert abs(float(back.red[0] - ref.red[0])) < 1e-4 and abs(float(back.max_luminance - ref.max_luminance)) < 0.01


def test_codec_without_hdr_support_warns_once(hdr10, vsr, tmp_path):
    path, _ = hdr10
    run = vsr("upscale", path, "-o", tmp_path / "out.mkv", "--model", "bicubic", "--scale", "2", "--codec", "h264", "-q")
    assert run.returncode == 0, str(run)
    lines = [ln for ln in run.stderr.splitlines() if "MaxCLL" in ln]
    assert len(lines) == 1 and "libx264" in lines[0], run.stderr
    got = first_frame_hdr(tmp_path / "out.mkv")
    assert got["transfer"] == PQ and got["mastering"] is None, "tags kept, metadata honestly absent"


def test_hlg_keeps_its_tags_and_gets_hevc(tmp_path, vsr):
    src = make_hdr_clip(tmp_path / "hlg.mkv", transfer=HLG, metadata=False)
    assert probe_plan(src, "--model", "bicubic", "--scale", "2")["codec_basis"] == "hdr"
    out = tmp_path / "out.mkv"
    run = vsr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2", "-q")
    assert run.returncode == 0, str(run)
    got = first_frame_hdr(out)
    assert (got["codec"], got["pix_fmt"], got["transfer"], got["primaries"]) == ("hevc", "yuv420p10le", HLG, BT2020)
    assert got["mastering"] is None and got["light"] is None


@pytest.mark.parametrize("clip, extra, codec, basis", [
    (dict(pix_fmt="yuv420p"), [], "libx264", "sdr"),
    (dict(pix_fmt="yuv420p10le", codec="ffv1"), [], "libx265", "deep"),
    (dict(pix_fmt="yuv420p10le", codec="ffv1"), ["--codec", "h264"], "libx264", "option"),
    (dict(pix_fmt="yuv420p"), ["--codec", "ffv1"], "ffv1", "option"),
])
def test_default_codec_follows_the_input(make_clip, tmp_path, vsr, clip, extra, codec, basis):
    src = make_clip(tmp_path / "in.mkv", size=(32, 24), frames=2, **clip)
    plan = probe_plan(src, "--model", "bicubic", "--scale", "2", *extra)
    assert (plan["codec"], plan["codec_basis"]) == (codec, basis)
    human = vsr("probe", src, "--model", "bicubic", "--scale", "2", *extra)
    assert human.returncode == 0 and f"codec       {codec}:" in human.stdout, human.stdout


def test_probe_shows_hdr_and_why_hevc(hdr10, vsr):
    path, _ = hdr10
    run = vsr("probe", path, "--model", "bicubic", "--scale", "2")
    assert run.returncode == 0, str(run)
    assert "hdr: HDR10" in run.stdout and "MaxCLL 1000, MaxFALL 400" in run.stdout
    assert "codec       libx265: HDR input" in run.stdout


# ---------------------------------------------------------------------------- dynamic metadata


class _Side:
    def __init__(self, name: str) -> None:
        self.type = SimpleNamespace(name=name)

    def __bytes__(self) -> bytes:
        return b""


@pytest.mark.parametrize("side, tag, expected", [
    (["DOVI_RPU_BUFFER", "DOVI_METADATA"], "hev1", ("Dolby Vision",)),
    ([], "dvh1", ("Dolby Vision",)),
    (["DYNAMIC_HDR_PLUS"], "hev1", ("HDR10+",)),
    (["DYNAMIC_HDR_PLUS", "DOVI_RPU_BUFFER"], "hev1", ("HDR10+", "Dolby Vision")),
    (["SEI_UNREGISTERED"], "hev1", ()),
])
def test_dynamic_metadata_is_recognised(side, tag, expected):
    assert all(hasattr(av.sidedata.sidedata.Type, name) for name in side), "names as PyAV spells them"
    hdr = hdr_from_side_data(PQ, [_Side(n) for n in side], tag)
    assert hdr.dynamic == expected
    assert (hdr.dynamic_warning() is None) == (not expected)


def test_dynamic_metadata_warned_in_one_line_in_the_plan(hdr10):
    path, _ = hdr10
    info = probe(path)
    info = replace(info, hdr=replace(info.hdr, dynamic=("Dolby Vision",)))
    plan = make_plan(UpscaleOptions(input=path, model="bicubic", scale=2), info, check_paths=False)
    notes = [n for n in plan.notes if "Dolby Vision" in n]
    assert len(notes) == 1 and "\n" not in notes[0] and "re-encode" in notes[0]
    assert plan.codec == "libx265" and encoder_hdr_params(plan.codec, info.hdr), "HDR10 base layer still written"


def test_sdr_is_not_hdr():
    assert not HdrInfo(transfer=1).is_hdr and HdrInfo(transfer=1).description == "SDR"
    assert HdrInfo(transfer=HLG).kind == "HLG" and HdrInfo(transfer=PQ).kind == "PQ"
