"""Why ground-truth face boxes of a run were not matched (IoU 0.4): one line per missed box.

For every ground-truth face box of a synthetic recording that no prediction of the run matched,
prints the frame, camera, person, visible fraction and box, and the prediction that overlaps it
most (IoU, its source and person, whether it matched another face) and sorts each miss into one
kind:

- ``none``: no prediction overlaps the box;
- ``taken``: the best-overlapping prediction (IoU >= 0.4) matched another ground-truth box;
- ``larger``: the best prediction overlaps but is more than twice the box's area (a full face
  predicted where a sliver is visible, or a sphere / head disk);
- ``smaller``: it overlaps and has less than half the box's area;
- ``shifted``: similar size, IoU below 0.4.

Usage::

    python benchmarks/diagnose_boxes.py RECORDING RUN_OUT [RECORDING RUN_OUT ...] [--summary]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disguisor.boxes import box_iou  # noqa: E402
from disguisor.evaluate.metrics import match_boxes  # noqa: E402


def misses(recording: Path, out: Path, unmatched: list[dict] | None = None) -> list[dict]:
    """The missed ground-truth boxes of one run (dicts, see the module's doc); the predictions
    no ground-truth box matched are appended to ``unmatched`` when given."""
    gt = json.loads((recording / "annotations.json").read_text())
    images = {im["id"]: im for im in gt["images"]}
    key = {(im["camera"], im["frame"]): im["id"] for im in gt["images"]}
    preds: dict[int, list[dict]] = {}
    for d in json.loads((out / "detections.json").read_text()):
        image = key.get((d["camera"], d["frame"]))
        if image is not None:
            preds.setdefault(image, []).append(d)
    by_image: dict[int, list[dict]] = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    rows = []
    for image, anns in sorted(by_image.items()):
        g = np.array([a["bbox"] for a in anns], float).reshape(-1, 4)
        p_list = preds.get(image, [])
        p = np.array([d["bbox"] for d in p_list], float).reshape(-1, 4)
        pairs = match_boxes(g, p)
        matched_gt = {r for r, _, _ in pairs}
        matched_pred = {c: r for r, c, _ in pairs}
        ious = box_iou(g, p) if len(p) else np.zeros((len(g), 0))
        for j, d in enumerate(p_list):
            if unmatched is not None and j not in matched_pred:
                best = float(ious[:, j].max()) if len(g) else 0.0
                unmatched.append({"frame": d["frame"], "camera": d["camera"], "source": d["source"],
                                  "person": d.get("person_id"), "box": [round(v) for v in d["bbox"]],
                                  "best_iou": round(best, 3)})
        for i, a in enumerate(anns):
            if i in matched_gt:
                continue
            row = {"frame": images[image]["frame"], "camera": images[image]["camera"],
                   "person": a.get("person_id"), "visible": a.get("visible_fraction"),
                   "box": [int(v) for v in a["bbox"]], "kind": "none"}
            if ious.shape[1] and ious[i].max() > 0:
                j = int(ious[i].argmax())
                d = p_list[j]
                ratio = (d["bbox"][2] * d["bbox"][3]) / max(a["bbox"][2] * a["bbox"][3], 1)
                row.update(iou=round(float(ious[i, j]), 3), pred=[round(v) for v in d["bbox"]],
                           source=d["source"], pred_person=d.get("person_id"), area_ratio=round(ratio, 2))
                if j in matched_pred:
                    row["kind"] = "taken"
                    row["taken_by"] = anns[matched_pred[j]].get("person_id")
                elif ratio > 2:
                    row["kind"] = "larger"
                elif ratio < 0.5:
                    row["kind"] = "smaller"
                else:
                    row["kind"] = "shifted"
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pairs", nargs="+", type=Path, help="RECORDING RUN_OUT pairs")
    ap.add_argument("--summary", action="store_true", help="only the counts per kind")
    ap.add_argument("--unmatched", action="store_true", help="also list the predictions nothing matched")
    args = ap.parse_args()
    if len(args.pairs) % 2:
        ap.error("give RECORDING RUN_OUT pairs")
    total: Counter = Counter()
    for rec, out in zip(args.pairs[::2], args.pairs[1::2], strict=True):
        for need in (rec / "annotations.json", out / "detections.json"):
            if not need.is_file():
                sys.exit(f"error: {need}: file: not found (give RECORDING RUN_OUT pairs)")
        extra: list[dict] = []
        rows = misses(rec, out, extra)
        kinds = Counter(r["kind"] for r in rows)
        total.update(kinds)
        print(f"{out.name}: {len(rows)} missed boxes {dict(kinds)}; {len(extra)} unmatched predictions "
              f"{dict(Counter(e['source'] for e in extra))}")
        if not args.summary:
            for r in rows:
                print("  " + json.dumps(r))
        if args.unmatched:
            for e in extra:
                print("  unmatched " + json.dumps(e))
    print(f"all: {dict(total)}")


if __name__ == "__main__":
    main()
