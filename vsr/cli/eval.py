"""``vsr eval``: PSNR/SSIM (and ColorVideoVDP with --metric) of a model by the SR papers' protocol, on an
image folder or on video."""

from __future__ import annotations

import json

import click

from vsr.cli.common import debug_option, handle_errors
from vsr.config import BACKENDS
from vsr.errors import UsageError

VIDEO_ONLY = ("--codec", "--backend", "--gt-downscale", "--max-frames", "--start", "--duration")


@click.command("eval")
@click.argument("ground_truth", metavar="GROUND_TRUTH", type=click.Path(exists=True))
@click.option("--scale", type=click.IntRange(2, 8), required=True, help="Upscaling factor.")
@click.option("--model", default=None,
              help="Model name, family, weights file, or 'bicubic' (MATLAB bicubic for images; on video FFmpeg's, "
                   "as vsr upscale runs it). Default: the default model.")
@click.option("--lr-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Images: use these LR images instead of making them with MATLAB bicubic.")
@click.option("--degrade", default=None, metavar="SPEC",
              help="Degrade each LR image (video: each LR frame) first: a preset (clean, archive, heavy) or a spec "
                   "such as 'blur=0.2:2.0,noise=0:8,h264=20:32' (see vsr.quality.degrade).")
@click.option("--codec", "video_codec", default=None, metavar="SPEC",
              help="Video: then encode the whole LR clip with a real codec (I/P/B frames) and decode it: h264=CRF, "
                   "mpeg2=Q, vp9=CRF, a range (h264=18:32) or alternatives (h264=25|mpeg2=6).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of --degrade/--codec: the same seed gives the same LR on every run.")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True,
              help="Video: the backend the model runs in, as for vsr upscale.")
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]), default="fp32", show_default=True,
              help="Precision the model runs in; auto = what vsr upscale picks on that device.")
@click.option("--gt-downscale", type=click.IntRange(1, 8), default=1, show_default=True,
              help="Video: ground truth = MATLAB bicubic 1/N of each frame (use >= 2 on real footage: removes its own "
                   "codec damage).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Video: the first N frames of each clip.")
@click.option("--start", default=None, help="Video files: start here (seconds or [HH:]MM:SS; negative: before the end).")
@click.option("--duration", default=None, help="Video files: this long (seconds or [HH:]MM:SS).")
@click.option("--metric", "metric", multiple=True, metavar="NAME",
              help="Also report a perceptual metric (repeatable or comma-separated): cvvdp = ColorVideoVDP in JOD "
                   "(10 = no visible difference; video scored as video), needs pip install 'vsr[cvvdp]'. PSNR, SSIM "
                   "and on video tOF/flicker are always reported.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (video: per clip and per frame).")
@debug_option
@handle_errors
def eval_command(ground_truth: str, scale: int, model: str | None, lr_dir: str | None, degrade: str | None,
                 video_codec: str | None, seed: int, backend: str, device: str, precision: str, gt_downscale: int,
                 max_frames: int | None, start: str | None, duration: str | None, metric: tuple[str, ...],
                 as_json: bool, debug: bool) -> None:
    """Evaluate a model on GROUND_TRUTH by the SR papers' protocol (LR = MATLAB bicubic of it).

    \b
    GROUND_TRUTH is an image folder (PSNR/SSIM on Y, SCALE pixels shaved), or video: a video file, a
    folder of them, or a folder of clip folders of frames (PSNR/SSIM on Y of every frame, no shave, tOF
    and flicker; the model runs through vsr upscale's backend, frames in order).
    Example: vsr eval datasets/val/set5 --scale 4 --model bicubic
    Archive-like input: vsr eval datasets/val/set5 --scale 2 --degrade archive --seed 0
    Video: vsr eval clip.mp4 --scale 4 --gt-downscale 2 --codec h264=25 --max-frames 60
    Perceptual: vsr eval datasets/val/set5 --scale 4 --metric cvvdp
    """
    from vsr.quality.perceptual import parse_metrics
    from vsr.quality.video_clips import is_video_ground_truth

    metrics = parse_metrics(metric)

    video_given = {"--codec": video_codec, "--backend": backend != "auto" or None, "--gt-downscale": gt_downscale > 1 or None,
                   "--max-frames": max_frames, "--start": start, "--duration": duration}
    if is_video_ground_truth(ground_truth):
        if lr_dir:
            raise UsageError("--lr-dir is for image folders: on video the LR is made from the ground truth")
        _eval_video(ground_truth, scale, model, degrade, video_codec, seed, backend, device, precision, gt_downscale,
                    max_frames, start, duration, metrics, as_json)
        return
    if given := [name for name in VIDEO_ONLY if video_given[name]]:
        raise UsageError(f"{', '.join(given)}: for video ground truth; {ground_truth} is an image folder")
    _eval_images(ground_truth, scale, model, lr_dir, degrade, seed, device, precision, metrics, as_json)


def _eval_images(hr_dir: str, scale: int, model: str | None, lr_dir: str | None, degrade: str | None, seed: int,
                 device: str, precision: str, metrics: tuple[str, ...], as_json: bool) -> None:
    from vsr.quality.eval import evaluate
    from vsr.quality.perceptual import table

    def on_image(r) -> None:
        if not as_json:
            click.echo(f"{r.name:24s} {r.psnr_y:8.3f} dB  SSIM {r.ssim_y:.4f}{table(r.perceptual)}")

    res = evaluate(hr_dir, scale, model, lr_dir=lr_dir, degrade=degrade, seed=seed, device=device,
                   precision=precision, metrics=metrics, on_image=on_image)
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        lr = res.degrade if res.degrade == "clean" else f"LR degraded by {res.degrade!r}, seed {res.seed}"
        click.echo(f"{'mean':24s} {res.psnr_y:8.3f} dB  SSIM {res.ssim_y:.4f}{table(res.perceptual)}  ({res.model}, "
                   f"x{scale}, {res.precision}, {lr}, {len(res.images)} images)")


def _temporal(tof: float | None, flicker: float | None) -> str:
    return "" if tof is None else f"  tOF {tof:.3f}  flicker {flicker:.3f}"


def _eval_video(ground_truth: str, scale: int, model: str | None, degrade: str | None, codec: str | None, seed: int,
                backend: str, device: str, precision: str, gt_downscale: int, max_frames: int | None,
                start: str | None, duration: str | None, metrics: tuple[str, ...], as_json: bool) -> None:
    from vsr.cli.options import check_device, parse_time
    from vsr.quality.perceptual import table
    from vsr.quality.video_clips import ClipWindow
    from vsr.quality.video_eval import evaluate_video

    window = ClipWindow(parse_time(start, "--start"), parse_time(duration, "--duration"), max_frames, gt_downscale)

    def on_clip(c) -> None:
        if not as_json:
            click.echo(f"{c.name:24s} {c.psnr_y:8.3f} dB  SSIM {c.ssim_y:.4f}{_temporal(c.tof, c.flicker)}"
                       f"{table(c.perceptual)}  "
                       f"{len(c.frames)} frames {c.gt_size[0]}x{c.gt_size[1]}, {c.degraded}, "
                       f"{c.seconds / len(c.frames):.3f} s/frame")

    res = evaluate_video(ground_truth, scale, model, degrade=degrade, codec=codec, seed=seed, backend=backend,
                         device=check_device(device), precision=precision, window=window, metrics=metrics,
                         on_clip=on_clip)
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        lr = res.degrade if res.degrade == "clean" else f"LR degraded by {res.degrade!r}, seed {res.seed}"
        click.echo(f"{'mean':24s} {res.psnr_y:8.3f} dB  SSIM {res.ssim_y:.4f}{_temporal(res.tof, res.flicker)}"
                   f"{table(res.perceptual)}  "
                   f"({res.model}, x{scale}, {res.precision} on {res.backend}/{res.device}, {lr}, "
                   f"{len(res.clips)} clips, {res.frames} frames)")
