"""Archive-like degradations of LR images, seeded and reproducible (the one place they live).

What real footage does to a model's input: blur (optics, VHS bandwidth, deinterlacing), a resize with
an unknown kernel, sensor and tape noise, and lossy compression by real codecs. Real-ESRGAN (Wang et
al. 2021) draws blur -> resize -> noise -> JPEG at random, optionally twice ("second order");
RealBasicVSR and VCISR add real video codecs. Here a :class:`Degradation` is a list of stages parsed
from a spec string; each stage picks one of its alternatives, each alternative applies with its
probability and draws its strength uniformly from its range, all from the ``numpy`` generator the
caller passes, so ``seed -> image`` is deterministic (codecs run single-threaded).

Spec grammar (comma-separated stages; ``|`` separates alternatives picked uniformly; ``@p`` is the
probability that an operation applies; ``lo:hi`` or a single value)::

    blur=0.2:2.0,noise=0:8,h264=20:32          # every stage always
    blur=0.3:1.5@0.3,h264=18:35|mpeg2=2:12|none # a codec one time in two, or nothing
    archive                                     # a named preset (see PRESETS)

Operations (on HxWx3 uint8 RGB, size kept):

- ``blur=SIGMA``: Gaussian blur, isotropic, anisotropic (rotated, two sigmas) or a generalised
  Gaussian (shape beta in [0.5, 4]), sigma in LR pixels;
- ``resize=F``: down by F (< 1) with a random kernel (area/bilinear/bicubic), back up with another;
- ``noise=SIGMA``: Gaussian noise (sigma on 0..255), in colour or, 40% of the time, luma-only;
- ``poisson=S``: Poisson (shot) noise scaled by S, colour or luma-only, as Real-ESRGAN's;
- ``jpeg=Q``: JPEG quality Q (OpenCV, 4:2:0);
- ``h264=CRF`` / ``h264p=CRF``: libx264 4:2:0 at that CRF, as an intra frame / as a P-frame that
  follows a slightly shifted copy of the picture;
- ``mpeg2=Q`` / ``mpeg2p=Q``: mpeg2video (DVD, broadcast) at quantiser Q (2..31), intra / P-frame;
- ``none``: nothing (an alternative that leaves the picture clean);
- ``order2=P``: with probability P run all stages a second time (Real-ESRGAN's second order).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from vsr.errors import UsageError

PRESETS: dict[str, str] = {
    "clean": "",
    # Tape/TV/DVD/web video: mild blur and noise at times, then H.264 (twice as likely: the most common
    # codec of old web video and camcorders), MPEG-2 (DVD, broadcast) or JPEG (MJPEG/DV-like), or none.
    "archive": "blur=0.3:1.5@0.3,noise=1:5@0.3,"
               "h264=18:35|h264p=18:33|h264=20:32|mpeg2=2:12|jpeg=30:90|none",
    "heavy": "blur=0.5:3.0@0.6,resize=0.5:1.0@0.5,noise=2:12@0.5,poisson=0.1:2.0@0.3,"
             "h264=24:40|h264p=24:38|mpeg2=6:24|jpeg=15:60,order2=0.5",
}

Image = np.ndarray
Rng = np.random.Generator


# ------------------------------------------------------------------------------------ operations


def _odd_kernel_size(sigma: float) -> int:
    return int(min(21, max(3, 2 * math.ceil(3 * sigma) + 1)))


def blur_kernel(sigma: float, rng: Rng) -> np.ndarray:
    """A normalised 2-D kernel: isotropic (50%), anisotropic (30%) or generalised (20%) Gaussian."""
    kind = rng.random()
    size = _odd_kernel_size(sigma)
    r = np.arange(size) - size // 2
    xx, yy = np.meshgrid(r, r)
    if kind < 0.5:
        sx = sy = sigma
        theta = 0.0
    else:
        sx, sy = sigma, float(rng.uniform(max(0.1, sigma * 0.3), sigma))
        theta = float(rng.uniform(0, math.pi))
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    q = (u / sx) ** 2 + (v / sy) ** 2
    beta = float(rng.uniform(0.5, 4.0)) if kind >= 0.8 else 1.0
    k = np.exp(-0.5 * q**beta)
    return (k / k.sum()).astype(np.float32)


def blur(img: Image, sigma: float, rng: Rng) -> Image:
    import cv2

    k = blur_kernel(sigma, rng)
    out = cv2.filter2D(img.astype(np.float32), -1, k, borderType=cv2.BORDER_REFLECT_101)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def resize(img: Image, factor: float, rng: Rng) -> Image:
    import cv2

    h, w = img.shape[:2]
    down = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(3))]
    up = (cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(2))]
    small = cv2.resize(img, (max(2, round(w * factor)), max(2, round(h * factor))), interpolation=down)
    return cv2.resize(small, (w, h), interpolation=up)


def _luma_only(rng: Rng) -> bool:
    return bool(rng.random() < 0.4)


def gaussian_noise(img: Image, sigma: float, rng: Rng) -> Image:
    h, w = img.shape[:2]
    shape = (h, w, 1) if _luma_only(rng) else (h, w, 3)
    noise = rng.normal(0.0, sigma, size=shape)
    return np.clip(np.rint(img + noise), 0, 255).astype(np.uint8)


def poisson_noise(img: Image, scale: float, rng: Rng) -> Image:
    """Shot noise: ``(Poisson(x * 256) / 256 - x) * scale`` on x in [0, 1] (Real-ESRGAN's form)."""
    x = img.astype(np.float64) / 255.0
    if _luma_only(rng):
        y = (x @ np.array([0.299, 0.587, 0.114]))[..., None]
        noise = rng.poisson(y * 256.0) / 256.0 - y
    else:
        noise = rng.poisson(x * 256.0) / 256.0 - x
    return np.clip(np.rint((x + noise * scale) * 255.0), 0, 255).astype(np.uint8)


def jpeg(img: Image, quality: float, rng: Rng) -> Image:
    import cv2

    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(round(quality))])
    if not ok:
        raise RuntimeError("OpenCV could not encode JPEG")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def _shifted(img: Image, rng: Rng) -> Image:
    """The picture moved by 1-3 pixels (edges replicated): a previous frame for a P-frame to predict from."""
    dy, dx = (int(rng.integers(-3, 4)) for _ in range(2))
    h, w = img.shape[:2]
    pad = np.pad(img, ((3, 3), (3, 3), (0, 0)), mode="edge")
    return pad[3 + dy : 3 + dy + h, 3 + dx : 3 + dx + w]


def video_codec(img: Image, codec: str, options: dict[str, str], *, predicted: bool, rng: Rng) -> Image:
    """Encode with a real codec (4:2:0, BT.601 limited, as FFmpeg does for RGB input) and decode back.

    ``predicted``: the picture is the second frame of a two-frame clip, coded as a P-frame."""
    import av

    h, w = img.shape[:2]
    even = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    frames = [_shifted(even, rng), even] if predicted else [even]
    enc = av.CodecContext.create(codec, "w")
    enc.width, enc.height = even.shape[1], even.shape[0]
    enc.pix_fmt, enc.time_base, enc.framerate = "yuv420p", Fraction(1, 25), Fraction(25)
    enc.thread_count = 1  # deterministic
    enc.options = {**options, "bf": "0", "g": "250"}
    packets = []
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format="yuv420p", dst_colorspace="ITU601", dst_color_range="MPEG", interpolation="BICUBIC")
        frame.pts = i
        packets += enc.encode(frame)
    packets += enc.encode(None)
    dec = av.CodecContext.create({"libx264": "h264"}.get(codec, codec), "r")
    dec.thread_count = 1
    decoded = [f for p in [*packets, None] for f in dec.decode(p)]
    if len(decoded) != len(frames):
        raise RuntimeError(f"{codec}: {len(frames)} frames in, {len(decoded)} out")
    out = decoded[-1].reformat(format="rgb24", src_colorspace="ITU601", src_color_range="MPEG",
                               interpolation="BICUBIC").to_ndarray()
    return out[:h, :w].copy()  # to_ndarray() views memory PyAV hands to the next reformat


def h264(img: Image, crf: float, rng: Rng, *, predicted: bool = False) -> Image:
    return video_codec(img, "libx264", {"crf": f"{crf:.1f}", "preset": "medium"}, predicted=predicted, rng=rng)


def mpeg2(img: Image, q: float, rng: Rng, *, predicted: bool = False) -> Image:
    q = str(int(round(min(31, max(2, q)))))
    return video_codec(img, "mpeg2video", {"qmin": q, "qmax": q, "b": "50M"}, predicted=predicted, rng=rng)


OPERATIONS: dict[str, Callable[[Image, float, Rng], Image]] = {
    "blur": blur,
    "resize": resize,
    "noise": gaussian_noise,
    "poisson": poisson_noise,
    "jpeg": jpeg,
    "h264": h264,
    "h264p": lambda img, v, rng: h264(img, v, rng, predicted=True),
    "mpeg2": mpeg2,
    "mpeg2p": lambda img, v, rng: mpeg2(img, v, rng, predicted=True),
    "none": lambda img, v, rng: img,
}
RANGES: dict[str, tuple[float, float]] = {  # what each operation accepts
    "blur": (0.05, 8.0), "resize": (0.1, 1.0), "noise": (0.0, 50.0), "poisson": (0.0, 5.0),
    "jpeg": (1.0, 100.0), "h264": (0.0, 51.0), "h264p": (0.0, 51.0), "mpeg2": (2.0, 31.0),
    "mpeg2p": (2.0, 31.0), "none": (0.0, 0.0),
}


# ------------------------------------------------------------------------------------ spec


@dataclass(frozen=True)
class Op:
    name: str
    low: float = 0.0
    high: float = 0.0
    prob: float = 1.0

    def __call__(self, img: Image, rng: Rng) -> Image:
        # draw every random number even when the op is skipped, so later stages see the same stream
        applies = rng.random() < self.prob
        value = float(rng.uniform(self.low, self.high)) if self.high > self.low else self.low
        op_rng = np.random.default_rng(rng.integers(2**63))
        return OPERATIONS[self.name](img, value, op_rng) if applies else img


@dataclass(frozen=True)
class Degradation:
    """Stages of alternative operations, run in order; ``second_order`` = chance of a second pass."""

    stages: tuple[tuple[Op, ...], ...]
    second_order: float = 0.0
    spec: str = ""

    @property
    def is_clean(self) -> bool:
        return not self.stages

    def __call__(self, img: Image, rng: Rng) -> Image:
        out = self._once(img, rng)
        if self.second_order and rng.random() < self.second_order:
            out = self._once(out, rng)
        return out

    def _once(self, img: Image, rng: Rng) -> Image:
        for alternatives in self.stages:
            op = alternatives[int(rng.integers(len(alternatives)))]
            img = op(img, rng)
        return img


def _parse_op(text: str) -> Op:
    name, _, arg = text.strip().partition("=")
    name = name.strip().lower()
    if name not in OPERATIONS:
        raise UsageError(f"unknown degradation {name!r} in --degrade: use {', '.join(OPERATIONS)}, order2 "
                         f"or a preset ({', '.join(PRESETS)})")
    prob = 1.0
    if "@" in arg:
        arg, _, p = arg.partition("@")
        prob = _number(p, text)
        if not 0.0 <= prob <= 1.0:
            raise UsageError(f"--degrade {text!r}: the probability after @ must be in [0, 1]")
    if name == "none":
        return Op("none", prob=prob)
    if not arg:
        raise UsageError(f"--degrade {text!r}: give a value or a range, e.g. {name}={_example(name)}")
    lo, _, hi = arg.partition(":")
    low = _number(lo, text)
    high = _number(hi, text) if hi else low
    rmin, rmax = RANGES[name]
    if not rmin <= low <= high <= rmax:
        raise UsageError(f"--degrade {text!r}: {name} takes values in [{rmin:g}, {rmax:g}], low <= high")
    return Op(name, low, high, prob)


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"--degrade {where!r}: {text!r} is not a number") from None


def _example(name: str) -> str:
    lo, hi = RANGES[name]
    return f"{lo + (hi - lo) * 0.2:g}:{lo + (hi - lo) * 0.6:g}"


def parse(spec: str | None) -> Degradation:
    """A :class:`Degradation` from a spec string or preset name (``None``/empty = clean)."""
    spec = (spec or "").strip()
    text = PRESETS.get(spec.lower(), spec)
    stages: list[tuple[Op, ...]] = []
    second = 0.0
    for item in filter(None, (s.strip() for s in text.split(","))):
        if item.lower().startswith("order2"):
            second = _number(item.partition("=")[2] or "1", item)
            if not 0.0 <= second <= 1.0:
                raise UsageError(f"--degrade {item!r}: order2 is a probability in [0, 1]")
            continue
        stages.append(tuple(_parse_op(alt) for alt in item.split("|")))
    return Degradation(tuple(stages), second, spec)


def image_rng(seed: int, key: str | int) -> Rng:
    """The generator for one image: depends on the seed and the image's own name or index only."""
    import zlib

    k = zlib.crc32(key.encode()) if isinstance(key, str) else int(key)
    return np.random.default_rng([int(seed), k])
