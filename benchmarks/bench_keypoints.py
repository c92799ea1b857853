"""2D keypoints from rendered synthetic OR frames (default detector), then 3D poses from them.

Per scenario: ``disguisor keypoints`` (BlazePose on depth proposals) on a rendered recording,
then ``pose3d``. A ground-truth person counts as *visible* in a view when at least
``MIN_VISIBLE_JOINTS`` of its projected joints lie in the image and are not hidden (the
recorded depth there is not clearly nearer than the joint). 2D: detections are matched one to
one to visible people (Hungarian on the mean pixel error of the detected joints, accepted below
``MATCH_RATIO`` x the square root of the person's projected box area). 3D: person recall over
people visible in >= 2 views, joint errors (mm) over matched people, CLEAR-MOT id switches.
Timing: wall time of the keypoints stage per image (reading images included).

    .venv/bin/python benchmarks/bench_keypoints.py [--frames 5] [--size 640x360] [--scenarios easy,medium,hard]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from disguisor.geometry import project_points
from disguisor.io.recording import open_recording
from disguisor.pose2d.command import keypoints_command
from disguisor.pose3d.command import pose3d_command
from disguisor.pose3d.metrics import evaluate_poses
from disguisor.synth.or_scene import generate_or_recording

MIN_VISIBLE_JOINTS = 6
OCCLUSION_MARGIN_M = 0.15
MATCH_RATIO = 0.25


def visible_people(rec, frame: int, gt: np.ndarray) -> dict[str, list[tuple[int, np.ndarray]]]:
    """camera -> [(person, projected joints (17, 2))] of the people visible in that view."""
    out = {}
    for cam in rec.cameras_at(frame):
        depth = rec.read_depth(cam, frame)
        found = []
        for p, joints in enumerate(gt):
            pc = cam.world_to_camera(joints)
            uv = project_points(pc, cam.K, cam.dist)
            ok = np.isfinite(uv).all(1)
            ui = np.clip(np.round(np.nan_to_num(uv[:, 0])).astype(int), 0, cam.width - 1)
            vi = np.clip(np.round(np.nan_to_num(uv[:, 1])).astype(int), 0, cam.height - 1)
            inside = ok & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
            d = depth[vi, ui]
            unhidden = inside & ((d <= 0) | (pc[:, 2] <= d + OCCLUSION_MARGIN_M))
            if unhidden.sum() >= MIN_VISIBLE_JOINTS:
                found.append((p, uv))
        out[cam.name] = found
    return out


def match_2d(dets, people) -> tuple[int, list[float]]:
    """(matched count, mean pixel errors of the matches) of one image."""
    if not dets or not people:
        return 0, []
    cost = np.full((len(dets), len(people)), 1e6)
    for i, d in enumerate(dets):
        ok = d.keypoints[:, 2] > 0
        for j, (_, uv) in enumerate(people):
            err = float(np.linalg.norm(d.keypoints[ok, :2] - uv[ok], axis=1).mean())
            size = np.sqrt(np.ptp(uv[:, 0]) * np.ptp(uv[:, 1]))
            if err < MATCH_RATIO * max(size, 20.0):
                cost[i, j] = err
    rows, cols = linear_sum_assignment(cost)
    errs = [cost[r, c] for r, c in zip(rows, cols, strict=True) if cost[r, c] < 1e6]
    return len(errs), errs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--scenarios", default="easy,medium,hard")
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rows = []
    for scenario in args.scenarios.split(","):
        rec_path = args.out / f"synth_{scenario}_{w}x{h}_{args.frames}f"
        if not (rec_path / "gt_poses3d.json").exists():
            generate_or_recording(rec_path, scenario, frames=args.frames, size=(w, h), seed=0, overwrite=True)
        rec = open_recording(rec_path)
        kp_path = args.out / f"keypoints_{scenario}_{w}x{h}_{args.frames}f.json"
        t = time.perf_counter()
        kp = keypoints_command(rec_path, kp_path)
        seconds = time.perf_counter() - t
        gt_doc = json.loads((rec_path / "gt_poses3d.json").read_text())
        gt = np.array([[p["joints"] for p in f["people"]] for f in gt_doc["frames"]], float)
        n_vis = n_match = n_det = 0
        errors: list[float] = []
        views_seen = np.zeros(gt.shape[:2], int)
        for fi, frame in enumerate(rec.frames):
            vis = visible_people(rec, frame, gt[fi])
            by_cam = kp.views(frame)
            for cam, people in vis.items():
                for p, _ in people:
                    views_seen[fi, p] += 1
                dets = by_cam.get(cam, [])
                m, e = match_2d(dets, people)
                n_vis += len(people)
                n_det += len(dets)
                n_match += m
                errors += e
        poses = pose3d_command(rec_path, kp_path, args.out / f"poses3d_{scenario}_{w}x{h}_{args.frames}f.json")
        m3 = evaluate_poses(poses, gt, views_seen >= 2, frames=rec.frames)
        rows.append((scenario, gt.shape[1], n_match, n_vis, n_det, float(np.mean(errors)) if errors else float("nan"),
                     m3, 1000 * seconds / max(len(kp.images), 1)))
    print(f"frames: {args.frames}, size {w}x{h}, detector blazepose (depth proposals + whole image)")
    print("| scenario | people | 2D recall (visible people) | 2D precision | 2D error (px) | 3D recall (>= 2 views) "
          "| 3D precision | head error (mm) | all joints (mm) | id switches | time per image (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for scenario, n, match, vis, det, err, m, ms in rows:
        print(f"| {scenario} | {n} | {match / max(vis, 1):.3f} ({match}/{vis}) | {match / max(det, 1):.3f} | "
              f"{err:.1f} | {m.recall:.3f} ({m.matched}/{m.gt_person_frames}) | {m.precision:.3f} | "
              f"{m.head_mpjpe_mm:.1f} | {m.mpjpe_mm:.1f} | {m.id_switches} | {ms:.0f} |")


if __name__ == "__main__":
    main()
