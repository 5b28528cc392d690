"""vsr compare: grid geometry, labels, default crop, and the same pixels as vsr upscale writes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vsr.compare import Crop, compare, most_detailed, to_rgb
from vsr.compare_grid import labels, layout, render
from vsr.config import UpscaleOptions
from vsr.errors import UsageError
from vsr.io.probe import probe

from conftest import read_video

MODELS = ["bicubic", "lanczos", "edsr-baseline"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from conftest import make_clip_file

    return make_clip_file(tmp_path_factory.mktemp("cmp") / "clip.mp4", size=(96, 64), frames=25, content="moving")


def read_png(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} is not a PNG OpenCV can read"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def test_crop_parse():
    assert Crop.parse("320x240+10+20") == Crop(320, 240, 10, 20)
    assert Crop.parse("64x48") == Crop(64, 48)
    for bad in ("320x", "0x10", "10x10+5", "a"):
        with pytest.raises(UsageError):
            Crop.parse(bad)


def test_default_crop_finds_the_texture_not_the_border():
    """A flat frame with a black border line and one textured patch: the patch is 'most detailed'."""
    rng = np.random.default_rng(0)
    gray = np.full((120, 200), 128, np.uint8)
    gray[:, :4] = 0  # a hard edge that squared-gradient energy would prefer
    gray[70:100, 130:170] = rng.integers(60, 200, (30, 40), dtype=np.uint8)
    gray[70:100, 130:170] = cv2.GaussianBlur(gray[70:100, 130:170], (0, 0), 1.2)
    x, y = most_detailed(gray, (40, 30))
    assert abs(x - 130) <= 4 and abs(y - 70) <= 4, (x, y)


def test_grid_dimensions_labels_and_pixels(clip, vsr, tmp_path):
    out = tmp_path / "cmp.png"
    run = vsr("compare", clip, "--at", "0.2,0.6", "--models", ",".join(MODELS), "--scale", "2",
              "--crop", "64x48+20+30", "-o", out)
    assert run.returncode == 0, str(run)
    assert f"wrote {out.resolve()}" in run.stderr and "edsr-baseline:" in run.stderr
    png = read_png(out)

    result = compare(UpscaleOptions(input=clip, scale=2), MODELS, [0.2, 0.6], Crop(64, 48, 20, 30))
    g = layout(result)
    assert png.shape == (g.height, g.width, 3)
    assert len(result.rows) == 2 and all(len(row) == 1 + len(MODELS) for row in result.rows)
    assert [c.model for c in result.rows[0]] == ["input, nearest", *MODELS]
    for r, row in enumerate(result.rows):
        for c, cell in enumerate(row):
            assert cell.image.shape == (48, 64, 3), "1:1 crop of the output"
            x, y = g.crop_origin(r, c)
            shown = png[y: y + 48, x: x + 64]
            assert np.array_equal(shown, cell.image), (r, c)
            header = png[y - g.header_h: y, x: x + g.cell_w].astype(int)
            assert header.mean() < 90, "a dark header strip"
            assert (header.max(axis=2) > 180).sum() > 40, "with light text on it"
            title, detail = labels(cell, result.crops[r])
            assert title == cell.model and f"t={cell.time:.2f}s" in detail
            assert (cell.seconds_per_frame is None) == (c == 0)
            if c:
                assert "/frame" in detail
    assert result.rows[0][0].time == pytest.approx(0.2, abs=0.04) and result.rows[1][0].time == pytest.approx(0.6, abs=0.04)
    zoomed, gz = render(result, zoom=3), layout(result, zoom=3)
    assert zoomed.shape == (gz.height, gz.width, 3) and gz.cell_w == 3 * 64
    x, y = gz.crop_origin(1, 2)
    assert np.array_equal(zoomed[y: y + 144: 3, x: x + 192: 3], result.rows[1][2].image), "pixels repeated, not filtered"


@pytest.mark.parametrize("model", ["lanczos", "edsr-baseline"])
def test_cells_are_what_upscale_writes(clip, vsr, tmp_path, model):
    """Same plan, same backend: the crop equals the frame vsr upscale writes (lossless FFV1)."""
    t = 0.4
    result = compare(UpscaleOptions(input=clip, scale=2), [model], [t], Crop(64, 48, 8, 16))
    out = tmp_path / "up.mkv"
    run = vsr("upscale", clip, "--model", model, "--scale", "2", "--start", str(t), "--duration", "0.04",
              "--codec", "ffv1", "-o", out)
    assert run.returncode == 0, str(run)
    written = read_video(out, keep="rgb24", limit=1).frames[0]
    cell = result.rows[0][1].image
    assert np.array_equal(cell, written[16:64, 8:72]), f"max diff {np.abs(cell.astype(int) - written[16:64, 8:72]).max()}"
    reference = result.rows[0][0].image
    with __import__("av").open(str(clip)) as c:
        for f in c.decode(video=0):
            if float(f.pts * f.time_base) >= t - 1e-6:
                src = to_rgb(f, probe(clip).colour)
                break
    assert np.array_equal(reference, np.repeat(np.repeat(src, 2, 0), 2, 1)[16:64, 8:72]), "nearest-neighbour x2"


def test_default_crop_and_times(clip):
    result = compare(UpscaleOptions(input=clip, scale=2), ["bicubic"], [0.0])
    crop = result.crops[0]
    assert (crop.width, crop.height) == (192, 128), "the default crop is clipped to the output size"
    assert (crop.x, crop.y) == (0, 0)


def test_compare_errors(clip, vsr, tmp_path):
    run = vsr("compare", clip, "--at", "99", "--models", "bicubic", "-o", tmp_path / "x.png")
    assert run.returncode == 1 and "no frame at 99" in run.stderr, str(run)
    run = vsr("compare", clip, "--models", "bicubic", "--crop", "500x500+0+0", "-o", tmp_path / "x.png")
    assert run.returncode == 2 and "does not fit" in run.stderr, str(run)
    run = vsr("compare", clip, "--models", "nosuchmodel", "-o", tmp_path / "x.png")
    assert run.returncode == 2, str(run)
    run = vsr("compare", clip, "--models", "bicubic", "-o", tmp_path / "x.jpg")
    assert run.returncode == 2 and "PNG" in run.stderr, str(run)
    assert not list(tmp_path.iterdir()), "nothing written on errors"


def test_a_temporal_models_cell_is_what_upscale_writes_with_the_frames_before_and_after(clip, vsr, tmp_path):
    """A temporal model with a backward pass: the crop is frame t of a whole ``vsr upscale`` run, which the
    frames before t (its state) and after t (the backward pass) both shape."""
    from test_temporal_model import tiny
    from vsr.models.loader import save
    from vsr.models.temporal import TemporalEDSR

    model = TemporalEDSR(num_features=8, num_blocks=1, scale=2, fusion="lr")
    model.load_state_dict(tiny(scale=2, seed=3).state_dict())
    checkpoint = str(save(model.eval(), tmp_path / "fused.safetensors"))
    t = 0.4  # frame 10 of 25: its block's chain starts at frame 19
    result = compare(UpscaleOptions(input=clip, scale=2), [checkpoint], [t], Crop(64, 48, 8, 16))
    out = tmp_path / "up.mkv"
    run = vsr("upscale", clip, "--model", checkpoint, "--scale", "2", "--codec", "ffv1", "-o", out)
    assert run.returncode == 0, str(run)
    written = read_video(out, keep="rgb24").frames[10][16:64, 8:72]
    assert np.array_equal(result.rows[0][1].image, written)
    alone = tmp_path / "alone.mkv"  # without the frames after it, frame t comes out otherwise
    run = vsr("upscale", clip, "--model", checkpoint, "--scale", "2", "--codec", "ffv1", "--duration", "0.44", "-o", alone)
    assert run.returncode == 0, str(run)
    assert not np.array_equal(read_video(alone, keep="rgb24").frames[10][16:64, 8:72], written)
