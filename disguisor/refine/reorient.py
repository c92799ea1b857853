"""A fitted head turned to the 3D head joints: a second starting point for the registration.

The body fit holds the head with the whole skeleton and a pose prior. On people bent over the
table or lying, it can leave the head turned far from where the triangulated nose, eyes and ears
point; the registration against the depth then starts too far off to correct it, is refused, and
the face is drawn where the fit put it. On the people-finder runs (seeds 0-4, 13-20) the heads the
registration refused faced a median 51 degrees from the truth, while the 3D head joints of the
same people (ears' midpoint to nose) faced 24 degrees from it.

:func:`head_turn` gives the rotation of the fitted head, about its centre, that brings its nose,
eyes and ears closest to the 3D head joints (weighted by their confidence), and moves it onto
them too when the fit left it more than ``refine.reorient_min_shift_m`` from them. With
``refine.reorient_min_deg`` (30 degrees by default; None turns it off), a head whose own
registration is refused is placed from that turn, registered from there when the guard accepts
it, and left not confirmed; the face where the fit put it stays painted too, and lying bodies
keep the fit's head (see :func:`disguisor.refine.face.refine_faces` and RefineParams).

World metres, +z up; transforms are 4x4 and apply as ``x' = R x + t``.
"""

from __future__ import annotations

import numpy as np

HEAD_POINTS = 5  # COCO-17 nose, left eye, right eye, left ear, right ear


def head_turn(fitted: np.ndarray, joints: np.ndarray, confidence: np.ndarray, pivot: np.ndarray,
              min_confidence: float = 0.05, min_shift_m: float | None = None) -> np.ndarray | None:
    """(4, 4) rotation about ``pivot`` that turns the fitted head's points onto the 3D head
    joints (weighted Kabsch on their directions from their own centroids), or None without the
    nose and two more usable joints. With ``min_shift_m`` (metres), when the weighted centroid
    of the fitted points lies farther than that from the joints' centroid, the transform also
    moves the one onto the other (a fit that missed its own head joints by that much put the
    head in the wrong place, not only turned it wrong).

    Args:
        fitted: (5, 3) the fitted head's nose, eyes and ears, world metres.
        joints: (5, 3) the 3D person's (triangulated) nose, eyes and ears, NaN where unknown.
        confidence: (5,) those joints' confidences; below ``min_confidence`` a joint is unused.
        pivot: (3,) the centre of the rotation (the head's centre).
    """
    src, dst = np.asarray(fitted, float)[:HEAD_POINTS], np.asarray(joints, float)[:HEAD_POINTS]
    known = np.isfinite(dst).all(axis=1) & np.isfinite(src).all(axis=1)
    w = np.where(known, np.asarray(confidence, float)[:HEAD_POINTS], 0.0)
    w[w < min_confidence] = 0.0
    if w[0] <= 0 or np.count_nonzero(w) < 3:
        return None
    use = w > 0
    s, d, w = src[use], dst[use], w[use]
    cs, cd = (w[:, None] * s).sum(0) / w.sum(), (w[:, None] * d).sum(0) / w.sum()
    H = ((s - cs) * w[:, None]).T @ (d - cd)
    U, _, Vt = np.linalg.svd(H)
    sign = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    R = Vt.T @ np.diag([1.0, 1.0, sign]) @ U.T
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = pivot - R @ pivot
    if min_shift_m is not None and np.linalg.norm(cd - cs) > min_shift_m:
        T[:3, 3] = cd - R @ cs
    return T
