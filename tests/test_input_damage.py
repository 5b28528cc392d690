"""How damaged the input is (the codec's quantiser read from the bitstream, the noise) and the default model it
picks (vsr.io.quantizer, vsr.io.damage, vsr.models.default_choice)."""

from __future__ import annotations

import struct

import av
import numpy as np
import pytest
from conftest import load_script

from vsr.config import UpscaleOptions
from vsr.io.damage import InputDamage, measure, noise_sigma
from vsr.io.quantizer import UNITS, Quantizer, frame_quantizer
from vsr.models.default_choice import COMPRESSED_FROM, COMPRESSED_MODEL, default_model, noise_threshold, threshold
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
    clip = make_clip(tmp_path / f"q{qp}.mp4", size=(96, 64), frames=60, x264_params=f"qp={qp}")
    q = measure(clip, 0, 0.0, 60 / 25).quantizer
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
    q = measure(path, 0).quantizer
    assert q is not None and q.kind == "mpeg" and q.mean == 10.0  # qscale 5, reported as MPEG-2's 10


def test_lr_damage_benchmark_reads_the_encoded_clip():
    """benchmarks/lr_damage.py (what the thresholds are read against): MPEG-2 at q 5 reads as 10; noise as sigma."""
    lr_damage = load_script("benchmarks/lr_damage.py")
    frames = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8) for i in range(8)]
    assert lr_damage.clip_quantizer(frames, "mpeg2", 5) == 10.0
    noise = [np.random.default_rng(i).normal(0, 4, (48, 64, 1)).round() for i in range(8)]
    grey = [np.clip(128 + n, 0, 255).astype(np.uint8).repeat(3, axis=2) for n in noise]
    assert 3.0 < lr_damage.clip_noise(grey) < 5.0


def test_codecs_without_a_quantiser_give_none(make_clip, tmp_path):
    damage = measure(make_clip(tmp_path / "lossless.mkv", codec="ffv1", frames=4), 0)
    assert damage.quantizer is None and damage.noise is not None  # the noise is measured on any codec


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_default_model_follows_the_quantiser_and_the_noise(scale):
    bound, quiet = threshold("h264", scale), noise_threshold(scale) / 2
    hard, light = Quantizer("h264", bound + 1, 48), Quantizer("h264", bound - 1, 48)
    assert default_model(InputDamage(hard, quiet), "h264", scale).name == COMPRESSED_MODEL
    assert default_model(InputDamage(light, quiet), "h264", scale).name == DEFAULT_MODEL
    assert default_model(InputDamage(light, noise_threshold(scale)), "h264", scale).name == COMPRESSED_MODEL
    assert default_model(InputDamage(None, quiet), "hevc", scale).name == DEFAULT_MODEL
    assert default_model(InputDamage(None, 2 * noise_threshold(scale)), "ffv1", scale).name == COMPRESSED_MODEL
    assert default_model(InputDamage(None, None), "rawvideo", scale).name == DEFAULT_MODEL  # nothing measured
    vp9 = Quantizer("vp9", threshold("vp9", scale), 48)  # VP9's quantiser index (0-255) has thresholds of its own
    assert default_model(InputDamage(vp9, quiet), "vp9", scale).name == COMPRESSED_MODEL
    assert "--model temporal for clean" in default_model(InputDamage(hard, quiet), "h264", scale).reason
    assert "hevc reports no quantiser" in default_model(InputDamage(None, quiet), "hevc", scale).reason


def test_noise_sigma_reads_white_noise():
    """Immerkaer's estimate on a smooth ramp with Gaussian noise added: within 10% of the sigma, about 0 without."""
    ramp = np.add.outer(np.linspace(40, 200, 180), np.linspace(0, 30, 320)).astype(np.float32)
    assert noise_sigma(np.clip(ramp + 0.5, 0, 255).astype(np.uint8)) < 0.3
    for sigma in (2.0, 5.0):
        noisy = ramp + np.random.default_rng(0).normal(0, sigma, ramp.shape)
        assert noise_sigma(np.clip(noisy + 0.5, 0, 255).astype(np.uint8)) == pytest.approx(sigma, rel=0.1)


def test_every_kind_of_quantiser_has_thresholds_at_x2_and_x4():
    assert set(UNITS) == set(COMPRESSED_FROM) and all(set(t) == {2, 4} for t in COMPRESSED_FROM.values())


def test_thresholds_by_scale():
    """x3 runs temporal-archive's x4 member: it takes x4's threshold; the x2 network needs the archive model sooner."""
    assert threshold("h264", 3) == threshold("h264", 4) == COMPRESSED_FROM["h264"][4]
    assert threshold("h264", 2) < threshold("h264", 4) and threshold("mpeg", 2) < threshold("mpeg", 4)
    assert threshold("vp9", 2) < threshold("vp9", 4)


def test_plan_picks_the_archive_model_for_damaged_input(make_clip, tmp_path):
    hard = make_clip(tmp_path / "hard.mp4", size=(96, 64), frames=24, x264_params="qp=40")
    light = make_clip(tmp_path / "light.mp4", size=(96, 64), frames=24, x264_params="qp=12")
    noisy = make_clip(tmp_path / "noisy.mkv", size=(96, 64), frames=6, content="noise", codec="ffv1")
    plan = make_plan(UpscaleOptions(input=hard, scale=4.0), check_paths=False)
    assert plan.model == COMPRESSED_MODEL and "mean QP" in plan.model_basis
    plan = make_plan(UpscaleOptions(input=light, scale=4.0), check_paths=False)
    assert plan.model == DEFAULT_MODEL and "picked for clean input" in plan.model_basis
    plan = make_plan(UpscaleOptions(input=noisy, scale=4.0), check_paths=False)
    assert plan.model == COMPRESSED_MODEL and "ffv1 reports no quantiser; noise sigma" in plan.model_basis
    named = make_plan(UpscaleOptions(input=hard, scale=4.0, model=DEFAULT_MODEL), check_paths=False)
    assert named.model == DEFAULT_MODEL and named.model_basis == ""  # a model the user names is never replaced


def test_plan_measures_only_its_section(make_clip, tmp_path):
    """--start/--duration bound the frames measured: a clip light for 1 s, then hard (x264 zones)."""
    clip = make_clip(tmp_path / "c.mp4", size=(96, 64), frames=60, x264_params="crf=10:zones=25,59,q=44")
    first = make_plan(UpscaleOptions(input=clip, scale=4.0, duration=0.9), check_paths=False)
    assert first.model == DEFAULT_MODEL
    rest = make_plan(UpscaleOptions(input=clip, scale=4.0, start=1.2), check_paths=False)
    assert rest.model == COMPRESSED_MODEL


def test_a_raw_stream_that_cannot_seek_is_measured_from_its_start(make_clip, tmp_path):
    """An elementary H.264 stream has no duration and no index: one run from its first frame."""
    clip = make_clip(tmp_path / "c.mp4", size=(96, 64), frames=30, x264_params="qp=30")
    raw = tmp_path / "c.h264"
    with av.open(str(clip)) as src, av.open(str(raw), "w", format="h264") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    damage = measure(raw, 0, 0.0, None)
    assert damage.quantizer is not None and damage.quantizer.frames == 12 and 27 <= damage.quantizer.mean <= 30


def test_ten_bit_input_is_not_read_as_noisy(make_clip, tmp_path):
    """A clean 10-bit clip reads as clean: its luma is read at 16 bits, not dithered down to 8."""
    clip = make_clip(tmp_path / "deep.mkv", size=(160, 96), frames=6, pix_fmt="yuv420p10le", codec="ffv1")
    assert measure(clip, 0).noise < 0.3


def test_letterbox_bars_do_not_hide_the_noise():
    """A noisy 2.39:1 picture in a 16:9 frame: the black bars, flatter than any picture, are cut off first."""
    ramp = np.add.outer(np.linspace(40, 200, 134), np.linspace(0, 30, 320))
    noisy = np.clip(ramp + np.random.default_rng(1).normal(0, 3, ramp.shape) + 0.5, 0, 255)
    frame = np.zeros((180, 320), np.float32)
    frame[23:157] = noisy
    assert noise_sigma(frame) == pytest.approx(noise_sigma(noisy.astype(np.float32)), rel=0.02)
    assert noise_sigma(frame) == pytest.approx(3.0, rel=0.1)


def test_runs_measure_their_own_times_in_a_long_gop(make_clip, tmp_path):
    """One keyframe for 4 s (x264's default GOP is 10 s): each run decodes from it but measures only frames
    from its own time on, inside the section, and none twice."""
    clip = make_clip(tmp_path / "g.mp4", size=(96, 64), frames=100, x264_params="keyint=250:crf=10:zones=50,99,q=44")
    hard = measure(clip, 0, 2.4, 4.0).quantizer
    assert hard.mean == pytest.approx(44.0, abs=0.5) and hard.frames == 40  # frames 60-99, each once
    light = measure(clip, 0, 0.0, 1.5).quantizer
    assert light.mean < 10 and light.frames == 38  # frames 0-37 (1.48 s)


def test_ten_bit_h264_is_judged_on_the_8_bit_qp_scale(make_clip, tmp_path):
    """FFmpeg reports H.264's QP' (QP + 12 at 10 bits): brought back to QP, the same CRF reads alike."""
    eight, ten = (measure(make_clip(tmp_path / f"{f}.mp4", size=(96, 64), frames=24, pix_fmt=f, x264_params="crf=20"),
                          0, 0.0, 0.96).quantizer.mean for f in ("yuv420p", "yuv420p10le"))
    assert abs(eight - ten) < 4


def test_an_unmeasured_section_says_so():
    reason = default_model(InputDamage(None, None), "h264", 4)
    assert reason.name == DEFAULT_MODEL and "could be measured" in reason.reason
    assert "no quantiser in the frames sampled" in default_model(InputDamage(None, 0.5), "h264", 4).reason
