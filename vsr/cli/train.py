"""``vsr train``: train an EDSR-family model on image folders (see vsr.quality.train)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors


@click.command("train")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of HR training images (repeatable; searched recursively).")
@click.option("--out", "out_dir", default="runs/train", show_default=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoint last.pt, best.safetensors, model.safetensors, train.log.")
@click.option("--scale", type=click.IntRange(2, 8), default=2, show_default=True)
@click.option("--arch", type=click.Choice(["edsr", "srresnet", "msrresnet"]), default="edsr", show_default=True)
@click.option("--num-features", type=int, default=64, show_default=True)
@click.option("--num-blocks", type=int, default=16, show_default=True)
@click.option("--res-scale", type=float, default=1.0, show_default=True)
@click.option("--patch", type=int, default=48, show_default=True, help="LR patch side (HR = patch x scale).")
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--steps", type=int, default=1000, show_default=True)
@click.option("--lr", type=float, default=2e-4, show_default=True)
@click.option("--min-lr", type=float, default=1e-6, show_default=True)
@click.option("--schedule", type=click.Choice(["cosine", "step"]), default="cosine", show_default=True)
@click.option("--step-every", type=int, default=200_000, show_default=True, help="Step schedule: halve the LR every N steps.")
@click.option("--warmup", type=int, default=0, show_default=True)
@click.option("--loss", type=click.Choice(["l1", "l2"]), default="l1", show_default=True)
@click.option("--degrade", default="", metavar="SPEC",
              help="Train on degraded LR: a preset (archive, heavy) or a spec such as 'blur=0.2:2.0,h264=20:32' "
                   "(see vsr.quality.degrade); LR versions are made once per run from --seed.")
@click.option("--degrade-variants", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Degraded LR versions made per training image (--degrade).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=int, default=0, show_default=True, help="DataLoader worker processes.")
@click.option("--threads", type=int, default=0, show_default=True, help="torch CPU threads (0 = torch default).")
@click.option("--val", "val_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Held-out HR folder for validation PSNR (paper protocol).")
@click.option("--val-degrade", default="", metavar="SPEC",
              help="Degrade the validation LR like `vsr eval --degrade SPEC --seed 0` (model selection on archive-like input).")
@click.option("--val-every", type=int, default=500, show_default=True)
@click.option("--ckpt-every", type=int, default=200, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--amp", type=click.Choice(["auto", "off", "bf16", "fp16"]), default="auto", show_default=True,
              help="Mixed precision: auto = fp16 on CUDA, off on CPU.")
@click.option("--channels-last", is_flag=True)
@click.option("--init", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from these weights (another scale's): all but the upsampler are copied.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt (model, optimiser, step, RNG).")
@click.option("--export", type=click.Path(dir_okay=False), default=None,
              help="Where to write the final safetensors (default OUT/model.safetensors).")
@click.option("--max-images", type=int, default=0, help="Use only the first N images (0 = all).")
@click.option("--gan", is_flag=True, help="SRGAN stage: pixel + VGG19 content + adversarial loss (use --init "
              "with pixel-loss pre-trained weights, e.g. --arch srresnet).")
@click.option("--vgg-weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="torchvision-layout VGG19 weights for the content loss (--gan).")
@click.option("--vgg-layer", default="relu5_4", show_default=True, help="VGG feature layer (relu5_4 = SRGAN's VGG54).")
@click.option("--pixel-weight", type=float, default=1e-2, show_default=True)
@click.option("--content-weight", type=float, default=0.006, show_default=True)
@click.option("--adv-weight", type=float, default=1e-3, show_default=True)
@click.option("--d-lr", type=float, default=0.0, help="Discriminator learning rate (0 = --lr).")
@click.option("--stop-at", type=int, default=0,
              help="Stop after this step with a checkpoint (continue later with --resume); 0 = run to --steps.")
@debug_option
@handle_errors
def train(debug: bool, data: tuple[str, ...], **kw) -> None:
    """Train a super-resolution model (L1 + Adam on random patches, LR by MATLAB bicubic)."""
    from tqdm import tqdm

    from vsr.quality.train import TrainConfig
    from vsr.quality.train import train as run_train

    cfg = TrainConfig(data=tuple(data), **kw)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "train.log", "a", buffering=1)  # noqa: SIM115 - closed below
    bar = tqdm(total=cfg.steps, desc=f"train x{cfg.scale}", unit="step", dynamic_ncols=True)

    def line(msg: str) -> None:
        log.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
        bar.write(msg)

    def on_event(kind: str, info: dict) -> None:
        if kind == "step":
            if bar.n == 0 and info["step"] > 1:
                bar.n = info["step"] - 1
            bar.update(1)
            bar.set_postfix(loss=f"{info['loss_avg']:.4f}", lr=f"{info['lr']:.2e}")
            if info["step"] % 50 == 0:
                log.write(f"{time.strftime('%H:%M:%S')} step {info['step']}/{info['steps']} "
                          f"loss {info['loss_avg']:.5f} lr {info['lr']:.3e} {info['elapsed']:.0f}s\n")
        elif kind == "val":
            line(f"val step {info['step']}: {info['psnr']:.3f} dB (best {info['best']:.3f}) {info['elapsed']:.0f}s")
        else:
            line(info["message"])

    line(f"config: {cfg}")
    try:
        res = run_train(cfg, on_event)
    finally:
        bar.close()
    line(f"done: {res}")
    log.close()
    click.echo(f"exported {res['export']} (step {res['step']}, val {res['val_psnr']}, best {res['best_psnr']})")
