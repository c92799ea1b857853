"""`make demo`: the main job end to end on the embedded default, through the real command line.

1. Generate the synthetic 4-camera operating-room recording (box room, exact geometry).
2. Validate it and fuse one frame of all views into a world point cloud.
3. If the real Azure Kinect sample is beside the project (../shared/data), import it
   (depth registered into colour), fuse it, and write a picture of the result.
4. Print where to look.
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

    rec = out / "or_boxes"
    disguisor("synth", rec, "--scenario", "boxes", "--frames", args.frames, "--cameras", 4, "--size", "1280x720")
    disguisor("info", rec)
    disguisor("fuse", rec, "--frame", 0, "-o", out / "or_boxes_frame0.ply")
    disguisor("preview", rec, "--frame", 0, "-o", out / "or_boxes_frame0.png")

    looks = [out / "or_boxes_frame0.png", out / "or_boxes_frame0.ply"]
    if KINECT_SAMPLE.is_file():
        kin = out / "kinect_sample"
        disguisor("import", "kinect", KINECT_SAMPLE, "-o", kin)
        disguisor("info", kin)
        disguisor("fuse", kin, "--frame", 0, "-o", out / "kinect_sample_frame0.ply", "--remove-outliers")
        disguisor("preview", kin, "--frame", 0, "-o", out / "kinect_sample_frame0.png")
        looks += [out / "kinect_sample_frame0.png", out / "kinect_sample_frame0.ply"]
    else:
        print(f"(skipping the Azure Kinect import: {KINECT_SAMPLE} is not present)")

    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s. Look at:")
    for path in looks:
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print("(.png: every camera's colour beside its registered depth; .ply: the fused world point cloud,"
          " open with any point-cloud viewer, e.g. MeshLab or open3d)")


if __name__ == "__main__":
    main()
