"""ONNX export: onnxruntime agrees with PyTorch (atol 1e-4) at several batch sizes and frame sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vsr.models import loader
from vsr.models.loaded import LoadedModel

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (pip install 'vsr[test]')")
torch.set_num_threads(1)


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _check(model, path, shapes):
    session = _session(path)
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert inp.name == "input" and out.name == "output"
    assert [isinstance(d, str) for d in inp.shape] == [True, False, True, True]  # dynamic N, H, W
    for shape in shapes:
        x = torch.rand(*shape)
        with torch.no_grad():
            want = model(x).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == want.shape == (shape[0], 3, shape[2] * model.scale, shape[3] * model.scale)
        np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("scale", [2, 3])
def test_edsr_onnx_matches_torch(tmp_path, scale):
    from vsr.backends.onnx_export import export_onnx

    torch.manual_seed(0)
    model = loader.build("edsr", num_features=8, num_blocks=2, scale=scale, res_scale=0.1).eval()
    path = export_onnx(LoadedModel.of(model), tmp_path / "edsr.onnx")
    _check(model, path, [(1, 3, 16, 24), (3, 3, 10, 7)])


@pytest.mark.parametrize(
    ("arch", "kwargs"),
    [
        ("rrdbnet", dict(num_features=8, num_blocks=1, growth_channels=4, scale=2)),
        ("srvgg", dict(num_features=8, num_conv=2, scale=4)),
        ("msrresnet", dict(num_features=8, num_blocks=1, scale=4)),
        ("vdsr", dict(num_features=8, num_layers=4, scale=3)),
    ],
    ids=["rrdbnet-x2", "srvgg", "msrresnet", "vdsr"],
)
def test_other_architectures_export(tmp_path, arch, kwargs):
    from vsr.backends.onnx_export import export_onnx

    model = loader.build(arch, **kwargs).eval()
    path = export_onnx(LoadedModel.of(model), tmp_path / f"{arch}.onnx", opset=18)
    _check(model, path, [(2, 3, 8, 12)])


def test_export_cli(tmp_path):
    from vsr.cli import main

    model = loader.build("edsr", num_features=8, num_blocks=1, scale=2).eval()
    weights = loader.save(model, tmp_path / "tiny.safetensors")
    out = tmp_path / "out" / "tiny.onnx"
    result = CliRunner().invoke(main, ["export", "--model", str(weights), "-o", str(out), "--opset", "17"])
    assert result.exit_code == 0, result.output
    assert "edsr x2" in result.output
    _check(model, out, [(2, 3, 6, 5)])
    missing = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "nope.pth"), "-o", str(out)])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_fp16_export_for_strongly_typed_engines(tmp_path):
    """A half-precision graph (what a strongly typed TensorRT fp16 engine is built from) agrees with fp32."""
    import onnx

    from vsr.backends.onnx_export import export_onnx

    torch.manual_seed(0)
    model = loader.build("edsr", num_features=8, num_blocks=2, scale=2, res_scale=0.1).eval()
    path = export_onnx(LoadedModel.of(model), tmp_path / "edsr16.onnx", dtype=torch.float16)
    graph = onnx.load(str(path))
    half = onnx.TensorProto.FLOAT16
    assert graph.graph.input[0].type.tensor_type.elem_type == half
    assert graph.graph.output[0].type.tensor_type.elem_type == half
    assert {t.data_type for t in graph.graph.initializer} == {half}
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        want = model(x).numpy()
    got = _session(path).run(None, {"input": x.numpy().astype(np.float16)})[0]
    assert got.dtype == np.float16 and got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float32), want, atol=1e-2)  # fp16 arithmetic


def test_export_works_with_a_torch_whose_exporter_has_no_dynamo_switch(tmp_path, monkeypatch):
    """torch < 2.5 has no ``dynamo`` argument (TorchScript is its only exporter): none is passed."""
    from vsr.backends.onnx_export import export_onnx

    real, seen = torch.onnx.export, []

    def old_export(model, args, f, export_params=True, verbose=False, training=None, input_names=None,
                   output_names=None, operator_export_type=None, opset_version=None, do_constant_folding=True,
                   dynamic_axes=None, keep_initializers_as_inputs=None, custom_opsets=None):
        seen.append(opset_version)
        return real(model, args, f, dynamo=False, input_names=input_names, output_names=output_names,
                    opset_version=opset_version, do_constant_folding=do_constant_folding, dynamic_axes=dynamic_axes)

    monkeypatch.setattr(torch.onnx, "export", old_export)
    model = loader.build("edsr", num_features=8, num_blocks=1, scale=2).eval()
    path = export_onnx(LoadedModel.of(model), tmp_path / "old.onnx")
    assert seen == [17]
    _check(model, path, [(1, 3, 8, 8)])


def test_an_export_failure_does_not_blame_the_opset(tmp_path, monkeypatch):
    from vsr.backends.onnx_export import export_onnx
    from vsr.errors import BackendError

    def broken(*args, **kwargs):
        raise RuntimeError("tracer cannot handle a data-dependent branch")

    monkeypatch.setattr(torch.onnx, "export", broken)
    model = loader.build("edsr", num_features=8, num_blocks=1, scale=2).eval()
    with pytest.raises(BackendError, match=r"data-dependent branch \(run with --debug") as err:
        export_onnx(LoadedModel.of(model), tmp_path / "x.onnx")
    assert "--opset" not in str(err.value) and torch.__version__ in str(err.value)
