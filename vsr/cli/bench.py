"""``vsr bench``: per-stage times, model-only and end-to-end frame rates (see ``vsr.bench``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors
from vsr.config import BACKENDS, PRECISIONS


@click.command()
@click.argument("input", type=click.Path(path_type=Path), required=False)
@click.option("--model", default=None, help="Model name (see `vsr models`) or a .pth/.safetensors path.")
@click.option("--resolution", default="1080p", show_default=True, help="Synthetic input size without INPUT: 720p, 1080p, 4k or WxH.")
@click.option("--frames", type=int, default=32, show_default=True, help="Frames to time.")
@click.option("--batch", type=int, default=None, help="Frames per batch (default: 1 on CPU, 4 on CUDA).")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True)
@click.option("--encode/--no-encode", default=True, show_default=True, help="Include encoding (x264/x265 run on the CPU).")
@click.option("--codec", default="h264", show_default=True, help="Encoder for the encode stage.")
@click.option("--preset", default=None, help="Encoder preset.")
@click.option("--encoder-threads", type=int, default=0, show_default=True, help="Encoder threads (0: all cores).")
@click.option("--engine-dir", type=click.Path(path_type=Path), default=None, help="TensorRT engine cache directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@debug_option
@handle_errors
def bench(input: Path | None, as_json: bool, debug: bool, **kwargs) -> None:
    """Time decode, upload, inference, download and encode on INPUT (or synthetic frames)."""
    from vsr.bench import BenchOptions, run_bench
    from vsr.errors import InputError

    if input is not None and not input.is_file():
        raise InputError(f"input not found: {input}")
    opts = BenchOptions(input=input, **kwargs)
    result = run_bench(opts, progress=None if as_json else lambda msg: click.echo(f"... {msg}", err=True))
    click.echo(json.dumps(result.to_dict(), indent=1) if as_json else result.summary())
