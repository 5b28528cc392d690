"""What the default model's pick reads on the held-out LR clips: the codec's mean quantiser and the noise.

The LR clip is made as ``video_eval.py`` makes it (``--degrade`` stages per frame, then ``--codecs``) and read
as ``vsr.io.damage`` reads a file: each frame's quantiser as the decoder reports it (the packets as
``vsr.quality.video_degrade`` encodes them), the noise sigma on every 4th frame's luma (median). The default's
thresholds are read against these numbers (``vsr.models.default_choice``, docs/quality.md "Which temporal model").

    PYTHONPATH=. python benchmarks/lr_damage.py --scale 4 --codecs none,h264=14,h264=25,mpeg2=4,vp9=36
    PYTHONPATH=. python benchmarks/lr_damage.py --scale 4 --degrade noise=3 --codecs none
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_eval import VIDEOS, held_out_clips  # noqa: E402

from vsr.io.damage import NOISE_STRIDE, noise_sigma  # noqa: E402
from vsr.io.quantizer import frame_quantizer_of  # noqa: E402
from vsr.quality.degrade import image_rng  # noqa: E402
from vsr.quality.video_degrade import CODECS, encode_packets, parse_codec, parse_video  # noqa: E402
from vsr.quality.video_eval import make_lr, mod_crop  # noqa: E402


def clip_quantizer(lr: list[np.ndarray], codec: str, value: float) -> float:
    """The mean over the frames that report one (MPEG-2 leaves out a few) of each frame's mean quantiser."""
    decoder = av.CodecContext.create(CODECS[codec][1], "r")
    decoder.options = {"export_side_data": "venc_params"}
    values = [q[1] for packet in [*encode_packets(lr, codec, value), None] for frame in decoder.decode(packet)
              if (q := frame_quantizer_of(frame))]
    return float(np.mean(values))


def clip_noise(lr: list[np.ndarray]) -> float:
    """The median noise sigma of every ``NOISE_STRIDE``-th frame's luma (BT.601, as a decoder's grey picture)."""
    luma = [np.clip(f.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5, 0, 255).astype(np.uint8)
            for f in lr[::NOISE_STRIDE]]
    return float(np.median([noise_sigma(y) for y in luma]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--gt-downscale", type=int, default=2)
    ap.add_argument("--degrade", default=None, help="every LR frame first, as video_eval.py --degrade (e.g. noise=3)")
    ap.add_argument("--codecs", default="none,h264=14,h264=25,mpeg2=4", help="comma-separated: none or a --codec spec")
    args = ap.parse_args()
    clips = held_out_clips(args.videos, args.max_frames, args.gt_downscale)
    stages = parse_video(args.degrade, None)
    lrs = []
    for clip in clips:
        lr = [make_lr(mod_crop(f, args.scale), args.scale) for f in clip.frames]
        lrs.append(lr if stages.is_clean else stages(lr, image_rng(0, clip.name))[0])
    names = " | ".join(clip.name for clip in clips)
    print(f"| x{args.scale} {args.degrade or ''} | quantiser: {names} | noise sigma: {names} |\n|---|---|---|")
    for spec in args.codecs.split(","):
        if spec == "none":
            quantisers, noisy = ["-"] * len(lrs), lrs
        else:
            (codec,) = parse_codec(spec)
            quantisers = [f"{clip_quantizer(lr, codec.name, codec.low):.1f}" for lr in lrs]
            noisy = [parse_video(None, spec)(lr, image_rng(0, clip.name))[0] for lr, clip in zip(lrs, clips)]
        noise = " / ".join(f"{clip_noise(lr):.2f}" for lr in noisy)
        print(f"| {spec} | {' / '.join(quantisers)} | {noise} |", flush=True)


if __name__ == "__main__":
    main()
