"""``vsr probe``: the streams of a file and what ``vsr upscale`` would do with it."""

from __future__ import annotations

import json

import click

from vsr.cli.common import debug_option, handle_errors
from vsr.cli.options import estimate_option, options_from_kwargs, plan_options, sizing_options


@click.command()
@sizing_options
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Print streams and plan as JSON.")
@estimate_option
@debug_option
@handle_errors
def probe(as_json: bool, with_estimate: bool, debug: bool, **kwargs) -> None:
    """Show INPUT's streams and the plan for upscaling it, without processing."""
    from vsr.estimate import estimate
    from vsr.plan import make_plan

    plan = make_plan(options_from_kwargs({**kwargs, "overwrite": True}), check_paths=False)
    info = plan.source
    guess = estimate(plan, plan.expected_frames) if with_estimate else None
    if as_json:
        click.echo(json.dumps({**plan.to_dict(), "estimate": guess and guess.to_dict()}, default=str))
        return
    click.echo(f"{info.path} ({info.container})")
    for s in info.streams:
        extra = ", ".join(x for x in (s.detail, s.language and f"lang={s.language}", s.title and f"title={s.title!r}") if x)
        click.echo(f"  #{s.index} {s.kind:<9} {s.codec:<10} {extra}")
    rate = f"{float(info.frame_rate):.3f} fps" if info.frame_rate else "unknown rate"
    click.echo(f"video: {info.width}x{info.height} SAR {info.sar} {info.pix_fmt} ({info.bit_depth}-bit), "
               f"{info.colour.description}, {rate}, {info.frames or '?'} frames"
               + (f", rotation {info.rotation}°" if info.rotation else ""))
    click.echo(f"hdr: {info.hdr.description}")
    click.echo("plan:")
    rows = [
        ("output", f"{plan.output}  {plan.width}x{plan.height} SAR {plan.sar}, {plan.codec} {plan.pix_fmt}"
         + (f" crf {plan.crf}" if plan.crf is not None else "") + (f" preset {plan.preset}" if plan.preset else "")),
        ("codec", f"{plan.codec}: {plan.codec_reason}"),
        ("model", f"{plan.model} (x{plan.model_scale})" if not plan.is_resampler else f"{plan.model} (resampler)"),
        *([("why", plan.model_basis)] if plan.model_basis else []),
        *([("loader", plan.model_loader)] if plan.model_loader else []),
        *([("links", " -> ".join(plan.model_links))] if plan.model_links else []),
        *([("temporal", plan.temporal_note)] if plan.temporal_note else []),
        ("resample", plan.resample),
        ("backend", f"{plan.backend} on {plan.device}, {plan.precision} — {plan.backend_reason}"),
        ("precision", f"{plan.precision} — {plan.precision_reason}"),
        ("deinterlace", _deinterlace_note(plan)),
        ("batch", str(plan.batch)),
        ("tile", f"{plan.tile} (overlap {plan.tile_overlap})" if plan.tile else "whole frames"),
    ]
    if plan.start is not None or plan.duration is not None:
        rows.append(("section", f"start {plan.start or 0:g} s, duration {plan.duration or 'to end'}"))
    rows.append(("copied", ", ".join(f"#{i}" for i in plan.copy_streams) or "no other streams"))
    if guess:
        rows += [("estimate", f"{guess.describe()} [{guess.calibration}]")] + ([("faster", guess.advice)] if guess.advice else [])
    rows += [("note", note) for note in plan.notes]
    for key, value in rows:
        click.echo(f"  {key:<11} {value}")


def _deinterlace_note(plan) -> str:
    flagged = "first frame flagged interlaced" if plan.source.interlaced else "first frame progressive"
    return {"auto": f"auto: bwdif on frames flagged interlaced ({flagged})", "on": "bwdif on every frame",
            "off": "off"}[plan.deinterlace]
