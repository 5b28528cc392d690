"""vsr eval on video: both ground-truth forms, the backend path, degradation as a video, same numbers every run.

Clips are synthetic (3 clips x 6 frames of 64x48, panning patterns and a moving block); models are
bicubic (swscale) and a 1-block random EDSR. Tolerances are stated per test.
"""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import run_vsr
from vsr.cli.eval import eval_command
from vsr.quality.datasets import make_lr, write_rgb
from vsr.quality.metrics import psnr_y
from vsr.quality.video_eval import plan_for, upscale_frames

N_CLIPS, N_FRAMES, W, H = 3, 6, 64, 48


def clip_frames(c: int, n: int = N_FRAMES, w: int = W, h: int = H) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = []
    for t in range(n):
        x, y = xx - 1.3 * t * (c + 1), yy + 0.7 * t
        img = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (x / (9 + 3 * k) + y / (13 - 2 * k))) for k in range(3)], axis=2)
        img[(np.abs(xx - 12 - 3 * t) < 6) & (np.abs(yy - 20) < 7)] = (0.9, 0.25, 0.1)
        frames.append((img * 255).round().astype(np.uint8))
    return frames


def write_video(path, frames, codec: str = "ffv1", pix_fmt: str = "bgr0", fps: int = 25) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@pytest.fixture(scope="module")
def clip_dirs(tmp_path_factory):
    """A folder of clip folders (PNG frames)."""
    root = tmp_path_factory.mktemp("clips")
    for c in range(N_CLIPS):
        (root / f"clip{c}").mkdir()
        for t, f in enumerate(clip_frames(c)):
            write_rgb(root / f"clip{c}" / f"{t:04d}.png", f)
    return root


@pytest.fixture(scope="module")
def clip_videos(tmp_path_factory):
    """The same clips as lossless video files (FFV1, RGB)."""
    root = tmp_path_factory.mktemp("videos")
    for c in range(N_CLIPS):
        write_video(root / f"clip{c}.mkv", clip_frames(c))
    return root


def run_eval(*args) -> dict:
    r = CliRunner().invoke(eval_command, [str(a) for a in args] + ["--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def numbers(data: dict) -> dict:
    """The result without its timing (the one part that differs from run to run)."""
    return {k: v for k, v in data.items() if k != "timing"}


# ---------------------------------------------------------------------------- forms and output


def test_clip_folders_json_and_protocol(clip_dirs):
    data = run_eval(clip_dirs, "--scale", "2", "--model", "bicubic")
    assert data["protocol"] == "video" and data["frames"] == N_CLIPS * N_FRAMES
    assert [c["name"] for c in data["clips"]] == [f"clip{c}" for c in range(N_CLIPS)]
    for c in data["clips"]:
        assert c["frames"] == N_FRAMES == len(c["per_frame"]) and c["gt_size"] == [W, H] and c["lr_size"] == [32, 24]
        assert c["per_frame"][0]["tof"] is None and all(f["tof"] is not None for f in c["per_frame"][1:])
        assert c["psnr_y"] == pytest.approx(np.mean([f["psnr_y"] for f in c["per_frame"]]), abs=1e-3)
        assert c["tof"] == pytest.approx(np.mean([f["tof"] for f in c["per_frame"][1:]]), abs=1e-4)
    # mean per clip, then over clips
    for key in ("psnr_y", "ssim_y", "tof", "flicker"):
        assert data[key] == pytest.approx(np.mean([c[key] for c in data["clips"]]), abs=1e-3)
    assert 25 < data["psnr_y"] < 60 and data["backend"] == "swscale"


def test_video_files_give_the_same_numbers_as_frame_folders(clip_dirs, clip_videos):
    """Lossless RGB video files hold exactly the PNG frames: every number agrees."""
    a, b = (run_eval(p, "--scale", "2", "--model", "bicubic") for p in (clip_dirs, clip_videos))
    assert numbers(a)["clips"] == numbers(b)["clips"]


def test_one_video_file_and_a_lossy_one(tmp_path):
    frames = clip_frames(1, n=8)
    write_video(tmp_path / "one.mp4", frames, codec="libx264", pix_fmt="yuv444p")
    data = run_eval(tmp_path / "one.mp4", "--scale", "2", "--model", "bicubic")
    assert [c["name"] for c in data["clips"]] == ["one"] and data["frames"] == 8
    assert data["psnr_y"] > 25  # decoded with its own matrix: the picture, not a colour-shifted one


def test_window_and_gt_downscale(tmp_path, clip_videos):
    data = run_eval(clip_videos / "clip0.mkv", "--scale", "2", "--model", "bicubic", "--gt-downscale", "2",
                    "--max-frames", "4")
    assert data["frames"] == 4 and data["clips"][0]["gt_size"] == [32, 24] and data["clips"][0]["lr_size"] == [16, 12]
    # --start 0.08 at 25 fps skips 2 frames; negative counts from the end (0.24 s long: the last 2 frames)
    assert run_eval(clip_videos / "clip0.mkv", "--scale", "2", "--model", "bicubic", "--start", "0.08")["frames"] == 4
    assert run_eval(clip_videos / "clip0.mkv", "--scale", "2", "--model", "bicubic", "--start", "0.08",
                    "--duration", "0.08")["frames"] == 2
    assert run_eval(clip_videos / "clip0.mkv", "--scale", "2", "--model", "bicubic", "--start", "-0.08")["frames"] == 2


def test_table_output(clip_dirs):
    r = CliRunner().invoke(eval_command, [str(clip_dirs), "--scale", "2", "--model", "bicubic"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["clip0", "clip1", "clip2", "mean"]
    assert "tOF" in lines[-1] and "3 clips, 18 frames" in lines[-1]


def test_usage_errors(clip_dirs, tmp_path):
    from vsr.quality.datasets import write_rgb as w

    (tmp_path / "images").mkdir()
    w(tmp_path / "images" / "a.png", clip_frames(0)[0])
    cases = [
        ([str(tmp_path / "images"), "--codec", "h264=25"], "--codec: for video"),
        ([str(clip_dirs), "--lr-dir", str(tmp_path)], "--lr-dir is for image folders"),
        ([str(clip_dirs), "--start", "1"], "use --max-frames"),
        ([str(clip_dirs), "--codec", "h265=3"], "unknown video codec"),
        ([str(tmp_path / "images" / "a.png")], "is an image"),
    ]
    for args, message in cases:
        r = CliRunner().invoke(eval_command, args + ["--scale", "2", "--model", "bicubic"])
        assert r.exit_code != 0 and message in r.output, (args, r.output)


# ---------------------------------------------------------------------------- the backend path


def test_model_through_backend_matches_image_protocol(clip_dirs):
    """The shipped x2 network gives the same per-frame PSNR-Y through the backend as the image protocol's
    direct run on the same frames (no shave), within 0.01 dB, and pixels differ by at most 1 level.
    The difference is the upscale's own 8 <-> 16-bit RGB conversion in swscale (about v*256 in and v/256
    out, not v*257), which a network with unit gain almost cancels."""
    import torch

    from vsr.models import load
    from vsr.models.resolver import resolve
    from vsr.quality.eval import sr_image

    data = run_eval(clip_dirs, "--scale", "2", "--model", "edsr-baseline")
    assert data["backend"] == "torch" and data["precision"] == "fp32"
    net = load(resolve("edsr-baseline").source(2)).eval().to(memory_format=torch.channels_last)
    cpu = torch.device("cpu")
    for c, clip in enumerate(data["clips"]):
        gts = clip_frames(c)
        direct = [psnr_y(sr_image(net, make_lr(g, 2), cpu), g) for g in gts]
        assert [f["psnr_y"] for f in clip["per_frame"]] == pytest.approx(direct, abs=0.01)
    lr = [make_lr(g, 2) for g in clip_frames(0)]
    outs = list(upscale_frames(plan_for("edsr-baseline", 2, 32, 24, Fraction(25), device="cpu"), 2, lr, Fraction(25)))
    for o, g in zip(outs, lr):
        assert np.abs(o.astype(int) - sr_image(net, g, cpu)).max() <= 1


@pytest.mark.parametrize("model", ["bicubic", "edsr"])
def test_frames_are_what_vsr_upscale_writes(model, edsr_checkpoint, tmp_path):
    """The eval's output frames equal those of `vsr upscale LR.mkv --codec ffv1 --pix-fmt bgr0` run on
    the same LR frames (the issue's acceptance procedure), pixel for pixel."""
    name = "bicubic" if model == "bicubic" else str(edsr_checkpoint)
    lr = [make_lr(g, 2) for g in clip_frames(2)]
    write_video(tmp_path / "lr.mkv", lr)
    run = run_vsr("upscale", tmp_path / "lr.mkv", "-o", tmp_path / "up.mkv", "--scale", "2", "--model", name,
                  "--codec", "ffv1", "--pix-fmt", "bgr0", "--device", "cpu", "--precision", "fp32", "--quiet")
    assert run.returncode == 0, str(run)
    with av.open(str(tmp_path / "up.mkv")) as f:
        upscaled = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    ours = list(upscale_frames(plan_for(name, 2, 32, 24, Fraction(25), device="cpu", precision="fp32"), 2, lr,
                               Fraction(25)))
    assert len(ours) == len(upscaled) == len(lr)
    for o, u in zip(ours, upscaled):
        np.testing.assert_array_equal(o, u)


# ---------------------------------------------------------------------------- degradation and determinism


def test_codec_degradation_is_seeded_per_clip(clip_dirs):
    spec = ["--degrade", "noise=1:4", "--codec", "h264=18:34"]
    a = run_eval(clip_dirs, "--scale", "2", "--model", "bicubic", *spec, "--seed", "1")
    b = run_eval(clip_dirs, "--scale", "2", "--model", "bicubic", *spec, "--seed", "1")
    c = run_eval(clip_dirs, "--scale", "2", "--model", "bicubic", *spec, "--seed", "2")
    assert numbers(a) == numbers(b)
    assert [x["degraded"] for x in a["clips"]] != [x["degraded"] for x in c["clips"]]
    assert all(x["degraded"].startswith("h264 crf ") for x in a["clips"])
    assert len({x["degraded"] for x in a["clips"]}) == N_CLIPS  # each clip its own draw (seed, clip name)
    clean = run_eval(clip_dirs, "--scale", "2", "--model", "bicubic")
    assert a["psnr_y"] < clean["psnr_y"] - 1 and a["degrade"] == "noise=1:4 + h264=18:34"


def test_same_numbers_on_every_run(edsr_checkpoint, clip_dirs):
    """A model on codec-degraded LR: in this process twice and in a fresh process, identical JSON
    (timing aside)."""
    args = [clip_dirs, "--scale", "2", "--model", edsr_checkpoint, "--codec", "h264=25", "--precision", "fp32"]
    first, second = run_eval(*args), run_eval(*args)
    fresh = run_vsr("eval", *args, "--json")
    assert fresh.returncode == 0, str(fresh)
    assert numbers(first) == numbers(second) == numbers(fresh.json())
    assert set(first["timing"]) == {"clip0", "clip1", "clip2"}
