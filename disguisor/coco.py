"""COCO-17 keypoints: the joint names, per-joint constants and the head's facing, defined once.

Joints are indexed in COCO order (0 nose, 1-2 eyes, 3-4 ears, 5-6 shoulders, ...), left and
right as the person sees them.
"""

from __future__ import annotations

import numpy as np

COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_JOINTS = len(COCO17_NAMES)
HEAD_JOINTS: tuple[int, ...] = (0, 1, 2, 3, 4)  # nose, eyes, ears
# COCO's per-joint keypoint sigmas (annotation spread relative to object size), used by OKS.
COCO_SIGMAS = np.array([0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
                        0.107, 0.107, 0.087, 0.087, 0.089, 0.089])
# COCO-17 with left and right exchanged (nose stays).
COCO_FLIP = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)


def head_facing(keypoints: np.ndarray) -> np.ndarray:
    """The direction a head faces: unit(nose - ears' midpoint) (the ground truth's definition).

    Args:
        keypoints: (>= 5, 3) COCO-ordered joints in any metric frame (e.g. world metres, z up).
    Returns: (3,) unit vector in that frame.
    """
    facing = np.asarray(keypoints[0], np.float64) - (np.asarray(keypoints[3]) + np.asarray(keypoints[4])) / 2
    return facing / np.linalg.norm(facing)


def head_axes(keypoints: np.ndarray, up_hint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(facing, up) of a head: :func:`head_facing` and ``up_hint`` made orthogonal to it (unit vectors)."""
    facing = head_facing(keypoints)
    up = np.asarray(up_hint, np.float64) - facing * float(np.dot(up_hint, facing))
    return facing, up / np.linalg.norm(up)


SHOULDERS, HIPS = [5, 6], [11, 12]


def torso_axis(joints: np.ndarray, sided: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """(shoulders' centre (3,), unit hip-to-shoulder axis (3,)) of COCO-17 ``joints`` (17, 3)
    world metres; None without a shoulder and a hip, or when they are closer than 15 cm.

    sided: with one shoulder known, the axis runs from the hip of its side (from the hips' centre
    it leans sideways by half a shoulder width) and the centre is that shoulder moved by the
    hips' half width towards the other side (shoulders about as wide as hips). On the
    people-finder runs of seeds 48-51, 17 skeletons had one shoulder: the true face lay within
    0.25 m of the head point beyond their shoulders (run/fallbacks.py) in 9 of them from the
    hips' centre, in 11 sided. False: the known shoulder and the hips' centre."""
    shoulders, hips = joints[SHOULDERS], joints[HIPS]
    s_ok, h_ok = np.isfinite(shoulders[:, 0]), np.isfinite(hips[:, 0])
    if not s_ok.any() or not h_ok.any():
        return None
    top = shoulders[s_ok].mean(0)
    axis = top - hips[h_ok].mean(0)
    if sided and not s_ok.all():
        side = int(np.flatnonzero(s_ok)[0])
        if h_ok[side]:
            axis = top - hips[side]
            if h_ok.all():
                top = top + hips.mean(0) - hips[side]
    length = float(np.linalg.norm(axis))
    return None if length < 0.15 else (top, axis / length)
