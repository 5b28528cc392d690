"""The codec's quantiser read from the bitstream, and the default model it picks (vsr.io.quantizer,
vsr.models.default_choice)."""

from __future__ import annotations

import struct

import av
import numpy as np
import pytest
from conftest import load_script

from vsr.config import UpscaleOptions
from vsr.io.quantizer import Quantizer, frame_quantizer, measure
from vsr.models.default_choice import COMPRESSED_FROM, COMPRESSED_MODEL, default_model, threshold
from vsr.models.registry import DEFAULT_MODEL
from vsr.plan import make_plan


def enc_params(kind: int, qp: int, deltas: list[int], block_size: int = 20) -> bytes:
    """``AVVideoEncParams`` as FFmpeg lays it out on 64-bit machines, blocks after a 64-byte header."""
    header = struct.pack("=I4xQQii", len(deltas), 64, block_size, kind, qp) + bytes(32)
    blocks = b"".join(struct.pack("=5i", 16 * i, 0, 16, 16, d) + bytes(block_size - 20) for i, d in enumerate(deltas))
    return header + blocks


def test_frame_quantizer_reads_the_base_and_the_block_deltas():
    assert frame_quantizer(enc_params(1, 26, [0, 2, -2, 4])) == ("h264", 27.0)
    assert frame_quantizer(enc_params(2, 0, [12, 14], block_size=24)) == ("mpeg", 13.0)  # a wider block struct
    assert frame_quantizer(enc_params(0, 120, [])) == ("vp9", 120.0)  # VP9: one value per frame, no blocks


def test_frame_quantizer_refuses_what_it_cannot_read():
    assert frame_quantizer(enc_params(7, 26, [0])) is None  # a type FFmpeg may add later
    assert frame_quantizer(enc_params(1, 26, [0, 1])[:-10]) is None  # blocks cut short
    assert frame_quantizer(b"\0" * 8) is None


@pytest.mark.parametrize("qp", [12, 40])
def test_h264_quantizer_is_measured_over_the_section(make_clip, tmp_path, qp):
    clip = make_clip(tmp_path / f"q{qp}.mp4", size=(96, 64), frames=60, content="noise", x264_params=f"qp={qp}")
    q = measure(clip, 0, 0.0, 60 / 25)
    assert q is not None and q.kind == "h264" and q.frames == 48  # 4 runs of 12 frames
    # constant QP: P frames at qp, each run's I frame about 3 below
    assert qp - 3 <= q.mean <= qp + 0.01


def test_mpeg2_quantizer_is_in_mpeg2_units(tmp_path):
    path = tmp_path / "q.mpg"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.options = {"qmin": "5", "qmax": "5", "b": "50M", "bf": "2", "g": "12"}
        rng = np.random.default_rng(0)
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    q = measure(path, 0)
    assert q is not None and q.kind == "mpeg" and q.mean == 10.0  # qscale 5, reported as MPEG-2's 10


def test_lr_quantizer_benchmark_reads_the_encoded_clip():
    """benchmarks/lr_quantizer.py (the thresholds' quantiser column): MPEG-2 at q 5 reads as 10."""
    frames = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8) for i in range(8)]
    assert load_script("benchmarks/lr_quantizer.py").clip_quantizer(frames, "mpeg2", 5) == 10.0


def test_codecs_without_a_quantiser_give_none(make_clip, tmp_path):
    assert measure(make_clip(tmp_path / "lossless.mkv", codec="ffv1", frames=4), 0) is None


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_default_model_follows_the_quantiser(scale):
    bound = threshold("h264", scale)
    hard, light = Quantizer("h264", bound + 1, 48), Quantizer("h264", bound - 1, 48)
    assert default_model(hard, "h264", scale).name == COMPRESSED_MODEL
    assert default_model(light, "h264", scale).name == DEFAULT_MODEL
    assert default_model(None, "hevc", scale).name == DEFAULT_MODEL
    assert default_model(Quantizer("vp9", 250, 48), "vp9", scale).name == DEFAULT_MODEL  # no threshold for VP9
    assert "--model temporal for clean" in default_model(hard, "h264", scale).reason
    assert "hevc reports no quantiser" in default_model(None, "hevc", scale).reason


def test_thresholds_by_scale():
    """x3 runs temporal-archive's x4 member: it takes x4's threshold; the x2 network needs the archive model sooner."""
    assert threshold("h264", 3) == threshold("h264", 4) == COMPRESSED_FROM["h264"][4]
    assert threshold("h264", 2) < threshold("h264", 4) and threshold("mpeg", 2) < threshold("mpeg", 4)
    assert threshold("vp9", 2) is None


def test_plan_picks_the_archive_model_for_hard_quantised_input(make_clip, tmp_path):
    hard = make_clip(tmp_path / "hard.mp4", size=(96, 64), frames=24, content="noise", x264_params="qp=40")
    light = make_clip(tmp_path / "light.mp4", size=(96, 64), frames=24, content="noise", x264_params="qp=12")
    plan = make_plan(UpscaleOptions(input=hard, scale=4.0), check_paths=False)
    assert plan.model == COMPRESSED_MODEL and "mean QP" in plan.model_basis
    plan = make_plan(UpscaleOptions(input=light, scale=4.0), check_paths=False)
    assert plan.model == DEFAULT_MODEL and "lightly compressed" in plan.model_basis
    named = make_plan(UpscaleOptions(input=hard, scale=4.0, model=DEFAULT_MODEL), check_paths=False)
    assert named.model == DEFAULT_MODEL and named.model_basis == ""  # a model the user names is never replaced


def test_plan_measures_only_its_section(make_clip, tmp_path):
    """--start/--duration bound the frames measured: a clip light for 1 s, then hard (x264 zones)."""
    clip = make_clip(tmp_path / "c.mp4", size=(96, 64), frames=60, content="noise",
                     x264_params="crf=10:zones=25,59,q=44")
    first = make_plan(UpscaleOptions(input=clip, scale=4.0, duration=0.9), check_paths=False)
    assert first.model == DEFAULT_MODEL
    rest = make_plan(UpscaleOptions(input=clip, scale=4.0, start=1.2), check_paths=False)
    assert rest.model == COMPRESSED_MODEL
