"""``vsr engine build|list|clean``: TensorRT engines ahead of time, and the cache they live in."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vsr.cli.common import debug_option, handle_errors
from vsr.errors import BackendError, UsageError

engine_dir_option = click.option(
    "--engine-dir", type=click.Path(path_type=Path), default=None,
    help="Engine cache directory (default: $VSR_ENGINE_DIR, engines/cache in a checkout, else the user cache).",
)


def load_build_profile(value: str) -> dict:
    """A build profile from a .json path, or a name in the checkout's engines/ folder."""
    from vsr.backends.engine_cache import _checkout_root

    path = Path(value).expanduser()
    if not path.is_file():
        root = _checkout_root()
        candidates = [root / "engines" / f"{value}.json"] if root else []
        path = next((c for c in candidates if c.is_file()), path)
    if not path.is_file():
        raise UsageError(f"build profile not found: {value} (give a .json file or a name from engines/)")
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"build profile {path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or "profile" not in doc:
        raise UsageError(f"build profile {path} needs a 'profile' object with min, opt and max shapes")
    return doc


@click.group()
def engine() -> None:
    """Build, list and clean TensorRT engines."""


@engine.command()
@click.argument("model", required=False)
@click.option("--profile", "profile_name", default=None, help="A build profile: engines/NAME.json or a path.")
@click.option("--resolution", default=None, help="Input frame size: 720p, 1080p or WxH (instead of --profile).")
@click.option("--batch", type=int, default=None, help="Largest batch (default: 4).")
@click.option("--precision", type=click.Choice(["fp16", "bf16", "fp32"]), default=None, help="Default: fp16.")
@click.option("--opt-level", type=click.IntRange(0, 5), default=None, help="Builder optimisation level (default: 3).")
@click.option("--device", default="cuda", show_default=True)
@engine_dir_option
@debug_option
@handle_errors
def build(model, profile_name, resolution, batch, precision, opt_level, device, engine_dir, debug) -> None:
    """Build (or find cached) the engine for MODEL, so `vsr upscale` starts at once."""
    from vsr.backends.engine_build import engine_spec, ensure_engine, import_tensorrt, onnx_dtype
    from vsr.backends.engine_cache import Profile
    from vsr.backends.engine_cache import engine_dir as resolve_dir

    doc = load_build_profile(profile_name) if profile_name else {}
    model = model or doc.get("model")
    if not model:
        raise UsageError("give a MODEL or a --profile that names one")
    if doc and (resolution or batch):
        raise UsageError("give either --profile or --resolution/--batch, not both")
    if doc:
        profile = Profile.from_dict(doc["profile"])
    else:
        from vsr.bench import _size

        w, h = _size(resolution or "1080p")
        profile = Profile.for_frames(batch=batch or 4, height=h, width=w)
    precision = precision or doc.get("precision", "fp16")
    opt_level = opt_level if opt_level is not None else int(doc.get("opt_level", 3))

    trt = import_tensorrt()
    import tempfile

    from vsr.backends.onnx_export import export_onnx
    from vsr.backends.recurrent import is_temporal
    from vsr.models.loader import load_model

    directory = resolve_dir(engine_dir)
    net = load_model(model)
    if is_temporal(net.module) and profile.max[0] != 1:
        # it runs one frame at a time, and `vsr upscale` asks for this profile (tensorrt_backend.profile_for)
        profile = profile.single_frame()
        click.echo(f"{model} is a temporal model: it runs one frame at a time, so the engine takes batch 1", err=True)
    with tempfile.TemporaryDirectory(prefix="vsr-onnx-") as tmp:
        onnx = export_onnx(net, Path(tmp) / "model.onnx", dtype=onnx_dtype(trt, precision))
        spec = engine_spec(model, onnx, precision=precision, profile=profile, opt_level=opt_level, device=device, trt=trt)
        click.echo(f"building {precision} engine for {model}, profile {profile.min} .. {profile.max} (minutes)...", err=True)
        _, path, built = ensure_engine(spec, onnx, directory, trt=trt)
    click.echo(f"{'built' if built else 'already cached'}: {path}")


@engine.command("list")
@engine_dir_option
@click.option("--json", "as_json", is_flag=True)
@debug_option
@handle_errors
def list_command(engine_dir, as_json, debug) -> None:
    """List cached engines with what they were built for."""
    from vsr.backends.engine_cache import engine_dir as resolve_dir
    from vsr.backends.engine_cache import list_engines

    directory = resolve_dir(engine_dir)
    rows = list_engines(directory)
    if as_json:
        click.echo(json.dumps({"directory": str(directory), "engines": rows}, indent=1))
        return
    click.echo(f"{directory}: {len(rows)} engine(s)")
    for r in rows:
        prof = r.get("profile") or {}
        click.echo(
            f"  {r['file']}  {r['bytes'] / 2**20:.1f} MiB  {r.get('precision', '?')}  "
            f"opt {'x'.join(str(v) for v in prof.get('opt', [])) or '?'}  "
            f"{r.get('gpu_name', '?')} (sm {r.get('compute_capability', '?')})  TensorRT {r.get('tensorrt_version', '?')}"
        )


@engine.command()
@engine_dir_option
@click.option("--model", default=None, help="Only engines built for this model name.")
@click.option("--precision", type=click.Choice(["fp16", "bf16", "fp32"]), default=None, help="Only this precision.")
@click.option("--stale", is_flag=True, help="Only engines built by another TensorRT version than the installed one.")
@debug_option
@handle_errors
def clean(engine_dir, model, precision, stale, debug) -> None:
    """Delete cached engines (all of them unless filtered)."""
    import importlib.metadata

    from vsr.backends.engine_cache import clean as clean_engines
    from vsr.backends.engine_cache import engine_dir as resolve_dir

    installed = None
    if stale:
        try:
            installed = importlib.metadata.version("tensorrt")
        except importlib.metadata.PackageNotFoundError:
            raise BackendError("--stale compares with the installed TensorRT, and none is installed") from None

    def doomed(row: dict) -> bool:
        return ((model is None or row.get("model") == model)
                and (precision is None or row.get("precision") == precision)
                and (installed is None or row.get("tensorrt_version") != installed))

    removed = clean_engines(resolve_dir(engine_dir), keep=lambda row: not doomed(row))
    click.echo(f"removed {len(removed)} engine(s)")
