"""The mean quantiser a decoder reports for the held-out LR clips (``video_eval.py``'s) at each codec setting.

What the default model's thresholds are read against (``vsr.models.default_choice``, docs/quality.md "Which
temporal model"): the LR clip is made as ``video_eval.py`` makes it, encoded as ``vsr.quality.video_degrade``
encodes it, and each frame's quantiser read back as ``vsr.io.quantizer`` reads a file's.

    PYTHONPATH=. python benchmarks/lr_quantizer.py --scale 4 --max-frames 40 --codecs h264=14,h264=25,mpeg2=4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_eval import VIDEOS, held_out_clips  # noqa: E402

from vsr.io.quantizer import frame_quantizer  # noqa: E402
from vsr.quality.video_degrade import CODECS, encode_packets, parse_codec  # noqa: E402
from vsr.quality.video_eval import make_lr, mod_crop  # noqa: E402


def clip_quantizer(lr: list[np.ndarray], codec: str, value: float) -> float:
    """The mean over the frames that report one (MPEG-2 leaves out a few) of each frame's mean quantiser."""
    decoder = av.CodecContext.create(CODECS[codec][1], "r")
    decoder.options = {"export_side_data": "venc_params"}
    values = []
    for packet in [*encode_packets(lr, codec, value), None]:
        for frame in decoder.decode(packet):
            params = [bytes(sd) for sd in frame.side_data if sd.type.name == "VIDEO_ENC_PARAMS"]
            if params and (q := frame_quantizer(params[0])):
                values.append(q[1])
    return float(np.mean(values))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--gt-downscale", type=int, default=2)
    ap.add_argument("--codecs", default="h264=14,h264=18,h264=25,mpeg2=4", help="comma-separated --codec specs, one value each")
    args = ap.parse_args()
    clips = held_out_clips(args.videos, args.max_frames, args.gt_downscale)
    lrs = [[make_lr(mod_crop(f, args.scale), args.scale) for f in clip.frames] for clip in clips]
    print(f"| x{args.scale} | {' | '.join(clip.name for clip in clips)} | mean |\n|---|{'---|' * len(clips)}---|")
    for spec in args.codecs.split(","):
        (codec,) = parse_codec(spec)
        values = [clip_quantizer(lr, codec.name, codec.low) for lr in lrs]
        print(f"| {spec} | {' | '.join(f'{v:.1f}' for v in values)} | {np.mean(values):.1f} |", flush=True)


if __name__ == "__main__":
    main()
