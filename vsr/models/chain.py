"""Chains of models, ``--model A+B[+C...]``: links run back to back on the device as one network.

Each link is anything ``--model`` accepts (a shipped or downloaded name, a checkpoint, an ONNX graph);
a typical chain is a 1x restoration model before an upscaler (``1x_deblock.pth+2x_model.safetensors``).
The chain is one ``nn.Module`` whose scale is the product of its links', so every backend runs it
as it runs a single network: no YUV round trip between links, and a tile goes through every link
before it is stitched (the plan widens the tile overlap to cover each link, ``chain_overlap``).
Each link pads its input to its own size multiple and crops its output (``pad_run``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from vsr.errors import UnsupportedModelError, UsageError
from vsr.models.foreign import ForeignNet, pad_run
from vsr.models.loaded import ALL_PRECISIONS, LOADER_WHY, LoadedModel, ModelFacts

TILING_ORDER = ("supported", "discouraged", "internal")


def split_chain(text: str) -> list[str]:
    """The links of ``A+B+C`` (spaces around '+' allowed); a UsageError for an empty link."""
    links = [part.strip() for part in text.split("+")]
    if len(links) < 2 or not all(links):
        raise UsageError(f"--model {text!r}: a chain is two or more models joined by '+' (e.g. 1x_deblock.pth+edsr-baseline)")
    return links


class Chain(nn.Module):
    """Links run in order; ``scale`` is the product of theirs."""

    def __init__(self, links: Sequence[LoadedModel]) -> None:
        super().__init__()
        self.links = nn.ModuleList([link.module for link in links])
        self._multiples = [1 if isinstance(link.module, ForeignNet) else link.size_multiple for link in links]
        self._scales = [link.scale for link in links]
        self.scale = math.prod(self._scales)
        self.arch = "+".join(link.arch for link in links)
        self.size_multiple = chain_multiple([(link.size_multiple, link.scale) for link in links])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for link, multiple, scale in zip(self.links, self._multiples, self._scales):
            x = pad_run(link, x, multiple, scale)
        return x


def chain_multiple(links: Sequence[tuple[int, int]]) -> int:
    """A size multiple for the chain's input (tile steps aligned for every link): ``(multiple, scale)`` per link."""
    multiple, before = 1, 1
    for m, s in links:
        needed = -(-m // before)  # link m at its input = m / (scale so far) at the chain's input
        multiple = multiple * needed // math.gcd(multiple, needed)
        before *= s
    return multiple


def chain_overlap(overlap: int, scales: Sequence[int]) -> int:
    """Tile overlap (chain input pixels) that gives every link ``overlap`` pixels of its own input."""
    total, before = 0, 1
    for s in scales:
        total += -(-overlap // before)
        before *= s
    return total


def chain_facts(links: Sequence[ModelFacts], source: str | None = None) -> ModelFacts:
    """The facts of a chain of links (checks that each link can take what the one before gives)."""
    for i, (a, b) in enumerate(zip(links, links[1:]), start=1):
        if not _rgb(a, b):
            raise UnsupportedModelError(
                f"chain link {i} ({a.arch}) gives {a.out_channels} channel(s) but link {i + 1} ({b.arch}) takes "
                f"{b.in_channels}: chain models that work on RGB frames")
    precisions = tuple(p for p in ALL_PRECISIONS if all(p in link.precisions for link in links)) or ("fp32",)
    scale = math.prod(link.scale for link in links)
    return ModelFacts(
        arch="+".join(link.arch for link in links), scale=scale, loader="chain",
        why=f"{len(links)} links: {LOADER_WHY['chain']}",
        size_multiple=chain_multiple([(link.size_multiple, link.scale) for link in links]),
        precisions=precisions,
        tiling=max((link.tiling for link in links), key=lambda t: TILING_ORDER.index(t) if t in TILING_ORDER else 0),
        purpose="SR" if scale > 1 else "Restoration", params=sum(link.params for link in links),
        links=tuple(links), source=source,
    )


def _rgb(a: ModelFacts, b: ModelFacts) -> bool:
    """Links meet in RGB: wrapped networks (spandrel, ONNX) always do; vsr's own must have 3 channels."""
    gives = 3 if a.loader in ("spandrel", "onnxruntime") else a.out_channels
    takes = 3 if b.loader in ("spandrel", "onnxruntime") else b.in_channels
    return gives == takes == 3


def load_chain(text: str, *, arch: str | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    """Every link of ``A+B...`` loaded (``arch`` is refused: it cannot say which link it is for)."""
    from vsr.models.loader import load_model

    if arch is not None:
        raise UsageError("--arch names one architecture; it cannot be used with a chain of models (A+B)")
    loaded = [load_model(link, device=device) for link in split_chain(text)]
    facts = chain_facts([link.describe() for link in loaded], source=text)
    net = Chain(loaded).eval()
    return LoadedModel(net, net.arch, net.scale, net.size_multiple, 3, {}, text, facts)
