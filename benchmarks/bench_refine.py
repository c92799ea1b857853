"""Head refinement on the synthetic OR scenarios: face-centre and facing error before/after, speed.

Until real body fits are benchmarked, the "fitted" bodies are the true Anny bodies of each
synthetic person (rebuilt by disguisor.synth.bodies) with a realistic fit error: the body
moved rigidly about its head by 1-3 cm and rotated 5-10 degrees, and (``shape`` rows) also a
different body shape (every phenotype value moved by up to +-0.1). Each head is refined
against the fused cloud of its frame. Errors against gt_poses3d.json: face centre (mean of the
face vertices, mm) and facing direction (ears -> nose, degrees). Time per head is refine_faces
(crop, context, registration, face extraction) over the frame's heads: wall clock and process
CPU time (refinement is single-threaded, so CPU time is the uncontended time on a busy machine).
With ``--bodies bodies.json`` (from ``disguisor fit``) the real fits of that recording are
refined instead (one scenario).

    .venv/bin/python benchmarks/bench_refine.py [--frames 3] [--size 1280x720] [--coarse]
    .venv/bin/python benchmarks/bench_refine.py --recording REC --bodies REC/bodies.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from disguisor.fusion import fuse_frame
from disguisor.io.recording import open_recording
from disguisor.refine.face import refine_faces
from disguisor.refine.params import RefineParams
from disguisor.synth.bodies import anny_refine_model, perturb_head, posed, synthetic_bodies

MATCH_DISTANCE_M = 0.25  # a fitted face farther than this from every true face is not scored


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


def _run(rec: Path, frames: list[int], make_bodies, model, params: RefineParams) -> dict:
    recording = open_recording(rec)
    gt_all = {f["frame"]: {p["id"]: p for p in f["people"]}
              for f in json.loads((rec / "gt_poses3d.json").read_text())["frames"]}
    e0, e1, a0, a1, times, cpu, accepted, n = [], [], [], [], [], [], 0, 0
    reasons: dict[str, int] = {}
    for frame in frames:
        cloud = fuse_frame(recording, frame).points
        bodies = make_bodies(frame)
        t, c = time.perf_counter(), time.process_time()
        results = refine_faces(bodies, model, cloud, params)
        times.append((time.perf_counter() - t) / max(len(bodies), 1))
        cpu.append((time.process_time() - c) / max(len(bodies), 1))
        for body, (face, reg) in zip(bodies, results, strict=True):
            # fitted track ids are not ground-truth ids: match by the nearest true face centre
            before = body.vertices[model.face_vertices].mean(0)
            gt = min(gt_all[frame].values(), key=lambda g, b=before: float(np.linalg.norm(b - g["face_center"])))
            if np.linalg.norm(before - gt["face_center"]) > MATCH_DISTANCE_M:
                continue
            n += 1
            accepted += reg.accepted
            if not reg.accepted:
                key = reg.reason.split(":")[0].split("(")[0].strip()
                reasons[key] = reasons.get(key, 0) + 1
            e0.append(np.linalg.norm(before - gt["face_center"]))
            e1.append(np.linalg.norm(face.centre - gt["face_center"]))
            a0.append(_angle_deg(body.head_rotation @ model.rest_facing, np.asarray(gt["facing"])))
            a1.append(_angle_deg(face.facing, np.asarray(gt["facing"])))
    mm = 1000.0
    return {"heads": n, "accepted": accepted, "rejections": reasons,
            "centre_mm_before_median": float(np.median(e0) * mm), "centre_mm_after_median": float(np.median(e1) * mm),
            "centre_mm_before_p90": float(np.percentile(e0, 90) * mm),
            "centre_mm_after_p90": float(np.percentile(e1, 90) * mm),
            "facing_deg_before_median": float(np.median(a0)), "facing_deg_after_median": float(np.median(a1)),
            "ms_per_head_median": float(np.median(times) * 1000), "ms_per_head_max": float(np.max(times) * 1000),
            "cpu_ms_per_head_median": float(np.median(cpu) * 1000)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--out", type=Path, default=Path("bench-output"))
    ap.add_argument("--coarse", action="store_true", help="also run FilterReg as the coarse step (needs probreg)")
    ap.add_argument("--recording", type=Path, help="with --bodies: a recording and its fitted bodies")
    ap.add_argument("--bodies", type=Path, help="bodies.json of `disguisor fit` for --recording")
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args()
    params = replace(RefineParams(), coarse=args.coarse)
    model = anny_refine_model()
    rows = []
    if args.bodies:
        from disguisor.body.bodies_io import load_bodies
        from disguisor.body.fit import posed_people
        from disguisor.body.model import load_body_model

        body_model = load_body_model("anny")
        fits = load_bodies(args.bodies, body_model)
        frames = sorted(fits.frames) if hasattr(fits, "frames") else []
        res = _run(args.recording, frames, lambda f: posed_people(body_model, fits, f), body_model, params)
        rows.append({"scenario": str(args.recording), "error": "body fit", **res})
    else:
        from disguisor.synth.or_scene import generate_or_recording

        w, h = (int(v) for v in args.size.split("x"))
        for scenario in ("easy", "medium", "hard"):
            rec = args.out / f"synth_{scenario}_{w}x{h}_{args.frames}f"
            if not (rec / "gt_poses3d.json").exists():
                generate_or_recording(rec, scenario, frames=args.frames, size=(w, h), seed=0, overwrite=True)
            for error, jitter in (("rigid", 0.0), ("rigid+shape", 0.1)):
                rng = np.random.default_rng(0)

                def make(frame, jitter=jitter, rng=rng, rec=rec):
                    verts, gt = synthetic_bodies(rec, frame, phenotype_jitter=jitter, seed=frame)
                    return [posed(model, g["id"], perturb_head(verts[g["id"]], model.head_vertices, rng)[0])
                            for g in gt]

                res = _run(rec, list(range(args.frames)), make, model, params)
                rows.append({"scenario": scenario, "error": error, **res})
    print(f"{'scenario':10} {'fit error':12} {'heads':>5} {'kept':>5} {'centre mm before/after (p90)':>30} "
          f"{'facing deg before/after':>24} {'ms/head':>8} {'cpu ms':>7}")
    for r in rows:
        print(f"{r['scenario']:10} {r['error']:12} {r['heads']:5d} {r['accepted']:5d} "
              f"{r['centre_mm_before_median']:9.1f} / {r['centre_mm_after_median']:5.1f} "
              f"({r['centre_mm_before_p90']:5.1f}/{r['centre_mm_after_p90']:5.1f}) "
              f"{r['facing_deg_before_median']:14.1f} / {r['facing_deg_after_median']:5.1f} "
              f"{r['ms_per_head_median']:8.1f} {r['cpu_ms_per_head_median']:7.1f}  {r['rejections'] or ''}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
