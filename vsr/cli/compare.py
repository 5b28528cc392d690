"""``vsr compare``: one PNG of 1:1 crops, models side by side, to choose a model before a long job."""

from __future__ import annotations

from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors
from vsr.cli.options import parse_time
from vsr.config import BACKENDS, PRECISIONS
from vsr.errors import UsageError


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@click.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("--at", "at", default=None, help="Times to compare, comma-separated (seconds or [HH:]MM:SS), e.g. 2,5; default: 3 spread over the clip.")
@click.option("--models", default="bicubic,lanczos,edsr-baseline,temporal,temporal-archive", show_default=True, help="Models to compare, comma-separated (names, bicubic, lanczos or checkpoint paths); temporal models first run the 30 frames before each time.")
@click.option("--to", "to", default=None, help="Target size as for vsr upscale (720p ... 8k or WxH).")
@click.option("--scale", type=float, default=None, help="Scale factor (instead of --to); default 2 when neither is given.")
@click.option("--crop", default=None, help="WxH or WxH+X+Y in output pixels (default: 320x240 around the most detailed region of each frame).")
@click.option("--zoom", type=click.IntRange(1, 8), default=1, show_default=True, help="Show each crop N times larger (pixels repeated, no filter).")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True)
@click.option("--tile", type=int, default=0, show_default=True, help="Tile size in input pixels (0: whole frames).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="PNG to write (default: <stem>.compare.png beside the input).")
@click.option("--overwrite", is_flag=True, help="Replace the output if it exists.")
@debug_option
@handle_errors
def compare(input: Path, at: str | None, models: str, to: str | None, scale: float | None, crop: str | None, zoom: int,
            backend: str, device: str, precision: str, tile: int, output: Path | None, overwrite: bool, debug: bool) -> None:
    """Compare models on frames of INPUT (e.g. vsr compare clip.mp4 --at 2,5 --models bicubic,edsr-baseline --scale 2 -o cmp.png)."""
    from vsr import compare as cmp
    from vsr.atomic import write_bytes
    from vsr.cli.options import options_from_kwargs
    from vsr.compare_grid import encode_png, render
    from vsr.io.probe import probe
    from vsr.plan import check_output

    opts = options_from_kwargs({"input": input, "to": to, "scale": scale if (scale or to) else 2.0,
                                "backend": backend, "device": device, "precision": precision, "tile": tile})
    info = probe(input)
    times = [parse_time(t, "--at") for t in _split(at)] if at else cmp.default_times(info)
    output = output or cmp.default_output(info)
    if output.suffix.lower() != ".png":
        raise UsageError(f"-o {output}: vsr compare writes a PNG (name it .png)")
    check_output(output, info.path, overwrite)
    result = cmp.compare(opts, _split(models), times, cmp.Crop.parse(crop) if crop else None,
                         on_model=lambda name: click.echo(f"vsr: running {name}", err=True), info=info)
    write_bytes(output, encode_png(render(result, zoom)))
    for plan, cell in zip(result.plans, result.rows[0][1:]):
        click.echo(f"vsr: {plan.model}: {cell.seconds_per_frame:.3f} s/frame on {plan.backend}/{plan.device} ({plan.precision})", err=True)
    click.echo(f"vsr: wrote {output.resolve()}: {len(times)} time(s) x {len(result.plans)} model(s), "
               f"crops of {result.width}x{result.height} output frames", err=True)
