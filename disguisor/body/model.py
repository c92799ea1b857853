"""Body models behind one interface: ``anny`` (default, free, offline) and ``smpl`` (user files).

A :class:`BodyModel` gives what the later stages need (mesh triangles, face and head regions,
the head's rest facing and crown directions) and what the fit needs: a shape vector, the
identity-pose COCO-17 keypoints as a differentiable function of it, and a reduced
:class:`~disguisor.body.rig.Rig` per shape. Units: metres. Model axes: Anny is z up and faces
-y; SMPL is y up and faces +z. A fit's root rotation maps model axes to the world (z up).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from disguisor.body.rig import Rig, collapse_skinning, keypoint_weights, nearest_fitted
from disguisor.body.threads import one_torch_thread
from disguisor.coco import head_axes
from disguisor.errors import InputError

# The Anny bones a fit moves (parents first). The others keep the identity pose and follow their
# fitted ancestor: they are either not seen by COCO-17 keypoints (fingers, toes, face) or
# rotate about the bone axis (the twist bones upperarm02/lowerarm02/upperleg02/lowerleg02).
ANNY_FIT_BONES = ("root", "spine05", "spine04", "spine03", "spine02", "neck01", "neck02", "head",
                  "clavicle.L", "upperarm01.L", "lowerarm01.L", "clavicle.R", "upperarm01.R", "lowerarm01.R",
                  "upperleg01.L", "lowerleg01.L", "upperleg01.R", "lowerleg01.R")


class BodyModel(Protocol):
    """What every body model offers (see module doc for axes)."""

    name: str                      # "anny" | "smpl"
    faces: np.ndarray              # (F, 3) int triangles, counter-clockwise from outside
    face_vertices: np.ndarray      # indices of the face region (forehead to chin, between the ears)
    head_vertices: np.ndarray      # indices of the head region (above the jaw line)
    rest_facing: np.ndarray        # (3,) unit facing direction of the head at rest, model axes
    rest_up: np.ndarray            # (3,) unit crown direction of the head at rest, model axes
    rest_vertices: np.ndarray      # (V, 3) default-shape rest-pose vertices, metres
    fit_bones: tuple[str, ...]     # bones the fit moves, parents first, root first
    head_bone: str                 # the fitted bone that carries the head
    shape_names: tuple[str, ...]   # the shape vector's entries

    def default_shape(self) -> np.ndarray: ...
    def shape_to_unbounded(self, shape: np.ndarray) -> np.ndarray: ...
    def shape_from_unbounded(self, z): ...        # torch (S,) -> torch (S,), differentiable
    def identity_keypoints(self, shape): ...      # torch (B, S) -> torch (B, 17, 3), identity pose
    def shape_keypoints(self, shape): ...         # torch (B, S) -> torch (B, 17, 3), rest pose, fast
    def rig(self, shape: np.ndarray) -> Rig: ...
    def posed_vertices(self, shape: np.ndarray, rotations: np.ndarray, translation: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class AnnyBodyModel:
    """Anny (NAVER, Apache-2.0) with its COCO-17 regressor; shape = the six phenotype values."""

    name = "anny"
    head_bone = "head"

    def __init__(self, fit_bones: tuple[str, ...] = ANNY_FIT_BONES):
        import torch

        from disguisor.body.anny_model import PHENOTYPES, load_anny

        self._torch = torch
        self.body = load_anny()
        self.model = self.body.model
        self.shape_names = PHENOTYPES
        self.fit_bones = tuple(fit_bones)
        self.faces = self.body.faces
        self.face_vertices = self.body.regions["face"]
        self.head_vertices = self.body.regions["head"]
        self.rest_vertices = self.body.rest_vertices
        kp = np.stack([self.body.rest_keypoints[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")])
        self.rest_facing, self.rest_up = head_axes(kp, np.array([0.0, 0.0, 1.0]))
        self._labels = list(self.model.phenotype_labels)
        self._reg_template = self._reg_blend = None
        self._regressor = self.body.keypoint_regressor.regression_weights[self.body._coco_index]
        names = list(self.model.bone_labels)
        self._bone_map = nearest_fitted(list(self.model.bone_parents), names, self.fit_bones)
        index = {n: i for i, n in enumerate(self.fit_bones)}
        parents = []
        for n in self.fit_bones[1:]:
            a = self.model.bone_parents[names.index(n)]
            while names[a] not in index:
                a = self.model.bone_parents[a]
            parents.append(index[names[a]])
        self._parents = np.array([-1] + parents)

    def default_shape(self) -> np.ndarray:
        return np.full(len(self.shape_names), 0.5)

    # phenotypes live in [0, 1]: the fit works on logits
    def shape_to_unbounded(self, shape: np.ndarray) -> np.ndarray:
        s = np.clip(np.asarray(shape, float), 1e-3, 1 - 1e-3)
        return np.log(s / (1 - s))

    def shape_from_unbounded(self, z):
        return self._torch.sigmoid(z)

    def _coefficients(self, shape):
        """Blendshape coefficients (B, C) of shapes (B, S) (phenotype values in [0, 1])."""
        torch = self._torch
        m = self.model
        shape = shape.reshape(-1, len(self.shape_names)).to(m.template_vertices.dtype)
        cols = {n: shape[:, i] for i, n in enumerate(self.shape_names)}
        half = torch.full((shape.shape[0],), 0.5, dtype=shape.dtype)
        pheno = torch.stack([cols.get(n, half) for n in self._labels], 1)
        b = shape.shape[0]
        return m._get_phenotype_blendshape_coefficients(
            pheno, torch.zeros(b, len(m.local_change_labels)), torch.zeros(b, len(m.facial_action_labels)))

    def _identity(self, shape):
        """For shapes (B, S): rest vertices (B, V, 3), identity-pose skinning transforms and bone
        poses (B, NB, 4, 4)."""
        m = self.model
        coeffs = self._coefficients(shape)
        b = coeffs.shape[0]
        rest = m.get_rest_model(coeffs)
        T, W = m.get_bone_transforms(None, rest["rest_bone_poses"])
        if T.shape[0] != b:
            T, W = T.expand(b, -1, -1, -1), W.expand(b, -1, -1, -1)
        return rest["rest_vertices"], T, W

    def identity_keypoints(self, shape):
        """(B, 17, 3) COCO keypoints at the identity pose for shape tensors (B, S), differentiable."""
        verts, T, _ = self._identity(shape)
        skinned = self.model.get_skinned_vertices(verts, T)
        return torch_matmul(self._regressor, skinned)

    def shape_keypoints(self, shape):
        """(B, 17, 3) COCO keypoints of the rest pose (A-pose, feet on the floor) for shapes (B, S):
        linear in the blendshape coefficients, so cheap; differentiable. Segment lengths differ from
        the identity pose's by a small, nearly shape-independent amount (see fit_shapes)."""
        coeffs = self._coefficients(shape)
        if self._reg_blend is None:
            with self._torch.no_grad():
                m = self.model
                self._reg_template = self._regressor @ m.template_vertices
                self._reg_blend = self._torch.einsum("kv,cvd->ckd", self._regressor, m.blendshapes).reshape(
                    m.blendshapes.shape[0], -1)
        return self._reg_template + (coeffs @ self._reg_blend).reshape(coeffs.shape[0], -1, 3)

    def rig(self, shape: np.ndarray) -> Rig:
        return _anny_rig(self, tuple(np.round(np.asarray(shape, float), 6)))

    def posed_vertices(self, shape: np.ndarray, rotations: np.ndarray, translation: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vertices (V, 3), COCO-17 keypoints (17, 3) and world bone rotations (J, 3, 3) of one person:
        rotations (J, 3, 3) per fitted bone, translation (3,) of the pelvis. Exactly Anny's LBS,
        computed through the reduced rig."""
        return _rig_pose(self.rig(shape), rotations, translation)


def torch_matmul(regressor, vertices):
    """(K, V) @ (B, V, 3) -> (B, K, 3)."""
    return (regressor[None] @ vertices)


def _rig_pose(rig: Rig, rotations: np.ndarray, translation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from disguisor.body.rig import forward_kinematics, keypoint_parts, skin_vertices

    R, t = forward_kinematics(rig.parents, rig.heads[None], np.asarray(rotations, float)[None],
                              np.asarray(translation, float)[None])
    kp = keypoint_parts(rig.keypoint_weights[None], R, t).sum(2)[0]
    return skin_vertices(rig, R[0], t[0]), kp, R[0]


@lru_cache(maxsize=64)
def _anny_rig(model: AnnyBodyModel, shape: tuple[float, ...]) -> Rig:
    torch = model._torch
    with one_torch_thread(), torch.no_grad():  # one small body: the same numbers on any machine
        verts, T, W = model._identity(torch.tensor(shape, dtype=torch.float32)[None])
    m = model.model
    slot_bones, slot_w = m.vertex_bone_indices.numpy(), m.vertex_bone_weights.numpy().astype(np.float64)
    vb, vw = collapse_skinning(verts[0].double().numpy(), T[0].double().numpy(), slot_bones, slot_w, model._bone_map)
    names = list(m.bone_labels)
    heads = W[0, [names.index(n) for n in model.fit_bones], :3, 3].double().numpy()
    A = keypoint_weights(model._regressor.double().numpy(), vb, vw, len(model.fit_bones))
    return Rig(model.fit_bones, model._parents, heads, A, vb, vw)


@lru_cache(maxsize=4)
def _load_cached(name: str, smpl_dir: str | None) -> BodyModel:
    with one_torch_thread():  # the rest pose, regions and facing computed at load: see one_torch_thread
        if name == "anny":
            return AnnyBodyModel()
        from disguisor.body.smpl_model import SmplBodyModel

        return SmplBodyModel.load(Path(smpl_dir))  # type: ignore[arg-type]


def load_body_model(name: str = "anny", smpl_dir: Path | None = None) -> BodyModel:
    """The body model ``name`` (``anny`` or ``smpl``), loaded once per process.

    ``smpl`` needs ``smpl_dir``: a folder with ``SMPL_NEUTRAL.pkl`` (or ``SMPL_MALE.pkl`` /
    ``SMPL_FEMALE.pkl``, or one other ``*.pkl``), or the model file itself. Raises
    :class:`InputError` for an unknown name, a missing folder or a malformed file.
    """
    if name not in ("anny", "smpl"):
        raise InputError(None, f"must be anny or smpl, not {name!r}", field="--model")
    if name == "smpl":
        if smpl_dir is None:
            raise InputError(None, "the smpl model needs --smpl-dir (SMPL model files are licence-gated: "
                                   "download them from the SMPL website)", field="--smpl-dir")
        smpl_dir = Path(smpl_dir)
        if not smpl_dir.exists():
            raise InputError(smpl_dir, "not found", field="--smpl-dir")
        return _load_cached(name, str(smpl_dir.resolve()))
    return _load_cached(name, None)
