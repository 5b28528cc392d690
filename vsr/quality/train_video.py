"""Training of temporal (recurrent) models on clips: truncated back-propagation through time.

Each sample is a clip of ``frames`` LR patches (``vsr.quality.video_data``); the network runs over it
from a fresh state, as at the start of a shot, and the L1 loss is averaged over every frame, so the
gradient flows back through the whole clip (truncated at its length). bf16 autocast on CPUs that
have it. Resumable bit-identically: sample ``k`` comes from ``default_rng([seed, k])``, the cached
clips from ``[seed, i]``, and the checkpoint holds model, optimiser, schedule and step (loaded with
``weights_only=True``: plain tensors and numbers only).

Validation: held-out clips, clean and through libx264 CRF 25 with B-frames (seed 0), PSNR-Y with no
border crop, all frames, mean per clip then over clips (the video SR papers' protocol).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsr.errors import TrainingDiverged, UsageError
from vsr.quality import checkpoint
from vsr.models.loader import save as save_weights
from vsr.quality.train import lr_factor


@dataclass(frozen=True)
class VideoTrainConfig:
    data: tuple[str, ...]  # image folders (synthetic motion)
    videos: tuple[str, ...]  # real clips, PATH or PATH@START:DURATION
    out_dir: str
    scale: int = 4
    num_features: int = 64
    num_blocks: int = 14
    upsampler: str = "edsr"  # "edsr", or "direct": one conv to the folded output, fitted by least squares at --init
    init: str | None = None  # EDSR weights of the same width to start from, or a temporal model to continue
    recurrent_init: float = 1e-3  # std of the recurrent head weights after --init (0: exactly the EDSR)
    recurrent_lr: float = 10.0  # learning-rate multiplier for the recurrent head weights
    frames: int = 10  # clip length = truncation of back-propagation
    patch: int = 32  # LR patch side
    batch: int = 4  # clips per step
    clips: int = 400  # clips made once per run
    clip_size: int = 96  # LR side of a cached synthetic clip
    real_share: float = 0.4
    still_share: float = 0.0  # samples whose every frame starts a shot (stills, first frames after cuts)
    fusion: str = "none"  # back-projection fusion after the network (vsr.models.fusion), trained through
    degrade: str = ""  # per-frame stages (vsr.quality.degrade spec)
    codec: str = "none|none|h264=16:32|h264=20:30|mpeg2=3:10"  # over the whole LR clip (video_degrade)
    steps: int = 4000
    lr: float = 1e-4
    min_lr: float = 1e-6
    schedule: str = "cosine"
    step_every: int = 200_000
    warmup: int = 100
    seed: int = 0
    threads: int = 0
    amp: str = "bf16"  # bf16 | off
    val_videos: tuple[str, ...] = ()
    val_frames: int = 20
    val_codec: str = "h264=25"
    val_every: int = 250
    ckpt_every: int = 50
    stop_at: int = 0
    resume: bool = False
    export: str | None = None


def build(cfg: VideoTrainConfig) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """(model, source): ``source`` is the EDSR-upsampler model that ``--init`` gives when ``model``'s
    direct upsampler must be fitted to it first (``fit_direct_upsampler``), else None."""
    from vsr.models.loader import read_state_dict
    from vsr.models.temporal import TemporalEDSR

    torch.manual_seed(cfg.seed)

    def make(upsampler: str) -> TemporalEDSR:
        return TemporalEDSR(num_features=cfg.num_features, num_blocks=cfg.num_blocks, scale=cfg.scale,
                            upsampler=upsampler, fusion=cfg.fusion)

    model = make(cfg.upsampler)
    if not cfg.init or cfg.resume:
        return model, None
    weights = read_state_dict(cfg.init)[0]
    direct_init = "tail.0.weight" in weights
    if direct_init and cfg.upsampler != "direct":
        raise UsageError(f"--init {cfg.init} has a direct upsampler: add --upsampler direct")
    source = model if direct_init or cfg.upsampler == "edsr" else make("edsr")
    if weights["head.0.weight"].shape == source.head[0].weight.shape:  # a temporal model: continue it
        source.load_state_dict(weights)
    else:
        source.from_edsr(weights)
        with torch.no_grad():
            source.recurrent_weight.normal_(0.0, cfg.recurrent_init)
    if source is model:
        return model, None
    shared = {k: v for k, v in source.state_dict().items() if not k.startswith("tail.")}
    missing, _ = model.load_state_dict(shared, strict=False)
    assert all(k.startswith("tail.") for k in missing), missing
    return model, source


FIT_CLIPS = 64  # training clips (of 10 frames, 96x96 LR by default) a direct upsampler is fitted on


@torch.no_grad()
def fit_direct_upsampler(model: torch.nn.Module, source: torch.nn.Module, clips: list, amp: torch.dtype | None) -> int:
    """Set ``model``'s direct upsampler to the least-squares fit (``vsr.quality.tail_fit``) of the ground
    truth on ``source``'s body features, ``source`` run over ``clips`` as in training (its own state,
    restarted where a shot starts). Returns the number of output blocks fitted."""
    from vsr.quality.tail_fit import TailFit, folded_target, upsampler_inputs
    from vsr.quality.video_data import pictures

    fit = TailFit(model.num_features, model.state_channels)
    source.eval()
    with upsampler_inputs(source) as features:
        for clip in clips:
            features.clear()
            with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
                run_clip(source, pictures(clip.lr)[None], torch.from_numpy(clip.flow.astype(np.float32))[None],
                         torch.from_numpy(clip.starts)[None])
            fit.add(torch.cat(features), folded_target(pictures(clip.hr), model, model.scale))
    weight, bias = fit.solve()
    model.tail[0].weight.copy_(weight)
    model.tail[0].bias.copy_(bias)
    return fit.samples


def boost_recurrent(model: torch.nn.Module, before: torch.Tensor, factor: float) -> None:
    """Scale the optimiser's last step on the recurrent head weights by ``factor`` (their own learning
    rate under Adam, whose step does not depend on the gradient's scale). With zero or tiny weights there,
    little gradient flows back through the state, so the past is learnt slowly unless they move faster."""
    if factor != 1.0:
        with torch.no_grad():
            w = model.recurrent_weight
            w.copy_(before + factor * (w - before))


def run_clip(model: torch.nn.Module, lr: torch.Tensor, flow: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """Outputs N×T×3×sH×sW of the model run over N clips (N×T×3×H×W, flows N×T×2×H×W); the state
    restarts where ``starts`` (N×T bool) says a shot starts, as ``vsr upscale`` restarts it at cuts."""
    state = model.initial_state(lr[:, 0])
    prev = lr[:, 0]
    outs = []
    for t in range(lr.shape[1]):
        x = lr[:, t]
        fresh = starts[:, t].view(-1, 1, 1, 1)
        prev = torch.where(fresh, x, prev)
        state = torch.where(fresh, model.initial_state(x), state)
        y, state = model(x, prev, state, flow[:, t])
        outs.append(y)
        prev = x
    return torch.stack(outs, dim=1)


@dataclass
class ValClip:
    name: str
    lr: torch.Tensor  # 1×T×3×H×W
    flow: torch.Tensor
    starts: torch.Tensor  # 1×T bool
    hr: np.ndarray  # T×sH×sW×3 uint8


def validation_clips(sources: tuple[str, ...], *, scale: int, frames: int, codec: str) -> list[ValClip]:
    """Each held-out source clean and through ``codec`` (seed 0): LR by MATLAB bicubic, flow by DIS."""
    from vsr.quality.datasets import make_lr, mod_crop
    from vsr.quality.video_data import VideoSource, lr_flows, pictures, video_frames
    from vsr.quality.video_degrade import parse_video

    out = []
    for text in sources:
        src = VideoSource.parse(text)
        hr = [mod_crop(f, scale) for f in video_frames(src.path, 2.0, start=src.start, duration=src.duration,
                                                       max_frames=frames)]
        clean = [make_lr(f, scale) for f in hr]
        for label, spec in (("clean", ""), (codec, codec)):
            lr = parse_video("", spec)(clean, np.random.default_rng(0))[0] if spec else clean
            arr = np.stack(lr)
            flows, starts = lr_flows(arr)
            out.append(ValClip(f"{Path(src.path).stem}@{src.start:g} {label}", pictures(arr)[None],
                               torch.from_numpy(flows.astype(np.float32))[None], torch.from_numpy(starts)[None],
                               np.stack(hr)))
    return out


@torch.no_grad()
def validate(model: torch.nn.Module, clips: list[ValClip], amp: torch.dtype | None) -> dict[str, float]:
    """PSNR-Y (no border crop) per validation clip, and their mean under 'mean'."""
    from vsr.quality.metrics import psnr_y

    was = model.training
    model.eval()
    res = {}
    for c in clips:
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            y = run_clip(model, c.lr, c.flow, c.starts)
        sr = y[0].float().clamp_(0, 1).mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        res[c.name] = float(np.mean([psnr_y(a, b, 0) for a, b in zip(sr, c.hr)]))
    model.train(was)
    res["mean"] = float(np.mean(list(res.values())))
    return res


def train_video(cfg: VideoTrainConfig, on_event: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Train a temporal model; returns {"step", "val", "best", "export", "checkpoint", "seconds"}."""
    from vsr.quality.video_data import ClipCache, ClipDataset, VideoSource, image_files
    from vsr.quality.video_degrade import parse_video

    emit = on_event or (lambda kind, info: None)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "last.pt"
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.amp not in ("bf16", "off"):
        raise UsageError(f"--amp {cfg.amp}: video training on the CPU takes bf16 or off")
    amp = torch.bfloat16 if cfg.amp == "bf16" else None
    model, source = build(cfg)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s))  # type: ignore[arg-type]
    step, best, history = 0, -1.0, []
    if cfg.resume:
        ck = checkpoint.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["torch_rng"])
        step, best, history = int(ck["step"]), float(ck["best"]), [tuple(h) for h in ck["history"]]
        emit("log", {"message": f"resumed from {ckpt_path} at step {step}"})

    t0 = time.time()
    cache = ClipCache(images=image_files(cfg.data), videos=[VideoSource.parse(v) for v in cfg.videos],
                      count=cfg.clips, frames=cfg.frames, lr_size=cfg.clip_size, scale=cfg.scale,
                      degradation=parse_video(cfg.degrade, cfg.codec), seed=cfg.seed, real_share=cfg.real_share)
    emit("log", {"message": f"{len(cache.clips)} clips of {cfg.frames} frames made in {time.time() - t0:.0f}s"})
    if source is not None:
        t0 = time.time()
        blocks = fit_direct_upsampler(model, source, cache.clips[:FIT_CLIPS], amp)
        emit("log", {"message": f"direct upsampler fitted to {cfg.init}'s features by least squares "
                                f"({blocks} output blocks, {time.time() - t0:.0f}s)"})
        del source
    val = validation_clips(cfg.val_videos, scale=cfg.scale, frames=cfg.val_frames, codec=cfg.val_codec)
    data = ClipDataset(cache.clips, scale=cfg.scale, patch=cfg.patch, seed=cfg.seed, still_share=cfg.still_share)

    def save_checkpoint() -> None:
        checkpoint.save(ckpt_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                    "scheduler": sched.state_dict(), "torch_rng": torch.get_rng_state(), "step": step,
                                    "best": best, "history": [list(h) for h in history],
                                    "config": checkpoint.plain(asdict(cfg))})

    def check(result: dict[str, float]) -> None:
        nonlocal best
        history.append((step, result["mean"]))
        if result["mean"] > best:
            best = result["mean"]
            save_weights(model, out / "best.safetensors", notes={"step": str(step), "val_psnr": f"{best:.3f}"})
        emit("val", {"step": step, "result": result, "best": best})

    if val and step == 0:
        check(validate(model, val, amp))
    model.train()
    started, loss_avg = time.time(), None
    while step < cfg.steps:
        samples = [data[step * cfg.batch + i] for i in range(cfg.batch)]
        lr_b, hr_b, flow_b, starts_b = (torch.stack(parts) for parts in zip(*samples))
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            sr = run_clip(model, lr_b, flow_b, starts_b)
        loss = (sr.float() - hr_b).abs().mean()
        loss.backward()
        before = model.recurrent_weight.detach().clone()
        opt.step()
        boost_recurrent(model, before, cfg.recurrent_lr)
        sched.step()
        step += 1
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(f"loss became {value} at step {step}: lower --lr, or train with --amp off")
        loss_avg = value if loss_avg is None else 0.98 * loss_avg + 0.02 * value
        emit("step", {"step": step, "steps": cfg.steps, "loss": value, "loss_avg": loss_avg,
                      "lr": opt.param_groups[0]["lr"], "elapsed": time.time() - started})
        if val and (step % cfg.val_every == 0 or step == cfg.steps):
            check(validate(model, val, amp))
        if step % cfg.ckpt_every == 0 or step == cfg.steps or (cfg.stop_at and step >= cfg.stop_at):
            save_checkpoint()
        if cfg.stop_at and step >= cfg.stop_at:
            return {"step": step, "val": history[-1][1] if history else None, "best": best, "export": None,
                    "checkpoint": str(ckpt_path), "seconds": time.time() - started}
    export = Path(cfg.export) if cfg.export else out / "model.safetensors"
    save_weights(model, export, notes={"step": str(step)})
    save_checkpoint()
    return {"step": step, "val": history[-1][1] if history else None, "best": best, "export": str(export),
            "checkpoint": str(ckpt_path), "seconds": time.time() - started}
