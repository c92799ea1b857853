"""A reduced, differentiable skeleton for fitting: a few posed bones, everything else rigid.

Both backends (Anny, SMPL) skin vertices linearly (LBS). A bone that is not fitted keeps its
identity rotation, so it moves rigidly with its nearest fitted ancestor; its skinning weights
can therefore be merged into that ancestor once per body shape. What remains is exact:

    X_root = [D_0 | h_0 - D_0 h_0 + t]                 # rotate about the rest pelvis, then move by t
    X_j    = X_parent(j) o [D_j | h_j - D_j h_j]        # rotate about the bone's head h_j
    vertex v     = sum_j X_j B_vj                       # B_vj: homogeneous weighted rest position
    keypoint k   = sum_j X_j A_kj                       # A = regressor-weighted sum of B

with D_j a rotation in the world axes of the identity pose (Anny's "local-ref" deltas, SMPL's
axis-angle pose: both are rotations about the bone head, composed down the chain), h_j the bone
head and t the pelvis displacement, all in the model's own axes and metres. The world frame of
a fit is the model frame rotated by the root rotation, so the fitted parameters are the world
pose directly (see :mod:`disguisor.body.fit`). Computing 17 keypoints this way costs a few
small batched products instead of skinning ~10,000 vertices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class Rig:
    """The reduced skeleton of one body shape (model axes, metres).

    bones: fitted bone names, parents before children, ``bones[0]`` the root. parents: (J,) int
    index of each bone's parent in ``bones`` (-1 for the root). heads: (J, 3) bone heads at the
    identity pose. keypoint_weights: (17, J, 4) A (see module doc). vertex_bones: (V, S) int
    bone index per skinning slot; vertex_weights: (V, S, 4) homogeneous weighted rest positions.
    """

    bones: tuple[str, ...]
    parents: np.ndarray
    heads: np.ndarray
    keypoint_weights: np.ndarray
    vertex_bones: np.ndarray
    vertex_weights: np.ndarray

    @cached_property
    def skinning_matrix(self):
        """Sparse (V, 4J): vertices = this @ stacked [R_j^T; t_j] (4J, 3)."""
        from scipy.sparse import csr_matrix

        V, S = self.vertex_bones.shape
        rows = np.repeat(np.arange(V), S * 4)
        cols = (self.vertex_bones[..., None] * 4 + np.arange(4)).ravel()
        return csr_matrix((self.vertex_weights.ravel(), (rows, cols)), shape=(V, 4 * len(self.bones)))


def collapse_skinning(rest_points: np.ndarray, bone_transforms: np.ndarray, slot_bones: np.ndarray,
                      slot_weights: np.ndarray, bone_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge skinning slots onto fitted bones.

    rest_points: (V, 3) rest vertices; bone_transforms: (NB, 4, 4) skinning transforms of the
    identity pose; slot_bones, slot_weights: (V, S) the model's LBS slots; bone_map: (NB,) the
    fitted bone each model bone follows. Returns vertex_bones (V, S) and vertex_weights (V, S, 4).
    """
    T = bone_transforms[slot_bones]                                      # (V, S, 4, 4)
    moved = np.einsum("vsab,vb->vsa", T[..., :3, :3], rest_points) + T[..., :3, 3]
    weights = np.concatenate([moved, np.ones_like(moved[..., :1])], axis=-1) * slot_weights[..., None]
    return bone_map[slot_bones], weights


def keypoint_weights(regressor: np.ndarray, vertex_bones: np.ndarray, vertex_weights: np.ndarray,
                     num_bones: int) -> np.ndarray:
    """A (K, J, 4) from a linear keypoint regressor (K, V) over vertices."""
    V, S = vertex_bones.shape
    dense = np.zeros((V, num_bones, 4))
    np.add.at(dense, (np.repeat(np.arange(V), S), vertex_bones.ravel()), vertex_weights.reshape(-1, 4))
    return np.einsum("kv,vja->kja", regressor, dense)


def nearest_fitted(parents: list[int], names: list[str], fitted: tuple[str, ...]) -> np.ndarray:
    """(NB,) index into ``fitted`` of each model bone's nearest fitted ancestor (itself if fitted)."""
    index = {n: i for i, n in enumerate(fitted)}
    out = np.zeros(len(names), np.int64)
    for b in range(len(names)):
        a = b
        while names[a] not in index:
            a = parents[a]
            if a < 0:
                raise ValueError(f"bone {names[b]!r} has no fitted ancestor (the root must be fitted)")
        out[b] = index[names[a]]
    return out


# ------------------------------------------------------------------------------------------------
# forward kinematics (numpy, batched)


def subtree_matrix(parents: np.ndarray) -> np.ndarray:
    """(J, J) with [j, b] = 1 when bone b is j or below j (parents listed before children)."""
    J = len(parents)
    sub = np.eye(J)
    for b in range(J - 1, 0, -1):
        sub[parents[b]] += sub[b]
    return (sub > 0).astype(np.float64)


def forward_kinematics(parents: np.ndarray, heads: np.ndarray, rot: np.ndarray, trans: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (N, J, 3, 3) and translations (N, J, 3) of every fitted bone.

    heads: (N, J, 3) identity-pose bone heads; rot: (N, J, 3, 3) per-bone rotations D_j;
    trans: (N, 3) pelvis displacement t (see module doc).
    """
    local_t = heads - np.einsum("njab,njb->nja", rot, heads)
    R = np.empty_like(rot)
    t = np.empty_like(heads)
    R[:, 0], t[:, 0] = rot[:, 0], local_t[:, 0] + trans
    for j in range(1, len(parents)):
        p = parents[j]
        R[:, j] = R[:, p] @ rot[:, j]
        t[:, j] = np.einsum("nab,nb->na", R[:, p], local_t[:, j]) + t[:, p]
    return R, t


def keypoint_parts(A: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N, K, J, 3): each bone's share X_j A_kj of every keypoint (their sum over J is the keypoint)."""
    return np.einsum("njab,nkjb->nkja", R, A[..., :3]) + t[:, None] * A[..., 3:]


def skin_vertices(rig: Rig, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(V, 3) vertices for one person: R (J, 3, 3), t (J, 3) world bone transforms (numpy)."""
    M = np.concatenate([R.transpose(0, 2, 1), t[:, None]], 1)                                    # (J, 4, 3)
    return np.asarray(rig.skinning_matrix @ M.reshape(-1, 3), dtype=np.float32)
