"""vsr eval: JSON shape, bicubic numbers, model files, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from vsr.cli.eval import eval_command
from vsr.quality.datasets import write_rgb
from vsr.quality.matlab_resize import imresize
from vsr.quality.metrics import psnr_y


@pytest.fixture()
def hr_dir(tmp_path):
    d = tmp_path / "hr"
    d.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:50, 0:45] / 50
    for i in range(2):
        img = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (rng.uniform(1, 3) * xx + yy * c)) for c in range(3)], axis=2)
        write_rgb(d / f"im{i}.png", (img * 255).round().astype(np.uint8))
    grey = (np.tile(np.linspace(0, 255, 45), (50, 1))).astype(np.uint8)
    import cv2

    cv2.imwrite(str(d / "grey.png"), grey)  # grey images are converted to RGB
    return d


def test_eval_bicubic_json_shape(hr_dir):
    r = CliRunner().invoke(eval_command, [str(hr_dir), "--scale", "2", "--model", "bicubic", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert set(data) == {"psnr_y", "ssim_y", "scale", "model", "degrade", "seed", "precision", "images"}
    assert data["scale"] == 2 and data["model"] == "bicubic" and data["degrade"] == "clean"
    assert [im["name"] for im in data["images"]] == ["grey", "im0", "im1"]
    assert all(set(im) == {"name", "psnr_y", "ssim_y"} for im in data["images"])
    assert data["psnr_y"] == pytest.approx(np.mean([im["psnr_y"] for im in data["images"]]), abs=1e-3)
    assert 20 < data["psnr_y"] < 80 and 0 < data["ssim_y"] <= 1


def test_eval_bicubic_matches_manual_protocol(hr_dir):
    from vsr.quality.datasets import read_rgb

    r = CliRunner().invoke(eval_command, [str(hr_dir), "--scale", "3", "--model", "bicubic", "--json"])
    data = json.loads(r.output)
    hr = read_rgb(hr_dir / "im0.png")[:48, :45]  # cropped to a multiple of 3
    sr = imresize(imresize(hr, 1 / 3), 3.0)
    im0 = next(im for im in data["images"] if im["name"] == "im0")
    assert im0["psnr_y"] == pytest.approx(psnr_y(sr, hr, 3), abs=1e-3)


def test_eval_model_file_and_scale_mismatch(hr_dir, tmp_path):
    torch = pytest.importorskip("torch")
    from vsr.models.edsr import EDSR
    from vsr.quality.train import export_safetensors

    torch.manual_seed(0)
    path = export_safetensors(EDSR(num_features=8, num_blocks=1, scale=2), tmp_path / "tiny.safetensors")
    r = CliRunner().invoke(eval_command, [str(hr_dir), "--scale", "2", "--model", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)["images"]) == 3
    r = CliRunner().invoke(eval_command, [str(hr_dir), "--scale", "4", "--model", str(path)])
    assert r.exit_code != 0 and "x2" in r.output


def test_eval_unknown_model_is_one_line_error(hr_dir):
    r = CliRunner().invoke(eval_command, [str(hr_dir), "--scale", "2", "--model", "no-such-model"])
    assert r.exit_code != 0
    assert "unknown model" in r.output
