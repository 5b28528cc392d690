"""``vsr train``: train an EDSR-family model on image folders (see vsr.quality.train)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors
from vsr.errors import UsageError


@click.command("train")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of HR training images (repeatable; searched recursively).")
@click.option("--out", "out_dir", default="runs/train", show_default=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoint last.pt, best.safetensors, model.safetensors, train.log.")
@click.option("--scale", type=click.IntRange(2, 8), default=2, show_default=True)
@click.option("--arch", type=click.Choice(["edsr", "srresnet", "msrresnet", "temporal"]), default="edsr", show_default=True,
              help="temporal: the recurrent video model, trained on clips (the --video... options below).")
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
@click.option("--gan", is_flag=True, help="GAN stage (Real-ESRGAN style): L1 + discriminator feature matching + "
              "adversarial loss, the generator's EMA exported; start from pixel-loss weights with --init. No downloads: "
              "--vgg-weights is optional (SRGAN's VGG19 content loss).")
@click.option("--discriminator", type=click.Choice(["unet", "vgg"]), default="unet", show_default=True,
              help="--gan: unet = Real-ESRGAN's U-Net with spectral norm (realness per pixel); vgg = SRGAN's (per image).")
@click.option("--d-features", type=click.IntRange(1, 1024), default=64, show_default=True,
              help="--gan: discriminator width (its cost grows with the square: 32 is 4x cheaper).")
@click.option("--vgg-weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="--gan: torchvision-layout VGG19 weights; the VGG content loss then replaces feature matching (SRGAN).")
@click.option("--vgg-layer", default="relu5_4", show_default=True, help="VGG feature layer (relu5_4 = SRGAN's VGG54).")
@click.option("--pixel-weight", type=float, default=None, help="--gan: L1 weight [1; 0.01 with --vgg-weights].")
@click.option("--fm-weight", type=float, default=None,
              help="--gan: discriminator feature-matching weight [1; 0 with --vgg-weights].")
@click.option("--content-weight", type=float, default=0.006, show_default=True, help="--gan: VGG content weight (--vgg-weights).")
@click.option("--adv-weight", type=float, default=None, help="--gan: adversarial weight [0.1; 0.001 with --vgg-weights].")
@click.option("--d-lr", type=float, default=0.0, help="Discriminator learning rate (0 = --lr).")
@click.option("--ema-decay", type=click.FloatRange(0, 1, max_open=True), default=0.999, show_default=True,
              help="--gan: export an exponential moving average of the generator (0 = the generator as trained).")
@click.option("--stop-at", type=int, default=0,
              help="Stop after this step with a checkpoint (continue later with --resume); 0 = run to --steps.")
@click.option("--video", "videos", multiple=True, metavar="PATH[@START:DURATION]",
              help="--arch temporal: a real clip to train on (repeatable; downscaled 2x first), optionally a part of it in seconds.")
@click.option("--frames", type=click.IntRange(2, 64), default=10, show_default=True,
              help="--arch temporal: frames per training clip (back-propagation runs through all of them).")
@click.option("--clips", type=click.IntRange(1, 100_000), default=400, show_default=True,
              help="--arch temporal: training clips made once per run (synthetic motion over --data, and --video windows).")
@click.option("--codec", default="none|none|h264=16:32|h264=20:30|mpeg2=3:10", show_default=True, metavar="SPEC",
              help="--arch temporal: codec over each whole LR clip after --degrade (vsr.quality.video_degrade; 'none' = clean).")
@click.option("--val-video", "val_videos", multiple=True, metavar="PATH[@START:DURATION]",
              help="--arch temporal: held-out clip for validation, clean and through libx264 CRF 25.")
@click.option("--recurrent-init", type=float, default=1e-3, show_default=True,
              help="--arch temporal with --init: std of the head's weights on the warped past (0 = exactly the EDSR).")
@click.option("--recurrent-lr", type=float, default=10.0, show_default=True,
              help="--arch temporal: learning-rate multiplier for the head's weights on the warped past.")
@click.option("--still-share", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="--arch temporal: share of the samples whose every frame starts a shot (trains the stills and the "
              "first frame after each cut, which a clip has once).")
@click.option("--upsampler", type=click.Choice(["edsr", "direct"]), default="edsr", show_default=True,
              help="--arch temporal: EDSR's upsampler, or one conv straight to the folded output (direct: about "
              "half the CPU time at x4; fitted by least squares to --init's features before step 0).")
@click.option("--fusion", type=click.Choice(["none", "lr", "output"]), default="none", show_default=True,
              help="--arch temporal: back-projection fusion after the network (vsr.models.fusion), trained through and "
              "saved with the model: lr for clean input, output for compressed input.")
@debug_option
@handle_errors
def train(debug: bool, data: tuple[str, ...], **kw) -> None:
    """Train a super-resolution model (L1 + Adam on random patches, LR by MATLAB bicubic).

    --arch temporal trains the recurrent video model on clips instead (vsr.quality.train_video).
    """
    from tqdm import tqdm

    video_keys = ("videos", "frames", "clips", "codec", "val_videos", "recurrent_init", "recurrent_lr", "upsampler",
                  "still_share", "fusion")
    video = {k: kw.pop(k) for k in video_keys}
    if kw["arch"] == "temporal":
        cfg = _video_config(data, video, kw)
        from vsr.quality.train_video import train_video as run_train
    else:
        ctx = click.get_current_context()
        given = [k for k in video_keys if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]
        if given:
            flag = next(p.opts[0] for p in ctx.command.params if p.name == given[0])
            raise UsageError(f"{flag} trains a temporal model: add --arch temporal")
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
                terms = "".join(f" {k} {v:.5f}" for k, v in info.get("terms", {}).items())  # --gan: this step's terms
                log.write(f"{time.strftime('%H:%M:%S')} step {info['step']}/{info['steps']} "
                          f"loss {info['loss_avg']:.5f}{terms} lr {info['lr']:.3e} {info['elapsed']:.0f}s\n")
        elif kind == "val" and "result" in info:  # temporal: one PSNR per validation clip
            clips = ", ".join(f"{k} {v:.3f}" for k, v in info["result"].items())
            line(f"val step {info['step']}: {clips} dB (best mean {info['best']:.3f})")
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
    click.echo(f"exported {res['export']} (step {res['step']}, val {res.get('val_psnr', res.get('val'))}, "
               f"best {res.get('best_psnr', res.get('best'))})")


_IMAGE_ONLY = ("res_scale", "schedule", "loss", "degrade_variants", "workers", "val_dir", "val_degrade", "device",
               "channels_last", "max_images", "gan", "discriminator", "d_features", "vgg_weights", "vgg_layer",
               "pixel_weight", "fm_weight", "content_weight", "adv_weight", "d_lr", "ema_decay", "betas")


def _video_config(data: tuple[str, ...], video: dict, kw: dict):
    """The ``VideoTrainConfig`` of ``vsr train --arch temporal``; image-only options are refused if set."""
    from vsr.quality.train_video import VideoTrainConfig

    ctx = click.get_current_context()
    given = [k for k in _IMAGE_ONLY if k in kw and ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise UsageError(f"--arch temporal does not take --{given[0].replace('_', '-')}")
    amp = "bf16" if kw["amp"] == "auto" else kw["amp"]
    keep = ("out_dir", "scale", "num_features", "num_blocks", "patch", "batch", "steps", "lr", "min_lr", "warmup",
            "seed", "threads", "val_every", "ckpt_every", "init", "resume", "export", "stop_at", "degrade", "step_every")
    return VideoTrainConfig(data=tuple(data), amp=amp, **video, **{k: kw[k] for k in keep})
