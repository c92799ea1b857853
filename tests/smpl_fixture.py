"""A synthetic model file in SMPL's exact format (the real one is licence-gated), made from Anny.

6890 vertices chosen from Anny's identity-pose mesh (triangles remapped to the nearest kept
vertex), axes turned to SMPL's (y up, facing +z), 24 joints at the matching Anny bone heads with
a non-negative regressor over nearby vertices, skinning weights merged from Anny's, ten shape
directions from Anny phenotype changes, zero pose correctives. Also returns the Anny COCO
keypoints in the same axes, to check the SMPL regressor built by geometry against.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from scipy.optimize import nnls
from scipy.spatial import cKDTree

from disguisor.body.rig import nearest_fitted
from disguisor.body.smpl_model import NUM_VERTICES

ANNY_OF_SMPL = ("root", "upperleg01.L", "upperleg01.R", "spine04", "lowerleg01.L", "lowerleg01.R", "spine03",
                "foot.L", "foot.R", "spine02", "toe1-1.L", "toe1-1.R", "neck01", "clavicle.L", "clavicle.R", "head",
                "upperarm01.L", "upperarm01.R", "lowerarm01.L", "lowerarm01.R", "wrist.L", "wrist.R",
                "finger3-1.L", "finger3-1.R")
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
TO_SMPL = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # Anny (z up, facing -y) -> SMPL (y up, facing +z)


def make_smpl_file(anny_model, path: Path, seed: int = 0) -> np.ndarray:
    """Write the pickle; return the Anny COCO-17 keypoints (17, 3) of the template in SMPL axes."""
    rng = np.random.default_rng(seed)
    body = anny_model.body
    m = body.model
    names = list(m.bone_labels)
    mean = anny_model.default_shape()
    verts, kp, _ = anny_model.posed_vertices(mean, np.broadcast_to(np.eye(3), (len(anny_model.fit_bones), 3, 3)),
                                             np.zeros(3))
    keep = np.sort(rng.choice(len(verts), NUM_VERTICES, replace=False))
    _, nearest = cKDTree(verts[keep]).query(verts)
    faces = nearest[body.faces]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    faces = np.unique(faces, axis=0)
    v = verts[keep].astype(np.float64) @ TO_SMPL.T
    # skinning: Anny's weights merged onto the 24 mapped bones
    bone_map = nearest_fitted(list(m.bone_parents), names, ANNY_OF_SMPL)
    slot_b, slot_w = m.vertex_bone_indices.numpy()[keep], m.vertex_bone_weights.numpy()[keep].astype(np.float64)
    weights = np.zeros((NUM_VERTICES, 24))
    np.add.at(weights, (np.repeat(np.arange(NUM_VERTICES), slot_b.shape[1]), bone_map[slot_b].ravel()), slot_w.ravel())
    weights /= weights.sum(1, keepdims=True)
    # joints: the identity-pose bone heads, each a convex combination of its 40 nearest vertices
    out = body.forward([{}], [{}])
    heads = out.bone_poses[0][[names.index(n) for n in ANNY_OF_SMPL], :3, 3].astype(np.float64) @ TO_SMPL.T
    tree = cKDTree(v)
    J_regressor = np.zeros((24, NUM_VERTICES))
    for j, h in enumerate(heads):
        _, idx = tree.query(h, 40)
        M = np.vstack([v[idx].T * 10, np.ones(len(idx)) * 10])  # rows: x, y, z (dm) and sum-to-one
        w, _ = nnls(M, np.append(h * 10, 10))
        J_regressor[j, idx] = w / w.sum()
    # shape directions: Anny phenotype changes (metres per unit beta)
    dirs = []
    for i in range(10):
        shape = mean.copy()
        shape[i % 6] += 0.3 if i < 6 else -0.3
        if i >= 6:
            shape[(i + 2) % 6] += 0.2
        vs, _, _ = anny_model.posed_vertices(shape, np.broadcast_to(np.eye(3), (len(anny_model.fit_bones), 3, 3)),
                                             np.zeros(3))
        dirs.append((vs[keep].astype(np.float64) - verts[keep]) @ TO_SMPL.T)
    data = {"v_template": v, "shapedirs": np.stack(dirs, -1), "posedirs": np.zeros((NUM_VERTICES, 3, 207)),
            "J_regressor": J_regressor, "weights": weights,
            "kintree_table": np.array([[4294967295] + list(SMPL_PARENTS[1:]), list(range(24))], dtype=np.int64),
            "f": faces.astype(np.uint32)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(data, fh)
    return kp.astype(np.float64) @ TO_SMPL.T
