"""Options shared by ``vsr upscale`` and ``vsr probe`` and their conversion to UpscaleOptions."""

from __future__ import annotations

from pathlib import Path

import click

from vsr.config import BACKENDS, PRECISIONS, UpscaleOptions
from vsr.errors import UsageError


def parse_time(value: str | None, name: str) -> float | None:
    """Seconds from ``12.5``, ``1:02.5`` or ``01:02:03.5``."""
    if value is None:
        return None
    try:
        seconds = 0.0
        for part in value.strip().split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        raise UsageError(f"{name} {value!r}: use seconds (12.5) or [HH:]MM:SS[.ms]") from None
    return seconds


def sizing_options(func, *, many: bool = False):
    """INPUT (``many``: INPUTS..., files or folders), --to/--scale, --model/--arch, --backend, --device."""
    decorators = [
        click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path)) if many
        else click.argument("input", type=click.Path(path_type=Path)),
        click.option("--to", "to", default=None, help="Target size: 720p, 1080p, 1440p, 4k, 8k or WxH (fits inside, keeps the display aspect ratio)."),
        click.option("--scale", type=float, default=None, help="Scale factor (instead of --to)."),
        click.option("--model", default=None, help="Model name (see `vsr models`), bicubic, lanczos, or a .pth/.safetensors path. "
                     "Default: temporal, or temporal-archive for input measured as compressed or noisy (`vsr probe` says which and why)."),
        click.option("--arch", default=None, help="Architecture of a checkpoint, when detection needs help: one of vsr's (edsr, esrgan, compact, span, ...) or spandrel's (ESRGAN, DAT, HAT, SwinIR, ...); an unknown name lists them all."),
        click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N (upscale: cuda:0,cuda:1 runs one worker per GPU)."),
        click.option("--deinterlace", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
                     help="Deinterlace with bwdif (one frame per frame): auto = frames flagged interlaced."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def plan_options(func):
    """The options that shape the plan beyond sizing (precision, batching, tiling, encoder, section,
    output), declared once for ``vsr upscale`` and ``vsr probe``."""
    decorators = [
        click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True),
        click.option("--batch", type=int, default=None, help="Frames per batch (default: 1 on CPU, 4 on CUDA)."),
        click.option("--tile", type=int, default=0, show_default=True, help="Tile size in input pixels (0: whole frames)."),
        click.option("--tile-overlap", type=int, default=16, show_default=True, help="Overlap between tiles, input pixels."),
        click.option("--codec", default=None, help="h264, hevc, av1, prores, ffv1 or an FFmpeg encoder name (e.g. hevc_nvenc); default: hevc for 10-bit or HDR input, else h264."),
        click.option("--crf", type=int, default=None, help="Quality (lower is better); default per encoder (x264: 18)."),
        click.option("--preset", default=None, help="Encoder preset (e.g. ultrafast ... veryslow for x264)."),
        click.option("--pix-fmt", default=None, help="Output pixel format (default: yuv420p, or yuv420p10le for 10-bit or HDR input)."),
        click.option("--start", type=str, default=None, help="Start of the section to process (seconds or [HH:]MM:SS[.ms])."),
        click.option("--duration", type=str, default=None, help="Length of the section to process (seconds or [HH:]MM:SS[.ms])."),
        click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                     help="Output file (default: <stem>.<target>.<ext> beside the input), or a folder to write <stem>.<target>.<ext> into (always with several inputs or a folder)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


estimate_option = click.option(
    "--estimate/--no-estimate", "with_estimate", default=True, show_default=True,
    help="Time one tile of the model first and say how long the run will take (skipped for resamplers).")


def check_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda") and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise UsageError(f"--device {device!r}: use auto, cpu, cuda or cuda:N")
    return device


def options_from_kwargs(kwargs: dict) -> UpscaleOptions:
    check_device(kwargs.get("device", "auto"))
    fields = {k: v for k, v in kwargs.items() if k in UpscaleOptions.__dataclass_fields__ and v is not None}
    fields["start"] = parse_time(kwargs.get("start"), "--start")
    fields["duration"] = parse_time(kwargs.get("duration"), "--duration")
    return UpscaleOptions(**fields)
