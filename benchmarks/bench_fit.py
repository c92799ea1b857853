"""Body fit on the synthetic OR scenarios: speed and accuracy against the ground truth.

Per scenario (easy, medium, hard) the Anny fit (``disguisor.body.fit.fit_bodies``) runs on

- ``gt``: the true COCO-17 joints of ``gt_poses3d.json`` (confidence 1): the fit's own error;
- ``pose3d``: the tracked 3D poses that ``pose3d_command`` estimates from the simulated 2D
  keypoints (``keypoints2d.json``): the error the pipeline sees.

Reported per row: fit time per person-frame (wall clock of the whole ``fit_bodies`` call, shape
fit included, divided by the person-frames fitted; and process CPU time, which is less
disturbed by other work on the machine), mean and p90 keypoint error (17 joints, mm), face-centre
error (mean of the face vertices vs ``face_center``, mm) and facing error (degrees vs
``facing``) computed two ways: ``head``: the head bone's rotation applied to the model's rest
facing (what refine and render use), and ``kp``: unit(nose - ears' midpoint) of the fitted
keypoints (the ground truth's own definition). Track ids are not ground-truth ids: per frame,
tracks and true people are matched one to one (Hungarian) on the mean distance of the joints
both have; pairs farther apart than ``MATCH_DISTANCE_M`` are not scored (counted as unmatched).

Recordings are cached under ``--out`` as ``synth_<scenario>_<W>x<H>_<N>f``; a cached recording of
the same size with more frames is reused (its first N frames). Size only matters through the
simulated keypoint noise (pixels).

    .venv/bin/python benchmarks/bench_fit.py [--frames 10] [--size 1280x720] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from disguisor.body.fit import fit_bodies, posed_people
from disguisor.body.model import load_body_model
from disguisor.body.params import FitParams
from disguisor.pose3d.poses import FramePoses, Person3D, Poses3D

MATCH_DISTANCE_M = 0.3  # mean joint distance above which a track is not the same person as a true one
SCENARIOS = ("easy", "medium", "hard")


def _recording(out: Path, scenario: str, frames: int, size: tuple[int, int]) -> Path:
    """A cached recording of ``scenario`` with at least ``frames`` frames at ``size``."""
    w, h = size
    pattern = re.compile(rf"synth_{scenario}_{w}x{h}_(\d+)f$")
    cached = sorted((int(m.group(1)), p) for p in out.glob(f"synth_{scenario}_{w}x{h}_*f")
                    if (m := pattern.match(p.name)) and (p / "keypoints2d.json").exists())
    for n, path in cached:
        if n >= frames:
            return path
    from disguisor.synth.or_scene import generate_or_recording

    rec = out / f"synth_{scenario}_{w}x{h}_{frames}f"
    generate_or_recording(rec, scenario, frames=frames, size=size, seed=0, overwrite=True)
    return rec


def _ground_truth(rec: Path, frames: int) -> dict[int, list[dict]]:
    data = json.loads((rec / "gt_poses3d.json").read_text())
    return {f["frame"]: f["people"] for f in data["frames"] if f["frame"] < frames}


def _gt_poses(gt: dict[int, list[dict]]) -> Poses3D:
    return Poses3D(tuple(FramePoses(n, tuple(Person3D(p["id"], np.asarray(p["joints"], float), np.ones(17))
                                                for p in people)) for n, people in sorted(gt.items())))


def _estimated_poses(rec: Path, frames: int, work: Path) -> Poses3D:
    """pose3d_command on the simulated keypoints of the first ``frames`` frames."""
    from disguisor.pose3d.command import pose3d_command

    data = json.loads((rec / "keypoints2d.json").read_text())
    keep = {img["id"] for img in data["images"] if img["frame"] < frames}
    data["images"] = [img for img in data["images"] if img["id"] in keep]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    kp = work / "keypoints2d.json"
    kp.write_text(json.dumps(data))
    return pose3d_command(rec / "calibration.json", kp, work / "poses3d.json")


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


def _evaluate(model, fits, gt: dict[int, list[dict]]) -> dict:
    kp_err, centre, facing_head, facing_kp = [], [], [], []
    fitted = unmatched = 0
    for frame, people in gt.items():
        bodies = posed_people(model, fits, frame)
        fitted += len(bodies)
        if not bodies or not people:
            continue
        true = np.stack([np.asarray(p["joints"], float) for p in people])              # (G, 17, 3)
        cost = np.stack([np.linalg.norm(true - b.keypoints, axis=-1).mean(-1) for b in bodies])
        rows, cols = linear_sum_assignment(cost)
        for b_i, g_i in zip(rows, cols, strict=True):
            if cost[b_i, g_i] > MATCH_DISTANCE_M:
                unmatched += 1
                continue
            b, g = bodies[b_i], people[g_i]
            kp_err.append(np.linalg.norm(b.keypoints - true[g_i], axis=1))
            centre.append(np.linalg.norm(b.vertices[model.face_vertices].mean(0) - g["face_center"]))
            facing_head.append(_angle_deg(b.head_rotation @ model.rest_facing, np.asarray(g["facing"])))
            kp = b.keypoints
            facing_kp.append(_angle_deg(kp[0] - (kp[3] + kp[4]) / 2, np.asarray(g["facing"])))
        unmatched += len(bodies) - len(rows)
    kp_all = np.concatenate(kp_err) * 1000 if kp_err else np.array([np.nan])
    mm = np.asarray(centre) * 1000
    return {"gt_person_frames": sum(len(p) for p in gt.values()), "fitted": fitted, "scored": len(centre),
            "unmatched": unmatched,
            "keypoint_mm_mean": float(kp_all.mean()), "keypoint_mm_p90": float(np.percentile(kp_all, 90)),
            "face_centre_mm_mean": float(mm.mean()), "face_centre_mm_p90": float(np.percentile(mm, 90)),
            "facing_head_deg_mean": float(np.mean(facing_head)),
            "facing_head_deg_p90": float(np.percentile(facing_head, 90)),
            "facing_kp_deg_mean": float(np.mean(facing_kp)), "facing_kp_deg_p90": float(np.percentile(facing_kp, 90))}


def _fit_row(model, poses: Poses3D, gt, params: FitParams) -> dict:
    t, c = time.perf_counter(), time.process_time()
    fits = fit_bodies(poses, model, params)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    n = sum(len(v) for v in fits.frames.values())
    return {"tracks": len(fits.shapes), "ms_per_person_frame": 1000 * wall / max(n, 1),
            "cpu_ms_per_person_frame": 1000 * cpu / max(n, 1), **_evaluate(model, fits, gt)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    ap.add_argument("--model", default="anny", choices=("anny", "smpl"))
    ap.add_argument("--smpl-dir", type=Path)
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_body_model(args.model, args.smpl_dir)
    params = FitParams()
    fit_bodies(_gt_poses({0: []}), model, params)  # warm-up: imports and model caches
    rows = []
    for scenario in args.scenarios.split(","):
        rec = _recording(args.out, scenario, args.frames, size)
        gt = _ground_truth(rec, args.frames)
        with tempfile.TemporaryDirectory() as tmp:
            estimated = _estimated_poses(rec, args.frames, Path(tmp))
        for source, poses in (("gt", _gt_poses(gt)), ("pose3d", estimated)):
            rows.append({"scenario": scenario, "input": source, "recording": str(rec),
                         **_fit_row(model, poses, gt, params)})
            print(f"{scenario} {source}: done", flush=True)
    print()
    print("| scenario | input | person-frames fitted / true | ms per person-frame (cpu) | keypoint mm mean (p90) "
          "| face centre mm mean (p90) | facing deg head (p90) | facing deg kp (p90) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['scenario']} | {r['input']} | {r['fitted']} / {r['gt_person_frames']} "
              f"| {r['ms_per_person_frame']:.1f} ({r['cpu_ms_per_person_frame']:.1f}) "
              f"| {r['keypoint_mm_mean']:.1f} ({r['keypoint_mm_p90']:.1f}) "
              f"| {r['face_centre_mm_mean']:.1f} ({r['face_centre_mm_p90']:.1f}) "
              f"| {r['facing_head_deg_mean']:.1f} ({r['facing_head_deg_p90']:.1f}) "
              f"| {r['facing_kp_deg_mean']:.1f} ({r['facing_kp_deg_p90']:.1f}) |")
    result = {"model": args.model, "frames": args.frames, "size": args.size, "rows": rows}
    print()
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
