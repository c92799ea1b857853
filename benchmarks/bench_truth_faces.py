"""Upper bound of the render stage: the TRUE face surfaces of synthetic recordings through the
same renderer (visibility, own-head occlusion, reported and painted boxes), evaluated like a run.

What disguisor loses to its 3D estimates is the gap between this and ``bench_run.py`` /
``bench_compare.py`` on the same recordings; what remains here is the render stage's own
disagreement with the ground-truth boxes.

    .venv/bin/python benchmarks/bench_truth_faces.py bench-output/synth_medium_1280x720_20f [...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from disguisor.evaluate.coco import load_ground_truth, predictions_from_json
from disguisor.evaluate.metrics import evaluate
from disguisor.io.recording import open_recording
from disguisor.render.faces import FaceRenderer
from disguisor.synth.truth import true_face_surfaces


def truth_detections(rec_dir: Path) -> list[dict]:
    """detections.json entries of the true faces rendered into every view (method blacken)."""
    rec = open_recording(rec_dir)
    ann = json.loads((rec_dir / "annotations.json").read_text())
    ids = {(i["camera"], i["frame"]): i["id"] for i in ann["images"]}
    dets = []
    with FaceRenderer(rec.cameras) as renderer:
        for frame, faces in true_face_surfaces(rec_dir).items():
            for cam in rec.cameras:
                img = np.ascontiguousarray(rec.read_color(cam, frame)[..., ::-1])
                res = renderer.anonymize_view(img, rec.read_depth(cam, frame), cam, faces, {}, method="blacken")
                dets += [{"image_id": ids[cam.name, frame], "category_id": 1, "bbox": list(rf.bbox),
                          "painted_bbox": list(rf.painted_bbox), "person_id": rf.person_id} for rf in res.faces]
    return dets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("recordings", nargs="+", type=Path, help="synthetic recordings (disguisor synth)")
    args = ap.parse_args()
    print("| recording | recall | holistic | precision | coverage | holistic coverage |")
    print("| --- | --- | --- | --- | --- | --- |")
    for rec in args.recordings:
        gt = load_ground_truth(rec / "annotations.json")
        o = evaluate(gt, predictions_from_json(truth_detections(rec), gt)).overall
        print(f"| {rec.name} | {o.recall:.3f} | {o.holistic_recall:.3f} | {o.precision:.3f} | "
              f"{o.coverage_recall:.3f} | {o.holistic_coverage:.3f} |", flush=True)


if __name__ == "__main__":
    main()
