"""The ``vsr`` command group. Subcommands are imported only when invoked, so ``vsr --help``
and ``vsr probe`` never pay for importing torch."""

from __future__ import annotations

import importlib

import click

# name -> (module, attribute, one-line help); the module is imported only when the command runs.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "upscale": ("vsr.cli.upscale", "upscale", "Upscale a video file."),
    "probe": ("vsr.cli.probe", "probe", "Show a file's streams and the upscaling plan, without processing."),
    "compare": ("vsr.cli.compare", "compare", "Compare models on frames of a video: one PNG of labelled 1:1 crops."),
    "models": ("vsr.cli.models", "models", "List models; download published weights."),
    "export": ("vsr.cli.export", "export", "Export a model to ONNX."),
    "eval": ("vsr.cli.eval", "eval_command", "Evaluate a model on an image folder (PSNR/SSIM, paper protocol)."),
    "train": ("vsr.cli.train", "train", "Train a super-resolution model."),
    "engine": ("vsr.cli.engine", "engine", "Build, list and clean TensorRT engines."),
    "bench": ("vsr.cli.bench", "bench", "Benchmark decode, inference and encode stages."),
    "sample": ("vsr.cli.sample", "sample", "Write a short real clip to try vsr on (sample.mp4)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vsr")
def main() -> None:
    """Video super-resolution: vsr upscale movie.mp4 --to 4k"""
