"""True Anny bodies of a synthetic recording, and realistic fit errors, to measure refinement.

``disguisor synth`` stores joints and face centres but not the bodies; they are rebuilt here by
replaying the generator's random stream (same seed, same roles, same order of draws) and
checked against ``gt_poses3d.json`` (face centres must agree within 0.1 mm, else ValueError:
the generator changed). Used by tests/test_refine.py and benchmarks/bench_refine.py until real
body fits exist. World metres, +z up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from disguisor.body.anny_model import AnnyBody, load_anny
from disguisor.synth.replay import replay


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
    rep = replay(recording)
    truth = rep.pose(frame).vertices.astype(np.float64)
    entries = rep.gt[frame]["people"]
    if phenotype_jitter <= 0:
        return list(truth), entries
    jr = np.random.default_rng(seed)
    phen = [{k: float(np.clip(v + jr.uniform(-phenotype_jitter, phenotype_jitter), 0, 1))
             for k, v in lk.phenotype.items()} for lk in rep.looks]
    return list(rep.pose(frame, phen).vertices.astype(np.float64)), entries


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
