"""Golden run: fingerprints of every output of ``disguisor run`` on one fixed synthetic recording.

A refactoring that must not change what the tool computes is checked by recording the outputs
before (``--write FILE``) and comparing after (``--compare FILE``): ``detections.json``,
``images.json`` and every output image, byte for byte (sha256). Two runs: with the recording's
simulated keypoints (``--keypoints``) and with the default image detector.

    .venv/bin/python benchmarks/golden_run.py --write benchmarks/golden_run.json
    .venv/bin/python benchmarks/golden_run.py --compare benchmarks/golden_run.json [--only simulated]

Recording: ``disguisor synth --scenario medium --frames 6 --cameras 4 --size 1280x720 --seed 0``,
made once in ``--work`` and reused: keep the same ``--work`` for the runs before and after. The
generator's rasterizer is not bit-exact from one generation to the next (two generations of this
recording differed in 3-250 pixels per colour image, by up to 9 grey levels, on the 2-core VM),
so the file also fingerprints the recording's colour images (``recording``), and a comparison on
another recording says so first: its outputs cannot match byte for byte.
Exit code 1 when a compared file differs (each difference listed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

RUNS = {"simulated": ["--keypoints", "{rec}/keypoints2d.json"], "detector": []}
COMPARED = ("detections.json", "images.json")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def disguisor(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "disguisor", "--quiet", *args], capture_output=True, text=True,
                          env=dict(os.environ))
    if proc.returncode not in (0, 3):
        raise SystemExit(f"disguisor {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def fingerprints(out: Path) -> dict[str, str]:
    """sha256 of detections.json, images.json and every image (relative path -> hash)."""
    files = [out / name for name in COMPARED] + sorted(out.glob("*/*.jpg"))
    return {p.relative_to(out).as_posix(): sha(p) for p in files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("bench-output/golden"))
    ap.add_argument("--write", type=Path, default=None, help="record the fingerprints here")
    ap.add_argument("--compare", type=Path, default=None, help="compare with fingerprints recorded earlier")
    ap.add_argument("--only", choices=sorted(RUNS), nargs="+", default=sorted(RUNS))
    args = ap.parse_args()
    rec = args.work / "recording"
    if not rec.is_dir():
        disguisor("synth", str(rec), "--scenario", "medium", "--frames", "6", "--cameras", "4",
                  "--size", "1280x720", "--seed", "0")
    result: dict[str, dict[str, str]] = {}
    made_on = {p.relative_to(rec).as_posix(): sha(p) for p in sorted(rec.glob("*/color/*"))}
    for name in args.only:
        out = args.work / name
        shutil.rmtree(out, ignore_errors=True)
        disguisor("run", str(rec), "-o", str(out), *[a.format(rec=rec) for a in RUNS[name]])
        result[name] = fingerprints(out)
        print(f"{name}: {len(result[name])} files")
    if args.write:
        args.write.write_text(json.dumps({**result, "recording": made_on}, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        if before.get("recording", made_on) != made_on:
            print(f"NOTE: {rec} is not the recording {args.compare} was made on (the generator is not bit-exact): "
                  "outputs differ wherever its pixels do; record both runs with the same --work")
        bad = 0
        for name, files in result.items():
            for path in sorted(set(files) | set(before.get(name, {}))):
                old, new = before.get(name, {}).get(path), files.get(path)
                if old != new:
                    bad += 1
                    print(f"DIFFERS {name}/{path}: {'missing' if new is None else 'new' if old is None else 'changed'}")
            print(f"{name}: {len(files)} files compared")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
