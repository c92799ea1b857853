"""SMPL as a second body model (the paper's choice), through ``smplx``, with files the user supplies.

SMPL's model files are licence-gated, so none ship here: ``--smpl-dir`` points to them. What
SMPL lacks for this project is built from the model itself at load time:

- a COCO-17 regressor: shoulders, elbows, wrists, hips, knees and ankles are SMPL's own joint
  regressor rows; nose, eyes and ears are surface points found by geometry on the template
  (nose: the most forward head vertex near the midline; ears: the lateral extremes of the head
  at nose-to-eye height, behind the face; eyes: in the vertical line a third of the way from the
  midline to each ear, the most recessed front-surface height between nose tip and brow);
- the head region (vertices skinned mostly to the head joint) and the face region (head vertices
  in front of the ears, between them, from the chin up to below the crown).

SMPL axes: metres, y up, facing +z, +x the body's left. Pose correctives (``posedirs``) are
ignored by the fit (the reduced rig) but applied to the output meshes (smplx forward).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from disguisor.body.rig import Rig, collapse_skinning, keypoint_weights, nearest_fitted
from disguisor.body.threads import one_torch_thread
from disguisor.coco import head_axes
from disguisor.errors import InputError

SMPL_JOINTS = ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
               "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
               "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_hand", "right_hand")
# COCO body joints that are SMPL joints (index into SMPL_JOINTS)
COCO_FROM_SMPL = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 11: 1, 12: 2, 13: 4, 14: 5, 15: 7, 16: 8}
# feet and hands are not seen by COCO-17: they follow the ankles and wrists
SMPL_FIT_BONES = tuple(n for n in SMPL_JOINTS if n not in ("left_foot", "right_foot", "left_hand", "right_hand"))
NUM_VERTICES = 6890
REQUIRED = {"v_template": (NUM_VERTICES, 3), "shapedirs": (NUM_VERTICES, 3, None), "posedirs": (NUM_VERTICES, 3, 207),
            "J_regressor": (24, NUM_VERTICES), "weights": (NUM_VERTICES, 24), "kintree_table": (2, 24), "f": (None, 3)}


def find_smpl_file(path: Path) -> Path:
    """The SMPL pickle in a folder (SMPL_NEUTRAL.pkl, then SMPL_MALE/FEMALE.pkl, then a single *.pkl)."""
    path = Path(path)
    if path.is_file():
        return path
    for name in ("SMPL_NEUTRAL.pkl", "SMPL_MALE.pkl", "SMPL_FEMALE.pkl"):
        if (path / name).is_file():
            return path / name
    pkls = sorted(path.glob("*.pkl"))
    if len(pkls) == 1:
        return pkls[0]
    raise InputError(path, "no SMPL model file (SMPL_NEUTRAL.pkl, SMPL_MALE.pkl or SMPL_FEMALE.pkl) in this folder",
                     field="--smpl-dir")


def read_smpl_file(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an SMPL pickle, checked (keys, shapes, finite values); raises InputError naming
    the file and the key."""
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh, encoding="latin1")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise InputError(path, f"not a readable SMPL pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a dictionary of arrays", field="(top level)")
    out = {}
    for key, shape in REQUIRED.items():
        if key not in data:
            raise InputError(path, "missing required array", field=key)
        value = data[key]
        if hasattr(value, "toarray"):  # J_regressor is stored as a scipy sparse matrix
            value = value.toarray()
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(path, f"not a numeric array ({type(value).__name__})", field=key) from None
        if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape, strict=True)):
            want = "x".join("N" if s is None else str(s) for s in shape)
            raise InputError(path, f"expected shape {want}, got {'x'.join(map(str, arr.shape))}", field=key)
        if not np.isfinite(arr).all():
            raise InputError(path, "contains non-finite values", field=key)
        out[key] = arr
    return out


class SmplBodyModel:
    """SMPL loaded through smplx; shape = the betas."""

    name = "smpl"
    head_bone = "head"
    fit_bones = SMPL_FIT_BONES

    @classmethod
    def load(cls, smpl_dir: Path) -> SmplBodyModel:
        return cls(find_smpl_file(Path(smpl_dir)))

    def __init__(self, path: Path):
        import smplx
        import torch

        self._torch = torch
        self.path = path
        arrays = read_smpl_file(path)
        nb = min(10, arrays["shapedirs"].shape[2])
        try:
            self.smpl = smplx.SMPL(model_path=str(path), num_betas=nb)
        except Exception as exc:  # noqa: BLE001 - smplx reports malformed files in many ways
            raise InputError(path, f"smplx could not load it ({type(exc).__name__}: {exc})") from None
        self.shape_names = tuple(f"beta{i}" for i in range(nb))
        self.v_template = arrays["v_template"]
        self.shapedirs = arrays["shapedirs"][:, :, :nb]
        self.J_regressor = arrays["J_regressor"]
        self.weights = arrays["weights"]
        parents = arrays["kintree_table"][0].astype(np.int64)
        parents[0] = -1
        self.parents = parents
        self.faces = arrays["f"].astype(np.int64)
        self.rest_vertices = self.v_template
        self.regressor, self.head_vertices, self.face_vertices = coco_regressor_and_regions(
            self.v_template, self.J_regressor, self.weights)
        kp = self.regressor @ self.v_template
        self.rest_facing, self.rest_up = head_axes(kp[:5], np.array([0.0, 1.0, 0.0]))
        self._bone_map = nearest_fitted(list(parents), list(SMPL_JOINTS), self.fit_bones)
        idx = {n: i for i, n in enumerate(self.fit_bones)}
        self._fit_parents = np.array([-1] + [idx[SMPL_JOINTS[self._fit_ancestor(SMPL_JOINTS.index(n))]]
                                             for n in self.fit_bones[1:]])
        self._rigs: dict[tuple, Rig] = {}

    def _fit_ancestor(self, j: int) -> int:
        a = self.parents[j]
        while SMPL_JOINTS[a] not in self.fit_bones:
            a = self.parents[a]
        return a

    def default_shape(self) -> np.ndarray:
        return np.zeros(len(self.shape_names))

    def shape_to_unbounded(self, shape: np.ndarray) -> np.ndarray:
        return np.asarray(shape, float)

    def shape_from_unbounded(self, z):
        return z

    def shape_keypoints(self, shape):
        """(B, 17, 3) rest-pose COCO keypoints for betas (B, S): linear, differentiable."""
        torch = self._torch
        if not hasattr(self, "_kp_template"):
            self._kp_template = torch.tensor(self.regressor @ self.v_template, dtype=torch.float32)
            self._kp_dirs = torch.tensor(np.einsum("kv,vds->skd", self.regressor, self.shapedirs).reshape(
                len(self.shape_names), -1), dtype=torch.float32)
        shape = shape.reshape(-1, len(self.shape_names)).to(torch.float32)
        return self._kp_template + (shape @ self._kp_dirs).reshape(shape.shape[0], 17, 3)

    identity_keypoints = shape_keypoints  # SMPL's zero pose is its rest pose

    def rig(self, shape: np.ndarray) -> Rig:
        key = tuple(np.round(np.asarray(shape, float), 6))
        if key not in self._rigs:
            v = self.v_template + self.shapedirs @ np.asarray(key)
            joints = self.J_regressor @ v
            slots = np.broadcast_to(np.arange(24), (len(v), 24))
            vb, vw = collapse_skinning(v, np.broadcast_to(np.eye(4), (24, 4, 4)), slots, self.weights, self._bone_map)
            A = keypoint_weights(self.regressor, vb, vw, len(self.fit_bones))
            heads = joints[[SMPL_JOINTS.index(n) for n in self.fit_bones]]
            self._rigs[key] = Rig(self.fit_bones, self._fit_parents, heads, A, vb, vw)
        return self._rigs[key]

    def posed_vertices(self, shape: np.ndarray, rotations: np.ndarray, translation: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vertices (V, 3) from the smplx forward (with pose correctives), COCO-17 keypoints regressed
        from them, and world bone rotations (J, 3, 3) of the fitted bones."""
        from scipy.spatial.transform import Rotation

        from disguisor.body.rig import forward_kinematics

        torch = self._torch
        rig = self.rig(shape)
        R, _ = forward_kinematics(rig.parents, rig.heads[None], np.asarray(rotations, float)[None],
                                  np.asarray(translation, float)[None])
        aa = np.zeros((24, 3))
        for j, name in enumerate(self.fit_bones):
            aa[SMPL_JOINTS.index(name)] = Rotation.from_matrix(rotations[j]).as_rotvec()
        f32 = lambda a: torch.tensor(np.asarray(a, float)[None], dtype=torch.float32)  # noqa: E731

        with one_torch_thread(), torch.no_grad():  # the same vertices whatever the process's threads
            out = self.smpl(betas=f32(shape), global_orient=f32(aa[0]), body_pose=f32(aa[1:].ravel()),
                            transl=f32(translation))
        verts = out.vertices[0].double().numpy()
        return verts.astype(np.float32), self.regressor @ verts, R[0]


def coco_regressor_and_regions(v: np.ndarray, J_regressor: np.ndarray, weights: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COCO-17 regressor (17, V), head and face vertex indices, from the template's geometry
    (SMPL axes; see module doc)."""
    V = len(v)
    reg = np.zeros((17, V))
    for k, j in COCO_FROM_SMPL.items():
        reg[k] = J_regressor[j]
    head_joint = SMPL_JOINTS.index("head")
    head = np.nonzero(np.argmax(weights, axis=1) == head_joint)[0]
    H = v[head]
    x, y, z = H[:, 0], H[:, 1], H[:, 2]
    top, bottom = y.max(), y.min()
    mid = np.abs(x - np.median(x)) < 0.015
    nose = head[mid][np.argmax(z[mid])]
    nose_p = v[nose]
    # ears: the head's lateral extremes between nose tip and 4 cm above it, behind the face
    band = (y > nose_p[1] - 0.01) & (y < nose_p[1] + 0.04) & (z < nose_p[2] - 0.06)
    centre_x = np.median(x)

    def near(i: int, radius: float = 0.01) -> np.ndarray:
        w = np.exp(-(np.linalg.norm(v - v[i], axis=1) / radius) ** 2)
        w[np.linalg.norm(v - v[i], axis=1) > 2 * radius] = 0
        return w / w.sum()

    left_ear = head[band][np.argmax(x[band])]
    right_ear = head[band][np.argmin(x[band])]
    reg[3], reg[4] = near(left_ear), near(right_ear)
    reg[0] = near(nose, 0.005)
    half_width = (v[left_ear, 0] - v[right_ear, 0]) / 2
    ear_z = (v[left_ear, 2] + v[right_ear, 2]) / 2
    for k, sign in ((1, 1), (2, -1)):
        col = (np.abs(x - (centre_x + sign * half_width / 3)) < 0.008) & (y > nose_p[1]) & \
            (y < nose_p[1] + 0.08) & (z > ear_z)
        ys = y[col]
        bins = np.floor((ys - ys.min()) / 0.005).astype(int)
        front = np.full(bins.max() + 1, -np.inf)
        np.maximum.at(front, bins, z[col])
        inner = np.arange(1, len(front) - 1)  # a recess lies between brow and cheek, not at an end
        inner = inner[np.isfinite(front[inner])]
        b = inner[np.argmin(front[inner])]
        cand = np.nonzero(col)[0][bins == b]
        reg[k] = near(head[cand[np.argmax(z[cand])]], 0.006)
    # face: head vertices ahead of the ears, between them, from the chin to 55% of the way from
    # the eyes to the crown (the hairline)
    eye_y = (reg[1] @ v[:, 1] + reg[2] @ v[:, 1]) / 2
    hairline = eye_y + 0.55 * (top - eye_y)
    face = head[(z > ear_z + 0.01) & (np.abs(x - centre_x) < half_width - 0.012) & (y < hairline) & (y > bottom)]
    return reg, head, face
