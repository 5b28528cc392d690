"""The GAN stage of ``vsr train --gan``: discriminator, losses, EMA of the generator.

Generator loss = ``pixel`` x L1(SR, HR) + perceptual + ``adv`` x BCE(D(SR), real), where the perceptual
term is

- discriminator feature matching (pix2pixHD): ``fm`` x the L1 distance between D's activations for SR
  and for HR, averaged over D's layers. It needs no ImageNet weights: the default;
- the VGG19 content loss of SRGAN, ``content`` x MSE(VGG(SR), VGG(HR)), with ``--vgg-weights``.

Discriminator loss = BCE(D(HR), real) + BCE(D(SR), fake): the vanilla GAN loss, per pixel with the
U-Net discriminator (Real-ESRGAN pairs the two; ESRGAN's relativistic average loss compares each
logit with the mean logit of the other batch, which for a per-pixel map mixes flat and textured
regions and loses the locality the U-Net is there for).

The exported generator is an exponential moving average of the trained one (Real-ESRGAN: decay
0.999), which smooths the step-to-step jitter of adversarial training.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from vsr.errors import UsageError

if TYPE_CHECKING:
    from vsr.quality.train import TrainConfig

DISCRIMINATORS = ("unet", "vgg")


@dataclass(frozen=True)
class LossWeights:
    pixel: float
    content: float  # VGG19 content loss (0 without --vgg-weights)
    fm: float  # discriminator feature matching
    adv: float


def loss_weights(cfg: TrainConfig) -> LossWeights:
    """The weights of the generator's loss terms; an option left at None takes its recipe's default.

    Without ``--vgg-weights`` (Real-ESRGAN's weights): pixel 1, feature matching 1, adversarial 0.1.
    Feature matching takes the weight of the VGG perceptual loss it replaces (both are L1 distances
    between a network's activations, averaged over layers), 10x the adversarial weight as in
    Real-ESRGAN (and pix2pixHD, which weighs feature matching 10x its GAN loss).
    With ``--vgg-weights`` (SRGAN, as before): pixel 0.01, VGG content 0.006, adversarial 0.001, no
    feature matching.
    """
    srgan = bool(cfg.vgg_weights)
    pick = lambda value, default: default if value is None else float(value)  # noqa: E731
    return LossWeights(pixel=pick(cfg.pixel_weight, 1e-2 if srgan else 1.0),
                       content=cfg.content_weight if srgan else 0.0,
                       fm=pick(cfg.fm_weight, 0.0 if srgan else 1.0),
                       adv=pick(cfg.adv_weight, 1e-3 if srgan else 0.1))


GAN_OPTIONS = ("discriminator", "d_features", "vgg_weights", "vgg_layer", "pixel_weight", "content_weight",
               "fm_weight", "adv_weight", "d_lr", "ema_decay")


def refuse_gan_options(cfg: TrainConfig) -> None:
    """A GAN option set on a run without ``gan`` would be ignored: say so instead."""
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    given = [k for k in GAN_OPTIONS if getattr(cfg, k) != defaults[k]]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} is an option of the GAN stage: add --gan")


def build_discriminator(kind: str, num_features: int = 64) -> nn.Module:
    from vsr.models.discriminator import UNetDiscriminatorSN, VGGStyleDiscriminator

    if kind == "unet":
        return UNetDiscriminatorSN(num_features=num_features)
    if kind == "vgg":
        return VGGStyleDiscriminator(num_features=num_features)
    raise UsageError(f"unknown discriminator {kind!r}: use {' or '.join(DISCRIMINATORS)}")


def feature_matching_loss(fake: Sequence[torch.Tensor], real: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of L1(fake activation, real activation); the real ones are targets (no gradient)."""
    if not fake:
        raise ValueError("feature matching needs at least one layer's activations")
    return torch.stack([F.l1_loss(f.float(), r.detach().float()) for f, r in zip(fake, real, strict=True)]).mean()


class EMA:
    """Exponential moving average of a model's parameters; buffers (BatchNorm statistics, constants)
    are copied as they are. ``model`` is the averaged copy, in eval mode."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise UsageError(f"--ema-decay must be in (0, 1) (0 turns the average off); got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for avg, p in zip(self.model.parameters(), model.parameters(), strict=True):
            avg.lerp_(p.detach(), 1.0 - self.decay)
        for avg, b in zip(self.model.buffers(), model.buffers(), strict=True):
            avg.copy_(b)


class GanStage:
    """Discriminator, its optimiser and schedule, the perceptual loss and the generator's EMA; one step
    updates the generator, then the discriminator, then the EMA."""

    def __init__(self, cfg: TrainConfig, generator: nn.Module, device: torch.device,
                 schedule: Callable[[int], float]) -> None:
        from vsr.quality.losses import ContentLoss, load_vgg

        self.weights = loss_weights(cfg)
        self.disc = build_discriminator(cfg.discriminator, cfg.d_features).to(device)
        hr_side = cfg.patch * cfg.scale
        if hr_side < self.disc.min_size:
            raise UsageError(f"--discriminator {cfg.discriminator} needs HR patches of at least {self.disc.min_size} px "
                             f"(--patch {cfg.patch} x --scale {cfg.scale} = {hr_side}): raise --patch")
        if cfg.channels_last:
            self.disc.to(memory_format=torch.channels_last)
        self.content = ContentLoss(load_vgg(cfg.vgg_weights, cfg.vgg_layer)).to(device) if cfg.vgg_weights else None
        self.d_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr or cfg.lr, betas=cfg.betas)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.d_opt, schedule)
        self.ema = EMA(generator, cfg.ema_decay) if cfg.ema_decay else None
        self.generator, self.device = generator, device
        self.bce = nn.BCEWithLogitsLoss()

    @property
    def export_model(self) -> nn.Module:
        """The generator to validate and export: the EMA when there is one."""
        return self.ema.model if self.ema is not None else self.generator

    def step(self, sr: torch.Tensor, hr: torch.Tensor, pixel: nn.Module, g_opt: torch.optim.Optimizer,
             scaler: torch.amp.GradScaler, amp_dtype: torch.dtype | None) -> dict[str, float]:
        """One generator and one discriminator update. Returns the generator's weighted terms (``pixel``,
        ``perceptual``, ``adv``), their sum ``loss``, and the discriminator's loss ``d``."""
        w, disc = self.weights, self.disc
        ac = dict(device_type=self.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)
        # HR through D once: its activations are the feature-matching targets, its logits the real half of D's loss
        disc.requires_grad_(True)
        with torch.autocast(**ac):
            real_logit, real_feats = disc.forward_with_features(hr)
        # generator (D frozen: no gradient for its weights here)
        disc.requires_grad_(False)
        with torch.autocast(**ac):
            fake_logit, fake_feats = disc.forward_with_features(sr)
            content = self.content(sr, hr).float() if self.content is not None else None
        zero = sr.new_zeros(())
        pix = pixel(sr, hr)
        fm = feature_matching_loss(fake_feats, real_feats) if w.fm else zero
        adv = self.bce(fake_logit.float(), torch.ones_like(fake_logit, dtype=torch.float32))
        terms = [w.pixel * pix, w.fm * fm + (w.content * content if content is not None else zero), w.adv * adv]
        g_loss = sum(terms)
        scaler.scale(g_loss).backward()
        scaler.step(g_opt)
        # discriminator: HR -> real, SR -> fake
        disc.requires_grad_(True)
        self.d_opt.zero_grad(set_to_none=True)
        with torch.autocast(**ac):
            fake_logit = disc(sr.detach())
        d_loss = (self.bce(real_logit.float(), torch.ones_like(real_logit, dtype=torch.float32))
                  + self.bce(fake_logit.float(), torch.zeros_like(fake_logit, dtype=torch.float32)))
        scaler.scale(d_loss).backward()
        scaler.step(self.d_opt)
        if self.ema is not None:
            self.ema.update(self.generator)
        values = torch.stack([g_loss, *terms, d_loss]).detach().float().tolist()
        return dict(zip(("loss", "pixel", "perceptual", "adv", "d"), values, strict=True))

    def state_dict(self) -> dict[str, Any]:
        state = {"disc": self.disc.state_dict(), "d_opt": self.d_opt.state_dict(), "sched": self.sched.state_dict()}
        if self.ema is not None:
            state["ema"] = self.ema.model.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], path: object) -> None:
        try:
            self.disc.load_state_dict(state["disc"])
            self.d_opt.load_state_dict(state["d_opt"])
            self.sched.load_state_dict(state["sched"])
            if self.ema is not None:
                self.ema.model.load_state_dict(state["ema"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise UsageError(f"--resume --gan: {path} was written with other GAN options (--discriminator, "
                             "--d-features, --ema-decay): resume with the run's own options (the 'config:' line of "
                             "its train.log)") from exc
