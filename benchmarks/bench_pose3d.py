"""Multi-view 3D pose: speed of association + triangulation, and accuracy on simulated detections.

Scenes (:mod:`disguisor.synth.skeletons`): 6 people (1.5-1.95 m) walking in the synthetic
operating room, seen by the default 4-camera rig at 1280x720 with lens distortion; simulated
detections with Gaussian pixel noise, 5% of joints missed, joints hidden behind other people's
bodies (occlusion), and 0.05 false detections per image. Half of the sequences spread the people
over the room, half crowd them within 1.5 m of each other beside the table.

    .venv/bin/python benchmarks/bench_pose3d.py [--frames 60] [--sequences 4] [--json OUT]

Prints markdown tables:
- time of association + triangulation (:func:`disguisor.pose3d.reconstruct_frame`) per 4-camera
  frame with 6 people, median and 95th percentile, spread and crowded scenes;
- at the default noise (2 px): person recall and precision, head and all-joint errors
  (per frame, before tracking; and tracked + smoothed), identity switches;
- how errors grow with 2D noise (0, 2, 5, 10 px) and with the share of missed person detections
  per view (0, 10, 30%).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from disguisor.pose3d import prepare_rig, reconstruct_frame, track_people
from disguisor.pose3d.metrics import PoseMetrics, evaluate_poses
from disguisor.pose3d.poses import FramePoses, Person3D, Poses3D
from disguisor.synth.rig import default_rig
from disguisor.synth.skeletons import simulate_detections, simulate_people

CALIB = default_rig(1280, 720, 4)


def scene(seed: int, frames: int, crowd: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if crowd:
        center = (float(rng.choice([-1.25, 1.25])), float(rng.uniform(-0.8, 0.8)))
        return simulate_people(6, frames, rng, center=center, radius=0.75, max_speed=0.01, min_separation=0.45)
    return simulate_people(6, frames, rng)


def untracked(frames: list[int], people: list[list]) -> Poses3D:
    """Per-frame reconstructions as Poses3D (ids are per-frame indices: no identity)."""
    return Poses3D(frames=tuple(FramePoses(frame=f, people=tuple(Person3D(id=k + 1, joints=p.joints,
                                                                          confidence=p.confidence)
                                                                 for k, p in enumerate(ps)))
                                for f, ps in zip(frames, people, strict=True)))


def run(seqs: list[tuple[np.ndarray, bool]], noise: float, person_miss: float, seed: int,
        timings: list[tuple[bool, float]] | None = None) -> tuple[dict, dict]:
    rig = prepare_rig(CALIB)
    raw_m: list[PoseMetrics] = []
    trk_m: list[PoseMetrics] = []
    for k, (gt, crowd) in enumerate(seqs):
        rng = np.random.default_rng(seed + 1000 * k)
        sim = simulate_detections(CALIB, gt, rng, noise_px=noise, joint_miss_rate=0.05, person_miss_rate=person_miss,
                                  false_per_view=0.05, occlusion=True)
        by_frame = sim.keypoints.by_frame()
        frames = sorted(by_frame)
        people = []
        for f in frames:
            t0 = time.perf_counter()
            people.append(reconstruct_frame(rig, by_frame[f]))
            if timings is not None:
                timings.append((crowd, time.perf_counter() - t0))
        raw_m.append(evaluate_poses(untracked(frames, people), gt, sim.observable))
        trk_m.append(evaluate_poses(track_people(frames, people), gt, sim.observable))
    return summarize(raw_m), summarize(trk_m)


def summarize(ms: list[PoseMetrics]) -> dict:
    gt = sum(m.gt_person_frames for m in ms)
    est = sum(m.estimated_person_frames for m in ms)
    matched = sum(m.matched for m in ms)
    w = np.array([m.matched for m in ms], float)
    w = w / max(w.sum(), 1)

    def avg(name: str) -> float:
        vals = np.array([getattr(m, name) for m in ms])
        ok = np.isfinite(vals)
        return float(np.sum(vals[ok] * w[ok]) / max(w[ok].sum(), 1e-12))

    correct = sum(round(m.precision * m.estimated_person_frames) for m in ms)
    return {"recall": matched / gt if gt else float("nan"), "precision": correct / est if est else float("nan"),
            "head_mm": avg("head_mpjpe_mm"), "all_mm": avg("mpjpe_mm"), "joint_recall": avg("joint_recall"),
            "id_switches": sum(m.id_switches for m in ms), "person_frames": gt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--sequences", type=int, default=4, help="half spread over the room, half crowded")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write every number to this file")
    args = ap.parse_args()
    seqs = [(scene(args.seed + k, args.frames, crowd=k % 2 == 1), k % 2 == 1) for k in range(args.sequences)]

    timings: list[tuple[bool, float]] = []
    raw, trk = run(seqs, 2.0, 0.0, args.seed, timings)
    t = np.array([s for _, s in timings]) * 1000
    crowd = np.array([c for c, _ in timings])
    warm = np.arange(len(t)) >= 3
    speed = {name: {"median_ms": float(np.median(t[warm & sel])), "p95_ms": float(np.percentile(t[warm & sel], 95))}
             for name, sel in (("spread", ~crowd), ("crowded", crowd), ("all", np.ones_like(crowd)))}

    grid = {}
    for noise in (0.0, 2.0, 5.0, 10.0):
        grid[f"noise {noise:g} px, miss 0%"] = run(seqs, noise, 0.0, args.seed)
    for miss in (0.1, 0.3):
        grid[f"noise 2 px, miss {miss:.0%}"] = run(seqs, 2.0, miss, args.seed)

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"# 3D pose benchmark ({machine}; {args.sequences} sequences x {args.frames} frames, 6 people, "
          "4 cameras 1280x720)\n")
    print("## Association + triangulation per frame (2 px noise)\n")
    print("| scene | median ms | p95 ms |\n| --- | ---: | ---: |")
    for name, s in speed.items():
        print(f"| {name} | {s['median_ms']:.1f} | {s['p95_ms']:.1f} |")
    print("\n## Accuracy at 2 px noise\n")
    print("| stage | person recall | precision | head error mm | all-joint error mm | joints estimated | "
          "id switches |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in (("per frame (untracked)", raw), ("tracked + smoothed", trk)):
        ids = "-" if r is raw else str(r["id_switches"])
        print(f"| {name} | {r['recall']:.3f} | {r['precision']:.3f} | {r['head_mm']:.1f} | {r['all_mm']:.1f} | "
              f"{r['joint_recall']:.3f} | {ids} |")
    print("\n## Errors vs 2D noise and missed detections (tracked + smoothed; per frame in brackets)\n")
    print("| 2D input | person recall | precision | head error mm | all-joint error mm | id switches |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (r, k) in grid.items():
        print(f"| {name} | {k['recall']:.3f} ({r['recall']:.3f}) | {k['precision']:.3f} ({r['precision']:.3f}) | "
              f"{k['head_mm']:.1f} ({r['head_mm']:.1f}) | {k['all_mm']:.1f} ({r['all_mm']:.1f}) | "
              f"{k['id_switches']} |")
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": machine, "speed": speed, "default": {"raw": raw, "tracked": trk},
                                         "grid": {k: {"raw": r, "tracked": v} for k, (r, v) in grid.items()}},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
