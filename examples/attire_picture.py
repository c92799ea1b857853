"""Write the README's before/after picture of masked and capped staff: one frame of the synthetic
``hard`` scenario (everyone in caps, staff in masks), anonymized by ``disguisor run`` with the
attire-aware templates; for each staff member, the head crop of the camera that sees the face
best, original above, anonymized below, as examples/pictures/attire_before_after.png.

    .venv/bin/python examples/attire_picture.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
CROP = 160  # output tile size in pixels


def main() -> None:
    out = HERE / "pictures" / "attire_before_after.png"
    with tempfile.TemporaryDirectory() as tmp:
        rec, anon = Path(tmp) / "hard", Path(tmp) / "hard_anonymized"
        run = [sys.executable, "-m", "disguisor", "-q"]
        subprocess.run(run + ["synth", str(rec), "--scenario", "hard", "--frames", "2", "--seed", "0"], check=True)
        subprocess.run(run + ["run", str(rec), "-o", str(anon), "--keypoints", str(rec / "keypoints2d.json"),
                              "--set", "run.template=auto"], check=True)
        ann = json.loads((rec / "annotations.json").read_text())
        roles = {p["id"]: p["role"] for p in ann["info"]["people"]}
        images = {i["id"]: i for i in ann["images"]}
        best: dict[int, dict] = {}
        for a in ann["annotations"]:
            img = images[a["image_id"]]
            if img["frame"] != 0 or roles[a["person_id"]] == "patient":
                continue
            if a["area"] > best.get(a["person_id"], {}).get("area", 0):
                best[a["person_id"]] = a
        columns = []
        for pid in sorted(best):
            a = best[pid]
            img = images[a["image_id"]]
            before = cv2.imread(str(rec / img["file_name"]))
            after = cv2.imread(str(anon / img["camera"] / Path(img["file_name"]).name))
            x, y, w, h = a["bbox"]
            cx, cy, half = x + w / 2, y + h / 2, max(w, h) * 1.1
            x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
            x1, y1 = int(min(cx + half, before.shape[1])), int(min(cy + half, before.shape[0]))
            tiles = [cv2.resize(im[y0:y1, x0:x1], (CROP, CROP), interpolation=cv2.INTER_CUBIC)
                     for im in (before, after)]
            columns.append(np.vstack(tiles))
        sheet = np.hstack(columns) if columns else np.zeros((2 * CROP, CROP, 3), np.uint8)
        out.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(out), sheet)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
