"""Discriminators for GAN training (``vsr train --gan``); not upscalers: the loader does not detect them.

- ``UNetDiscriminatorSN`` (Real-ESRGAN): a realness logit per pixel, spectral normalisation.
- ``VGGStyleDiscriminator`` (SRGAN / ESRGAN): one logit per image.

Both have ``forward_with_features(x) -> (logits, [intermediate activations])`` for the feature-matching
loss (``vsr.quality.gan``) and ``min_size``, the smallest input side they take.

VGG-style: five stages of conv(3x3) + strided conv(4x4, /2) with BatchNorm and LeakyReLU(0.2), channels
64-128-256-512-512 (``num_features`` x 1, 2, 4, 8, 8), then an adaptive average pool to 4x4 so
patches of any size >= 32 work, and two linear layers (100 hidden, 1 logit). Parameter names follow
BasicSR's ``VGGStyleDiscriminator`` (``conv0_0``, ``conv0_1``, ``bn0_1``, ..., ``linear1``,
``linear2``); at 128x128 input the pool is the identity, so BasicSR weights for 128 load and agree.

U-Net: see ``UNetDiscriminatorSN``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class VGGStyleDiscriminator(nn.Module):
    arch = "vgg_discriminator"
    min_size = 32  # five stride-2 stages

    def __init__(self, *, in_channels: int = 3, num_features: int = 64) -> None:
        super().__init__()
        f = num_features
        widths = [f, 2 * f, 4 * f, 8 * f, 8 * f]
        self.conv0_0 = nn.Conv2d(in_channels, f, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(f, f, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(f)
        prev = f
        for i, w in enumerate(widths[1:], start=1):
            setattr(self, f"conv{i}_0", nn.Conv2d(prev, w, 3, 1, 1, bias=False))
            setattr(self, f"bn{i}_0", nn.BatchNorm2d(w))
            setattr(self, f"conv{i}_1", nn.Conv2d(w, w, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(w))
            prev = w
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.linear1 = nn.Linear(8 * f * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(N, 1) logits and the activations after each of the five stages."""
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        feats = [feat]
        for i in range(1, 5):
            feat = self.lrelu(getattr(self, f"bn{i}_0")(getattr(self, f"conv{i}_0")(feat)))
            feat = self.lrelu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(feat)))
            feats.append(feat)
        out = self.pool(feat).flatten(1)
        return self.linear2(self.lrelu(self.linear1(out))), feats


class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator: a realness logit for every pixel, (N, C, H, W) -> (N, 1, H, W).

    Encoder: a 3x3 conv (``f`` channels), then three 4x4 stride-2 convs (2f, 4f, 8f). Decoder: three
    bilinear x2 upsamplings, each followed by a 3x3 conv (4f, 2f, f) whose output is added to the
    encoder activation of the same size (``skip_connection``). Then two 3x3 convs and a 3x3 conv to one
    channel. LeakyReLU(0.2) after every conv but the last; spectral normalisation
    (``torch.nn.utils.spectral_norm``: one power iteration per forward in training mode) on all but the
    first and the last conv. Per-pixel realness gives the generator a local signal (which texture is
    fake), which a per-image logit does not.

    Parameter names are those of Real-ESRGAN's code (``conv0`` ... ``conv9``, ``weight_orig`` /
    ``weight_u`` / ``weight_v``, old-style ``spectral_norm``). Any input of at least
    ``min_size`` pixels per side: the decoder resizes to its skip's size, which at multiples of 8 is
    exactly Real-ESRGAN's x2.
    """

    arch = "unet_discriminator"
    min_size = 8  # three stride-2 convs down to 1 pixel

    def __init__(self, *, in_channels: int = 3, num_features: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        f = num_features
        self.skip_connection = skip_connection
        self.conv0 = nn.Conv2d(in_channels, f, 3, 1, 1)
        self.conv1 = sn(nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(2 * f, 4 * f, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(4 * f, 8 * f, 4, 2, 1, bias=False))
        self.conv4 = sn(nn.Conv2d(8 * f, 4 * f, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(4 * f, 2 * f, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(2 * f, f, 3, 1, 1, bias=False))
        self.conv7 = sn(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(N, 1, H, W) logits and the activations of conv0 ... conv8 (encoder, decoder, last convs)."""
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        feats, y = [x0, x1, x2, x3], x3
        for conv, skip in ((self.conv4, x2), (self.conv5, x1), (self.conv6, x0)):
            y = act(conv(F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)))
            if self.skip_connection:
                y = y + skip
            feats.append(y)
        y = act(self.conv7(y))
        feats.append(y)
        y = act(self.conv8(y))
        feats.append(y)
        return self.conv9(y), feats
