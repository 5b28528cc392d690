"""`vsr upscale` with community models: a spandrel checkpoint, a 1x + 2x chain, an ONNX graph;
`vsr probe` and `vsr models info` say what loaded them; bad chains and graphs are one-line usage errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.conftest import listing, one_line_error, probe_plan, read_video

spandrel = pytest.importorskip("spandrel")  # core dependency: never skipped in .ci/run

from spandrel.architectures.DnCNN import DnCNN  # noqa: E402
from spandrel.architectures.ESRGAN import ESRGAN  # noqa: E402
from spandrel.architectures.OmniSR import OmniSR  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
SIZE, FRAMES = (64, 48), 4


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny random community checkpoints, saved as their publishers do."""
    root = tmp_path_factory.mktemp("community")
    torch.manual_seed(0)
    esrgan = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2, shuffle_factor=2)
    torch.save(esrgan.state_dict(), root / "2x_old_esrgan.pth")  # the old ESRGAN key layout (model.0.weight, ...)
    torch.save({"params": DnCNN(in_nc=1, out_nc=1, nc=8, nb=5).state_dict()}, root / "1x_dncnn.pth")
    from safetensors.torch import save_file

    omni = OmniSR(num_feat=8, up_scale=2, res_num=1, block_num=1, window_size=4)
    save_file({k: v.contiguous() for k, v in omni.state_dict().items()}, str(root / "2x_omnisr.safetensors"))
    return root


@pytest.fixture(scope="module")
def clip(tmp_path_factory, models):
    from tests.conftest import make_clip_file

    return make_clip_file(tmp_path_factory.mktemp("clip") / "in.mp4", size=SIZE, frames=FRAMES)


def test_spandrel_model_upscales_every_frame(tmp_path, vsr, clip, models):
    out = tmp_path / "o.mkv"
    run = vsr("upscale", clip, "--model", models / "2x_old_esrgan.pth", "-o", out, "--quiet")
    assert run.returncode == 0, str(run)
    dump = read_video(out)
    assert (dump.width, dump.height) == (SIZE[0] * 2, SIZE[1] * 2)
    assert len(dump.times) == len(read_video(clip).times) == FRAMES


def test_chain_1x_then_2x_upscales_and_probe_lists_links(tmp_path, vsr, clip, models):
    chain = f"{models / '1x_dncnn.pth'}+{models / '2x_omnisr.safetensors'}"
    plan = probe_plan(clip, "--model", chain)
    assert plan["model_scale"] == 2 and (plan["width"], plan["height"]) == (SIZE[0] * 2, SIZE[1] * 2)
    assert plan["model_links"] == ["DnCNN x1 (spandrel)", "OmniSR x2 (spandrel)"]
    assert plan["tile_overlap"] == 16 + 16  # each link gets 16 pixels of its own input
    assert plan["precision"] in ("fp32", "bf16")  # DnCNN has no fp16
    out = tmp_path / "o.mkv"
    run = vsr("upscale", clip, "--model", chain, "-o", out, "--quiet")
    assert run.returncode == 0, str(run)
    dump = read_video(out)
    assert (dump.width, dump.height, len(dump.times)) == (SIZE[0] * 2, SIZE[1] * 2, FRAMES)
    text = vsr("probe", clip, "--model", chain, "--no-estimate")
    assert "links" in text.stdout and "DnCNN x1 (spandrel) -> OmniSR x2 (spandrel)" in text.stdout, str(text)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def test_onnx_export_upscales_like_the_checkpoint(tmp_path, vsr, clip, models):
    pth = models / "2x_omnisr.safetensors"
    graph = tmp_path / "2x_omnisr.onnx"
    assert vsr("export", "--model", pth, "-o", graph).returncode == 0
    outs = {}
    for name, model in (("pth", pth), ("onnx", graph)):
        outs[name] = tmp_path / f"{name}.mkv"
        run = vsr("upscale", clip, "--model", model, "-o", outs[name], "--precision", "fp32", "--codec", "ffv1", "--quiet")
        assert run.returncode == 0, str(run)
    a, b = (read_video(outs[k], keep="rgb24") for k in ("pth", "onnx"))
    assert len(a.frames) == len(b.frames) == FRAMES
    assert min(_psnr(x, y) for x, y in zip(a.frames, b.frames)) >= 45.0
    plan = probe_plan(clip, "--model", graph)
    assert plan["model_loader"].startswith("an ONNX graph, run by ONNX Runtime") and plan["precision"] == "fp32"


def test_models_info_names_architecture_and_scale(vsr, models):
    run = vsr("models", "info", models / "2x_old_esrgan.pth")
    assert run.returncode == 0, str(run)
    assert "ESRGAN" in run.stdout and "x2" in run.stdout and "spandrel" in run.stdout
    run = vsr("models", "info", f"{models / '1x_dncnn.pth'}+{models / '2x_omnisr.safetensors'}", "--json")
    facts = run.json()
    assert facts["scale"] == 2 and [link["arch"] for link in facts["links"]] == ["DnCNN", "OmniSR"]


@pytest.mark.parametrize("model", ["{a}+", "{a}+lanczos", "{a}+{junk}", "{graph}"])
def test_bad_models_are_one_line_usage_errors_nothing_written(tmp_path, vsr, clip, models, model):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"PK\x03\x04 truncated")
    graph = tmp_path / "not_an_image.onnx"
    _vector_graph(graph)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    value = model.format(a=models / "1x_dncnn.pth", junk=junk, graph=graph)
    run = vsr("upscale", clip, "--model", value, "-o", out_dir / "o.mkv")
    assert run.returncode == 2, str(run)
    one_line_error(run)
    assert listing(out_dir) == set()


def _vector_graph(path) -> None:
    """An ONNX graph that maps a vector to a vector (not image-to-image)."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "vec", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
