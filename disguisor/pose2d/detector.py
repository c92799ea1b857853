"""The 2D pose detector interface, person boxes and duplicate removal (OKS non-maximum suppression).

All coordinates are pixels of the distorted (as recorded) image, (0, 0) at the centre of the
top-left pixel. Boxes are ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from disguisor.boxes import iou_xyxy as box_iou  # noqa: F401  (the one IoU; used by the detectors)
from disguisor.coco import COCO_FLIP, COCO_SIGMAS, HEAD_JOINTS, NUM_JOINTS

Box = tuple[float, float, float, float]



@dataclass(frozen=True)
class PersonPose:
    """One person found in one image.

    keypoints: (17, 3) COCO-17 joints ``x, y, score`` (pixels; score 0 = not detected).
    score: person confidence in [0, 1]. box: ``(x0, y0, x1, y1)`` of the detected joints (pixels).
    """

    keypoints: np.ndarray
    score: float
    box: Box


class PoseDetector(Protocol):
    """A 2D pose detector. ``detect`` gets an RGB image (H, W, 3) uint8 and optional person boxes
    (top-down detectors look inside each box; ``None``: the detector's own idea of where people
    are) and returns every person it found, duplicates allowed (see :func:`deduplicate`)."""

    name: str

    def detect(self, image_rgb: np.ndarray, boxes: Sequence[Box] | None = None) -> list[PersonPose]: ...


def keypoint_box(keypoints: np.ndarray) -> Box | None:
    """Tight box around the detected joints (score > 0) of (17, 3) keypoints; None if none."""
    kp = np.asarray(keypoints)
    ok = kp[:, 2] > 0
    if not ok.any():
        return None
    xy = kp[ok, :2]
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def make_pose(keypoints: np.ndarray, min_joint_score: float, min_joints: int, min_person_score: float,
              width: int, height: int) -> PersonPose | None:
    """Clean raw (17, 3) keypoints: joints below ``min_joint_score`` or outside the image get score 0
    (their position is a guess), then the person is kept only with ``min_joints`` joints and a
    person score (mean score of its detected joints) of at least ``min_person_score``."""
    kp = np.array(keypoints, dtype=np.float64).reshape(NUM_JOINTS, 3)
    kp[:, 2] = np.clip(np.nan_to_num(kp[:, 2], nan=0.0), 0.0, 1.0)
    inside = (kp[:, 0] >= -0.5) & (kp[:, 0] <= width - 0.5) & (kp[:, 1] >= -0.5) & (kp[:, 1] <= height - 0.5)
    bad = (kp[:, 2] < min_joint_score) | ~inside | ~np.isfinite(kp[:, :2]).all(axis=1)
    kp[bad] = 0.0
    n = int((kp[:, 2] > 0).sum())
    if n < max(min_joints, 1):
        return None
    score = float(kp[kp[:, 2] > 0, 2].mean())
    if score < min_person_score:
        return None
    box = keypoint_box(kp)
    assert box is not None
    return PersonPose(keypoints=kp, score=score, box=box)


def oks(a: np.ndarray, b: np.ndarray, area: float) -> float:
    """COCO object keypoint similarity of two (17, 3) poses over the joints both detected.

    area: the object's area in square pixels (COCO uses the segment area; here the box area).
    Returns 0 when they share no joint.
    """
    both = (a[:, 2] > 0) & (b[:, 2] > 0)
    if not both.any():
        return 0.0
    d2 = ((a[both, :2] - b[both, :2]) ** 2).sum(axis=1)
    k2 = (2.0 * COCO_SIGMAS[both]) ** 2
    return float(np.exp(-d2 / (2.0 * max(area, 1.0) * k2)).mean())


def _head_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean pixel distance of the head joints (nose, eyes, ears) both poses detected; inf if < 2 shared."""
    h = list(HEAD_JOINTS)
    both = (a[h, 2] > 0) & (b[h, 2] > 0)
    if both.sum() < 2:
        return float("inf")
    return float(np.linalg.norm(a[h][both, :2] - b[h][both, :2], axis=1).mean())


def deduplicate(poses: Sequence[PersonPose], oks_threshold: float, iou_threshold: float = 1.0,
                head_ratio: float = 0.0) -> list[PersonPose]:
    """Greedy non-maximum suppression by OKS: highest score first, drop any pose whose OKS with a
    kept pose exceeds ``oks_threshold`` (the same person seen through two crops). The OKS is also
    taken with left and right exchanged: single-person detectors sometimes read a person from
    behind as from the front, and that mirrored reading is still the same person. Poses whose joint
    boxes overlap by more than ``iou_threshold`` (IoU) are duplicates too, and so are poses whose heads
    coincide (mean head-joint distance below ``head_ratio`` x the square root of the kept pose's box
    area): two people cannot share a head, however differently a detector reads their limbs."""
    order = sorted(range(len(poses)), key=lambda i: -poses[i].score)
    kept: list[PersonPose] = []
    for i in order:
        p = poses[i]
        if not any(same_person(p, q, oks_threshold, iou_threshold, head_ratio) for q in kept):
            kept.append(p)
    return kept


def same_person(p: PersonPose, q: PersonPose, oks_threshold: float, iou_threshold: float = 1.0,
                head_ratio: float = 0.0) -> bool:
    """Whether ``p`` is a second reading of the kept pose ``q`` (the test of :func:`deduplicate`)."""
    x0, y0, x1, y1 = q.box
    area = (x1 - x0) * (y1 - y0)
    flipped = p.keypoints[list(COCO_FLIP)]
    return max(oks(p.keypoints, q.keypoints, area), oks(flipped, q.keypoints, area)) > oks_threshold \
        or box_iou(p.box, q.box) > iou_threshold \
        or min(_head_distance(p.keypoints, q.keypoints), _head_distance(flipped, q.keypoints)) \
        < head_ratio * np.sqrt(max(area, 0.0))


def merge_poses(poses: Sequence[PersonPose], oks_threshold: float, iou_threshold: float = 1.0,
                head_ratio: float = 0.0, joint_radius: float = 0.1) -> list[PersonPose]:
    """One pose per person from the readings of several detectors (or crops) of one image.

    Readings are grouped greedily around the highest-scoring one, with the test of
    :func:`deduplicate`. Per group and joint, the readings whose joint lies within ``joint_radius`` x
    the square root of the leader's box area (pixels) of the leader's joint (or, where the leader
    missed the joint, of the best reading of it) are averaged, weighted by score; a reading read
    left-right mirrored relative to the leader (higher OKS that way) is mirrored first. The joint's
    confidence is the highest score among those readings; the person's score is the leader's.
    """
    order = sorted(range(len(poses)), key=lambda i: -poses[i].score)
    groups: list[list[PersonPose]] = []
    for i in order:
        p = poses[i]
        for g in groups:
            if same_person(p, g[0], oks_threshold, iou_threshold, head_ratio):
                g.append(p)
                break
        else:
            groups.append([p])
    merged = []
    for g in groups:
        lead = g[0]
        x0, y0, x1, y1 = lead.box
        size = float(np.sqrt(max((x1 - x0) * (y1 - y0), 1.0)))
        readings = [lead.keypoints]
        for p in g[1:]:
            flipped = p.keypoints[list(COCO_FLIP)]
            readings.append(flipped if oks(flipped, lead.keypoints, size ** 2) > oks(p.keypoints, lead.keypoints,
                                                                                      size ** 2) else p.keypoints)
        stack = np.stack(readings)  # (R, 17, 3)
        kp = np.zeros((NUM_JOINTS, 3))
        for j in range(NUM_JOINTS):
            seen = stack[:, j, 2] > 0
            if not seen.any():
                continue
            anchor = stack[np.flatnonzero(seen)[np.argmax(stack[seen, j, 2])], j, :2] if stack[0, j, 2] <= 0 \
                else stack[0, j, :2]
            near = seen & (np.linalg.norm(stack[:, j, :2] - anchor, axis=1) <= joint_radius * size)
            w = stack[near, j, 2]
            kp[j, :2] = (stack[near, j, :2] * w[:, None]).sum(axis=0) / w.sum()
            kp[j, 2] = w.max()
        box = keypoint_box(kp)
        assert box is not None
        merged.append(PersonPose(keypoints=kp, score=lead.score, box=box))
    return merged


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept by greedy box NMS (boxes (N, 4) x0, y0, x1, y1), highest score first."""
    keep: list[int] = []
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if all(box_iou(tuple(boxes[i]), tuple(boxes[j])) <= iou_threshold for j in keep):
            keep.append(int(i))
    return keep
