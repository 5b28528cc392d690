"""Average two checkpoints of one network fine-tuned from the same weights ("model soup", Wortsman et al.,
ICML 2022): ``(1 - alpha) * A + alpha * B`` for every tensor, A's metadata plus a note of the recipe.

    python tools/average_weights.py runs/a/model.safetensors runs/b/model.safetensors --alpha 0.5 -o soup.safetensors

Both files must hold the same tensor names and shapes (refused otherwise). Used for `temporal-x2`: the
average of a fine-tune on clean clips and one on compressed clips (vsr/weights/temporal_x2.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def average(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * a + alpha * b``, computed in float32, stored in ``a``'s dtypes."""
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise SystemExit("the two checkpoints are not the same network (tensor names or shapes differ)")
    return {k: ((1 - alpha) * a[k].float() + alpha * b[k].float()).to(a[k].dtype).contiguous() for k in a}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of B (0: A, 1: B)")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    with safe_open(str(args.a), "pt") as f:
        metadata = dict(f.metadata() or {})
    named = [f"{p.parent.name}/{p.name}" for p in (args.a, args.b)]
    metadata["average"] = f"{1 - args.alpha:g} * {named[0]} + {args.alpha:g} * {named[1]}"
    save_file(average(load_file(args.a), load_file(args.b), args.alpha), str(args.output), metadata=metadata)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
