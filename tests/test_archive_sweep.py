"""benchmarks/archive_sweep.py: per-image sweep records and the matched-damage estimate."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_script
from vsr.quality.datasets import write_rgb

archive_sweep = load_script("benchmarks/archive_sweep.py")


def record(image: str, lr: str, bicubic: float, base: float, model: float) -> dict:
    return {"set": "s", "image": image, "lr": lr, "bicubic": bicubic, "base": base, "model": model}


def test_matched_gain_averages_the_pairs_nearest_in_damage():
    records = [
        record("a", "clean", 30.0, 33.0, 32.8),
        record("a", "CRF 16", 29.3, 30.0, 30.5),   # losses 0.7 / 3.0: the match, gain +0.5
        record("a", "CRF 28", 26.0, 26.5, 27.5),   # losses 4.0 / 6.5, gain +1.0
        record("b", "clean", 28.0, 31.0, 30.9),
        record("b", "CRF 16", 27.2, 28.2, 28.5),   # losses 0.8 / 2.8: next nearest, gain +0.3
        record("b", "CRF 28", 24.0, 24.2, 25.0),
    ]
    m = archive_sweep.matched_gain(records, "base", "model", 0.7, 2.94, k=2)
    assert m["pairs"] == 2 and m["of"] == 4
    assert m["nearest"] == ["s/a CRF 16", "s/b CRF 16"]
    assert m["gain"] == pytest.approx(0.4)
    assert m["bicubic_loss"] == pytest.approx(0.75) and m["base_loss"] == pytest.approx(2.9)


def test_sweep_records_every_image_and_condition(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("x", "y"):
        smooth = np.repeat(np.repeat(rng.integers(0, 256, (8, 8, 3)), 8, 0), 8, 1).astype(np.uint8)
        write_rgb(tmp_path / f"{name}.png", smooth)
    records = archive_sweep.sweep([str(tmp_path)], 2, [28], ["lanczos"])
    assert [(r["image"], r["lr"]) for r in records] == [("x", "clean"), ("y", "clean"), ("x", "CRF 28"), ("y", "CRF 28")]
    rows = archive_sweep.mean_rows(records, tmp_path.name, ["bicubic", "lanczos"])
    assert [r["lr"] for r in rows] == ["clean", "CRF 28"]
    assert rows[1]["bicubic"] < rows[0]["bicubic"]  # compression costs bicubic something
