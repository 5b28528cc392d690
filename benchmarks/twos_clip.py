"""Write an animation-like test clip drawn on twos (each drawing held for two frames).

Flat-coloured shapes with dark outlines move over a flat background, like cel animation; H.264
(libx264, crf 18) as a user's file would be. Used to measure what ``--skip-duplicates`` saves:

    python benchmarks/twos_clip.py /tmp/twos.mp4 --size 640x360 --frames 24
    vsr upscale /tmp/twos.mp4 --scale 2 --json                        # reuses every second frame
    vsr upscale /tmp/twos.mp4 --scale 2 --json --no-skip-duplicates
"""

from __future__ import annotations

import argparse
from fractions import Fraction

import av
import cv2
import numpy as np


def drawing(index: int, width: int, height: int) -> np.ndarray:
    """Drawing number ``index`` as an RGB image."""
    img = np.full((height, width, 3), (235, 220, 180), np.uint8)
    cv2.rectangle(img, (0, int(height * 0.7)), (width, height), (90, 160, 70), -1)
    x = int(width * 0.1 + index * width * 0.03)
    centre = (x, int(height * 0.55))
    cv2.circle(img, centre, height // 8, (220, 60, 50), -1, cv2.LINE_AA)
    cv2.circle(img, centre, height // 8, (20, 20, 20), 3, cv2.LINE_AA)
    top = (int(width * 0.7), int(height * 0.2 + 4 * np.sin(index)))
    cv2.rectangle(img, top, (top[0] + width // 6, top[1] + height // 5), (60, 90, 200), -1)
    cv2.rectangle(img, top, (top[0] + width // 6, top[1] + height // 5), (20, 20, 20), 3)
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--hold", type=int, default=2, help="frames per drawing (2: on twos, 3: on threes)")
    parser.add_argument("--rate", type=int, default=24)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with av.open(args.output, "w") as out:
        stream = out.add_stream("libx264", rate=args.rate, options={"crf": "18", "preset": "medium"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for k in range(args.frames):
            frame = av.VideoFrame.from_ndarray(drawing(k // args.hold, width, height), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = k, Fraction(1, args.rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


if __name__ == "__main__":
    main()
