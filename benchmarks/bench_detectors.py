"""Ablation of the offline 2D people finders on rendered synthetic OR recordings (ground truth known).

For every variant (a detector and its settings) and every view: the detector gets the RGB image
and the depth-proposal boxes of the frame (as ``disguisor keypoints`` gives them), its output is
de-duplicated as in ``disguisor keypoints``, and matched one to one (Hungarian) to the people
visible in that view. A ground-truth person is *visible* in a view when at least
``MIN_VISIBLE_JOINTS`` of its projected joints lie in the image and are not hidden (the recorded
depth there is not clearly nearer than the joint). A detection *finds* a person when their OKS
(COCO sigmas, area = the projected joint box of the visible joints, over >= ``MIN_SHARED`` shared
joints) is >= ``OKS_MATCH``, or when its head joints (>= 2 of nose, eyes, ears) lie on average
within ``HEAD_RATIO`` x the square root of that area (at least ``HEAD_MIN_PX``) of the true ones:
for face anonymization the head is what counts. *head*: share of visible people with a head-joint
match. Precision: found / detections. Time: wall seconds of detection + de-duplication per
4-camera frame (proposals excluded; they are shared by every variant, timed separately), with
onnxruntime on 2 threads, and CPU seconds of the process (all threads) per frame: on a machine
shared with other jobs the wall time varies, CPU time much less; CPU / 2 estimates the wall time
on 2 free cores.

    .venv/bin/python benchmarks/bench_detectors.py --seeds 0 --frames 3 [--variants blazepose,ensemble]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from disguisor.fusion import RayCache
from disguisor.geometry import project_points
from disguisor.io.recording import open_recording
from disguisor.pose2d.command import make_pose_detector
from disguisor.pose2d.detector import deduplicate, oks
from disguisor.pose2d.keypoints_io import HEAD_JOINTS
from disguisor.pose2d.params import KeypointsParams
from disguisor.pose2d.proposals import BackgroundModel, propose_boxes
from disguisor.synth.or_scene import generate_or_recording

MIN_VISIBLE_JOINTS = 6
OCCLUSION_MARGIN_M = 0.15
OKS_MATCH = 0.5
MIN_SHARED = 4
HEAD_RATIO = 0.1
HEAD_MIN_PX = 6.0


def variants() -> dict[str, tuple[str, KeypointsParams]]:
    """Ablation rows: name -> (detector name, settings)."""
    k = KeypointsParams()
    mn = k.movenet
    one = (0.0,)
    four = (0.0, 90.0, 270.0, 180.0)
    return {
        "blazepose": ("blazepose", k),
        "blazepose-heavy": ("blazepose", replace(k, blazepose=replace(k.blazepose, model_complexity=2))),
        "movenet-whole": ("movenet", replace(k, movenet=replace(mn, crops=False, tiles=1, whole_rotations=one))),
        "movenet-whole-tiles": ("movenet", replace(k, movenet=replace(mn, crops=False, tiles=2, whole_rotations=one))),
        "movenet-whole-orient": ("movenet", replace(k, movenet=replace(mn, crops=False, tiles=1,
                                                                      whole_rotations=four))),
        "movenet-whole-tiles-orient": ("movenet", replace(k, movenet=replace(mn, crops=False, tiles=2,
                                                                            whole_rotations=four))),
        "movenet-crops": ("movenet", replace(k, movenet=replace(mn, whole_image=False, rotations=one))),
        "movenet-crops-orient": ("movenet", replace(k, movenet=replace(mn, whole_image=False))),
        "movenet-crops-orient-all": ("movenet", replace(k, movenet=replace(mn, whole_image=False,
                                                                           max_rotated_crops=1000))),
        "movenet-crops192-orient": ("movenet", replace(k, movenet=replace(mn, whole_image=False, crop_px=192))),
        "movenet": ("movenet", k),
        "centernet-crops-orient": ("centernet-only", replace(k, movenet=replace(mn, whole_image=False))),
        "ensemble": ("ensemble", k),
        "ensemble-full-search": ("ensemble", replace(k, movenet=replace(mn, tiles=2, max_rotated_crops=1000,
                                                                        skip_found=None))),
        "ensemble-no-centernet": ("ensemble", replace(k, ensemble=replace(k.ensemble, centernet_boxes=False))),
        "ensemble+blazepose": ("ensemble", replace(k, ensemble=replace(k.ensemble, blazepose=True))),
    }


class CenterNetOnly:
    """MoveNet crops on CenterNet boxes alone (the depth proposals ignored): what CenterNet adds."""

    name = "centernet-only"

    def __init__(self, params: KeypointsParams) -> None:
        from disguisor.pose2d.ensemble import EnsembleDetector

        self.inner = EnsembleDetector(params)

    def detect(self, image_rgb, boxes=None):
        return self.inner.movenet.detect(image_rgb, self.inner.person_boxes(image_rgb, None))


def visible_people(rec, frame: int, gt: np.ndarray) -> dict[str, list[np.ndarray]]:
    """camera -> [(17, 3) x, y, visible] of the people visible in that view (pixels)."""
    out = {}
    for cam in rec.cameras_at(frame):
        depth = rec.read_depth(cam, frame)
        people = []
        for joints in gt:
            pc = cam.world_to_camera(joints)
            uv = project_points(pc, cam.K, cam.dist)
            ok = np.isfinite(uv).all(1) & (pc[:, 2] > 0)
            uv = np.nan_to_num(uv)
            inside = ok & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
            ui = np.clip(np.round(uv[:, 0]).astype(int), 0, cam.width - 1)
            vi = np.clip(np.round(uv[:, 1]).astype(int), 0, cam.height - 1)
            d = depth[vi, ui]
            unhidden = inside & ((d <= 0) | (pc[:, 2] <= d + OCCLUSION_MARGIN_M))
            if unhidden.sum() >= MIN_VISIBLE_JOINTS:
                people.append(np.concatenate([uv, unhidden[:, None].astype(float)], axis=1))
        out[cam.name] = people
    return out


def match(dets, people) -> tuple[int, int]:
    """(people found, people found by their head) in one view, one to one."""
    if not dets or not people:
        return 0, 0
    gain = np.zeros((len(dets), len(people)))
    head = np.zeros((len(dets), len(people)), bool)
    h = list(HEAD_JOINTS)
    for j, g in enumerate(people):
        vis = g[:, 2] > 0
        xy = g[vis, :2]
        area = max(float(np.ptp(xy[:, 0]) * np.ptp(xy[:, 1])), 400.0)
        for i, d in enumerate(dets):
            kp = d.keypoints
            shared = (kp[:, 2] > 0) & vis
            s = oks(kp, g, area) if shared.sum() >= MIN_SHARED else 0.0
            hb = (kp[h, 2] > 0) & (g[h, 2] > 0)
            if hb.sum() >= 2:
                err = float(np.linalg.norm(kp[h][hb, :2] - g[h][hb, :2], axis=1).mean())
                head[i, j] = err <= max(HEAD_MIN_PX, HEAD_RATIO * np.sqrt(area))
            if s >= OKS_MATCH or head[i, j]:
                gain[i, j] = s + (1.0 if head[i, j] else 0.0) + 1e-3
    rows, cols = linear_sum_assignment(-gain)
    found = [(r, c) for r, c in zip(rows, cols, strict=True) if gain[r, c] > 0]
    return len(found), sum(bool(head[r, c]) for r, c in found)


def make(kind: str, params: KeypointsParams):
    if kind == "centernet-only":
        return CenterNetOnly(params)
    return make_pose_detector(kind, params=params)


def run(rec_path: Path, names: list[str], stats: dict) -> None:
    rec = open_recording(rec_path)
    doc = json.loads((rec_path / "gt_poses3d.json").read_text())
    gt = {f["frame"]: np.array([p["joints"] for p in f["people"]], float) for f in doc["frames"]}
    params = KeypointsParams()
    rays = RayCache()
    background = BackgroundModel(rec, params.proposals)
    table = variants()
    dets = {n: make(*table[n]) for n in names}
    d = params.dedup
    for frame, views in rec.iter_frames():
        t = time.perf_counter()
        boxes = propose_boxes(views, params.proposals, rays, background)[1]
        stats.setdefault("_proposals", []).append(time.perf_counter() - t)
        vis = visible_people(rec, frame, gt[frame])
        for n in names:
            s = stats.setdefault(n, {"time": [], "cpu": [], "cams": {}})
            t, c0 = time.perf_counter(), time.process_time()
            per_view = {}
            for view in views:
                rgb = np.ascontiguousarray(view.color[:, :, ::-1])
                found = dets[n].detect(rgb, boxes.get(view.camera.name))
                per_view[view.camera.name] = deduplicate(found, d.oks_threshold, d.box_iou_threshold, d.head_ratio)
            s["time"].append(time.perf_counter() - t)
            s["cpu"].append(time.process_time() - c0)
            for cam, poses in per_view.items():
                c = s["cams"].setdefault(cam, np.zeros(4, int))  # visible, found, head, detections
                f, hd = match(poses, vis[cam])
                c += (len(vis[cam]), f, hd, len(poses))
    for det in dets.values():
        close = getattr(det, "close", None)
        if close is not None:
            close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--scenarios", default="easy,medium,hard")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--variants", default=",".join(variants()))
    ap.add_argument("--out", type=Path, default=Path("bench-output/detectors"))
    args = ap.parse_args()
    names = args.variants.split(",")
    unknown = set(names) - set(variants())
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; known: {', '.join(variants())}")
    for seed in (int(s) for s in args.seeds.split(",")):
        stats: dict = {}
        for scenario in args.scenarios.split(","):
            rec_path = args.out / f"synth_{scenario}_s{seed}_{args.frames}f"
            if not (rec_path / "gt_poses3d.json").exists():
                generate_or_recording(rec_path, scenario, frames=args.frames, seed=seed, overwrite=True)
            run(rec_path, names, stats)
        cams = sorted(next(iter(v for k, v in stats.items() if k != "_proposals"))["cams"])
        print(f"\nseed {seed}, scenarios {args.scenarios}, {args.frames} frames each, 1280x720, "
              f"{os.cpu_count()} cores; proposals {np.mean(stats['_proposals']):.2f} s/frame (not included)")
        print("| variant | " + " | ".join(f"{c} recall" for c in cams)
              + " | recall (all) | head | precision | wall s / frame | CPU s / frame |")
        print("| --- " * (len(cams) + 6) + "|")
        for n in names:
            s = stats[n]
            tot = sum(s["cams"].values())
            per = " | ".join(f"{c[1] / max(c[0], 1):.2f}" for c in (s["cams"][k] for k in cams))
            print(f"| {n} | {per} | {tot[1] / max(tot[0], 1):.3f} ({tot[1]}/{tot[0]}) | "
                  f"{tot[2] / max(tot[0], 1):.3f} | {tot[1] / max(tot[3], 1):.3f} | {np.mean(s['time']):.2f} | "
                  f"{np.mean(s['cpu']):.2f} |")


if __name__ == "__main__":
    main()
