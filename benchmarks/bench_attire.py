"""Accuracy of the attire estimate (mask, cap, skin tone) of ``disguisor run`` on synthetic recordings.

For every scenario and seed: generate a recording (or reuse it), bring the run's stages up to
date with the simulated keypoints, make the per-recording attire estimate exactly as the frame
stage does (``FrameWorker.attire``) and compare each tracked person with the generator's
``people.json`` (track matched to the true person whose nose is nearest, within 0.3 m, in the
first frame both exist). Tone: the template tone nearest (CIELAB) to the estimate against the
template tone nearest to the person's true skin colour ("tone class"), and the Fitzpatrick
index error (nearest of the generator's six tones to the estimate).

    .venv/bin/python benchmarks/bench_attire.py --scenarios easy medium hard --seeds 0 1 2 \\
        --frames 6 --size 640x360 [--out bench-output/attire] [--json FILE]

With ``--runs DIR`` (the ``--out`` folder of ``benchmarks/bench_people.py``) it measures instead
the default people finder's tracks: every ``DIR/recordings/NAME`` with a copy of the run
``DIR/runs/NAME`` (its cached stages are reused; the run itself is left as it was).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from disguisor.render.attire import to_lab
from disguisor.render.templates import load_templates
from disguisor.run.pipeline import prepare_run
from disguisor.settings import PipelineConfig, apply_sets
from disguisor.synth.or_scene import generate_or_recording
from disguisor.synth.people import SKIN_TONES_RGB
from disguisor.synth.truth import true_attire

MATCH_M = 0.3


def _nearest(rgb, palette) -> int:
    return int(np.argmin(np.linalg.norm(to_lab(np.asarray(palette, np.float32)) - to_lab(np.asarray(rgb, np.float32)),
                                        axis=1)))


def match_tracks(run, rec_dir: Path) -> dict[int, int]:
    """track id -> true person id (nose within MATCH_M in the first frame both exist)."""
    gt = {f["frame"]: f for f in json.loads((rec_dir / "gt_poses3d.json").read_text())["frames"]}
    out: dict[int, int] = {}
    for fp in run.ctx.results["pose3d"].frames:
        if fp.frame not in gt:
            continue
        for p in fp.people:
            if p.id in out or not np.isfinite(p.joints[0]).all():
                continue
            d = [np.linalg.norm(np.asarray(g["joints"][0]) - p.joints[0]) for g in gt[fp.frame]["people"]]
            if d and min(d) < MATCH_M:
                out[p.id] = int(np.argmin(d))
    return out


def measure(rec_dir: Path, out_dir: Path, simulated: bool = True) -> list[dict]:
    sets = [f"keypoints.file={rec_dir / 'keypoints2d.json'}"] if simulated else []
    cfg = apply_sets(PipelineConfig(), sets + ["run.template=auto"])
    run = prepare_run(rec_dir, out_dir, cfg)
    worker = run.worker()
    try:
        estimates = worker.attire()
        chosen = {pid: worker.template(pid).name for pid in estimates}
    finally:
        worker.close()
    truth = true_attire(rec_dir)
    tracks = match_tracks(run, rec_dir)
    templates = load_templates()
    tones = [t.info["skin"] for t in templates.values()]
    rows = []
    for tid, est in estimates.items():
        if tid not in tracks:
            continue
        t = truth[tracks[tid]]
        row = {"recording": rec_dir.name, "track": tid, "person": t["id"], "role": t["role"], "mask_true": t["mask"],
               "mask_est": est.mask, "cap_true": t["cap"], "cap_est": est.cap, "skin_true": t["skin_rgb"],
               "skin_est": est.skin_rgb, "template": chosen[tid]}
        if est.skin_rgb is not None:
            row["tone_class_ok"] = _nearest(est.skin_rgb, tones) == _nearest(t["skin_rgb"], tones)
            row["fitzpatrick_error"] = abs(_nearest(est.skin_rgb, SKIN_TONES_RGB)
                                           - _nearest(t["skin_rgb"], SKIN_TONES_RGB))
        rows.append(row)
    return rows


def _share(rows, key_true, key_est) -> str:
    known = [r for r in rows if r[key_est] is not None]
    if not known:
        return "n/a"
    ok = sum(r[key_true] == r[key_est] for r in known)
    return f"{ok / len(known):.2f} ({ok}/{len(known)}, {len(rows) - len(known)} unknown)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--out", type=Path, default=Path("bench-output/attire"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--runs", type=Path, help="measure the default people finder's runs of bench_people.py --out DIR")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    all_rows: dict[str, list[dict]] = {}
    for rec in sorted((args.runs / "recordings").iterdir()) if args.runs else []:
        work = Path(tempfile.mkdtemp()) / rec.name
        shutil.copytree(args.runs / "runs" / rec.name, work)
        (work / ".disguisor.lock").unlink(missing_ok=True)
        rows = measure(rec, work, simulated=False)
        shutil.rmtree(work.parent)
        all_rows.setdefault(rec.name.split("_")[0], []).extend(rows)
        for r in rows:
            print(json.dumps(r))
    for scenario in args.scenarios if not args.runs else []:
        for seed in args.seeds:
            rec = args.out / f"{scenario}_s{seed}_{args.size}_{args.frames}f"
            if not (rec / "people.json").is_file():
                generate_or_recording(rec, scenario, frames=args.frames, size=(w, h), seed=seed, overwrite=True)
            rows = measure(rec, args.out / f"{rec.name}_run")
            all_rows.setdefault(scenario, []).extend(rows)
            for r in rows:
                print(json.dumps(r))
    print("| scenario | people | mask correct | cap correct | tone class correct | Fitzpatrick error (mean) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for scenario, rows in [*all_rows.items(), ("all", [r for v in all_rows.values() for r in v])]:
        toned = [r for r in rows if "tone_class_ok" in r]
        tone = f"{np.mean([r['tone_class_ok'] for r in toned]):.2f} ({len(toned)})" if toned else "n/a"
        fe = f"{np.mean([r['fitzpatrick_error'] for r in toned]):.2f}" if toned else "n/a"
        print(f"| {scenario} | {len(rows)} | {_share(rows, 'mask_true', 'mask_est')} | "
              f"{_share(rows, 'cap_true', 'cap_est')} | {tone} | {fe} |")
    if args.json:
        args.json.write_text(json.dumps(all_rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
