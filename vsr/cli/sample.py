"""``vsr sample``: write the short real clip shipped with vsr, to try it on a fresh install."""

from __future__ import annotations

from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors


@click.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("sample.mp4"), show_default=True,
              help="Where to write the clip.")
@click.option("--overwrite", is_flag=True, help="Replace the output if it exists and differs.")
@debug_option
@handle_errors
def sample(output: Path, overwrite: bool, debug: bool) -> None:
    """Write a short real clip to try vsr on (then: vsr upscale sample.mp4 --to 1080p)."""
    from vsr.samples import CREDIT, DESCRIPTION, write_sample

    path, written = write_sample(output, overwrite=overwrite)
    done = "wrote" if written else "already there:"
    click.echo(f"vsr: {done} {path.resolve()} ({DESCRIPTION}; {CREDIT})", err=True)
