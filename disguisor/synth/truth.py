"""The true face surfaces of a synthetic recording (``disguisor synth``), for tests and benchmarks:
the replayed bodies (:mod:`disguisor.synth.replay`) cut to Anny's face region."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from disguisor.coco import head_axes
from disguisor.refine.face import head_occluder_triangles, submesh
from disguisor.refine.surface import FaceSurface, canonical_face_uv
from disguisor.synth.replay import replay


def face_surface_from_anny(body, vertices: np.ndarray, keypoints: np.ndarray, person_id: int) -> FaceSurface:
    """FaceSurface of Anny's face region for one posed body (vertices (V, 3), COCO-17 keypoints
    (17, 3), world metres). Facing: from the ears' midpoint to the nose; up: from the shoulders'
    midpoint to the ears' midpoint (made orthogonal to facing)."""
    idx = body.regions["face"]
    remap = np.full(len(vertices), -1, np.int64)
    remap[idx] = np.arange(len(idx))
    tris = remap[body.region_faces("face")]
    V = vertices[idx].astype(np.float64)
    centre = V.mean(axis=0)
    ears = (keypoints[3] + keypoints[4]) / 2
    facing, up = head_axes(keypoints, ears - (keypoints[5] + keypoints[6]) / 2)
    occ_v, occ_t = submesh(vertices, head_occluder_triangles(body.faces, idx, body.regions["head"]))
    return FaceSurface(person_id, V, tris, canonical_face_uv(V, centre, facing, up), centre, facing, up,
                       refined=True, note="ground truth", occluder_vertices=occ_v, occluder_triangles=occ_t)


def true_face_surfaces(recording: str | Path, frames: list[int] | None = None) -> dict[int, list[FaceSurface]]:
    """frame -> the true FaceSurface of every person of a synthetic recording (person_id = the
    ground-truth person id). Raises InputError when the replay does not match gt_poses3d.json."""
    rep = replay(recording)
    out: dict[int, list[FaceSurface]] = {}
    for f in (sorted(rep.gt) if frames is None else frames):
        posed = rep.pose(f)
        out[f] = [face_surface_from_anny(rep.body, posed.vertices[i], posed.keypoints[i], i)
                  for i in range(len(rep.looks))]
    return out


def true_attire(recording: str | Path) -> list[dict]:
    """Each person's attire in a synthetic recording (rows of ``people.json``: id, role, skin_rgb,
    mask, cap, ...). Recordings made before ``people.json`` existed get it from a replay of the
    generator's draws."""
    path = Path(recording) / "people.json"
    if path.is_file():
        return json.loads(path.read_text())["people"]
    from disguisor.synth.or_scene import people_doc

    rep = replay(recording)
    roles = [p["role"] for p in json.loads((Path(recording) / "annotations.json").read_text())["info"]["people"]]
    return people_doc([SimpleNamespace(role=r, look=lk) for r, lk in zip(roles, rep.looks, strict=True)])["people"]
