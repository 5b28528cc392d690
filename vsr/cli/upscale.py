"""``vsr upscale``: parse options into UpscaleOptions, plan, run the pipeline, report."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors
from vsr.cli.options import estimate_option, options_from_kwargs, sizing_options
from vsr.errors import Interrupted


def _on_sigterm(signum, frame) -> None:
    exc = Interrupted("terminated (SIGTERM); the partial output was removed")
    exc.exit_code = 128 + signal.SIGTERM
    raise exc


@click.command()
@sizing_options
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]), default="auto", show_default=True)
@click.option("--batch", type=int, default=None, help="Frames per batch (default: 1 on CPU, 4 on CUDA).")
@click.option("--tile", type=int, default=0, show_default=True, help="Tile size in input pixels (0: whole frames).")
@click.option("--tile-overlap", type=int, default=16, show_default=True, help="Overlap between tiles, input pixels.")
@click.option("--codec", default=None, help="h264, hevc, av1, prores, ffv1 or an FFmpeg encoder name (e.g. hevc_nvenc); default: hevc for 10-bit or HDR input, else h264.")
@click.option("--crf", type=int, default=None, help="Quality (lower is better); default per encoder (x264: 18).")
@click.option("--preset", default=None, help="Encoder preset (e.g. ultrafast ... veryslow for x264).")
@click.option("--pix-fmt", default=None, help="Output pixel format (default: yuv420p, or yuv420p10le for 10-bit or HDR input).")
@click.option("--start", type=str, default=None, help="Start of the section to process (seconds or [HH:]MM:SS[.ms]).")
@click.option("--duration", type=str, default=None, help="Length of the section to process (seconds or [HH:]MM:SS[.ms]).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Output file (default: <stem>.<target>.<ext> beside the input).")
@click.option("--overwrite", is_flag=True, help="Replace the output if it exists.")
@click.option("--strict", is_flag=True, help="Fail on damaged input instead of processing what decodes.")
@click.option("--skip-duplicates/--no-skip-duplicates", default=True, show_default=True,
              help="Reuse the previous output for a frame that repeats the previous picture (animation, static shots).")
@click.option("--engine-dir", type=click.Path(path_type=Path), default=None, help="TensorRT engine cache directory.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@estimate_option
@debug_option
@handle_errors
def upscale(quiet: bool, as_json: bool, with_estimate: bool, debug: bool, **kwargs) -> None:
    """Upscale INPUT (e.g. vsr upscale movie.mp4 --to 4k)."""
    from vsr import pipeline
    from vsr.cli.progress import ProgressBar
    from vsr.estimate import estimate
    from vsr.plan import make_plan

    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="vsr: warning: %(message)s")
    opts = options_from_kwargs(kwargs)
    plan = make_plan(opts)
    if not quiet:
        click.echo(f"vsr: {plan.source.width}x{plan.source.height} -> {plan.width}x{plan.height} with {plan.model}"
                   f" (x{plan.model_scale}) on {plan.backend}/{plan.device} [{plan.backend_reason}]", err=True)
    for note in plan.notes:
        click.echo(f"vsr: warning: {note}", err=True)
    guess = estimate(plan, pipeline.expected_frames(plan)) if with_estimate else None
    if guess and not quiet:
        click.echo(f"vsr: estimate: {guess.describe()}", err=True)
        if guess.advice:
            click.echo(f"vsr: {guess.advice}", err=True)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with ProgressBar(disabled=quiet) as bar:
            result = pipeline.run(plan, on_progress=bar.update)
    finally:
        signal.signal(signal.SIGTERM, previous)
    for warning in result.warnings:
        click.echo(f"vsr: warning: {warning}", err=True)
    if not quiet:
        reused = f", {result.reused} repeated frames reused" if result.reused else ""
        versus = f"; estimated {guess.seconds:.1f} s" if guess and guess.seconds is not None else ""
        click.echo(f"vsr: wrote {Path(result.output).resolve()}: {result.frames} frames in {result.seconds:.1f} s "
                   f"({result.fps:.1f} fps{versus}){reused}", err=True)
    if as_json:
        summary = {
            "output": result.output, "frames": result.frames, "seconds": round(result.seconds, 3),
            "fps": round(result.fps, 2), "width": plan.width, "height": plan.height, "model": plan.model,
            "model_scale": plan.model_scale, "backend": plan.backend, "device": plan.device,
            "precision": plan.precision, "codec": plan.codec, "pix_fmt": plan.pix_fmt,
            "damaged_packets": result.decode.damaged_packets, "deinterlaced": result.deinterlaced,
            "reused_duplicates": result.reused,
            "warnings": [*plan.notes, *result.warnings],
            "estimate": guess and guess.to_dict(),
        }
        sys.stdout.write(json.dumps(summary) + "\n")
