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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_eval import VIDEOS, held_out_clips  # noqa: E402

from vsr.io.damage import NOISE_STRIDE, noise_sigma  # noqa: E402
from vsr.io.quantizer import frame_quantizer_of  # noqa: E402
from vsr.models.motion import grey  # noqa: E402
from vsr.quality.video_degrade import decode_packets, encode_packets, parse_codec, parse_video  # noqa: E402
from vsr.quality.video_eval import protocol_pair  # noqa: E402


def clip_quantizer(lr: list[np.ndarray], codec: str, value: float) -> float:
    """The mean over the frames that report one (MPEG-2 leaves out a few) of each frame's mean quantiser."""
    frames = decode_packets(encode_packets(lr, codec, value), codec, {"export_side_data": "venc_params"})
    return float(np.mean([q[1] for f in frames if (q := frame_quantizer_of(f))]))


def clip_noise(lr: list[np.ndarray]) -> float:
    """The median noise sigma of every ``NOISE_STRIDE``-th frame's luma (BT.601, as a decoder's grey picture)."""
    return float(np.median([noise_sigma(grey(f)) for f in lr[::NOISE_STRIDE]]))


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
    names = " | ".join(clip.name for clip in clips)
    print(f"| x{args.scale} {args.degrade or ''} | quantiser: {names} | noise sigma: {names} |\n|---|---|---|")
    for spec in args.codecs.split(","):
        codec = None if spec == "none" else spec
        # the LR as video_eval.py makes it (seed 0): before the codec, and through it
        before = [protocol_pair(clip, args.scale, parse_video(args.degrade, None), 0)[1] for clip in clips]
        after = [protocol_pair(clip, args.scale, parse_video(args.degrade, codec), 0)[1] for clip in clips]
        quantisers = ["-"] * len(clips)
        if codec:
            (alt,) = parse_codec(codec)
            quantisers = [f"{clip_quantizer(lr, alt.name, alt.low):.1f}" for lr in before]
        noise = " / ".join(f"{clip_noise(lr):.2f}" for lr in after)
        print(f"| {spec} | {' / '.join(quantisers)} | {noise} |", flush=True)

if __name__ == "__main__":
    main()
