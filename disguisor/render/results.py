"""What painting faces into a view returns: one :class:`RenderedFace` per painted face and the
view's :class:`ViewResult`; and the facing angle that decides what a camera sees of a face."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from disguisor.io.calibration import Camera
from disguisor.refine.surface import FaceSurface


@dataclass
class RenderedFace:
    """One face painted in one view.

    bbox: (x, y, w, h) pixels, tight box of the face's likely visible pixels (the stricter depth
    test, DepthTests.likely; all painted pixels before dilation when that leaves
    none): the best estimate of the visible face, which the evaluation compares with face boxes.
    full_bbox: the same for all its rendered pixels, including those behind sensor-depth
    occluders. painted_bbox: the box of the pixels changed for this face (after dilation).
    painted_pixels: pixels changed for this face (after dilation).
    visible_fraction: visible / rendered pixels. no_depth_fraction: share of the visible pixels
    painted without a depth reading. (Pixels where a nearer face is rendered count for that face
    only.) facing_angle_deg: angle between the face's facing
    direction and the direction to the camera. blend: how it was painted (poisson, mixed,
    paste, blur, pixelate, blacken; "blacken-fallback" after a failed blend). border: painted from
    outside the image (:mod:`disguisor.render.border`): the face's estimate lies just outside it,
    the box is the part of its margin that reaches in.
    """

    person_id: int
    bbox: tuple[float, float, float, float]
    full_bbox: tuple[float, float, float, float]
    painted_bbox: tuple[float, float, float, float]
    painted_pixels: int
    visible_fraction: float
    no_depth_fraction: float = 0.0
    facing_angle_deg: float = 0.0
    blend: str = "poisson"
    border: bool = False


@dataclass
class ViewResult:
    """image: the anonymized (H, W, 3) uint8 RGB image. faces: faces painted in it. skipped:
    (person_id, reason) of faces not painted. notes: fallbacks and other events to report."""

    image: np.ndarray
    faces: list[RenderedFace]
    skipped: list[tuple[int, str]]
    notes: list[str] = field(default_factory=list)
    mask: np.ndarray | None = None  # (H, W) bool: every pixel that was painted


def facing_angle_deg(face: FaceSurface, camera: Camera) -> float:
    """Angle (degrees) between the face's facing direction and the direction from the face
    centre to the camera centre: 0 = looking straight at the camera, 90 = profile."""
    to_cam = np.asarray(camera.t, float) - np.asarray(face.centre, float)
    n = np.linalg.norm(to_cam) * np.linalg.norm(face.facing)
    if n < 1e-9:
        return 0.0
    return math.degrees(math.acos(float(np.clip(np.dot(face.facing, to_cam) / n, -1.0, 1.0))))
