"""The default `disguisor run` (no supplied keypoints) against the people-finder targets (issue 13).

For each scenario, image size and seed: generate a synthetic recording (cached under --out),
run `disguisor run REC -o OUT` with the default configuration in a child process (wall time and
peak memory measured), then score

- privacy from the pixels (`disguisor eval --original --anonymized`): the share of faces at least
  25% visible whose box is hidden in every view (>= 50% of its pixels changed by > 6 grey
  levels), and of all faces;
- the boxes: recall / holistic recall (IoU 0.4) / precision of detections.json; holistic recall
  and precision again with the ground-truth boxes under 25% visible as don't-care
  (``disguisor eval --min-visible 0.25``);
- 3D people: recall of the people seen by at least one camera, precision, head joint error (mm),
  from out/stages/poses3d.json against gt_poses3d.json, and the head joint error of the final
  heads (body fit moved by the head registration, ``head_joints_m`` of the frame records);
- the faces drawn: median / p90 distance (mm) of the rendered face centres (after head
  refinement) to the true ones, and the share of heads whose refinement was accepted;
- 2D people per camera: recall of the keypoint stage (benchmarks/bench_detectors.py's matching);
- the keypoint stage's seconds per frame (report.json) and the run's peak RSS.

    .venv/bin/python benchmarks/bench_people.py --seeds 0 1 2 --frames 10 [--sizes 1280x720 640x480]
        [--scenarios easy medium hard] [--set keypoints.every=3] [--cameras 6] [--json FILE]

640x480 recordings use the Kinect-v1-like lens (focal length 525 px). ``--cameras 6`` adds two
workflow cameras at the far end of the room (the default rig's six; 4D-OR has six Kinects at
2048x1536).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detectors import match, visible_people  # noqa: E402

from disguisor.coco import HEAD_JOINTS  # noqa: E402
from disguisor.evaluate import evaluate, load_ground_truth, load_predictions  # noqa: E402
from disguisor.evaluate.pixels import measure_pixel_privacy  # noqa: E402
from disguisor.io.recording import open_recording  # noqa: E402
from disguisor.pose2d.keypoints_io import load_keypoints  # noqa: E402
from disguisor.pose3d.metrics import evaluate_poses  # noqa: E402
from disguisor.pose3d.poses import Poses3D, load_poses3d  # noqa: E402
from disguisor.synth.or_scene import generate_or_recording  # noqa: E402
from disguisor.synth.rig import default_rig  # noqa: E402
from disguisor.synth.truth import true_face_surfaces  # noqa: E402

PEAK_WRAPPER = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def recording(root: Path, scenario: str, size: tuple[int, int], seed: int, frames: int, cameras: int = 4) -> Path:
    # the 4-camera recordings keep their old names (cached outputs stay valid)
    rig = "" if cameras == 4 else f"_c{cameras}"
    rec = root / f"{scenario}_{size[0]}x{size[1]}{rig}_s{seed}_f{frames}"
    if not (rec / "gt_poses3d.json").is_file():
        lens = "kinect_v1" if size == (640, 480) else "azure"
        generate_or_recording(rec, scenario, frames=frames, size=size, seed=seed, overwrite=True,
                              calibration=default_rig(size[0], size[1], cameras, lens=lens))
    return rec


def run(rec: Path, out: Path, sets: list[str], resume_from: str | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit code of the default `disguisor run` in a fresh process;
    with ``resume_from`` the earlier output is kept and rerun from that stage (timings then cover
    only what reran)."""
    if resume_from is None:
        shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-c", PEAK_WRAPPER, sys.executable, "-m", "disguisor", "--quiet", "run", str(rec),
           "-o", str(out)] + [a for s in sets for a in ("--set", s)]
    if resume_from is not None:
        cmd += ["--from", resume_from]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, int(proc.stdout.strip().splitlines()[-1]) / 1024.0, proc.returncode


def people_3d(rec: Path, out: Path) -> dict:
    """3D person recall (people seen by >= 1 camera), precision, head error (mm)."""
    gt = json.loads((rec / "gt_poses3d.json").read_text())
    frames = [f["frame"] for f in gt["frames"]]
    n_people = max(len(f["people"]) for f in gt["frames"])
    joints = np.full((len(frames), n_people, 17, 3), np.nan)
    for i, f in enumerate(gt["frames"]):
        for p in f["people"]:
            joints[i, p["id"]] = np.asarray(p["joints"], float)
    seen = np.zeros((len(frames), n_people), bool)
    r = open_recording(rec)
    for i, frame in enumerate(frames):
        for person in range(n_people):
            if np.isfinite(joints[i, person]).all():
                seen[i, person] = any(visible_people(r, frame, joints[i, person:person + 1]).values())
    poses = load_poses3d(out / "stages" / "poses3d.json")
    m = evaluate_poses(poses, joints, observable=seen, frames=frames)
    final = evaluate_poses(final_heads(poses, out), joints, observable=seen, frames=frames)
    return {"recall": m.recall, "precision": m.precision, "head_mm": m.head_mpjpe_mm, "mpjpe_mm": m.mpjpe_mm,
            "id_switches": m.id_switches, "gt_person_frames": m.gt_person_frames,
            "head_final_mm": final.head_mpjpe_mm}


def final_heads(poses: Poses3D, out: Path) -> Poses3D:
    """``poses`` with each person's five head joints replaced by the render stage's final head
    (the body fit's nose, eyes and ears moved by the head registration; ``head_joints_m`` of
    out/stages/frames/*.json) where there is one; people without a body fit keep their
    triangulated joints."""
    frames = []
    for fp in poses.frames:
        path = out / "stages" / "frames" / f"{fp.frame:06d}.json"
        heads = {p["person_id"]: np.asarray(p["head_joints_m"], float)
                 for p in (json.loads(path.read_text())["people"] if path.is_file() else [])
                 if "head_joints_m" in p}
        people = []
        for person in fp.people:
            joints = person.joints.copy()
            if person.id in heads:
                joints[list(HEAD_JOINTS)] = heads[person.id]
            people.append(replace(person, joints=joints))
        frames.append(replace(fp, people=tuple(people)))
    return replace(poses, frames=tuple(frames))


def rendered_faces(rec: Path, out: Path) -> dict:
    """Error of the faces the render stage drew (after head refinement): for every true face
    (the generator's face surfaces), the nearest rendered face centre of that frame within 0.3 m
    (out/stages/frames/*.json). face_mm: median centre distance (mm); face_p90_mm; refined: share
    of those faces whose head registration was accepted."""
    errors, refined = [], []
    for frame, faces in true_face_surfaces(rec).items():
        path = out / "stages" / "frames" / f"{frame:06d}.json"
        people = [p for p in json.loads(path.read_text())["people"] if "face_centre_m" in p] if path.is_file() else []
        for face in faces:
            if not people:
                continue
            dist = [float(np.linalg.norm(np.asarray(p["face_centre_m"]) - face.centre)) for p in people]
            j = int(np.argmin(dist))
            if dist[j] <= 0.3:
                errors.append(1000.0 * dist[j])
                refined.append(bool(people[j]["refined"]))
    if not errors:
        return {"face_mm": float("nan"), "face_p90_mm": float("nan"), "refined": float("nan")}
    return {"face_mm": float(np.median(errors)), "face_p90_mm": float(np.percentile(errors, 90)),
            "refined": float(np.mean(refined))}


def people_2d(rec: Path, out: Path) -> dict[str, float]:
    """2D person recall per camera of the keypoint stage."""
    gt = json.loads((rec / "gt_poses3d.json").read_text())
    r = open_recording(rec)
    kp = load_keypoints(out / "stages" / "keypoints2d.json")
    by_view: dict[tuple[str, int], list] = {}
    for d in kp.detections:
        by_view.setdefault((d.camera, d.frame), []).append(d)
    found: dict[str, list[int]] = {}
    for f in gt["frames"]:
        joints = np.full((len(f["people"]), 17, 3), np.nan)
        for p in f["people"]:
            joints[p["id"]] = np.asarray(p["joints"], float)
        for cam, people in visible_people(r, f["frame"], joints).items():
            hit, _ = match(by_view.get((cam, f["frame"]), []), people)
            counts = found.setdefault(cam, [0, 0])
            counts[0] += hit
            counts[1] += len(people)
    return {cam: h / n if n else float("nan") for cam, (h, n) in sorted(found.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--sizes", nargs="+", default=["1280x720", "640x480"])
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--cameras", type=int, default=4, help="cameras of the default rig (1-6; 6: like 4D-OR)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="extra --set for the run")
    ap.add_argument("--out", type=Path, default=Path("bench-output/people"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--resume-from", default=None, help="keep earlier outputs, rerun from this stage (pose3d...)")
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        for size_text in args.sizes:
            size = tuple(int(v) for v in size_text.split("x"))
            for scenario in args.scenarios:
                rec = recording(args.out / "recordings", scenario, size, seed, args.frames, args.cameras)
                out = args.out / "runs" / rec.name
                wall, peak_mb, rc = run(rec, out, args.sets, args.resume_from)
                gt = load_ground_truth(rec / "annotations.json")
                preds = load_predictions(out / "detections.json", gt)
                boxes = evaluate(gt, preds, iou_threshold=0.4).overall
                # the same with slivers (< 25% visible) as don't-care boxes, the pixel check's subset
                visible = evaluate(gt, preds, iou_threshold=0.4, min_visible=0.25).overall
                pixels = measure_pixel_privacy(gt, rec, out)
                report = json.loads((out / "report.json").read_text())
                n_frames = report["frames"]
                if args.resume_from is not None:  # the keypoint time of the run that made the stage file
                    report.setdefault("stage_seconds", {})["keypoints"] = json.loads(
                        (out / "run_state.json").read_text())["stages"]["keypoints"]["seconds"]
                row = {"scenario": scenario, "size": size_text, "cameras": args.cameras, "seed": seed,
                       "frames": n_frames,
                       "hidden_visible_holistic": pixels.overall["visible"].holistic_hidden_share,
                       "hidden_all_holistic": pixels.overall["all"].holistic_hidden_share,
                       "hidden_visible_boxes": pixels.overall["visible"].hidden_share,
                       "holistic_recall": boxes.holistic_recall, "recall": boxes.recall,
                       "precision": boxes.precision, "holistic_recall_visible": visible.holistic_recall,
                       "precision_visible": visible.precision, "people_3d": people_3d(rec, out),
                       "people_2d_recall": people_2d(rec, out), "faces": rendered_faces(rec, out),
                       "keypoints_s_per_frame": report["stage_seconds"].get("keypoints", 0.0) / max(n_frames, 1),
                       "run_s_per_frame": wall / max(n_frames, 1), "peak_rss_mb": peak_mb, "exit": rc}
                rows.append(row)
                p3 = row["people_3d"]
                print(f"{scenario:6s} {size_text:8s} x{args.cameras} seed {seed}: hidden (>=25% visible, every view) "
                      f"{row['hidden_visible_holistic']:.3f} all {row['hidden_all_holistic']:.3f} | holistic "
                      f"{boxes.holistic_recall:.3f} precision {boxes.precision:.3f} (>=25% visible "
                      f"{visible.holistic_recall:.3f}, {visible.precision:.3f}) | 3D recall {p3['recall']:.3f} "
                      f"precision {p3['precision']:.3f} head {p3['head_mm']:.0f} mm "
                      f"(final {p3['head_final_mm']:.0f}) | face "
                      f"{row['faces']['face_mm']:.0f} mm (p90 {row['faces']['face_p90_mm']:.0f}) | 2D "
                      + " ".join(f"{c} {v:.2f}" for c, v in row["people_2d_recall"].items())
                      + f" | keypoints {row['keypoints_s_per_frame']:.2f} s/frame, run {row['run_s_per_frame']:.2f}"
                      f" s/frame, peak {peak_mb:.0f} MB", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
