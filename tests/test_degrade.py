"""Archive-like degradations: the spec grammar, determinism by seed, and what each operation does."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from vsr.errors import UsageError
from vsr.quality import degrade
from vsr.quality.datasets import write_rgb
from vsr.quality.metrics import psnr_y


def _picture(h: int = 64, w: int = 90, seed: int = 0) -> np.ndarray:
    """Edges, gradients and texture: enough detail for codecs and blur to show."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx // 8 + yy // 8) % 2) * 200 + 20], axis=2)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def _apply(spec: str, img: np.ndarray, seed: int = 0, key: str = "img") -> np.ndarray:
    return degrade.parse(spec)(img, degrade.image_rng(seed, key))


def test_presets_and_specs_parse():
    assert degrade.parse("clean").is_clean and degrade.parse(None).is_clean and degrade.parse("").is_clean
    archive = degrade.parse("archive")
    assert not archive.is_clean and archive.spec == "archive"
    assert {op.name for stage in archive.stages for op in stage} >= {"h264", "mpeg2", "jpeg", "none"}
    assert degrade.parse("heavy").second_order == 0.5
    d = degrade.parse("blur=0.2:2.0,noise=0:8@0.5,h264=20:32|mpeg2=4|none")
    assert [len(s) for s in d.stages] == [1, 1, 3]
    assert d.stages[0][0] == degrade.Op("blur", 0.2, 2.0, 1.0)
    assert d.stages[1][0].prob == 0.5
    assert d.stages[2][1] == degrade.Op("mpeg2", 4.0, 4.0, 1.0)


@pytest.mark.parametrize("spec", ["sharpen=1", "blur", "blur=2:1", "jpeg=0:200", "noise=a", "h264=28@2",
                                  "order2=3"])
def test_bad_specs_say_what_is_wrong(spec):
    with pytest.raises(UsageError, match="--degrade"):
        degrade.parse(spec)


@pytest.mark.parametrize("spec", ["archive", "heavy", "blur=0.3:2", "resize=0.5:0.9", "noise=2:8", "poisson=0.5:2",
                                  "jpeg=20:80", "h264=20:40", "h264p=20:40", "mpeg2=2:20", "mpeg2p=2:20"])
def test_same_seed_same_picture_other_seed_other_picture(spec):
    img = _picture(63, 91)  # odd sizes: codecs need even ones internally, the size must come back
    a, b = _apply(spec, img, seed=3), _apply(spec, img, seed=3)
    assert a.shape == img.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    others = [_apply(spec, img, seed=s) for s in range(4, 10)]
    assert any(not np.array_equal(a, o) for o in others)


def test_the_seed_is_per_image_name_not_per_position():
    img = _picture()
    np.testing.assert_array_equal(_apply("noise=5", img, key="baby"), _apply("noise=5", img, key="baby"))
    assert not np.array_equal(_apply("noise=5", img, key="baby"), _apply("noise=5", img, key="bird"))


@pytest.mark.parametrize("codec,mild,strong", [("h264", 18, 45), ("h264p", 18, 45), ("mpeg2", 2, 28),
                                               ("jpeg", 95, 10)])
def test_codecs_lose_more_at_lower_quality(codec, mild, strong):
    img = _picture(96, 128)
    good, bad = (psnr_y(_apply(f"{codec}={q}", img), img, 0) for q in (mild, strong))
    assert good > bad + 3, (good, bad)
    assert 20 < bad < good < 60


def test_blur_removes_detail_and_noise_has_its_sigma():
    img = np.full((128, 128, 3), 128, np.uint8)
    noisy = _apply("noise=6", img).astype(np.float64) - 128
    assert noisy.std() == pytest.approx(6, rel=0.1)
    sharp = _picture(96, 128)
    grad = lambda a: np.abs(np.diff(a.astype(np.float64), axis=1)).mean()  # noqa: E731
    assert grad(_apply("blur=2", sharp)) < 0.5 * grad(sharp)


def test_probability_zero_and_none_leave_the_picture_alone():
    img = _picture()
    np.testing.assert_array_equal(_apply("blur=2@0,noise=8@0", img), img)
    np.testing.assert_array_equal(_apply("none", img), img)


def test_second_order_degrades_more():
    img = _picture(96, 128)
    once = psnr_y(_apply("noise=6", img), img, 0)
    twice = psnr_y(_apply("noise=6,order2=1", img), img, 0)
    assert twice < once - 1.5


def test_eval_degrade_is_reproducible_and_lower_than_clean(tmp_path):
    from vsr.cli.eval import eval_command

    for i in range(2):
        write_rgb(tmp_path / f"im{i}.png", _picture(48, 64, seed=i))
    args = [str(tmp_path), "--scale", "2", "--model", "bicubic", "--json"]
    runs = [json.loads(CliRunner().invoke(eval_command, [*args, "--degrade", "archive", "--seed", "7"]).output)
            for _ in range(2)]
    clean = json.loads(CliRunner().invoke(eval_command, args).output)
    heavy = json.loads(CliRunner().invoke(eval_command, [*args, "--degrade", "h264=40", "--seed", "7"]).output)
    assert runs[0] == runs[1] and runs[0]["degrade"] == "archive" and runs[0]["seed"] == 7
    assert heavy["psnr_y"] < clean["psnr_y"] - 1


def test_training_variants_are_made_once_and_reproducibly(tmp_path):
    from vsr.quality.train import load_training_images

    for i in range(2):
        write_rgb(tmp_path / f"im{i}.png", _picture(48, 64, seed=i))
    kw = dict(degrade="h264=25:40", variants=3, seed=5)
    hrs, lrs = load_training_images([str(tmp_path)], 2, 8, **kw)
    again = load_training_images([str(tmp_path)], 2, 8, **kw)[1]
    assert len(hrs) == 2 and [len(v) for v in lrs] == [3, 3]
    assert lrs[0][0].shape == (24, 32, 3)
    for a, b in zip(lrs, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(lrs[0][0], lrs[0][1])
    clean = load_training_images([str(tmp_path)], 2, 8)[1]
    assert [len(v) for v in clean] == [1, 1]
