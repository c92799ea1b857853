"""Face rendering speed: render + depth visibility + blend, per face per view, at 1280x720.

Generates (or reuses) a synthetic OR recording, rebuilds its true face surfaces, and times
FaceRenderer.anonymize_view on every view of every frame (after one warm-up pass), for each
method. Also reports the painted faces' box IoU against the ground-truth boxes. Target: at most
40 ms per face per view (template method) on 2 CPU cores.

    .venv/bin/python benchmarks/bench_render.py [--scenario medium] [--frames 2] [--size 1280x720]
        [--repeats 3] [--rec bench-output/render_medium] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from disguisor.io.recording import open_recording
from disguisor.render.faces import FaceRenderer
from disguisor.render.templates import load_templates
from disguisor.render.variation import choose_template
from disguisor.synth.or_scene import generate_or_recording
from disguisor.synth.truth import true_face_surfaces


def _iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="medium")
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rec", type=Path, default=None, help="recording to reuse or create")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rec_dir = args.rec or Path("bench-output") / f"render_{args.scenario}_{args.size}_s{args.seed}"
    if not (rec_dir / "annotations.json").is_file():
        t0 = time.perf_counter()
        generate_or_recording(rec_dir, args.scenario, frames=args.frames, size=(w, h), seed=args.seed, overwrite=True)
        print(f"generated {rec_dir} in {time.perf_counter() - t0:.1f} s")
    rec = open_recording(rec_dir)
    truth = true_face_surfaces(rec_dir)
    templates = load_templates()
    ann = json.loads((rec_dir / "annotations.json").read_text())
    image_of = {(im["camera"], im["frame"]): im["id"] for im in ann["images"]}
    gt = {(a["image_id"], a["person_id"]): a["bbox"] for a in ann["annotations"]}
    views = []
    for frame, faces in truth.items():
        for cam in rec.cameras:
            rgb = np.ascontiguousarray(rec.read_color(cam, frame)[..., ::-1])
            views.append((frame, cam, rgb, rec.read_depth(cam, frame), faces))
    results: dict = {"scenario": args.scenario, "size": args.size, "views": len(views)}
    with FaceRenderer(rec.cameras) as renderer:
        for method in ("template", "blur", "pixelate", "blacken"):
            per_view, painted, ious = [], 0, []
            for rep in range(args.repeats + 1):
                for frame, cam, rgb, depth, faces in views:
                    tpl = {f.person_id: choose_template(f.person_id, templates) for f in faces}
                    t0 = time.perf_counter()
                    res = renderer.anonymize_view(rgb, depth, cam, faces, tpl, method=method)
                    dt = time.perf_counter() - t0
                    if rep == 0:
                        continue  # warm-up: GL context, shaders, texture upload
                    per_view.append(dt)
                    painted += len(res.faces)
                    if rep == 1:
                        iid = image_of[cam.name, frame]
                        ious += [_iou(gt[iid, rf.person_id], rf.bbox) for rf in res.faces if (iid, rf.person_id) in gt]
            total = float(np.sum(per_view))
            results[method] = {"ms_per_view": round(1000 * total / len(per_view), 2),
                               "ms_per_face_view": round(1000 * total / max(painted, 1), 2),
                               "faces_per_view": round(painted / len(per_view), 2),
                               "median_box_iou": round(float(np.median(ious)), 3) if ious else None}
            r = results[method]
            print(f"{method:9s} {r['ms_per_view']:7.1f} ms/view  {r['ms_per_face_view']:6.1f} ms per face per view  "
                  f"({r['faces_per_view']} faces/view, median box IoU {r['median_box_iou']})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
