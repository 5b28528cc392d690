"""A temporal model through `vsr upscale`: every frame with its time, a segmented job equal to one
pass at the joins (warm-up frames run before each segment, not written), the shot after a scene cut
not blended with the one before, and `vsr probe` saying that the model is temporal."""

from __future__ import annotations

import av
import numpy as np
import pytest

from conftest import probe_plan
from test_temporal_model import panning, tiny
from vsr.models.loader import save
from vsr.models.temporal import TemporalEDSR

LOSSLESS = ["--codec", "ffv1", "--scale", "2", "--no-estimate"]


@pytest.fixture(scope="module")
def temporal_checkpoint(tmp_path_factory):
    return save(tiny(scale=2, seed=3), tmp_path_factory.mktemp("model") / "temporal_x2.safetensors")


@pytest.fixture(scope="module")
def fused_checkpoint(tmp_path_factory):
    """With back-projection fusion, whose state remembers more frames (vsr.models.fusion)."""
    model = TemporalEDSR(num_features=8, num_blocks=1, scale=2, fusion="lr")
    model.load_state_dict(tiny(scale=2, seed=3).state_dict())
    return save(model.eval(), tmp_path_factory.mktemp("fused") / "temporal_x2.safetensors")


def write_clip(path, frames: list[np.ndarray], *, gop: int = 12, rate: int = 25) -> None:
    """Lossless (FFV1, 4:4:4) clip of RGB frames, a keyframe every ``gop`` frames."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv444p"
        stream.codec_context.gop_size = gop
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv444p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def decode(path) -> tuple[list[float], list[np.ndarray]]:
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    return [round(float(f.time), 6) for f in frames], [f.to_ndarray(format="rgb24") for f in frames]


def test_probe_says_the_model_is_temporal(vsr, tmp_path, temporal_checkpoint, fused_checkpoint):
    src = tmp_path / "in.mkv"
    write_clip(src, panning(3, 48, 64))
    plan = probe_plan(src, "--model", temporal_checkpoint, "--scale", "2")
    assert plan["warmup_frames"] == 30
    assert "no look-ahead" in plan["temporal_note"] and "MB at 16 bits" in plan["temporal_note"]
    assert not any("look-ahead" in note for note in plan["notes"]), "how it runs is not a warning"
    text = vsr("probe", src, "--model", temporal_checkpoint, "--scale", "2", "--no-estimate")
    assert text.returncode == 0 and "temporal    frames run in order" in text.stdout, str(text)
    fused = probe_plan(src, "--model", fused_checkpoint, "--scale", "2")
    assert (fused["warmup_frames"], fused["lookahead_frames"]) == (30, 20)
    assert "then backwards in blocks of 16 frames" in fused["temporal_note"] and "MB held" in fused["temporal_note"]
    assert plan["lookahead_frames"] == 0

    run = vsr("upscale", src, "-o", tmp_path / "out.mkv", "--model", temporal_checkpoint, *LOSSLESS)
    assert run.returncode == 0, str(run)
    assert "vsr: temporal model: frames run in order" in run.stderr and "warning" not in run.stderr, run.stderr


@pytest.mark.parametrize("checkpoint", ["temporal_checkpoint", "fused_checkpoint"])
def test_segmented_run_equals_one_pass_at_the_join(vsr, tmp_path, checkpoint, request):
    temporal_checkpoint = request.getfixturevalue(checkpoint)
    src = tmp_path / "in.mkv"
    frames = panning(50, 48, 64, step=1)  # 2 s: segments [0, 1.44) and [1.44, 2.0)
    write_clip(src, frames)
    one, seg = tmp_path / "one.mkv", tmp_path / "seg.mkv"
    r1 = vsr("upscale", src, "-o", one, "--model", temporal_checkpoint, *LOSSLESS, "--segment-seconds", "0", "--json")
    r2 = vsr("upscale", src, "-o", seg, "--model", temporal_checkpoint, *LOSSLESS, "--segment-seconds", "1", "--json")
    assert r1.returncode == 0, str(r1)
    assert r2.returncode == 0, str(r2)
    assert r2.json()["segments"] == 2
    t1, f1 = decode(one)
    t2, f2 = decode(seg)
    assert t1 == t2 == [round(i / 25, 6) for i in range(50)]
    assert all(np.array_equal(a, b) for a, b in zip(f1[:36], f2[:36])), "the first segment is the single pass"
    joined = [psnr(a, b) for a, b in zip(f1[36:], f2[36:])]
    assert min(joined) >= 45, joined  # 30 warm-up frames (from frame 6): nearly the single pass's state
    # without its warm-up the segment would start afresh, further from the single pass
    fresh = tmp_path / "fresh.mkv"
    r3 = vsr("upscale", src, "-o", fresh, "--model", temporal_checkpoint, *LOSSLESS, "--start", "1.44")
    assert r3.returncode == 0, str(r3)
    assert psnr(decode(fresh)[1][0], f1[36]) < joined[0] - 10


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("checkpoint", ["temporal_checkpoint", "fused_checkpoint"])
def test_the_shot_after_a_cut_is_not_blended_with_the_one_before(vsr, tmp_path, checkpoint, request):
    """Nor the shot before a cut with the one after (a backward pass stops at the cut too): the other shot
    can be anything, the outputs of this one stay the same."""
    temporal_checkpoint = request.getfixturevalue(checkpoint)
    shot_a, shot_b = panning(20, 48, 64, seed=0), panning(20, 48, 64, seed=9)
    other_a, other_b = panning(20, 48, 64, seed=4), panning(20, 48, 64, seed=6)
    outputs = {}
    for name, frames in {"ab": shot_a + shot_b, "Ab": other_a + shot_b, "aB": shot_a + other_b}.items():
        src, out = tmp_path / f"{name}.mkv", tmp_path / f"{name}-out.mkv"
        write_clip(src, frames, gop=1)
        assert vsr("upscale", src, "-o", out, "--model", temporal_checkpoint, *LOSSLESS).returncode == 0
        outputs[name] = decode(out)[1]
    assert all(np.array_equal(a, b) for a, b in zip(outputs["ab"][20:], outputs["Ab"][20:]))
    assert all(np.array_equal(a, b) for a, b in zip(outputs["ab"][:20], outputs["aB"][:20]))
    assert not np.array_equal(outputs["ab"][0], outputs["Ab"][0])


@pytest.mark.parametrize("checkpoint", ["temporal_checkpoint", "fused_checkpoint"])
def test_duplicate_frames_reuse_the_output_with_a_temporal_model(vsr, tmp_path, checkpoint, request):
    """Also when the outputs come later than their batch (a backward pass holds them)."""
    temporal_checkpoint = request.getfixturevalue(checkpoint)
    frames = panning(6, 48, 64)
    src, out = tmp_path / "twos.mkv", tmp_path / "out.mkv"
    write_clip(src, [f for f in frames for _ in range(2)])
    run = vsr("upscale", src, "-o", out, "--model", temporal_checkpoint, *LOSSLESS, "--json")
    assert run.returncode == 0, str(run)
    assert run.json()["reused_duplicates"] == 6
    pictures = decode(out)[1]
    assert len(pictures) == 12 and all(np.array_equal(pictures[2 * i], pictures[2 * i + 1]) for i in range(6))


@pytest.mark.parametrize("checkpoint", ["temporal_checkpoint", "fused_checkpoint"])
def test_tiled_temporal_upscale_writes_every_frame(vsr, tmp_path, checkpoint, request):
    """Tiles keep one state each; a backward pass runs on the whole stitched frames."""
    temporal_checkpoint = request.getfixturevalue(checkpoint)
    src, out = tmp_path / "in.mkv", tmp_path / "out.mkv"
    write_clip(src, panning(8, 48, 64))
    run = vsr("upscale", src, "-o", out, "--model", temporal_checkpoint, *LOSSLESS, "--tile", "32", "--tile-overlap", "4")
    assert run.returncode == 0, str(run)
    times, pictures = decode(out)
    assert len(pictures) == 8 and pictures[0].shape == (96, 128, 3)
    assert times == [round(i / 25, 6) for i in range(8)], "every frame once, in order, with its time"


@pytest.mark.parametrize("checkpoint", ["temporal_checkpoint", "fused_checkpoint"])
def test_the_cpu_backends_frames_do_not_depend_on_the_batch_size(tmp_path, checkpoint, request):
    """The runner keeps its own copy of the previous frame: the backend's input buffer is refilled by the
    next batch (a view of it once made every frame after the first of a batch see itself as its past)."""
    from test_cuda_pipeline import _decode, _plan
    from vsr.backends.torch_backend import TorchBackend

    clip = tmp_path / "in.mkv"
    write_clip(clip, panning(8, 48, 64))
    frames, outputs = _decode(clip), {}
    for batch in (1, 3, 8):
        spec = _plan(clip, request.getfixturevalue(checkpoint), batch=batch, precision="fp32").backend_spec()
        with TorchBackend(spec) as backend:
            done = backend.run([frames[i : i + batch] for i in range(0, len(frames), batch)])
            outputs[batch] = [f.to_ndarray(format="rgb24") for out in done for f in out]
    assert len(outputs[1]) == 8
    assert all(np.array_equal(a, b) and np.array_equal(a, c) for a, b, c in zip(outputs[1], outputs[3], outputs[8]))
