"""``vsr eval``: PSNR/SSIM of a model on an image folder, by the SR papers' protocol."""

from __future__ import annotations

import json

import click

from vsr.cli.common import debug_option, handle_errors


@click.command("eval")
@click.argument("hr_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--scale", type=click.IntRange(2, 8), required=True, help="Upscaling factor.")
@click.option("--model", default=None,
              help="Model name, family, weights file, or 'bicubic' (MATLAB bicubic). Default: the default model.")
@click.option("--lr-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Use these LR images instead of making them with MATLAB bicubic.")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@debug_option
@handle_errors
def eval_command(hr_dir: str, scale: int, model: str | None, lr_dir: str | None, device: str, as_json: bool,
                 debug: bool) -> None:
    """Evaluate a model on HR_DIR: LR by MATLAB bicubic, PSNR/SSIM on Y with SCALE pixels shaved.

    Example: vsr eval datasets/val/set5 --scale 4 --model bicubic
    """
    from vsr.quality.eval import evaluate

    def on_image(r) -> None:
        if not as_json:
            click.echo(f"{r.name:24s} {r.psnr_y:8.3f} dB  SSIM {r.ssim_y:.4f}")

    res = evaluate(hr_dir, scale, model, lr_dir=lr_dir, device=device, on_image=on_image)
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        click.echo(f"{'mean':24s} {res.psnr_y:8.3f} dB  SSIM {res.ssim_y:.4f}  ({res.model}, x{scale}, "
                   f"{len(res.images)} images)")
