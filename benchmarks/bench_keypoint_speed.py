"""Keypoint stage speed of two versions of the code, side by side (issue 13, speed).

The machine is shared and its speed drifts, so two source trees (e.g. a git worktree of the
commit before a change, and the change) are timed alternately on the same recording, each run in
a fresh process, and compared as ratios per round. A run times what `disguisor run`'s keypoint
stage does: build the configured detector (models loaded) and detect every frame
(``detect_recording``); wall seconds per frame of the recording, and the process's CPU seconds.

    .venv/bin/python benchmarks/bench_keypoint_speed.py --old /tmp/wtA --new /tmp/wtB \\
        --recording REC [--rounds 3] [--set keypoints.every=3 ...] [--json FILE]

One tree with two settings: ``--old . --new . --new-set keypoints.movenet.crop_px=224``.

Waits while /tmp/QUIET exists (another job measuring its own timings) before each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, sys, time
from disguisor.io.recording import open_recording
from disguisor.pose2d.command import detect_recording, make_pose_detector
from disguisor.settings import make_config
kp = make_config(None, sys.argv[2:]).keypoints
rec = open_recording(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
det = make_pose_detector(kp.detector, kp.pose_model, kp)
res = detect_recording(rec, det, kp)
n = len(rec.frames)
print(json.dumps({"wall_s_per_frame": (time.perf_counter() - t0) / n, "cpu_s_per_frame": (time.process_time() - c0) / n,
                  "detections": len(res.detections)}))
"""


def timed(tree: Path, recording: Path, sets: list[str]) -> dict:
    """One keypoint-stage run with the code of ``tree`` in a fresh process."""
    while os.path.exists("/tmp/QUIET"):
        time.sleep(15)
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", CHILD, str(recording), *sets], capture_output=True, text=True,
                         env=env, cwd=str(tree), check=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["load"] = float(Path("/proc/loadavg").read_text().split()[0])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="source tree of the old code")
    ap.add_argument("--new", type=Path, required=True, help="source tree of the new code")
    ap.add_argument("--recording", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--set", dest="sets", action="append", default=[], help="setting for both, e.g. keypoints.every=3")
    ap.add_argument("--old-set", dest="old_sets", action="append", default=[], help="setting for the old one only")
    ap.add_argument("--new-set", dest="new_sets", action="append", default=[], help="setting for the new one only")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rows = []
    for r in range(args.rounds):
        # alternate which one goes first: a drift within a round then favours neither
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        got = {name: timed(getattr(args, name), args.recording, args.sets + getattr(args, f"{name}_sets"))
               for name in order}
        ratio = got["new"]["wall_s_per_frame"] / got["old"]["wall_s_per_frame"]
        cpu_ratio = got["new"]["cpu_s_per_frame"] / got["old"]["cpu_s_per_frame"]
        rows.append({"round": r, **{f"{k}_{m}": v for k, d in got.items() for m, v in d.items()},
                     "ratio": ratio, "cpu_ratio": cpu_ratio})
        print(f"round {r}: old {got['old']['wall_s_per_frame']:.2f} s/frame (cpu {got['old']['cpu_s_per_frame']:.2f}, "
              f"load {got['old']['load']:.1f}), new {got['new']['wall_s_per_frame']:.2f} s/frame (cpu "
              f"{got['new']['cpu_s_per_frame']:.2f}, load {got['new']['load']:.1f}): new/old wall {ratio:.3f}, "
              f"cpu {cpu_ratio:.3f}", flush=True)
    ratios = sorted(row["ratio"] for row in rows)
    print(f"median new/old wall ratio {ratios[len(ratios) // 2]:.3f} over {len(rows)} rounds")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
