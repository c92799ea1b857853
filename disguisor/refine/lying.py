"""A lying body's head placed beyond its shoulders: starting points for the registration.

A patient lying on the table is seen from above by the ceiling cameras and from the side by the
workflow cameras; the image detectors often put his nose, eyes and ears on his chest or
shoulders (the face, turned to the ceiling, is a small patch at the end of the table). The body
fit then bends the neck to hold the head there, 20-40 cm from the real head, too far for the
registration against the depth to correct, and the head is refused. On the first runs of seeds
62-67 (36 people-finder runs) three lying patients were refused this way in 26 person-frames,
their faces drawn 0.2-0.4 m off (medium 1280x720 s67: holistic recall 0.650), while their
shoulders and hips were 1-11 cm from the truth.

The skeleton's torso tells where the head of a lying body must be: on the hips-to-shoulders axis,
beyond the shoulders, as in the body model's rest pose (the head's centroid 0.18 m beyond the
shoulders' centre along the axis and 0.08 m in front of it, Anny). :func:`lying_starts` gives
the rigid moves that bring the fitted head there, its crown along the axis and its face either
as the fit turned it or to the ceiling (a patient lying on his back), at a few distances along
the axis; the registration from each decides (:func:`disguisor.refine.face.refine_faces`).

World metres, +z up; transforms are 4x4 and apply as ``x' = R x + t``.
"""

from __future__ import annotations

import numpy as np

from disguisor.coco import torso_axis

_CEILING = np.array([0.0, 0.0, 1.0])


def _axes(up: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """3x3 orthonormal columns (up, facing made orthogonal to up, their cross product)."""
    u = up / np.linalg.norm(up)
    f = facing - u * float(u @ facing)
    f = f / np.linalg.norm(f)
    return np.stack([u, f, np.cross(u, f)], axis=1)


def torso_rise_deg(fitted: np.ndarray | None) -> float | None:
    """How far (degrees) the hips-to-shoulders axis of the fit's (17, 3) keypoints rises above the
    horizontal (world z up); None when unknown."""
    torso = None if fitted is None else torso_axis(np.asarray(fitted, np.float64))
    return None if torso is None else float(np.degrees(np.arcsin(np.clip(torso[1][2], -1.0, 1.0))))


def body_starts(body, model, params) -> list[np.ndarray]:
    """:func:`lying_starts` of a fitted body (``keypoints`` (17, 3), ``head_rotation``, ``vertices``
    world metres; ``model``: its ``head_vertices``, ``rest_facing``, ``rest_up``) whose torso rises
    less than ``params.reorient_min_torso_deg``, with ``params.lying_beyond_m`` and
    ``lying_forward_m``; [] for a body standing, without keypoints or a torso, or with no distances."""
    fitted = getattr(body, "keypoints", None)
    rise = torso_rise_deg(fitted)
    if not params.lying_beyond_m or rise is None or rise >= params.reorient_min_torso_deg:
        return []
    pivot = np.asarray(body.vertices, np.float64)[np.asarray(model.head_vertices)].mean(axis=0)
    return lying_starts(fitted, body.head_rotation, model.rest_facing, model.rest_up, pivot,
                        params.lying_beyond_m, params.lying_forward_m)


def lying_starts(fitted: np.ndarray, head_rotation: np.ndarray, rest_facing: np.ndarray, rest_up: np.ndarray,
                 pivot: np.ndarray, beyond_m: tuple[float, ...], forward_m: float,
                 min_turn_deg: float = 20.0) -> list[np.ndarray]:
    """(4, 4) moves of the fitted head onto the head a straight neck would hold: its centroid
    ``forward_m`` in front of the point ``beyond_m`` beyond the shoulders' centre on the
    hips-to-shoulders axis, its crown along the axis, its face as fitted (made orthogonal to the
    axis) and, when that differs by more than ``min_turn_deg``, to the ceiling. Empty without a
    torso (:func:`disguisor.coco.torso_axis`) or with a fitted face along the axis.

    Args:
        fitted: (17, 3) the fit's COCO-17 keypoints, world metres (NaN where unknown).
        head_rotation: (3, 3) the fitted head's rotation from the rest pose (world axes).
        rest_facing / rest_up: (3,) the body model's face and crown directions at rest.
        pivot: (3,) world metres, the fitted head's centroid (the point placed).
        beyond_m: distances (metres) along the axis beyond the shoulders' centre to try.
        forward_m: metres in front of the axis (towards the face) of the head's centroid.
    """
    torso = torso_axis(np.asarray(fitted, np.float64))
    if torso is None:
        return []
    top, axis = torso
    R_fit = np.asarray(head_rotation, np.float64)
    rest = _axes(np.asarray(rest_up, np.float64), np.asarray(rest_facing, np.float64))
    facing = R_fit @ np.asarray(rest_facing, np.float64)
    faces = []
    for want in (facing, _CEILING):
        side = want - axis * float(axis @ want)
        if np.linalg.norm(side) < 0.3:  # the face along the axis: no roll to keep
            continue
        side = side / np.linalg.norm(side)
        if all(np.degrees(np.arccos(np.clip(side @ f, -1.0, 1.0))) > min_turn_deg for f in faces):
            faces.append(side)
    pivot = np.asarray(pivot, np.float64)
    starts = []
    for f in faces:
        R = _axes(axis, f) @ rest.T @ R_fit.T  # fitted -> rest -> crown on the axis, face to f
        for d in beyond_m:
            T = np.eye(4)
            T[:3, :3] = R
            T[:3, 3] = top + d * axis + forward_m * f - R @ pivot
            starts.append(T)
    return starts
