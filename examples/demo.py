"""`make demo`: the main job end to end on the embedded default, through the real command line.

1. Generate a synthetic 4-camera operating-room recording with people and ground truth.
2. Anonymize it with `disguisor run` exactly as a user would, with the default settings: the
   default 2D people finder (no simulated keypoints), 3D poses, body fit, head refinement, face
   templates rendered and blended into every view. Print what it found, compare the 3D poses with
   the ground truth, and evaluate the hidden faces against the true face boxes, by the boxes and
   by the pixels that actually changed (`disguisor eval --original --anonymized`).
   Then, as a comparison, the same run with the recording's simulated (near perfect) keypoints.
3. Write a before/after contact sheet of every camera.
4. If the real Azure Kinect sample is beside the project (../shared/data), import it
   (depth registered into colour), run the anonymizer on it too, and write a picture.
5. Print where to look.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINECT_SAMPLE = ROOT.parent / "shared" / "data" / "azure_kinect_sample.mkv"


def disguisor(*args: object) -> None:
    cmd = [sys.executable, "-m", "disguisor", *map(str, args)]
    print("$ disguisor " + " ".join(map(str, args)), flush=True)
    subprocess.run(cmd, check=True)


def report_pose_error(gt_path: Path, poses_path: Path) -> None:
    """Mean 3D joint error of the estimated people against the synthetic ground truth."""
    import json

    import numpy as np
    from scipy.optimize import linear_sum_assignment

    gt = json.loads(gt_path.read_text())["frames"]
    est = json.loads(poses_path.read_text())["frames"]
    errors, found, total = [], 0, 0
    for g, e in zip(gt, est, strict=True):
        G = np.array([p["joints"] for p in g["people"]], float)
        E = np.array([[j if j is not None else [np.nan] * 3 for j in p["joints"]] for p in e["people"]], float)
        total += len(G)
        if not len(E):
            continue
        cost = np.array([[np.nanmean(np.linalg.norm(a - b, axis=1)) for b in G] for a in E])
        rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=1e3))
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] < 0.5:
                found += 1
                errors.append(cost[r, c])
    print(f"  3D poses vs ground truth: {found}/{total} person-frames found, mean joint error "
          f"{1000 * np.mean(errors):.1f} mm")


def report_found(out: Path) -> None:
    """What the default run found: people per frame, faces hidden, and by which path."""
    import json
    from collections import Counter

    report = json.loads((out / "report.json").read_text())
    sources = Counter(d["source"] for d in json.loads((out / "detections.json").read_text()))
    print(f"  found: {report['people_per_frame']['mean']:.1f} people per frame (max "
          f"{report['people_per_frame']['max']}), {report['faces_hidden']} face-views hidden: "
          + ", ".join(f"{n} by {k}" for k, n in sources.most_common()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "demo-output")
    ap.add_argument("--frames", type=int, default=5)
    args = ap.parse_args()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    start = time.perf_counter()

    rec = out / "or_easy"
    disguisor("synth", rec, "--scenario", "easy", "--frames", args.frames, "--cameras", 4, "--size", "1280x720")
    disguisor("info", rec)
    anon = out / "or_easy_anonymized"
    disguisor("run", rec, "-o", anon, "--video")
    report_found(anon)
    report_pose_error(rec / "gt_poses3d.json", anon / "stages" / "poses3d.json")
    disguisor("eval", "--gt", rec / "annotations.json", "--pred", anon / "detections.json",
              "--original", rec, "--anonymized", anon,
              "--calibration", rec / "calibration.json", "--json", out / "or_easy_eval.json")
    print("\ncomparison: the same recording with its simulated 2D keypoints (what a perfect detector gives)")
    simulated = out / "or_easy_simulated_keypoints"
    disguisor("--quiet", "run", rec, "-o", simulated, "--keypoints", rec / "keypoints2d.json")
    disguisor("eval", "--gt", rec / "annotations.json", "--pred", simulated / "detections.json",
              "--original", rec, "--anonymized", simulated, "--json", out / "or_easy_simulated_eval.json")
    disguisor("preview", rec, "--frame", 0, "--anonymized", anon, "-o", out / "or_easy_before_after.png")
    disguisor("fuse", rec, "--frame", 0, "-o", out / "or_easy_frame0.ply")

    looks = [out / "or_easy_before_after.png", anon, out / "or_easy_eval.json", out / "or_easy_frame0.ply"]
    if KINECT_SAMPLE.is_file():
        kin = out / "kinect_sample"
        disguisor("import", "kinect", KINECT_SAMPLE, "-o", kin)
        disguisor("info", kin)
        disguisor("run", kin, "-o", out / "kinect_sample_anonymized")
        disguisor("preview", kin, "--frame", 0, "-o", out / "kinect_sample_frame0.png")
        looks += [out / "kinect_sample_frame0.png", out / "kinect_sample_anonymized"]
    else:
        print(f"(skipping the Azure Kinect import: {KINECT_SAMPLE} is not present)")

    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s. Look at:")
    for path in looks:
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print("(before_after.png: every camera's original view beside its anonymized view, hidden faces boxed;"
          " *_anonymized/: images, MP4s, detections.json, report.json, summary.txt; .ply: the fused world"
          " point cloud, open with any point-cloud viewer, e.g. MeshLab or open3d)")


if __name__ == "__main__":
    main()
