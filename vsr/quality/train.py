"""Training loop for EDSR-family models (L1, Adam, random patches, resumable, deterministic).

The library never prints: progress goes through ``TrainConfig``'s ``on_event`` callback
(``("step", info)``, ``("val", info)``, ``("log", message)``).

Determinism: sample ``k`` (global index = step * batch + i) draws its image, crop and augmentation
from ``numpy.random.default_rng([seed, k])``, so batches do not depend on worker processes or on
resuming; weight init uses ``torch.manual_seed(seed)``. Resuming restores model, optimiser,
scheduler, step and RNG states from a checkpoint loaded with ``weights_only=True``
(``vsr.quality.checkpoint``); with ``gan`` also the discriminator, its optimiser and the generator's
EMA (``vsr.quality.gan``). Stages: ``training_batches`` (data), ``_Trainer`` (model, optimiser,
one step, validation, checkpoint), ``train`` (the loop).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vsr.errors import InputError, ModelError, TrainingDiverged, UsageError
from vsr.quality import checkpoint
from vsr.models.loader import save as save_weights
from vsr.quality.datasets import list_images, make_lr, mod_crop, read_rgb
from vsr.quality.device import pick_device
from vsr.quality.losses import pixel_loss


@dataclass(frozen=True)
class TrainConfig:
    data: tuple[str, ...]
    out_dir: str
    scale: int = 2
    arch: str = "edsr"
    num_features: int = 64
    num_blocks: int = 16
    res_scale: float = 1.0
    patch: int = 48  # LR patch side
    batch: int = 16
    steps: int = 1000
    lr: float = 2e-4
    min_lr: float = 1e-6
    schedule: str = "cosine"  # cosine | step
    step_every: int = 200_000  # step schedule: halve every N steps
    warmup: int = 0
    betas: tuple[float, float] = (0.9, 0.999)
    loss: str = "l1"
    degrade: str = ""  # vsr.quality.degrade spec or preset applied to the LR images ("" = clean)
    degrade_variants: int = 8  # degraded versions made once per training image (patches crop from them)
    seed: int = 0
    workers: int = 0
    threads: int = 0  # torch.set_num_threads when > 0
    val_dir: str | None = None
    val_degrade: str = ""  # degrade the validation LR like `vsr eval --degrade SPEC --seed 0`
    val_every: int = 500
    ckpt_every: int = 200
    device: str = "auto"
    amp: str = "auto"  # auto (fp16 on CUDA, off on CPU) | off | bf16 | fp16
    channels_last: bool = False
    init: str | None = None
    resume: bool = False
    export: str | None = None  # final safetensors path; default out_dir/model.safetensors
    max_images: int = 0  # 0 = all
    stop_at: int = 0  # stop (with a checkpoint, no export) after this step; 0 = run to ``steps``
    # GAN stage (generator --init from pixel-loss weights); vsr.quality.gan
    gan: bool = False
    discriminator: str = "unet"  # unet (Real-ESRGAN: per pixel, spectral norm) | vgg (SRGAN/ESRGAN: per image)
    d_features: int = 64  # discriminator width
    vgg_weights: str | None = None  # torchvision-layout VGG19 state dict (.pth/.safetensors): SRGAN content loss
    vgg_layer: str = "relu5_4"  # SRGAN's VGG54
    # loss weights; None = the recipe's default (vsr.quality.gan.loss_weights)
    pixel_weight: float | None = None  # 1, or 0.01 with vgg_weights
    content_weight: float = 0.006  # with vgg_weights; SRGAN rescales VGG features by 1/12.75 -> MSE x 1/12.75^2
    fm_weight: float | None = None  # discriminator feature matching: 1, or 0 with vgg_weights
    adv_weight: float | None = None  # 0.1, or 0.001 with vgg_weights
    d_lr: float = 0.0  # discriminator LR; 0 = same as lr
    ema_decay: float = 0.999  # export an EMA of the generator (0 = the generator as trained)


# ---------------------------------------------------------------------------------------- data


class PatchDataset(torch.utils.data.Dataset):
    """Sample ``k`` -> (lr, hr) float tensors in [0, 1], CHW; HR patch = ``patch * scale``.

    ``lrs[i]`` holds one or more LR versions of ``hrs[i]`` (clean, or degraded variants); a sample
    picks its image, version, crop and augmentation from ``default_rng([seed, k])``."""

    def __init__(self, hrs: list[np.ndarray], lrs: list[list[np.ndarray]], *, scale: int, patch: int,
                 seed: int) -> None:
        self.hrs, self.lrs = hrs, lrs
        self.scale, self.patch, self.seed = scale, patch, seed
        sizes = np.array([v[0].shape[0] * v[0].shape[1] for v in lrs], dtype=np.float64)
        self.cum = np.cumsum(sizes / sizes.sum())  # pick images in proportion to their area

    def __len__(self) -> int:  # the sampler decides; large enough for any run
        return 2**62

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, int(k)])
        i = min(int(np.searchsorted(self.cum, rng.random())), len(self.lrs) - 1)
        versions, hr_img = self.lrs[i], self.hrs[i]
        lr_img = versions[int(rng.integers(len(versions)))] if len(versions) > 1 else versions[0]
        p, s = self.patch, self.scale
        y = int(rng.integers(0, lr_img.shape[0] - p + 1))
        x = int(rng.integers(0, lr_img.shape[1] - p + 1))
        lr = lr_img[y : y + p, x : x + p]
        hr = hr_img[y * s : (y + p) * s, x * s : (x + p) * s]
        aug = int(rng.integers(0, 8))
        if aug & 1:
            lr, hr = lr[:, ::-1], hr[:, ::-1]
        if aug & 2:
            lr, hr = lr[::-1], hr[::-1]
        if aug & 4:
            lr, hr = lr.transpose(1, 0, 2), hr.transpose(1, 0, 2)
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float().div_(255.0)  # noqa: E731
        return to_t(lr), to_t(hr)


class RangeSampler(torch.utils.data.Sampler):
    def __init__(self, start: int, stop: int) -> None:
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self) -> int:
        return self.stop - self.start


def load_training_images(
    folders: tuple[str, ...] | list[str], scale: int, patch: int, max_images: int = 0, *,
    degrade: str = "", variants: int = 8, seed: int = 0,
) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Read HR images, mod-crop, and make their MATLAB-bicubic LR once (kept in memory).

    With ``degrade`` (a :mod:`vsr.quality.degrade` spec), each image gets ``variants`` degraded
    versions of its LR instead, version ``v`` of image ``i`` drawn from ``default_rng([seed, i, v])``
    (a cache built once per run, the same on every run and resume)."""
    from vsr.quality.degrade import parse

    degradation = parse(degrade)
    files: list[Path] = []
    for f in folders:
        files += list_images(f)
    if max_images:
        files = files[:max_images]
    hrs, lrs = [], []
    for path in files:
        hr = mod_crop(read_rgb(path), scale)
        if hr.shape[0] < patch * scale or hr.shape[1] < patch * scale:
            continue
        lr = make_lr(hr, scale)
        i = len(hrs)
        hrs.append(hr)
        if degradation.is_clean:
            lrs.append([lr])
        else:
            lrs.append([degradation(lr, np.random.default_rng([seed, i, v])) for v in range(max(1, variants))])
    if not hrs:
        raise InputError(f"no training image is at least {patch * scale}px on each side in {', '.join(folders)}")
    return hrs, lrs


# ---------------------------------------------------------------------------------------- model


TRAINABLE_ARCHS = ("edsr", "srresnet", "msrresnet")


def model_hparams(cfg: TrainConfig) -> dict[str, Any]:
    hp: dict[str, Any] = {"num_features": cfg.num_features, "num_blocks": cfg.num_blocks, "scale": cfg.scale}
    if cfg.arch == "edsr":
        hp["res_scale"] = cfg.res_scale
    return hp


def build_model(cfg: TrainConfig) -> nn.Module:
    if cfg.arch not in TRAINABLE_ARCHS:
        raise UsageError(f"vsr train supports --arch {', '.join(TRAINABLE_ARCHS)}; got {cfg.arch!r}")
    from vsr.models.loader import build

    return build(cfg.arch, **model_hparams(cfg))


def init_from(model: nn.Module, path: str | Path, arch: str = "edsr") -> list[str]:
    """Copy every tensor of ``path`` whose name and shape match; the upsampler only when it is the
    same (same scale): starting x3/x4 from x2 copies all but the upsampler, as the EDSR paper does.
    Returns the copied names."""
    from vsr.models.loader import architecture, read_state_dict

    src = read_state_dict(path)[0]
    own = model.state_dict()
    prefixes = architecture(arch).upsampler
    is_up = lambda k: k.startswith(prefixes)  # noqa: E731
    up_own = {k: tuple(v.shape) for k, v in own.items() if is_up(k)}
    up_src = {k: tuple(v.shape) for k, v in src.items() if is_up(k)}
    same_upsampler = up_own == up_src
    copied = []
    for k, v in src.items():
        if (is_up(k) and not same_upsampler) or k not in own or own[k].shape != v.shape:
            continue
        own[k] = v.to(own[k].dtype)
        copied.append(k)
    if not copied:
        raise ModelError(f"--init {path}: no tensor matches the model's names and shapes")
    model.load_state_dict(own)
    return copied


# ---------------------------------------------------------------------------------------- validation


def validate(model: nn.Module, pairs, scale: int, device: torch.device, amp_dtype=None) -> float:
    from vsr.quality.eval import sr_image
    from vsr.quality.metrics import psnr_y

    was_training = model.training
    model.eval()
    vals = [psnr_y(sr_image(model, p.lr, device, amp_dtype), p.hr, scale) for p in pairs]
    model.train(was_training)
    return float(np.mean(vals))


# ---------------------------------------------------------------------------------------- loop


def lr_factor(cfg: TrainConfig, step: int) -> float:
    if cfg.warmup and step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if cfg.schedule == "cosine":
        t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
        m = cfg.min_lr / cfg.lr
        return m + (1 - m) * 0.5 * (1 + math.cos(math.pi * t))
    if cfg.schedule == "step":
        return 0.5 ** (step // cfg.step_every)
    raise UsageError(f"unknown schedule {cfg.schedule!r}: use cosine or step")


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    amp = cfg.amp
    if amp == "auto":
        amp = "fp16" if device.type == "cuda" else "off"
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]


# ---------------------------------------------------------------------------------------- the run


def training_batches(cfg: TrainConfig, first_step: int, device: torch.device,
                     emit: Callable[[str, dict], None]) -> torch.utils.data.DataLoader:
    """The (lr, hr) batches of steps ``first_step`` .. ``cfg.steps`` (sample k of step s is ``s * batch + k``)."""
    t0 = time.time()
    hrs, lrs = load_training_images(cfg.data, cfg.scale, cfg.patch, cfg.max_images, degrade=cfg.degrade,
                                    variants=cfg.degrade_variants, seed=cfg.seed)
    kind = f"{len(lrs[0])} LR versions each degraded by {cfg.degrade!r}" if cfg.degrade else "LR"
    emit("log", {"message": f"{len(hrs)} training images, {kind} precomputed in {time.time() - t0:.1f}s"})
    return torch.utils.data.DataLoader(
        PatchDataset(hrs, lrs, scale=cfg.scale, patch=cfg.patch, seed=cfg.seed),
        batch_size=cfg.batch,
        sampler=RangeSampler(first_step * cfg.batch, cfg.steps * cfg.batch),
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=False,
    )


def validation_pairs(cfg: TrainConfig) -> list | None:
    """Held-out (lr, hr) pairs, the LR degraded as `vsr eval --degrade SPEC --seed 0` gives it; None without --val."""
    if not cfg.val_dir:
        return None
    from vsr.quality.datasets import load_pairs

    pairs = load_pairs(cfg.val_dir, cfg.scale)
    if cfg.val_degrade:
        from vsr.quality.degrade import image_rng, parse

        degradation = parse(cfg.val_degrade)
        for p in pairs:
            p.lr = degradation(p.lr, image_rng(0, p.name))
    return pairs


class _Trainer:
    """Model, optimiser, schedule and the run's progress; saves and restores all of it."""

    def __init__(self, cfg: TrainConfig, emit: Callable[[str, dict], None]) -> None:
        self.cfg, self.emit = cfg, emit
        self.path = Path(cfg.out_dir) / "last.pt"
        self.device = pick_device(cfg.device)
        self.amp_dtype = _amp_dtype(cfg, self.device)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg)
        if cfg.init and not cfg.resume:
            copied = init_from(self.model, cfg.init, cfg.arch)
            emit("log", {"message": f"init: copied {len(copied)} of {len(self.model.state_dict())} tensors from {cfg.init}"})
        self.model.to(self.device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=1e-8)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(cfg, s))
        self.scaler = torch.amp.GradScaler("cuda", enabled=(self.device.type == "cuda" and self.amp_dtype == torch.float16))
        self.criterion = pixel_loss(cfg.loss)
        self.gan = self._gan_stage() if cfg.gan else None
        if self.gan is None:
            from vsr.quality.gan import refuse_gan_options

            refuse_gan_options(cfg)  # a GAN option without --gan would do nothing
        self.step, self.best, self.history = 0, -1.0, []
        self.val_psnr: float | None = None

    def _gan_stage(self):
        from vsr.quality.gan import GanStage

        return GanStage(self.cfg, self.model, self.device, lambda s: lr_factor(self.cfg, s))

    @property
    def export_model(self) -> nn.Module:
        """The generator that is validated and exported (the GAN stage's EMA when there is one)."""
        return self.gan.export_model if self.gan is not None else self.model

    def resume(self) -> None:
        ck = checkpoint.load(self.path)
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        self.sched.load_state_dict(ck["scheduler"])
        self.scaler.load_state_dict(ck["scaler"])
        if self.gan is not None:
            if "gan" not in ck:
                raise UsageError(f"--resume --gan: {self.path} is not a GAN checkpoint")
            self.gan.load_state_dict(ck["gan"], self.path)
        self.step, self.best = int(ck["step"]), float(ck["best_psnr"])
        self.history = [tuple(h) for h in ck["history"]]
        checkpoint.set_rng_state(ck["rng"])
        self.emit("log", {"message": f"resumed from {self.path} at step {self.step}"})

    def save(self) -> None:
        state = {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                 "scheduler": self.sched.state_dict(), "scaler": self.scaler.state_dict(), "step": self.step,
                 "best_psnr": self.best, "history": [list(h) for h in self.history], "rng": checkpoint.rng_state(),
                 "config": checkpoint.plain(asdict(self.cfg))}
        if self.gan is not None:
            state["gan"] = self.gan.state_dict()
        checkpoint.save(self.path, state)

    def train_step(self, lr_b: torch.Tensor, hr_b: torch.Tensor) -> dict[str, float]:
        """One optimiser step; returns ``{"loss": value}`` (and the GAN stage's loss terms)."""
        cfg, dev = self.cfg, self.device
        lr_b, hr_b = lr_b.to(dev, non_blocking=True), hr_b.to(dev, non_blocking=True)
        if cfg.channels_last:
            lr_b = lr_b.contiguous(memory_format=torch.channels_last)
        self.opt.zero_grad(set_to_none=True)
        amp = self.amp_dtype
        with torch.autocast(device_type=dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            sr = self.model(lr_b)
        sr = sr.float()
        if self.gan is None:
            loss = self.criterion(sr, hr_b)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            terms = {"loss": float(loss.detach())}
        else:
            terms = self.gan.step(sr, hr_b, self.criterion, self.opt, self.scaler, amp)
        self.scaler.update()
        self.sched.step()
        if self.gan is not None:
            self.gan.sched.step()
        self.step += 1
        bad = next((k for k, v in terms.items() if not math.isfinite(v)), None)
        if bad is not None:
            what = "discriminator loss" if bad == "d" else "loss"
            gan = ", --adv-weight or --d-lr" if self.gan is not None else ""
            raise TrainingDiverged(f"{what} became {terms[bad]} at step {self.step}: lower --lr{gan}, "
                                   "or train with --amp off (fp32)")
        return terms

    def validate(self, pairs) -> None:
        self.val_psnr = validate(self.export_model, pairs, self.cfg.scale, self.device, self.amp_dtype)
        self.history.append((self.step, self.val_psnr))
        if self.val_psnr > self.best:
            self.best = self.val_psnr
            save_weights(self.export_model, Path(self.cfg.out_dir) / "best.safetensors",
                         notes={"step": str(self.step), "val_psnr": f"{self.val_psnr:.3f}"})

    def outcome(self, export: Path | None, started: float) -> dict[str, Any]:
        return {"step": self.step, "val_psnr": self.val_psnr, "best_psnr": self.best,
                "export": str(export) if export else None, "checkpoint": str(self.path),
                "seconds": time.time() - started}


def train(cfg: TrainConfig, on_event: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Train; returns {"step", "val_psnr", "best_psnr", "export", "checkpoint", "seconds"}."""
    emit = on_event or (lambda kind, info: None)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run = _Trainer(cfg, emit)
    if cfg.resume:
        run.resume()
    batches = training_batches(cfg, run.step, run.device, emit)
    pairs = validation_pairs(cfg)
    run.model.train()
    started, loss_avg = time.time(), None
    for lr_b, hr_b in batches:
        terms = run.train_step(lr_b, hr_b)
        value = terms.pop("loss")
        loss_avg = value if loss_avg is None else 0.98 * loss_avg + 0.02 * value
        info = {"step": run.step, "steps": cfg.steps, "loss": value, "loss_avg": loss_avg,
                "lr": run.opt.param_groups[0]["lr"], "elapsed": time.time() - started}
        emit("step", {**info, "terms": terms} if terms else info)
        if pairs is not None and (run.step % cfg.val_every == 0 or run.step == cfg.steps):
            run.validate(pairs)
            emit("val", {"step": run.step, "psnr": run.val_psnr, "best": run.best, "elapsed": time.time() - started})
        if run.step % cfg.ckpt_every == 0 or run.step == cfg.steps:
            run.save()
        if cfg.stop_at and run.step >= cfg.stop_at:
            run.save()
            return run.outcome(None, started)
    export = Path(cfg.export) if cfg.export else out / "model.safetensors"
    save_weights(run.export_model, export, notes={"step": str(run.step)})
    run.save()
    return run.outcome(export, started)
