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
@click.option("--degrade", default=None, metavar="SPEC",
              help="Degrade each LR image first: a preset (clean, archive, heavy) or a spec such as "
                   "'blur=0.2:2.0,noise=0:8,h264=20:32' (see vsr.quality.degrade).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of --degrade: the same seed gives the same LR images on every run.")
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]), default="fp32", show_default=True,
              help="Precision the model runs in; auto = what vsr upscale picks on that device.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@debug_option
@handle_errors
def eval_command(hr_dir: str, scale: int, model: str | None, lr_dir: str | None, degrade: str | None, seed: int,
                 device: str, precision: str, as_json: bool, debug: bool) -> None:
    """Evaluate a model on HR_DIR: LR by MATLAB bicubic, PSNR/SSIM on Y with SCALE pixels shaved.

    Example: vsr eval datasets/val/set5 --scale 4 --model bicubic
    Archive-like input: vsr eval datasets/val/set5 --scale 2 --degrade archive --seed 0
    """
    from vsr.quality.eval import evaluate

    def on_image(r) -> None:
        if not as_json:
            click.echo(f"{r.name:24s} {r.psnr_y:8.3f} dB  SSIM {r.ssim_y:.4f}")

    res = evaluate(hr_dir, scale, model, lr_dir=lr_dir, degrade=degrade, seed=seed, device=device,
                   precision=precision, on_image=on_image)
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        lr = res.degrade if res.degrade == "clean" else f"LR degraded by {res.degrade!r}, seed {res.seed}"
        click.echo(f"{'mean':24s} {res.psnr_y:8.3f} dB  SSIM {res.ssim_y:.4f}  ({res.model}, x{scale}, "
                   f"{res.precision}, {lr}, {len(res.images)} images)")
