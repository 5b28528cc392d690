"""``vsr models``: list resamplers, shipped weights and published checkpoints; download the latter.

Torch-free: listing and downloading never import torch.
"""

from __future__ import annotations

import sys

import click

from vsr.cli.common import debug_option, handle_errors


def _hash_note(sha256: str) -> str:
    if not sha256:
        return "no published sha256"
    return "sha256 " + (sha256 if len(sha256) < 64 else sha256[:12] + "…") + (" (prefix)" if len(sha256) < 64 else "")


def list_models() -> None:
    from vsr.models import registry

    click.echo("Resamplers (any scale, no weights):")
    click.echo("  " + ", ".join(registry.RESAMPLERS))
    click.echo("")
    click.echo(f"Shipped weights ({registry.WEIGHTS_DIR}):")
    if not registry.SHIPPED:
        click.echo("  (none yet)")
    for e in registry.SHIPPED:
        state = "installed" if registry.shipped_path(e).is_file() else "missing"
        family = f"  family {e.family}" if e.family else ""
        click.echo(f"  {e.name:<28} {e.arch:<10} x{e.scale}  {state}{family}")
    click.echo("")
    click.echo(f"Published checkpoints (cache {registry.models_dir()}):")
    for e in registry.PUBLISHED:
        cached = registry.cached_path(e)
        where = f"cached {cached}" if cached else ("download: vsr models download " + e.name if e.urls else "manual download, see docs")
        click.echo(f"  {e.name:<28} {e.arch:<10} x{e.scale}  {e.licence:<28} {_hash_note(e.sha256):<28} {where}")


@click.group(invoke_without_command=True)
@debug_option
@click.pass_context
@handle_errors
def models(ctx: click.Context, debug: bool) -> None:
    """List models (resamplers, shipped weights, published checkpoints) or download one."""
    if ctx.invoked_subcommand is None:
        list_models()


@models.command("list")
@debug_option
@handle_errors
def list_command(debug: bool) -> None:
    """List every model name `vsr upscale --model` accepts, and where it is."""
    list_models()


@models.command("download")
@click.argument("name")
@click.option("--url", default=None, help="Fetch from this URL (a mirror, or file:///path of a manual download).")
@click.option("--sha256", default=None, help="Expected sha256 (hex); required where the publisher gives none.")
@click.option("--accept-unverified", is_flag=True, help="Download without a known sha256 and record its digest.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@debug_option
@handle_errors
def download(name: str, url: str | None, sha256: str | None, accept_unverified: bool, quiet: bool, debug: bool) -> None:
    """Download published checkpoint NAME into the cache and verify its sha256."""
    from vsr.models import zoo

    last = [-1]

    def progress(done: int, total: int | None) -> None:
        mib = done >> 20
        if quiet or mib == last[0]:
            return
        last[0] = mib
        of = f" / {total / 2**20:.1f}" if total else ""
        sys.stderr.write(f"\r{name}: {done / 2**20:.1f}{of} MiB")
        sys.stderr.flush()

    path = zoo.download(name, url=url, sha256=sha256, accept_unverified=accept_unverified, progress=progress)
    if last[0] >= 0 and not quiet:
        sys.stderr.write("\n")
    digest = path.with_name(path.name + ".sha256")
    note = f" (sha256 {digest.read_text().split()[0]})" if digest.is_file() else ""
    click.echo(f"{path}{note}")


@models.command("info")
@click.argument("model")
@click.option("--arch", default=None, help="Architecture of a checkpoint, when detection needs help: one of vsr's (edsr, esrgan, compact, span, ...) or spandrel's (ESRGAN, DAT, HAT, SwinIR, ...); an unknown name lists them all.")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@debug_option
@handle_errors
def info(model: str, arch: str | None, as_json: bool, debug: bool) -> None:
    """What MODEL (a file, ONNX graph, name, family or chain A+B) is: architecture, loader, scale, precisions,
    metadata; a family (e.g. edsr-baseline) is described member by member."""
    import json

    from vsr.models.loader import describe

    members = _members(model, arch)
    if members is None:  # one model
        facts = describe(model, arch=arch)
        if as_json:
            click.echo(json.dumps(facts.to_dict()))
            return
        for line in _info_lines(facts):
            click.echo(line)
        return
    described = {scale: describe(source, arch=arch) for scale, source in members.items()}
    if as_json:
        click.echo(json.dumps({"family": model, "members": [f.to_dict() for f in described.values()]}))
        return
    click.echo(f"{model}: {len(described)} member{'s' if len(described) > 1 else ''} installed "
               f"({', '.join(f'x{s}' for s in described)})")
    for scale, facts in described.items():
        click.echo(f"x{scale}: {members[scale]}")
        for line in _info_lines(facts, "  "):
            click.echo(line)


def _members(model: str, arch: str | None) -> dict[int, str] | None:
    """A family name's (or a chain with family links') members by native scale, as ``--model`` resolves
    them; None for anything that names one model (a file, a member, a resampler)."""
    from pathlib import Path

    from vsr.models import registry
    from vsr.models.loader import is_chain
    from vsr.models.resolver import resolve

    if Path(model).expanduser().is_file() or registry.is_resampler(model):
        return None
    if any(e.name == model for e in registry.SHIPPED) or registry.find(model) is not None:
        return None  # a member or a published checkpoint: its registry entry says what it is
    scales = resolve(model, arch=arch).scales
    return dict(sorted(scales.items())) if len(scales) > 1 or not is_chain(model) else None


def _info_lines(facts, indent: str = "") -> list[str]:
    rows = [
        ("architecture", facts.arch), ("loader", f"{facts.loader}: {facts.why}"), ("scale", f"x{facts.scale}"),
        ("purpose", facts.purpose), ("channels", f"{facts.in_channels} in, {facts.out_channels} out"),
        ("parameters", f"{facts.params:,}" if facts.params else "not counted (registry entry: load it to count)"),
        ("precisions", ", ".join(facts.precisions)), ("size multiple", f"{facts.size_multiple} (other sizes are padded, then cropped)"),
        ("tiling", facts.tiling),
    ] + [(key, value) for key, value in facts.metadata.items()]
    lines = [f"{indent}{key:<14} {value}" for key, value in rows]
    for i, link in enumerate(facts.links, start=1):
        lines += [f"{indent}link {i}:"] + _info_lines(link, indent + "  ")
    return lines
