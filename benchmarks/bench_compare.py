"""disguisor vs its hybrid vs the 2D baselines on the same synthetic recordings (issue 7's table).

1. generate (or reuse) the recordings that bench_baselines.py uses;
2. run ``disguisor run`` (simulated 2D keypoints) and the hybrid (``--also-2d centerface``) on each;
3. run bench_baselines.py with both as ``--extra`` methods: recall, holistic recall, SSIM and
   identity leakage for every method, same recordings.

    .venv/bin/python benchmarks/bench_compare.py [--frames 6] [--size 1280x720] [--hybrid centerface]
        [--no-identity] [--skip-runs]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from disguisor.synth.or_scene import generate_or_recording

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--hybrid", default="centerface")
    ap.add_argument("--out", type=Path, default=Path("bench-output/baselines"))
    ap.add_argument("--detectors", nargs="+", default=["centerface", "blazeface", "dlib"])
    ap.add_argument("--no-identity", action="store_true", help="skip identity leakage (dlib, slowest part)")
    ap.add_argument("--skip-runs", action="store_true", help="reuse the disguisor and hybrid outputs in --out")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    for scenario in args.scenarios:
        rec = args.out / f"synth_{scenario}_{w}x{h}_{args.frames}f"  # bench_baselines.py's naming
        if not (rec / "annotations.json").exists():
            generate_or_recording(rec, scenario, frames=args.frames, size=(w, h), seed=0, overwrite=True)
        for name, extra in (() if args.skip_runs else (("disguisor", []), ("hybrid", ["--also-2d", args.hybrid]))):
            out = args.out / f"{name}_{scenario}"
            shutil.rmtree(out, ignore_errors=True)
            cmd = [sys.executable, "-m", "disguisor", "--quiet", "run", str(rec), "-o", str(out),
                   "--keypoints", str(rec / "keypoints2d.json"), *extra]
            print("$", " ".join(cmd[2:]), flush=True)
            subprocess.run(cmd, check=True)
    subprocess.run([sys.executable, str(HERE / "bench_baselines.py"), "--frames", str(args.frames), "--size",
                    args.size, "--scenarios", *args.scenarios, "--detectors", *args.detectors, "--out", str(args.out),
                    "--extra", f"disguisor={args.out}/disguisor_{{scenario}}",
                    "--extra", f"hybrid={args.out}/hybrid_{{scenario}}",
                    *(["--no-identity"] if args.no_identity else [])], check=True)


if __name__ == "__main__":
    main()
