"""What EDSR's upsampler costs and what replacing it with one fitted convolution loses, on still images.

EDSR-baseline's body features are kept; its upsampler (conv + pixel shuffle stages, conv at output size)
is replaced by one 3x3 conv to 3 * scale**2 channels + pixel shuffle, solved by least squares
(``vsr.quality.tail_fit``) against the ground truth of crops of training images. No training. Prints
PSNR-Y (paper protocol: shave = scale) of both on the validation sets, and the network's time per
image on the CPU for both upsamplers.

    PYTHONPATH=. python benchmarks/direct_upsampler.py --scale 4 --weights vsr/weights/edsr_baseline_x4.safetensors
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from vsr.models.loader import load
from vsr.quality.datasets import list_images, make_lr, mod_crop, read_rgb
from vsr.quality.metrics import psnr_y
from vsr.quality.tail_fit import TailFit


def features(net, x: torch.Tensor) -> torch.Tensor:
    """EDSR's body output (the upsampler's input) for N×3×H×W LR pictures in [0, 255]."""
    h = net.head(net.sub_mean(x))
    return h + net.body(h)


def picture(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1)[None]


def to_image(y: torch.Tensor) -> np.ndarray:
    return y[0].permute(1, 2, 0).clamp(0, 255).round().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--weights", default="vsr/weights/edsr_baseline_x4.safetensors")
    ap.add_argument("--fit", default="../shared/datasets/train/sun_hays80", help="images whose crops the fit uses")
    ap.add_argument("--fit-images", type=int, default=30)
    ap.add_argument("--crop", type=int, default=384, help="HR crop side per fit image")
    ap.add_argument("--val", default="../shared/datasets/val/set5,../shared/datasets/val/set14")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    s = args.scale
    net = load(args.weights).eval()
    mean = net.add_mean.bias.view(1, 3, 1, 1)
    fit = TailFit(net.tail[1].in_channels, 3 * s * s)
    rng = np.random.default_rng(0)
    started = time.time()
    with torch.inference_mode():
        for path in list_images(args.fit)[: args.fit_images]:
            hr = mod_crop(read_rgb(path), s)
            y, x = (int(rng.integers(0, max(1, n - args.crop))) for n in hr.shape[:2])
            hr = hr[y : y + args.crop, x : x + args.crop]
            target = F.pixel_unshuffle(torch.from_numpy(hr.astype(np.float32)).permute(2, 0, 1)[None] - mean, s)
            fit.add(features(net, picture(make_lr(hr, s))), target)
        weight, bias = fit.solve()
        print(f"fitted on {fit.samples} output blocks of {args.fit_images} crops in {time.time() - started:.0f}s")
        for folder in args.val.split(","):
            full, direct = [], []
            for path in list_images(folder):
                hr = mod_crop(read_rgb(path), s)
                lr = make_lr(hr, s)
                full.append(psnr_y(to_image(net(picture(lr) / 255) * 255), hr, shave=s))
                folded = F.conv2d(features(net, picture(lr)), weight, bias, padding=1)
                direct.append(psnr_y(to_image(F.pixel_shuffle(folded, s) + mean), hr, shave=s))
            print(f"{folder}: EDSR upsampler {np.mean(full):.2f} dB, direct (fitted, no training) {np.mean(direct):.2f} dB")
        cl = torch.channels_last
        for dtype in (torch.float32, torch.bfloat16):
            net = net.to(dtype).to(memory_format=cl)
            w, b = weight.to(dtype).contiguous(memory_format=cl), bias.to(dtype)
            x = torch.rand(1, 3, 144, 180, dtype=dtype).contiguous(memory_format=cl)
            for name, run in (("EDSR upsampler", lambda: net(x)),
                              ("direct", lambda: F.pixel_shuffle(F.conv2d(features(net, x * 255), w, b, padding=1), s))):
                run()
                t0 = time.perf_counter()
                for _ in range(5):
                    run()
                print(f"{name}: {(time.perf_counter() - t0) / 5 * 1000:.0f} ms per 180x144 LR picture "
                      f"({str(dtype)[6:]}, channels-last, {args.threads} threads)")

if __name__ == "__main__":
    main()
