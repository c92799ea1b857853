"""3D poses on the synthetic OR scenarios, from the simulated 2D keypoints of each recording.

Person recall counts ground-truth people detected in two or more views of a frame (the
simulated detections say which); errors are over matched people; id switches are CLEAR-MOT.

    .venv/bin/python benchmarks/bench_pose3d_synth.py [--frames 20] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from disguisor.io.calibration import load_calibration
from disguisor.pose2d.keypoints_io import load_keypoints
from disguisor.pose3d.metrics import evaluate_poses
from disguisor.pose3d.pipeline import estimate_poses3d
from disguisor.synth.or_scene import generate_or_recording


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rows = []
    for scenario in ("easy", "medium", "hard"):
        rec = args.out / f"synth_{scenario}_{w}x{h}_{args.frames}f"
        if not (rec / "keypoints2d.json").exists():
            generate_or_recording(rec, scenario, frames=args.frames, size=(w, h), seed=0, overwrite=True)
        calib = load_calibration(rec / "calibration.json")
        kp = load_keypoints(rec / "keypoints2d.json", calib)
        gt = json.loads((rec / "gt_poses3d.json").read_text())
        n_people = len(gt["frames"][0]["people"])
        gt_joints = np.array([[p["joints"] for p in f["people"]] for f in gt["frames"]], float)
        views = defaultdict(set)
        raw = json.loads((rec / "keypoints2d.json").read_text())
        frame_of = {im["id"]: im["frame"] for im in raw["images"]}
        for a in raw["annotations"]:
            if a["person_id"] >= 0:
                views[(frame_of[a["image_id"]], a["person_id"])].add(a["image_id"])
        observable = np.array([[len(views[(f, p)]) >= 2 for p in range(n_people)] for f in range(len(gt_joints))])
        t = time.perf_counter()
        poses = estimate_poses3d(calib, kp)
        per_frame_ms = 1000 * (time.perf_counter() - t) / len(gt_joints)
        m = evaluate_poses(poses, gt_joints, observable)
        rows.append((scenario, n_people, m, per_frame_ms))
    print("| scenario | people | person recall (seen by >= 2 views) | precision | head error (mm) | "
          "all joints (mm) | id switches | pose3d time per frame (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for scenario, n, m, ms in rows:
        print(f"| {scenario} | {n} | {m.recall:.3f} ({m.matched}/{m.gt_person_frames}) | {m.precision:.3f} | "
              f"{m.head_mpjpe_mm:.1f} | {m.mpjpe_mm:.1f} | {m.id_switches} | {ms:.1f} |")


if __name__ == "__main__":
    main()
