"""``vsr export``: a model (registry name or checkpoint) to ONNX with dynamic batch/height/width."""

from __future__ import annotations

from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors


@click.command()
@click.option("--model", "-m", "source", required=True, help="Registry name or .pth/.pt/.safetensors path.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.onnx")
@click.option("--opset", type=int, default=17, show_default=True)
@click.option("--arch", default=None, help="Architecture of a checkpoint, when detection needs help: one of vsr's (edsr, esrgan, compact, span, ...) or spandrel's (ESRGAN, DAT, HAT, SwinIR, ...); an unknown name lists them all.")
@click.option("--scale", type=int, default=None, help="Scale for scale-free weights (SRCNN, VDSR).")
@debug_option
@handle_errors
def export(source: str, output: Path, opset: int, arch: str | None, scale: int | None, debug: bool) -> None:
    """Export a model to ONNX (float32 NCHW RGB in [0, 1])."""
    from vsr.backends.onnx_export import export_onnx
    from vsr.models.loader import load_model

    model = load_model(source, arch=arch, scale=scale)
    path = export_onnx(model, output, opset=opset)
    click.echo(f"{path}: {model.arch} x{model.scale}, opset {opset}, dynamic batch/height/width")
