"""The true face surfaces of a synthetic recording (``disguisor synth``), for tests and benchmarks.

The generator stores joints, face centres and facings (gt_poses3d.json) but not the meshes.
They are rebuilt here by replaying the generator's random draws (appearance, then motion, per
person, from the recorded seed and scenario) and posing Anny exactly as it did; the replayed
joints are checked against gt_poses3d.json, so a change of the generator is detected instead of
silently giving wrong faces. Works for recordings made with the default scenario specs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from disguisor.coco import head_axes
from disguisor.errors import InputError
from disguisor.refine.face import head_occluder_triangles, submesh
from disguisor.refine.surface import FaceSurface, canonical_face_uv

REPLAY_TOLERANCE_M = 1e-3


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
    from disguisor.body.anny_model import load_anny
    from disguisor.synth.motion import role_motion
    from disguisor.synth.or_scene import FPS
    from disguisor.synth.people import place_root, pose_from_state, sample_appearance
    from disguisor.synth.room import TABLE_TOP_Z
    from disguisor.synth.scenarios import SCENARIOS

    rec = Path(recording)
    ann_path, gt_path = rec / "annotations.json", rec / "gt_poses3d.json"
    info = json.loads(ann_path.read_text())["info"]
    gt = {f["frame"]: f for f in json.loads(gt_path.read_text())["frames"]}
    scenario = info["description"].rsplit(" ", 1)[-1]
    if scenario not in SCENARIOS:
        raise InputError(ann_path, f"unknown scenario {scenario!r}", field="info.description")
    spec, n_frames = SCENARIOS[scenario], int(info["frames"])
    rng = np.random.default_rng(int(info["seed"]))
    body = load_anny()
    looks, motions = [], []
    for role in spec.roles:  # same order of draws as the generator
        looks.append(sample_appearance(rng, role, spec.caps_and_gowns))
        motions.append(role_motion(role, n_frames, FPS, rng))
    first = [place_root(pose_from_state(m[0]), (0.0, 0.0), 0.0) for m in motions]
    lowest = body.forward([lk.phenotype for lk in looks], first).vertices[..., 2].min(axis=1)
    pelvis_z = [float((TABLE_TOP_Z if m[0].lying else 0.0) - low) for m, low in zip(motions, lowest, strict=True)]
    out: dict[int, list[FaceSurface]] = {}
    for f in (range(n_frames) if frames is None else frames):
        poses = [place_root(pose_from_state(m[f]), m[f].position, z) for m, z in zip(motions, pelvis_z, strict=True)]
        posed = body.forward([lk.phenotype for lk in looks], poses)
        faces = []
        for i in range(len(looks)):
            joints = np.asarray(gt[f]["people"][i]["joints"], float)
            err = float(np.abs(posed.keypoints[i] - joints).max())
            if err > REPLAY_TOLERANCE_M:
                raise InputError(gt_path, f"replayed person {i} differs from the ground truth by {err:.3f} m",
                                 field=f"frames[{f}].people[{i}].joints")
            faces.append(face_surface_from_anny(body, posed.vertices[i], posed.keypoints[i], i))
        out[f] = faces
    return out
