"""Perceptual full-reference metrics for ``vsr eval --metric``: ColorVideoVDP (``cvvdp``).

ColorVideoVDP (Mantiuk et al., SIGGRAPH 2024; the ``cvvdp`` package, MIT) models human colour and
spatio-temporal vision on a described display and predicts quality in JOD (just-objectionable
differences): 10 = indistinguishable from the reference, and one JOD less = 75% of observers would
pick the reference in a side-by-side comparison. Its calibrated parameters ship inside the package:
nothing is downloaded (only its ML variants, ``cvvdp_ml_*``, fetch weights from the Hugging Face hub;
vsr never uses them). Frames are 8-bit sRGB shown 1:1 on ``standard_fhd``, a 24-inch 1920x1080
monitor of 200 cd/m^2 in an office (250 lux) seen from twice its height (about 39 pixels per degree,
so pixel-level artefacts are visible, as when judging an upscale). A video is scored as a video, at
its frame rate (flicker and temporal artefacts count); one frame is scored as an image.

LPIPS and DISTS are not offered: they need ImageNet-trained network weights, which vsr cannot
download or ship.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from vsr.errors import UsageError

UNITS = {"cvvdp": "JOD"}  # the metrics --metric can add, with their units
ALWAYS_ON = ("psnr", "ssim", "tof", "flicker")  # reported anyway: accepted and ignored by --metric
NOT_OFFLINE = ("lpips", "dists")
CVVDP_DISPLAY = "standard_fhd"
INSTALL_HINT = "pip install 'vsr[cvvdp]'"


def parse_metrics(values: Iterable[str]) -> tuple[str, ...]:
    """The extra metrics asked for by ``--metric`` (repeatable, comma-separated), in order, once each."""
    names: list[str] = []
    for value in values:
        for name in filter(None, (n.strip().lower() for n in value.split(","))):
            if name in NOT_OFFLINE:
                raise UsageError(f"--metric {name}: needs ImageNet-trained weights that vsr cannot download or ship; "
                                 f"use --metric cvvdp")
            if name not in UNITS and name not in ALWAYS_ON:
                raise UsageError(f"--metric {name!r}: unknown; choose from {', '.join(UNITS)} "
                                 f"(PSNR, SSIM and on video tOF/flicker are always reported)")
            if name in UNITS and name not in names:
                names.append(name)
    return tuple(names)


class Cvvdp:
    """ColorVideoVDP on ``standard_fhd``; :meth:`score` gives JOD (10 = identical)."""

    name = "cvvdp"

    def __init__(self, device: str = "cpu") -> None:
        import torch

        pycvvdp = _import_pycvvdp()
        self.version = _version()
        self._torch = torch
        self._metric = pycvvdp.cvvdp(display_name=CVVDP_DISPLAY, device=torch.device(device), quiet=True)

    def describe(self) -> dict[str, str]:
        return {"unit": UNITS[self.name], "display": CVVDP_DISPLAY, "version": self.version}

    def score(self, test: Sequence[np.ndarray], reference: Sequence[np.ndarray], fps: float = 0.0) -> float:
        """JOD of the ``test`` frames against the ``reference`` frames (HxWx3 uint8 sRGB, same shapes): one
        frame is an image, several a video at ``fps``."""
        if len(test) != len(reference) or not test:
            raise ValueError(f"{len(test)} test frames for {len(reference)} reference frames")
        torch = self._torch
        t, r = (torch.from_numpy(np.stack(frames).astype(np.uint8, copy=False)) for frames in (test, reference))
        with torch.no_grad():
            jod, _ = self._metric.predict(t, r, dim_order="FHWC", frames_per_second=float(fps) if len(test) > 1 else 0)
        return float(jod)


def _import_pycvvdp():
    """``import pycvvdp``, without the warning a CUDA build of torch logs on a machine without CUDA when
    pycvvdp imports ``torch.utils.benchmark`` ("No CUDA runtime is found")."""
    quiet = logging.getLogger("torch.utils.cpp_extension")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        import pycvvdp
    except ImportError:
        raise UsageError(f"--metric cvvdp needs ColorVideoVDP: {INSTALL_HINT}") from None
    finally:
        quiet.setLevel(level)
    return pycvvdp


def _version() -> str:
    from importlib.metadata import version

    return version("cvvdp")


def load_metrics(names: Sequence[str], device: str = "auto") -> list[Cvvdp]:
    """The metrics named (from :func:`parse_metrics`), ready to score on ``device``."""
    from vsr.quality.device import pick_device

    return [Cvvdp(str(pick_device(device))) for name in names if name == "cvvdp"]


def score_all(metrics: Sequence[Cvvdp], test: Sequence[np.ndarray], reference: Sequence[np.ndarray],
              fps: float = 0.0) -> dict[str, float]:
    """{name: score} of every metric on one image or clip."""
    return {m.name: m.score(test, reference, fps) for m in metrics}


def mean_scores(items: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over images or clips (each scored by the same metrics)."""
    return {name: float(np.mean([item[name] for item in items])) for name in (items[0] if items else {})}


def rounded(scores: Mapping[str, float]) -> dict[str, float]:
    """Scores as ``--json`` prints them (JOD to 4 decimals)."""
    return {name: round(value, 4) for name, value in scores.items()}


def describe_all(metrics: Sequence[Cvvdp]) -> dict[str, dict[str, str]]:
    """{name: unit, display, version} of the metrics used, for ``--json``."""
    return {m.name: m.describe() for m in metrics}


def table(scores: Mapping[str, float]) -> str:
    """The scores as the eval table shows them, after PSNR/SSIM: ``  cvvdp 9.512 JOD``."""
    return "".join(f"  {name} {value:.3f} {UNITS[name]}" for name, value in scores.items())
