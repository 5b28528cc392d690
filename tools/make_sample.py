"""Cut, downscale and re-encode the clip shipped as ``vsr sample`` (vsr/samples/bottles.mp4).

    python tools/make_sample.py ../shared/videos/bottle-detection.mp4 -o vsr/samples/bottles.mp4

A few seconds of real camera footage at an archive-like size, so the README's first command
(``vsr sample && vsr upscale sample.mp4 --to 1080p``) finishes in about a minute on a 2-core CPU.
The picture is resized in YUV by swscale (area filter: no ringing, as a low-resolution camera or
a downscaled archive copy would look) and encoded with x264 at a moderate quality; the BT.601
matrix of the SD source is kept and tagged.
"""

from __future__ import annotations

import argparse
from fractions import Fraction

import av


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--start", type=float, default=23.6, help="seconds into the source")
    ap.add_argument("--duration", type=float, default=1.5, help="seconds")
    ap.add_argument("--size", default="320x180", help="WxH")
    ap.add_argument("--crf", type=int, default=24)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with av.open(args.source) as src, av.open(args.output, "w", options={"movflags": "+faststart"}) as out:
        vin = src.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate,
                              options={"crf": str(args.crf), "preset": "veryslow", "tune": "film"})
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        cc = vout.codec_context
        cc.time_base = vout.time_base = vin.time_base
        cc.colorspace = cc.color_primaries = cc.color_trc = 6  # SMPTE 170M (BT.601), as the SD source is played
        cc.color_range = 1
        first = None
        src.seek(int(args.start * av.time_base), backward=True)
        for frame in src.decode(vin):
            t = float(frame.pts * frame.time_base)
            if t < args.start - 1e-6:
                continue
            if t >= args.start + args.duration - 1e-6:
                break
            first = frame.pts if first is None else first
            small = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
            small.pts, small.time_base = frame.pts - first, Fraction(vin.time_base)
            small.colorspace, small.color_range = 6, 1
            for packet in vout.encode(small):
                out.mux(packet)
        for packet in vout.encode(None):
            out.mux(packet)


if __name__ == "__main__":
    main()
