"""`disguisor run` end to end on the synthetic scenarios: speed, peak memory, recall.

For each scenario: generate a recording (cached in --out), run the whole pipeline in a child
process with the simulated 2D keypoints (so the number measures disguisor's own stages, not a
2D detector), then evaluate the hidden faces against the ground truth. Peak memory is the
child's maximum resident set size; run it with two lengths (--frames 10 and 30, say) to see
that memory does not grow with the recording.

    .venv/bin/python benchmarks/bench_run.py [--frames 10] [--size 1280x720] [--scenarios easy medium hard]
        [--also-2d centerface] [--method template]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from disguisor.evaluate import evaluate, load_ground_truth, load_predictions
from disguisor.synth.or_scene import generate_or_recording

PEAK_WRAPPER = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def run_child(rec: Path, out: Path, extra: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `disguisor run` in a fresh process (measured by a
    wrapper process, so earlier runs do not count)."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-c", PEAK_WRAPPER, sys.executable, "-m", "disguisor", "--quiet", "run", str(rec),
           "-o", str(out), "--keypoints", str(rec / "keypoints2d.json"), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, int(proc.stdout.strip().splitlines()[-1]) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--out", type=Path, default=Path("bench-output/run"))
    ap.add_argument("--also-2d", default=None)
    ap.add_argument("--method", default="template")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    extra = ["--method", args.method] + (["--also-2d", args.also_2d] if args.also_2d else [])
    rows = {}
    for scenario in args.scenarios:
        rec = args.out / f"{scenario}_{args.frames}f_{args.size}_s{args.seed}"
        if not (rec / "annotations.json").is_file():
            generate_or_recording(rec, scenario=scenario, frames=args.frames, size=(w, h), seed=args.seed,
                                  overwrite=True)
        out = args.out / f"{rec.name}_run{'_' + args.also_2d if args.also_2d else ''}_{args.method}"
        wall, peak_mb = run_child(rec, out, extra)
        report = json.loads((out / "report.json").read_text())
        gt = load_ground_truth(rec / "annotations.json")
        res = evaluate(gt, load_predictions(out / "detections.json", gt), iou_threshold=0.4)
        rows[scenario] = {
            "frames": args.frames, "wall_s": round(wall, 1), "s_per_frame": round(wall / args.frames, 3),
            "peak_rss_mb": round(peak_mb), "stage_s": report["stage_seconds"],
            "median_frame_s": report["per_frame_seconds"], "failed_frames": len(report["failed_frames"]),
            "recall": round(res.overall.recall, 4), "holistic_recall": round(res.overall.holistic_recall, 4),
            "precision": round(res.overall.precision, 4),
            "coverage_recall": round(res.overall.coverage_recall, 4),
            "holistic_coverage": round(res.overall.holistic_coverage, 4),
            "per_camera_recall": {c: round(s.recall, 4) for c, s in res.per_camera.items()},
        }
        print(scenario, json.dumps(rows[scenario]), flush=True)
    doc = json.dumps({"size": args.size, "cpu_count": os.cpu_count(), "results": rows}, indent=1)
    print(doc)
    if args.json is not None:
        args.json.write_text(doc + "\n")


if __name__ == "__main__":
    main()
