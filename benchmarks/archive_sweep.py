"""How a model's gain depends on how hard the input is compressed: PSNR-Y over a sweep of H.264 CRFs.

"CRF 28" is a different amount of damage on different pictures: on small, textured images (Set14,
BSD68) it costs bicubic 3-4 dB, on large images with flat walls and straight edges (Urban100) about
0.7 dB. A gain measured at one CRF on one set says little about another set; the sweep shows the whole
curve, and the column "bicubic loss" (clean bicubic minus bicubic on the compressed LR) says how hard
each row is, so rows of different sets can be matched by damage rather than by CRF.

``--match BICUBIC_LOSS,BASE_LOSS`` estimates the gain on a set you do not have from what compression
costs bicubic and the base model there: it averages the gain over the ``--k`` (image, CRF) pairs of the
given sets whose two losses are nearest (relative distance) to those.

LR = MATLAB bicubic, then libx264 at that CRF, 4:2:0, intra (``vsr eval --degrade h264=CRF``); fp32.

    PYTHONPATH=. python benchmarks/archive_sweep.py ../shared/datasets/val/set14 --scale 2 \\
        --crf 16,20,24,28 --base edsr-baseline --model edsr-baseline-archive
    PYTHONPATH=. python benchmarks/archive_sweep.py ../shared/datasets/val/{set5,set14,bsd68} --scale 2 \\
        --crf 16,20,24,28 --match 0.70,2.94
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vsr.quality.eval import evaluate


def sweep(hr_dirs: list[str], scale: int, crfs: list[int], models: list[str]) -> list[dict]:
    """One record per (set, image, LR condition: clean, then each CRF): PSNR-Y of bicubic and each model."""
    records = []
    for hr_dir in hr_dirs:
        for crf in [None, *crfs]:
            degrade = None if crf is None else f"h264={crf}"
            per_model = {name: evaluate(hr_dir, scale, name, degrade=degrade, precision="fp32").images
                         for name in ["bicubic", *models]}
            for i, image in enumerate(per_model["bicubic"]):
                rec = {"set": Path(hr_dir).name, "image": image.name, "lr": "clean" if crf is None else f"CRF {crf}"}
                records.append(rec | {name: images[i].psnr_y for name, images in per_model.items()})
    return records


def mean_rows(records: list[dict], hr_set: str, names: list[str]) -> list[dict]:
    """The set's mean PSNR-Y per LR condition, in sweep order."""
    conditions = list(dict.fromkeys(r["lr"] for r in records if r["set"] == hr_set))
    return [{"lr": c} | {n: float(np.mean([r[n] for r in records if r["set"] == hr_set and r["lr"] == c]))
                         for n in names} for c in conditions]


def markdown(rows: list[dict], base: str, model: str) -> str:
    clean_bicubic = rows[0]["bicubic"]
    lines = [f"| LR | bicubic | bicubic loss | {base} | {model} | gain |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['lr']} | {r['bicubic']:.2f} | {clean_bicubic - r['bicubic']:.2f} | {r[base]:.2f} "
                     f"| **{r[model]:.2f}** | {r[model] - r[base]:+.2f} |")
    return "\n".join(lines)


def matched_gain(records: list[dict], base: str, model: str, bicubic_loss: float, base_loss: float,
                 k: int) -> dict:
    """Mean gain of ``model`` over ``base`` on the ``k`` compressed (image, CRF) pairs whose losses
    (clean minus compressed PSNR-Y, for bicubic and for ``base``) are nearest to the given ones."""
    clean = {(r["set"], r["image"]): r for r in records if r["lr"] == "clean"}
    pairs = []
    for r in records:
        if r["lr"] == "clean":
            continue
        c = clean[(r["set"], r["image"])]
        losses = (c["bicubic"] - r["bicubic"], c[base] - r[base])
        distance = np.hypot((losses[0] - bicubic_loss) / bicubic_loss, (losses[1] - base_loss) / base_loss)
        pairs.append((distance, losses, r[model] - r[base], f"{r['set']}/{r['image']} {r['lr']}"))
    nearest = sorted(pairs, key=lambda p: p[0])[:k]
    return {"pairs": len(nearest), "of": len(pairs),
            "bicubic_loss": float(np.mean([p[1][0] for p in nearest])),
            "base_loss": float(np.mean([p[1][1] for p in nearest])),
            "gain": float(np.mean([p[2] for p in nearest])), "median_gain": float(np.median([p[2] for p in nearest])),
            "nearest": [p[3] for p in nearest]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("hr_dirs", nargs="+")
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("--crf", default="16,20,24,28", help="comma-separated CRFs")
    ap.add_argument("--base", default="edsr-baseline", help="the model the gain is measured against")
    ap.add_argument("--model", default="edsr-baseline-archive")
    ap.add_argument("--match", metavar="BICUBIC_LOSS,BASE_LOSS",
                    help="estimate the gain where compression costs bicubic and the base model these dB")
    ap.add_argument("--k", type=int, default=20, help="--match: how many nearest (image, CRF) pairs to average")
    ap.add_argument("--json", action="store_true", help="print the per-image records as JSON instead")
    args = ap.parse_args()
    names = ["bicubic", args.base, args.model]
    records = sweep(args.hr_dirs, args.scale, [int(c) for c in args.crf.split(",")], names[1:])
    if args.json:
        print(json.dumps(records, indent=1))
        return
    for hr_set in dict.fromkeys(r["set"] for r in records):
        print(f"{hr_set} x{args.scale}\n\n{markdown(mean_rows(records, hr_set, names), args.base, args.model)}\n")
    if args.match:
        bicubic_loss, base_loss = (float(v) for v in args.match.split(","))
        m = matched_gain(records, args.base, args.model, bicubic_loss, base_loss, args.k)
        print(f"matched damage (bicubic loss {bicubic_loss}, {args.base} loss {base_loss}): the {m['pairs']} nearest of "
              f"{m['of']} (image, CRF) pairs lose {m['bicubic_loss']:.2f} / {m['base_loss']:.2f} dB; "
              f"{args.model} gains {m['gain']:+.2f} dB over {args.base} there (median {m['median_gain']:+.2f})")


if __name__ == "__main__":
    main()
