"""Training loop for EDSR-family models (L1, Adam, random patches, resumable, deterministic).

The library never prints: progress goes through ``TrainConfig``'s ``on_event`` callback
(``("step", info)``, ``("val", info)``, ``("log", message)``).

Determinism: sample ``k`` (global index = step * batch + i) draws its image, crop and augmentation
from ``numpy.random.default_rng([seed, k])``, so batches do not depend on worker processes or on
resuming; weight init uses ``torch.manual_seed(seed)``. Resuming restores model, optimiser,
scheduler, step and RNG states.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vsr.errors import InputError, ModelError, UsageError
from vsr.models.loader import save as save_weights
from vsr.quality.datasets import list_images, make_lr, mod_crop, read_rgb
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
    # SRGAN stage (generator usually --init from a pixel-loss pre-trained SRResNet)
    gan: bool = False
    vgg_weights: str | None = None  # torchvision-layout VGG19 state dict (.pth/.safetensors)
    vgg_layer: str = "relu5_4"  # SRGAN's VGG54
    pixel_weight: float = 1e-2
    content_weight: float = 0.006  # SRGAN rescales VGG features by 1/12.75 -> MSE x 1/12.75^2
    adv_weight: float = 1e-3
    d_lr: float = 0.0  # discriminator LR; 0 = same as lr
    extra: dict = field(default_factory=dict, hash=False, compare=False)


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


def _pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    amp = cfg.amp
    if amp == "auto":
        amp = "fp16" if device.type == "cuda" else "off"
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def _rng_state() -> dict[str, Any]:
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


class _GanParts:
    """SRGAN stage: VGG-style discriminator, VGG19 content loss, adversarial + pixel loss."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        from vsr.models.discriminator import VGGStyleDiscriminator
        from vsr.quality.losses import ContentLoss, load_vgg

        if not cfg.vgg_weights:
            raise UsageError("--gan needs --vgg-weights PATH (torchvision VGG19 weights, .pth or .safetensors)")
        if cfg.patch * cfg.scale < 32:
            raise UsageError(f"--gan needs HR patches of at least 32 px (patch x scale = {cfg.patch * cfg.scale})")
        self.cfg = cfg
        self.disc = VGGStyleDiscriminator().to(device)
        self.content = ContentLoss(load_vgg(cfg.vgg_weights, cfg.vgg_layer)).to(device)
        self.d_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr or cfg.lr, betas=cfg.betas)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.d_opt, lambda s: lr_factor(cfg, s))
        self.bce = nn.BCEWithLogitsLoss()
        self.device = device

    def step(self, sr, hr, pixel, g_opt, scaler, amp_dtype) -> torch.Tensor:
        cfg, dev = self.cfg, self.device
        ac = dict(device_type=dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)
        # generator: pixel + VGG content + adversarial (the discriminator is not updated here)
        for p in self.disc.parameters():
            p.requires_grad_(False)
        with torch.autocast(**ac):
            fake_logit = self.disc(sr).float()
            content = self.content(sr, hr).float()
        adv = self.bce(fake_logit, torch.ones_like(fake_logit))
        g_loss = cfg.pixel_weight * pixel(sr, hr) + cfg.content_weight * content + cfg.adv_weight * adv
        scaler.scale(g_loss).backward()
        scaler.step(g_opt)
        # discriminator: real -> 1, fake -> 0
        for p in self.disc.parameters():
            p.requires_grad_(True)
        self.d_opt.zero_grad(set_to_none=True)
        with torch.autocast(**ac):
            real_logit = self.disc(hr).float()
            fake_logit = self.disc(sr.detach()).float()
        d_loss = self.bce(real_logit, torch.ones_like(real_logit)) + self.bce(fake_logit, torch.zeros_like(fake_logit))
        scaler.scale(d_loss).backward()
        scaler.step(self.d_opt)
        return g_loss

    def state_dict(self) -> dict[str, Any]:
        return {"disc": self.disc.state_dict(), "d_opt": self.d_opt.state_dict(), "sched": self.sched.state_dict()}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.disc.load_state_dict(st["disc"])
        self.d_opt.load_state_dict(st["d_opt"])
        self.sched.load_state_dict(st["sched"])


def train(cfg: TrainConfig, on_event: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Train; returns {"step", "val_psnr", "best_psnr", "export", "checkpoint", "seconds"}."""
    emit = on_event or (lambda kind, info: None)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "last.pt"
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = _pick_device(cfg.device)
    amp_dtype = _amp_dtype(cfg, device)

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    if cfg.init and not cfg.resume:
        copied = init_from(model, cfg.init, cfg.arch)
        emit("log", {"message": f"init: copied {len(copied)} of {len(model.state_dict())} tensors from {cfg.init}"})
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s))
    scaler = torch.amp.GradScaler("cuda", enabled=(device.type == "cuda" and amp_dtype == torch.float16))
    criterion = pixel_loss(cfg.loss)
    gan = _GanParts(cfg, device) if cfg.gan else None

    step, best, history = 0, -1.0, []
    if cfg.resume:
        if not ckpt_path.is_file():
            raise UsageError(f"--resume: no checkpoint at {ckpt_path}")
        ck = torch.load(str(ckpt_path), map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        if "scaler" in ck:
            scaler.load_state_dict(ck["scaler"])
        if gan is not None:
            if "gan" not in ck:
                raise UsageError(f"--resume --gan: {ckpt_path} is not a GAN checkpoint")
            gan.load_state_dict(ck["gan"])
        step, best, history = ck["step"], ck.get("best_psnr", -1.0), ck.get("history", [])
        _set_rng_state(ck["rng"])
        emit("log", {"message": f"resumed from {ckpt_path} at step {step}"})

    t0 = time.time()
    hrs, lrs = load_training_images(cfg.data, cfg.scale, cfg.patch, cfg.max_images, degrade=cfg.degrade,
                                    variants=cfg.degrade_variants, seed=cfg.seed)
    kind = f"{len(lrs[0])} LR versions each degraded by {cfg.degrade!r}" if cfg.degrade else "LR"
    emit("log", {"message": f"{len(hrs)} training images, {kind} precomputed in {time.time() - t0:.1f}s"})
    val_pairs = None
    if cfg.val_dir:
        from vsr.quality.datasets import load_pairs

        val_pairs = load_pairs(cfg.val_dir, cfg.scale)
        if cfg.val_degrade:
            from vsr.quality.degrade import image_rng, parse

            val_degradation = parse(cfg.val_degrade)
            for p in val_pairs:  # the same LR as `vsr eval --degrade SPEC --seed 0` gives
                p.lr = val_degradation(p.lr, image_rng(0, p.name))

    ds = PatchDataset(hrs, lrs, scale=cfg.scale, patch=cfg.patch, seed=cfg.seed)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=cfg.batch,
        sampler=RangeSampler(step * cfg.batch, cfg.steps * cfg.batch),
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=False,
    )

    def save_checkpoint() -> None:
        from vsr.atomic import atomic_path

        extra = {"gan": gan.state_dict()} if gan is not None else {}
        state = {
            **extra,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "step": step,
            "best_psnr": best,
            "history": history,
            "rng": _rng_state(),
            "config": asdict(cfg),
        }
        with atomic_path(ckpt_path) as tmp:
            torch.save(state, str(tmp))

    val_psnr = None
    model.train()
    t_start = time.time()
    loss_avg = None
    for lr_b, hr_b in loader:
        lr_b = lr_b.to(device, non_blocking=True)
        hr_b = hr_b.to(device, non_blocking=True)
        if cfg.channels_last:
            lr_b = lr_b.contiguous(memory_format=torch.channels_last)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            sr = model(lr_b)
        sr = sr.float()
        if gan is None:
            loss = criterion(sr, hr_b)
            scaler.scale(loss).backward()
            scaler.step(opt)
        else:
            loss = gan.step(sr, hr_b, criterion, opt, scaler, amp_dtype)
        scaler.update()
        sched.step()
        if gan is not None:
            gan.sched.step()
        step += 1
        lv = float(loss.detach())
        if not math.isfinite(lv):
            raise UsageError(f"loss became {lv} at step {step}: lower --lr or turn --amp off")
        loss_avg = lv if loss_avg is None else 0.98 * loss_avg + 0.02 * lv
        emit("step", {"step": step, "steps": cfg.steps, "loss": lv, "loss_avg": loss_avg,
                      "lr": opt.param_groups[0]["lr"], "elapsed": time.time() - t_start})
        if val_pairs is not None and (step % cfg.val_every == 0 or step == cfg.steps):
            val_psnr = validate(model, val_pairs, cfg.scale, device, amp_dtype)
            history.append((step, val_psnr))
            if val_psnr > best:
                best = val_psnr
                save_weights(model, out / "best.safetensors", notes={"step": str(step), "val_psnr": f"{val_psnr:.3f}"})
            emit("val", {"step": step, "psnr": val_psnr, "best": best, "elapsed": time.time() - t_start})
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save_checkpoint()
        if cfg.stop_at and step >= cfg.stop_at:
            save_checkpoint()
            return {"step": step, "val_psnr": val_psnr, "best_psnr": best, "export": None,
                    "checkpoint": str(ckpt_path), "seconds": time.time() - t_start}
    export = Path(cfg.export) if cfg.export else out / "model.safetensors"
    save_weights(model, export, notes={"step": str(step)})
    save_checkpoint()
    return {"step": step, "val_psnr": val_psnr, "best_psnr": best, "export": str(export),
            "checkpoint": str(ckpt_path), "seconds": time.time() - t_start}
