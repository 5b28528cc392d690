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
import copy
import time

import numpy as np
import torch
from torch import nn

from vsr.models.loader import load
from vsr.quality.datasets import list_images, make_lr, mod_crop, read_rgb
from vsr.quality.eval import sr_image
from vsr.quality.metrics import psnr_y
from vsr.quality.tail_fit import TailFit, folded_target, upsampler_inputs
from vsr.quality.video_data import pictures


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
    conv = nn.Conv2d(net.tail[1].in_channels, 3 * s * s, 3, padding=1)
    fit = TailFit(conv.in_channels, conv.out_channels)
    rng = np.random.default_rng(0)
    started = time.time()
    with torch.inference_mode():
        with upsampler_inputs(net) as features:
            for path in list_images(args.fit)[: args.fit_images]:
                hr = mod_crop(read_rgb(path), s)
                y, x = (int(rng.integers(0, max(1, n - args.crop))) for n in hr.shape[:2])
                hr = hr[y : y + args.crop, x : x + args.crop]
                features.clear()
                net(pictures(make_lr(hr, s)[None]))
                fit.add(features[0], folded_target(pictures(hr[None]), net, s))
        weight, bias = fit.solve()
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        direct = copy.deepcopy(net)
        direct.tail = nn.Sequential(conv, nn.PixelShuffle(s))  # EDSR's forward adds the mean back after it
        print(f"fitted on {fit.samples} output blocks of {args.fit_images} crops in {time.time() - started:.0f}s")
        for folder in args.val.split(","):
            scores = {"EDSR upsampler": [], "direct (fitted, no training)": []}
            for path in list_images(folder):
                hr = mod_crop(read_rgb(path), s)
                lr = make_lr(hr, s)
                for (name, cell), model in zip(scores.items(), (net, direct)):
                    cell.append(psnr_y(sr_image(model, lr, torch.device("cpu")), hr, shave=s))
            print(f"{folder}: " + ", ".join(f"{name} {np.mean(v):.2f} dB" for name, v in scores.items()))
        cl = torch.channels_last
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.rand(1, 3, 144, 180, dtype=dtype).contiguous(memory_format=cl)
            for name, model in (("EDSR upsampler", net), ("direct", direct)):
                model = model.to(dtype).to(memory_format=cl)
                model(x)
                t0 = time.perf_counter()
                for _ in range(5):
                    model(x)
                print(f"{name}: {(time.perf_counter() - t0) / 5 * 1000:.0f} ms per 180x144 LR picture "
                      f"({str(dtype)[6:]}, channels-last, {args.threads} threads)")


if __name__ == "__main__":
    main()
