"""True Anny bodies of a synthetic recording, and realistic fit errors, to measure refinement.

``disguisor synth`` stores joints and face centres but not the bodies; they are rebuilt here by
replaying the generator's random stream (same seed, same roles, same order of draws) and
checked against ``gt_poses3d.json`` (face centres must agree within 0.1 mm, else ValueError:
the generator changed). Used by tests/test_refine.py and benchmarks/bench_refine.py until real
body fits exist. World metres, +z up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from disguisor.body.anny_model import AnnyBody, load_anny


@dataclass(frozen=True, eq=False)
class AnnyRefineModel:
    """An Anny body seen as refine's BodyModelLike: triangles, region indices, rest directions.

    rest_facing: the rest pose's direction from the ears' midpoint to the nose (the ground
    truth's definition of facing); rest_up: +z."""

    faces: np.ndarray
    face_vertices: np.ndarray
    head_vertices: np.ndarray
    rest_facing: np.ndarray
    rest_up: np.ndarray
    rest_vertices: np.ndarray


@dataclass(frozen=True, eq=False)
class PosedAnny:
    """A posed body (refine's PosedBodyLike): vertices (V, 3) world metres, head_rotation (3, 3)."""

    person_id: int
    vertices: np.ndarray
    head_rotation: np.ndarray


def anny_refine_model(body: AnnyBody | None = None) -> AnnyRefineModel:
    body = body or load_anny()
    k = body.rest_keypoints
    facing = k["nose"] - (k["left_ear"] + k["right_ear"]) / 2
    return AnnyRefineModel(body.faces, body.regions["face"], body.regions["head"], facing / np.linalg.norm(facing),
                           np.array([0.0, 0.0, 1.0]), body.rest_vertices)


def kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) that best maps the centred points a (N, 3) onto the centred points b."""
    h = (a - a.mean(0)).T @ (b - b.mean(0))
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def posed(model: AnnyRefineModel, person_id: int, vertices: np.ndarray) -> PosedAnny:
    """A PosedAnny whose head rotation is the best rigid fit of the rest head to the posed head."""
    h = model.head_vertices
    return PosedAnny(person_id, np.asarray(vertices, np.float64), kabsch(model.rest_vertices[h], vertices[h]))


def synthetic_bodies(recording: str | Path, frame: int, phenotype_jitter: float = 0.0,
                     seed: int = 0) -> tuple[list[np.ndarray], list[dict]]:
    """(vertices (V, 3) per person, gt entries of gt_poses3d.json) of one frame of a synthetic
    recording. phenotype_jitter > 0 also returns bodies of a slightly different shape (each
    phenotype value moved by up to +-jitter), as a body fit would produce."""
    from disguisor.synth.motion import role_motion
    from disguisor.synth.or_scene import FPS
    from disguisor.synth.people import place_root, pose_from_state, sample_appearance
    from disguisor.synth.room import TABLE_TOP_Z
    from disguisor.synth.scenarios import SCENARIOS

    root = Path(recording)
    ann = json.loads((root / "annotations.json").read_text())
    gt = json.loads((root / "gt_poses3d.json").read_text())
    info = ann["info"]
    spec = SCENARIOS[ann["images"][0]["scenario"]]
    rng = np.random.default_rng(info["seed"])
    body = load_anny()
    people = []
    for role in spec.roles:
        look = sample_appearance(rng, role, spec.caps_and_gowns)
        people.append((look, role_motion(role, info["frames"], FPS, rng)))
    first = [place_root(pose_from_state(s[0]), (0.0, 0.0), 0.0) for _, s in people]
    lowest = body.forward([lk.phenotype for lk, _ in people], first).vertices[..., 2].min(axis=1)
    pelvis = [float((TABLE_TOP_Z if s[0].lying else 0.0) - lo) for (_, s), lo in zip(people, lowest, strict=True)]
    poses = [place_root(pose_from_state(s[frame]), s[frame].position, z)
             for (_, s), z in zip(people, pelvis, strict=True)]
    truth = body.forward([lk.phenotype for lk, _ in people], poses).vertices.astype(np.float64)
    entries = next(f["people"] for f in gt["frames"] if f["frame"] == frame)
    for p in entries:
        if np.abs(truth[p["id"]][body.regions["face"]].mean(0) - p["face_center"]).max() > 1e-4:
            raise ValueError(f"{root}: replayed body {p['id']} does not match gt_poses3d.json (generator changed?)")
    if phenotype_jitter <= 0:
        return list(truth), entries
    jr = np.random.default_rng(seed)
    phen = [{k: float(np.clip(v + jr.uniform(-phenotype_jitter, phenotype_jitter), 0, 1))
             for k, v in lk.phenotype.items()} for lk, _ in people]
    return list(body.forward(phen, poses).vertices.astype(np.float64)), entries


def perturb_head(vertices: np.ndarray, head_idx: np.ndarray, rng: np.random.Generator,
                 shift_m: tuple[float, float] = (0.01, 0.03),
                 angle_deg: tuple[float, float] = (5.0, 10.0)) -> tuple[np.ndarray, np.ndarray]:
    """A body whose whole mesh is moved rigidly about its head's centroid by a random shift
    (length in shift_m) and rotation (angle in angle_deg, random axis): a typical fit error of
    the head. Returns (vertices, 4x4 transform applied)."""
    c = vertices[head_idx].mean(axis=0)
    axis = rng.normal(size=3)
    R = Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.radians(rng.uniform(*angle_deg))).as_matrix()
    d = rng.normal(size=3)
    d *= rng.uniform(*shift_m) / np.linalg.norm(d)
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = c - R @ c + d
    return vertices @ R.T + T[:3, 3], T
