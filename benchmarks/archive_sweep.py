"""How a model's gain depends on how hard the input is compressed: PSNR-Y over a sweep of H.264 CRFs.

"CRF 28" is a different amount of damage on different pictures: on small, textured images (Set14,
BSD68) it costs bicubic 3-4 dB, on large images with flat walls and straight edges (Urban100) about
0.7 dB. A gain measured at one CRF on one set says little about another set; the sweep shows the whole
curve, and the column "bicubic loss" (clean bicubic minus bicubic on the compressed LR) says how hard
each row is, so rows of different sets can be matched by damage rather than by CRF.

LR = MATLAB bicubic, then libx264 at that CRF, 4:2:0, intra (``vsr eval --degrade h264=CRF``); fp32.

    PYTHONPATH=. python benchmarks/archive_sweep.py ../shared/datasets/val/set14 --scale 2 \\
        --crf 16,20,24,28 --base edsr-baseline --model edsr-baseline-archive
"""

from __future__ import annotations

import argparse
import json

from vsr.quality.eval import evaluate


def sweep(hr_dir: str, scale: int, crfs: list[int], models: list[str]) -> list[dict]:
    """One row per LR condition (clean, then each CRF): mean PSNR-Y of bicubic and of each model."""
    rows = []
    for crf in [None, *crfs]:
        degrade = None if crf is None else f"h264={crf}"
        row: dict = {"lr": "clean" if crf is None else f"CRF {crf}"}
        for name in ["bicubic", *models]:
            row[name] = evaluate(hr_dir, scale, name, degrade=degrade, precision="fp32").psnr_y
        rows.append(row)
    return rows


def markdown(rows: list[dict], base: str, model: str) -> str:
    clean_bicubic = rows[0]["bicubic"]
    lines = [f"| LR | bicubic | bicubic loss | {base} | {model} | gain |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['lr']} | {r['bicubic']:.2f} | {clean_bicubic - r['bicubic']:.2f} | {r[base]:.2f} "
                     f"| **{r[model]:.2f}** | {r[model] - r[base]:+.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("hr_dir")
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("--crf", default="16,20,24,28", help="comma-separated CRFs")
    ap.add_argument("--base", default="edsr-baseline", help="the model the gain is measured against")
    ap.add_argument("--model", default="edsr-baseline-archive")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = ap.parse_args()
    rows = sweep(args.hr_dir, args.scale, [int(c) for c in args.crf.split(",")], [args.base, args.model])
    print(json.dumps(rows, indent=1) if args.json else markdown(rows, args.base, args.model))


if __name__ == "__main__":
    main()
