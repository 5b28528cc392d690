"""vsr eval --metric cvvdp (ColorVideoVDP): JOD order on images and video, determinism, no network, CLI.

Images and clips are synthetic (a few 64-96 pixel sine patterns with a coloured block); degradations are
Gaussian noise and blur from fixed seeds. ColorVideoVDP gives exactly 10 JOD for identical input.
"""

from __future__ import annotations

import json
import socket

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from vsr.cli.eval import eval_command
from vsr.errors import UsageError
from vsr.quality.datasets import write_rgb
from vsr.quality.perceptual import parse_metrics

pytest.importorskip("pycvvdp", reason="cvvdp is in the test extra: pip install -e '.[test]'")


def pattern(t: int = 0, w: int = 96, h: int = 80) -> np.ndarray:
    """An RGB uint8 picture with edges and colour, panned by ``t`` frames."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = xx - 1.5 * t, yy + 0.5 * t
    img = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (x / (7 + 3 * k) + y / (11 - 2 * k))) for k in range(3)], axis=2)
    img[(np.abs(xx - 30 - 2 * t) < 9) & (np.abs(yy - 40) < 10)] = (0.9, 0.25, 0.1)
    return (img * 255).round().astype(np.uint8)


def degrade(img: np.ndarray, noise: float, blur: float, seed: int = 0) -> np.ndarray:
    out = cv2.GaussianBlur(img.astype(np.float64), (0, 0), blur) if blur else img.astype(np.float64)
    out = out + np.random.default_rng(seed).normal(0, noise, img.shape)
    return np.clip(out.round(), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def cvvdp():
    from vsr.quality.perceptual import Cvvdp

    return Cvvdp("cpu")


# ---------------------------------------------------------------------------- the metric


def test_identical_is_10_and_more_damage_scores_lower(cvvdp):
    ref = pattern()
    scores = [cvvdp.score([degrade(ref, noise, blur)], [ref]) for noise, blur in [(0, 0), (3, 0), (3, 1.0), (12, 2.0)]]
    assert scores[0] == pytest.approx(10.0, abs=1e-4)
    assert scores[0] > scores[1] > scores[2] > scores[3], scores
    assert scores[3] < 9.0  # heavy noise and blur on a 24-inch FHD screen: clearly visible


def test_video_identical_is_10_and_flicker_scores_lower(cvvdp):
    ref = [pattern(t) for t in range(8)]
    steady = [degrade(f, 4, 0, seed=0) for f in ref]  # noise that moves with nothing: still per-frame noise
    flicker = [np.clip(f.astype(int) + (12 if t % 2 else -12), 0, 255).astype(np.uint8) for t, f in enumerate(ref)]
    assert cvvdp.score(ref, ref, 25.0) == pytest.approx(10.0, abs=1e-4)
    assert 10.0 > cvvdp.score(steady, ref, 25.0) > cvvdp.score(flicker, ref, 25.0)


def test_same_number_every_run(cvvdp):
    from vsr.quality.perceptual import Cvvdp

    ref = [pattern(t) for t in range(4)]
    test = [degrade(f, 6, 0.8, seed=t) for t, f in enumerate(ref)]
    first, second = cvvdp.score(test, ref, 24.0), cvvdp.score(test, ref, 24.0)
    assert first == second == Cvvdp("cpu").score(test, ref, 24.0)
    assert cvvdp.score(test[:1], ref[:1]) == cvvdp.score(test[:1], ref[:1])


def test_opens_no_network_connection(monkeypatch):
    """The calibrated parameters ship in the package: loading and scoring connect to nothing."""
    from vsr.quality.perceptual import Cvvdp

    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    ref = pattern()
    assert Cvvdp("cpu").score([degrade(ref, 3, 0)], [ref]) < 10.0


def test_parse_metrics():
    assert parse_metrics([]) == ()
    assert parse_metrics(["cvvdp"]) == parse_metrics(["psnr,cvvdp", "CVVDP", "ssim"]) == ("cvvdp",)
    with pytest.raises(UsageError, match="unknown; choose from cvvdp"):
        parse_metrics(["vmaf"])
    with pytest.raises(UsageError, match="ImageNet"):
        parse_metrics(["cvvdp,lpips"])


# ---------------------------------------------------------------------------- vsr eval --metric


@pytest.fixture()
def hr_dir(tmp_path):
    d = tmp_path / "hr"
    d.mkdir()
    for i in range(2):
        write_rgb(d / f"im{i}.png", pattern(3 * i))
    return d


def invoke(*args):
    return CliRunner().invoke(eval_command, [str(a) for a in args])


def test_cli_images_table_and_json(hr_dir):
    r = invoke(hr_dir, "--scale", "2", "--model", "bicubic", "--metric", "cvvdp")
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["im0", "im1", "mean"]
    assert all("cvvdp" in ln and "JOD" in ln for ln in lines)
    data = json.loads(invoke(hr_dir, "--scale", "2", "--model", "bicubic", "--metric", "cvvdp", "--json").output)
    assert data["metrics"]["cvvdp"]["unit"] == "JOD" and data["metrics"]["cvvdp"]["display"] == "standard_fhd"
    assert all(5 < im["cvvdp"] < 10 for im in data["images"])
    assert data["cvvdp"] == pytest.approx(np.mean([im["cvvdp"] for im in data["images"]]), abs=1e-3)
    worse = json.loads(invoke(hr_dir, "--scale", "4", "--model", "bicubic", "--metric", "cvvdp", "--json").output)
    assert worse["cvvdp"] < data["cvvdp"]  # x4 bicubic is blurrier than x2
    plain = json.loads(invoke(hr_dir, "--scale", "2", "--model", "bicubic", "--json").output)
    assert "cvvdp" not in plain and "metrics" not in plain and plain["psnr_y"] == data["psnr_y"]


def test_cli_video_ground_truth(tmp_path):
    for c in range(2):
        (tmp_path / "clips" / f"clip{c}").mkdir(parents=True)
        for t in range(5):
            write_rgb(tmp_path / "clips" / f"clip{c}" / f"{t:04d}.png", pattern(t + 4 * c, w=64, h=48))
    args = [tmp_path / "clips", "--scale", "2", "--model", "bicubic", "--metric", "cvvdp"]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["clip0", "clip1", "mean"] and all("JOD" in ln for ln in lines)
    first, second = (json.loads(invoke(*args, "--json").output) for _ in range(2))
    assert all(5 < c["cvvdp"] < 10 for c in first["clips"]) and "cvvdp" not in first["clips"][0]["per_frame"][0]
    assert first["cvvdp"] == pytest.approx(np.mean([c["cvvdp"] for c in first["clips"]]), abs=1e-3)
    assert [c["cvvdp"] for c in first["clips"]] == [c["cvvdp"] for c in second["clips"]]


def test_cli_unknown_metric_is_a_one_line_usage_error(hr_dir):
    for name, message in [("vmaf", "unknown; choose from cvvdp"), ("lpips", "ImageNet")]:
        r = invoke(hr_dir, "--scale", "2", "--model", "bicubic", "--metric", name)
        assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output
