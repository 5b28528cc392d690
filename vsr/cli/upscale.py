"""``vsr upscale``: parse options into UpscaleOptions and JobOptions, plan, run the job, report.

One file: as before (a long one as a resumable job over segments). Several files or a folder:
one job per file, past failures, with a summary (exit 1 if any failed)."""

from __future__ import annotations

import json
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors
from vsr.cli.options import check_device, estimate_option, options_from_kwargs, plan_options, sizing_options
from vsr.config import JobOptions
from vsr.errors import Interrupted, UsageError, VsrError

VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".m4v", ".avi", ".webm", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg",
                    ".vob", ".wmv", ".flv", ".dv", ".y4m", ".nut", ".mxf", ".3gp", ".ogv"}


def _on_sigterm(signum, frame) -> None:
    exc = Interrupted("terminated (SIGTERM); the partial output was removed")
    exc.exit_code = 128 + signal.SIGTERM
    raise exc


@click.command()
@lambda f: sizing_options(f, many=True)
@plan_options
@click.option("--overwrite", is_flag=True, help="Replace the output if it exists.")
@click.option("--strict", is_flag=True, help="Fail on damaged input instead of processing what decodes.")
@click.option("--skip-duplicates/--no-skip-duplicates", default=True, show_default=True,
              help="Reuse the previous output for a frame that repeats the previous picture (animation, static shots).")
@click.option("--engine-dir", type=click.Path(path_type=Path), default=None, help="TensorRT engine cache directory.")
@click.option("--segment-seconds", type=float, default=JobOptions.segment_seconds, show_default=True,
              help="Cut long inputs at the first keyframe after this many seconds; each segment is kept, so a rerun resumes (0: never cut).")
@click.option("--workers", type=int, default=None, help="Segments encoded at once, each in its own process (default 1; with --device cuda:0,cuda:1: one per GPU).")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS|local",
              help="Run segments as Ray tasks on the cluster at ADDRESS (local: start one here); needs pip install 'vsr[ray]'.")
@click.option("--restart", is_flag=True, help="Throw away the finished segments of a previous run and start over.")
@click.option("--keep-job", is_flag=True, help="Keep the job folder (segments and manifest) after the output is written.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@estimate_option
@debug_option
@handle_errors
def upscale(inputs: tuple[Path, ...], quiet: bool, as_json: bool, with_estimate: bool, debug: bool, segment_seconds: float,
            workers: int | None, ray_address: str | None, restart: bool, keep_job: bool, **kwargs) -> None:
    """Upscale INPUTS (e.g. vsr upscale movie.mp4 --to 4k; vsr upscale a.mkv b.mkv -o OUTDIR/; vsr upscale FOLDER -o OUTDIR/)."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="vsr: warning: %(message)s")
    job = _job_options(kwargs, segment_seconds, workers, ray_address, restart, keep_job)
    files, many = _expand(inputs)
    echo = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        output = kwargs.get("output")
        if not many:
            into_dir = output is not None and output.is_dir()
            summary = _upscale_one(files[0], kwargs, job, quiet, with_estimate, echo, output=None if into_dir else output,
                                   output_dir=output if into_dir else None)
            if as_json:
                sys.stdout.write(json.dumps(summary) + "\n")
            return
        if output is not None:
            if output.exists() and not output.is_dir():
                raise UsageError(f"-o {output}: with several inputs or a folder, -o names an output folder")
            output.mkdir(parents=True, exist_ok=True)
        done, failed = [], []
        for n, path in enumerate(files, 1):
            echo(f"vsr: [{n}/{len(files)}] {path}")
            try:
                done.append(_upscale_one(path, kwargs, job, quiet, with_estimate, echo, output_dir=output))
            except Interrupted:
                raise
            except VsrError as exc:
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                click.echo(f"vsr: error: {path}: {message}", err=True)
                failed.append({"input": str(path), "error": message})
    finally:
        signal.signal(signal.SIGTERM, previous)
    if failed or not quiet:
        click.echo(f"vsr: {len(done)} of {len(files)} file(s) done" +
                   (f", {len(failed)} failed: " + ", ".join(Path(f["input"]).name for f in failed) if failed else ""), err=True)
    if as_json:
        sys.stdout.write(json.dumps({"files": done, "failed": failed}) + "\n")
    if failed:
        sys.exit(1)


def _job_options(kwargs: dict, segment_seconds: float, workers: int | None, ray: str | None,
                 restart: bool, keep_job: bool) -> JobOptions:
    devices = tuple(check_device(d.strip()) for d in kwargs["device"].split(","))
    if len(devices) > 1:
        if workers is not None and workers != len(devices):
            raise UsageError(f"--workers {workers} with {len(devices)} devices: one worker per device, leave out --workers")
        kwargs["device"] = devices[0]
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    if segment_seconds < 0:
        raise UsageError("--segment-seconds must be >= 0 (0: never cut)")
    if ray is not None and (workers is not None or len(devices) > 1):
        raise UsageError("--ray schedules segments on the cluster's GPUs/CPUs itself: leave out --workers and device lists")
    return JobOptions(segment_seconds=segment_seconds, workers=len(devices) if len(devices) > 1 else (workers or 1),
                      devices=devices if len(devices) > 1 else (), ray=ray, restart=restart, keep_job=keep_job)


def _expand(inputs: tuple[Path, ...]) -> tuple[list[Path], bool]:
    """(input files, batch mode?): folders give their video files (sorted, not recursive)."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                           and p.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                raise UsageError(f"no video files in {path} (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})")
            files.extend(found)
        else:
            files.append(path)
    return files, len(inputs) > 1 or any(p.is_dir() for p in inputs)


def _upscale_one(path: Path, kwargs: dict, job: JobOptions, quiet: bool, with_estimate: bool, echo, *,
                 output: Path | None = None, output_dir: Path | None = None) -> dict:
    from vsr.cli.progress import ProgressBar
    from vsr.estimate import estimate
    from vsr.jobs.runner import run_job
    from vsr.plan import check_output, make_plan

    opts = options_from_kwargs({**kwargs, "input": path, "output": output})
    plan = make_plan(opts, check_paths=output_dir is None)
    if job.devices and not plan.is_resampler:
        from vsr.plan import choose_backend

        for device in job.devices[1:]:  # the first one was checked by the plan
            choose_backend(replace(opts, device=device))
    if output_dir is not None:
        plan = replace(plan, output=output_dir / plan.output.name)
        check_output(plan.output, plan.source.path, plan.overwrite)
    echo(f"vsr: {plan.source.width}x{plan.source.height} -> {plan.width}x{plan.height} with {plan.model}"
         f" (x{plan.model_scale}) on {plan.backend}/{plan.device} [{plan.backend_reason}]")
    if plan.model_basis:
        echo(f"vsr: {plan.model}: {plan.model_basis}")
    if plan.temporal_note:
        echo(f"vsr: temporal model: {plan.temporal_note}")
    for note in plan.notes:
        click.echo(f"vsr: warning: {note}", err=True)
    guess = estimate(plan, plan.expected_frames) if with_estimate else None
    if guess:
        echo(f"vsr: estimate: {guess.describe()}")
        if guess.advice:
            echo(f"vsr: {guess.advice}")
    with ProgressBar(disabled=quiet) as bar:
        result = run_job(plan, job, on_progress=bar.update, on_note=lambda m: echo(f"vsr: {m}"))
    for warning in result.warnings:
        click.echo(f"vsr: warning: {warning}", err=True)
    resumed = f", {result.resumed_frames} resumed from a previous run" if result.resumed_frames else ""
    segments = f" in {result.segments} segments" if result.segments > 1 else ""
    reused = f", {result.reused} repeated frames reused" if result.reused else ""
    versus = f"; estimated {guess.seconds:.1f} s" if guess and guess.seconds is not None else ""
    echo(f"vsr: wrote {Path(result.output).resolve()}: {result.frames} frames{segments} in {result.seconds:.1f} s "
         f"({result.fps:.1f} fps{versus}){resumed}{reused}")
    return {
        "input": str(path), "output": result.output, "frames": result.frames, "seconds": round(result.seconds, 3),
        "fps": round(result.fps, 2), "width": plan.width, "height": plan.height, "model": plan.model,
        "model_scale": plan.model_scale, "model_basis": plan.model_basis, "backend": plan.backend, "device": plan.device,
        "precision": plan.precision, "codec": plan.codec, "pix_fmt": plan.pix_fmt,
        "damaged_packets": result.decode.damaged_packets, "deinterlaced": result.deinterlaced,
        "reused_duplicates": result.reused, "segments": result.segments, "resumed_frames": result.resumed_frames,
        "warnings": [*plan.notes, *result.warnings],
        "estimate": guess and guess.to_dict(),
    }
