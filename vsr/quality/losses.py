"""Training losses: pixel (L1/L2)."""

from __future__ import annotations

import torch
from torch import nn


def pixel_loss(kind: str = "l1") -> nn.Module:
    if kind == "l1":
        return nn.L1Loss()
    if kind in ("l2", "mse"):
        return nn.MSELoss()
    raise ValueError(f"unknown pixel loss {kind!r}: use l1 or l2")


# ------------------------------------------------------------------ VGG19 content loss (SRGAN)

# torchvision's vgg19().features layout: conv indices; ReLU after each conv; max-pools at 4, 9, 18, 27, 36.
VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
VGG19_POOLS = (4, 9, 18, 27, 36)
VGG19_LAYERS = {"relu2_2": 9, "relu3_4": 18, "relu4_4": 27, "relu5_4": 36, "conv5_4": 35}  # slice end
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """torchvision-layout VGG19 ``features[:end]``, channel widths read from the weights, frozen.

    Input RGB in [0, 1]; ImageNet normalisation is applied inside. ``VGG54`` of the SRGAN paper
    (4th conv of the 5th block, after its ReLU, before the 5th pool) is ``layer="relu5_4"``.
    """

    def __init__(self, state_dict: dict[str, torch.Tensor], layer: str = "relu5_4") -> None:
        super().__init__()
        if layer not in VGG19_LAYERS:
            raise ValueError(f"unknown VGG layer {layer!r}: use {', '.join(VGG19_LAYERS)}")
        end = VGG19_LAYERS[layer]
        sd = {k.removeprefix("features."): v for k, v in state_dict.items() if not k.startswith("classifier.")}
        layers: list[nn.Module] = []
        in_ch = 3
        for i in range(end):
            if i in VGG19_CONVS:
                w = sd.get(f"{i}.weight")
                if w is None:
                    raise KeyError(f"VGG weights have no features.{i}.weight (not a torchvision VGG19 layout)")
                conv = nn.Conv2d(in_ch, w.shape[0], 3, padding=1)
                layers.append(conv)
                in_ch = w.shape[0]
            elif i in VGG19_POOLS:
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers.append(nn.ReLU(inplace=False))
        self.features = nn.Sequential(*layers)
        own = self.features.state_dict()
        self.features.load_state_dict({k: sd[k] for k in own})
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad = False
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:  # always frozen
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x - self.mean) / self.std)


class ContentLoss(nn.Module):
    """MSE between VGG features of SR and HR (SRGAN's VGG loss), times ``weight``."""

    def __init__(self, vgg: VGGFeatures) -> None:
        super().__init__()
        self.vgg = vgg

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(self.vgg(sr), self.vgg(hr).detach())


def load_vgg(path: str, layer: str = "relu5_4") -> VGGFeatures:
    from vsr.models.loader import read_state_dict

    return VGGFeatures(read_state_dict(path)[0], layer)
