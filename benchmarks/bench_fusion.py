"""Fusion speed and memory over a long multi-camera recording.

Times, per 4-camera frame, reading the views (JPEG + 16-bit PNG decoding) and fusing them into
one voxel-merged world point cloud, and samples the process's resident memory after every
frame to show that it stays flat over the recording.

    .venv/bin/python benchmarks/bench_fusion.py [--frames 300] [--size 1280x720] [--cameras 4]

The recording (the synthetic box room, with depth noise) is generated once under
bench-output/ and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from disguisor.config import FusionParams
from disguisor.fusion import RayCache, fuse_views
from disguisor.io.recording import open_recording
from disguisor.synth.generate import write_box_room


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rec_path = args.out / f"box_room_{args.cameras}cam_{w}x{h}_{args.frames}f"
    if not rec_path.exists():
        print(f"generating {rec_path} ...", flush=True)
        t = time.perf_counter()
        write_box_room(rec_path, frames=args.frames, n_cameras=args.cameras, size=(w, h), seed=0)
        print(f"  generated in {time.perf_counter() - t:.1f} s", flush=True)

    rec = open_recording(rec_path)
    params = FusionParams()
    rays = RayCache()
    read_s, fuse_s, rss, points = [], [], [], []
    for frame in rec.frames:
        t0 = time.perf_counter()
        views = rec.views(frame)
        t1 = time.perf_counter()
        cloud = fuse_views(views, params, rays)
        t2 = time.perf_counter()
        read_s.append(t1 - t0)
        fuse_s.append(t2 - t1)
        points.append(len(cloud))
        del views, cloud
        rss.append(rss_mb())

    warm = slice(5, None)  # the first frames build the ray cache and warm the allocator
    fuse_ms = 1000 * np.asarray(fuse_s[warm])
    read_ms = 1000 * np.asarray(read_s[warm])
    rss_arr = np.asarray(rss)
    k = len(rss_arr)
    slope = float(np.polyfit(np.arange(k // 10, k), rss_arr[k // 10:], 1)[0]) * 100 if k > 20 else float("nan")
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "recording": f"{args.cameras} cameras, {w}x{h}, {args.frames} frames (synthetic box room)",
        "params": {"pixel_stride": params.pixel_stride, "voxel_size_m": params.voxel_size_m},
        "fuse_ms_median": round(float(np.median(fuse_ms)), 1),
        "fuse_ms_p90": round(float(np.percentile(fuse_ms, 90)), 1),
        "read_ms_median": round(float(np.median(read_ms)), 1),
        "read_plus_fuse_ms_median": round(float(np.median(fuse_ms + read_ms)), 1),
        "points_per_frame_median": int(np.median(points)),
        "rss_mb_after_frame_10": round(float(rss_arr[min(10, k - 1)]), 1),
        "rss_mb_last_frame": round(float(rss_arr[-1]), 1),
        "rss_mb_max": round(float(rss_arr.max()), 1),
        "rss_slope_mb_per_100_frames": round(slope, 2),
        "peak_rss_mb_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fusion.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
