"""Where each head's placement goes wrong, by how far the true face looks up or down (issue 13).

Reads the outputs of `benchmarks/bench_people.py` (its --out folder: recordings/NAME and
runs/NAME) and, for every fitted person matched to a true face (the true face centre nearest to
the fit's or the drawn face, within 0.3 m), compares with the generator's truth:

- the 3D head joints (triangulated): facing of the ears' midpoint -> nose, degrees off the truth;
- the body fit's head: face centre (mm) and facing (degrees) off the truth;
- the face drawn (after the registration against the depth; out/stages/frames/*.json);
- the depth's verdict: the registration's fitness (share of the cloud points near the head
  within the inlier distance of its surface, :func:`disguisor.refine.register.placement_fit`)
  of the head moved to the truth (the fit's nose, eyes and ears laid onto the true ones,
  Kabsch) against that of the head as drawn. Where the truth fits clearly worse (by more than
  MARGIN), no registration from any start can be expected to find it: the body model's head
  against this person's depth, not the search, is what differs.

Rows are binned by the z component of the true facing (world z up: -1 looks straight down,
+1 straight up).

    .venv/bin/python benchmarks/bench_heads.py --out bench-output/people [--runs NAME ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from disguisor.body.bodies_io import load_bodies  # noqa: E402
from disguisor.body.fit import kabsch, posed_people  # noqa: E402
from disguisor.body.model import load_body_model  # noqa: E402
from disguisor.fusion import RayCache  # noqa: E402
from disguisor.io.recording import open_recording  # noqa: E402
from disguisor.pose3d.poses import load_poses3d  # noqa: E402
from disguisor.refine.params import RefineParams  # noqa: E402
from disguisor.refine.points import head_cloud  # noqa: E402
from disguisor.refine.register import crop_box, in_box, placement_fit, vertex_normals, voxel_points  # noqa: E402

HEAD = 5  # COCO-17 nose, eyes, ears
MARGIN = 0.03  # fitness; heads drawn within a few mm of the truth differ from it by ~0.01
BINS = ((-1.0, -0.7, "down steeply (z < -0.7)"), (-0.7, -0.4, "down (-0.7..-0.4)"),
        (-0.4, 0.2, "level (-0.4..0.2)"), (0.2, 1.01, "up (> 0.2, lying)"))


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.degrees(np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))))


def joints_facing(joints: np.ndarray) -> np.ndarray | None:
    """Ears' midpoint -> nose of (>= 5, 3) head joints, or None when one is missing."""
    j = np.asarray(joints, float)
    if not np.isfinite(j[[0, 3, 4]]).all():
        return None
    return j[0] - (j[3] + j[4]) / 2


def rigid(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """4x4 transform laying the points ``src`` (N, 3) onto ``dst`` (least squares)."""
    R, c = kabsch(src, dst, np.ones(len(src)))
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, c
    return T


def run_rows(rec_dir: Path, out_dir: Path, model, params: RefineParams) -> list[dict]:
    rec = open_recording(rec_dir)
    fits = load_bodies(out_dir / "stages" / "bodies.json", model)
    poses = {f.frame: f for f in load_poses3d(out_dir / "stages" / "poses3d.json").frames}
    truth = {f["frame"]: f["people"] for f in json.loads((rec_dir / "gt_poses3d.json").read_text())["frames"]}
    faces = np.asarray(model.faces, np.int64)
    face_idx, head_idx = np.asarray(model.face_vertices, np.int64), np.asarray(model.head_vertices, np.int64)
    near_head = faces[np.isin(faces, head_idx).any(axis=1)]
    rays, rows = RayCache(), []
    for frame, gt_people in truth.items():
        record = out_dir / "stages" / "frames" / f"{frame:06d}.json"
        drawn = {p["person_id"]: p for p in (json.loads(record.read_text())["people"] if record.is_file() else [])
                 if "face_centre_m" in p}
        bodies = posed_people(model, fits, frame)
        if not bodies:
            continue
        views = {v.camera.name: (v.camera, v.depth) for v in rec.views(frame)}
        cloud = head_cloud(views, rays, bodies, head_idx, params)
        all_v = [np.asarray(b.vertices, np.float64) for b in bodies]
        not_head = np.ones(len(all_v[0]), bool)
        not_head[head_idx] = False
        for i, body in enumerate(bodies):
            V = all_v[i]
            kp = np.asarray(body.keypoints, np.float64)
            fit_centre = V[face_idx].mean(axis=0)
            fit_facing = np.asarray(body.head_rotation) @ np.asarray(model.rest_facing, float)
            d = drawn.get(int(body.person_id))
            near = [fit_centre] + ([np.asarray(d["face_centre_m"])] if d else [])
            g = min(gt_people, key=lambda p: min(np.linalg.norm(np.asarray(p["face_center"]) - c) for c in near))
            g_centre, g_facing = np.asarray(g["face_center"], float), np.asarray(g["facing"], float)
            if min(np.linalg.norm(g_centre - c) for c in near) > 0.3:
                continue
            row = {"run": out_dir.name, "frame": frame, "person": int(body.person_id), "true_id": g["id"],
                   "facing_z": float(g_facing[2]),
                   "fit_mm": 1000 * float(np.linalg.norm(fit_centre - g_centre)),
                   "fit_deg": angle_deg(fit_facing, g_facing)}
            tri = poses.get(frame)
            person = tri.person(body.person_id) if tri is not None else None
            tf = joints_facing(person.joints) if person is not None else None
            row["joints_deg"] = angle_deg(tf, g_facing) if tf is not None else None
            if d is None:
                rows.append(row)
                continue
            row["drawn_mm"] = 1000 * float(np.linalg.norm(np.asarray(d["face_centre_m"]) - g_centre))
            row["drawn_deg"] = angle_deg(np.asarray(d["facing"]), g_facing)
            head = V[head_idx]
            normals = vertex_normals(V, near_head)[head_idx]
            # as the registration sees it: the rest of this body and the others near the head are context
            lo, hi = crop_box(head, params)
            others = [in_box(V[not_head], lo, hi)] + [in_box(v, lo, hi) for j, v in enumerate(all_v) if j != i]
            ctx = voxel_points(np.concatenate(others), params.voxel_m)
            T_drawn = rigid(kp[:HEAD], np.asarray(d["head_joints_m"], float))
            T_true = rigid(kp[:HEAD], np.asarray(g["joints"], float)[:HEAD])
            row["fitness_drawn"] = placement_fit(head, cloud, T_drawn, params, normals=normals, context_vertices=ctx)[0]
            row["fitness_true"] = placement_fit(head, cloud, T_true, params, normals=normals, context_vertices=ctx)[0]
            rows.append(row)
    return rows


def summary(rows: list[dict]) -> list[str]:
    def med(rs, key):
        v = [r[key] for r in rs if r.get(key) is not None]
        return f"{np.median(v):.0f}" if v else "-"

    lines = ["| true facing | heads | 3D joints: deg | fit: mm / deg | drawn: mm / deg | fitness: drawn / true | "
             f"true fits worse by > {MARGIN} |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for lo, hi, name in BINS:
        rs = [r for r in rows if lo <= r["facing_z"] < hi]
        if not rs:
            continue
        both = [r for r in rs if "fitness_true" in r]
        worse = sum(r["fitness_true"] < r["fitness_drawn"] - MARGIN for r in both)
        fitness = "-"
        if both:
            drawn, true = (np.median([r[k] for r in both]) for k in ("fitness_drawn", "fitness_true"))
            fitness = f"{drawn:.2f} / {true:.2f}"
        lines.append(f"| {name} | {len(rs)} | {med(rs, 'joints_deg')} | {med(rs, 'fit_mm')} / {med(rs, 'fit_deg')} | "
                     f"{med(rs, 'drawn_mm')} / {med(rs, 'drawn_deg')} | {fitness} | {worse} of {len(both)} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench-output/people"), help="bench_people.py's --out")
    ap.add_argument("--runs", nargs="+", default=None, help="run names (default: every run there)")
    ap.add_argument("--json", type=Path, default=None, help="write every row here")
    args = ap.parse_args()
    names = args.runs or sorted(p.name for p in (args.out / "runs").iterdir()
                                if (p / "stages" / "bodies.json").is_file())
    model, params, rows = load_body_model("anny"), RefineParams(), []
    for name in names:
        rows += run_rows(args.out / "recordings" / name, args.out / "runs" / name, model, params)
        print(f"{name}: {len(rows)} heads so far", file=sys.stderr, flush=True)
    print("\n".join(summary(rows)))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
