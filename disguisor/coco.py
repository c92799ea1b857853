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


def torso_axis(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(shoulders' centre (3,), unit hip-to-shoulder axis (3,)) of COCO-17 ``joints`` (17, 3)
    world metres; None without a shoulder and a hip, or when they are closer than 15 cm."""
    shoulders, hips = joints[SHOULDERS], joints[HIPS]
    shoulders, hips = shoulders[np.isfinite(shoulders[:, 0])], hips[np.isfinite(hips[:, 0])]
    if len(shoulders) == 0 or len(hips) == 0:
        return None
    top = shoulders.mean(0)
    axis = top - hips.mean(0)
    length = float(np.linalg.norm(axis))
    return None if length < 0.15 else (top, axis / length)
