"""Accuracy of 3D poses against ground truth: person recall, joint errors, identity switches.

Per frame, estimated people are matched one to one to the ground-truth people (Hungarian on
the mean distance of their shared joints, at most ``match_distance_m``). Over matched pairs:
mean per-joint position error (all joints, and the head joints nose/eyes/ears) in millimetres,
and the share of ground-truth joints that were estimated. Identity switches follow CLEAR-MOT:
each time a ground-truth person is matched to a different id than at its previous matched frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from disguisor.pose2d.keypoints_io import HEAD_JOINTS, NUM_JOINTS
from disguisor.pose3d.poses import Poses3D


@dataclass(frozen=True)
class PoseMetrics:
    """recall: matched / observable ground-truth person-frames; precision: matched / estimated.

    mpjpe_mm / head_mpjpe_mm: mean joint error over matched people (all / head joints).
    max_error_mm: largest single joint error. joint_recall: estimated / ground-truth joints of
    matched people. id_switches: CLEAR-MOT identity switches. per_joint_mm: (17,) mean errors.
    """

    gt_person_frames: int
    estimated_person_frames: int
    matched: int
    recall: float
    precision: float
    mpjpe_mm: float
    head_mpjpe_mm: float
    max_error_mm: float
    joint_recall: float
    id_switches: int
    per_joint_mm: np.ndarray


def _mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    d = np.linalg.norm(a - b, axis=-1)
    d = d[np.isfinite(d)]
    return float(d.mean()) if d.size else float("inf")


def evaluate_poses(poses: Poses3D, gt_joints: np.ndarray, observable: np.ndarray | None = None,
                   frames: Sequence[int] | None = None, match_distance_m: float = 0.5) -> PoseMetrics:
    """Compare ``poses`` with ground truth ``gt_joints`` (F, P, 17, 3) (NaN: person absent).

    observable: (F, P) which ground-truth people count for recall (e.g. detected in >= 2 views);
    all present people by default. frames: the frame number of each ground-truth frame
    (default 0..F-1).
    """
    gt_joints = np.asarray(gt_joints, dtype=np.float64)
    F, P = gt_joints.shape[:2]
    frames = list(range(F)) if frames is None else list(frames)
    present = np.all(np.isfinite(gt_joints), axis=(2, 3))
    observable = present if observable is None else (np.asarray(observable, bool) & present)
    by_frame = {f.frame: f for f in poses.frames}
    errors: list[np.ndarray] = []
    n_gt = n_est = n_match = 0
    est_joints = gt_joint_total = 0
    last_id: dict[int, int] = {}
    switches = 0
    for fi, frame in enumerate(frames):
        people = by_frame[frame].people if frame in by_frame else ()
        n_est += len(people)
        gts = np.flatnonzero(present[fi])
        n_gt += int(observable[fi].sum())
        if not len(people) or not len(gts):
            continue
        cost = np.array([[_mean_distance(p.joints, gt_joints[fi, g]) for g in gts] for p in people])
        cost = np.where(cost <= match_distance_m, cost, 1e6)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] >= 1e6:
                continue
            g = int(gts[c])
            person = people[r]
            if observable[fi, g]:
                n_match += 1
            err = np.linalg.norm(person.joints - gt_joints[fi, g], axis=-1)
            errors.append(err)
            est_joints += int(np.isfinite(err).sum())
            gt_joint_total += NUM_JOINTS
            if g in last_id and last_id[g] != person.id:
                switches += 1
            last_id[g] = person.id
    errs = np.stack(errors) if errors else np.full((1, NUM_JOINTS), np.nan)
    with np.errstate(invalid="ignore"):
        per_joint = np.nanmean(errs, axis=0) * 1000 if np.isfinite(errs).any() else np.full(NUM_JOINTS, np.nan)
    finite = errs[np.isfinite(errs)]
    head = errs[:, list(HEAD_JOINTS)]
    head = head[np.isfinite(head)]
    return PoseMetrics(
        gt_person_frames=n_gt, estimated_person_frames=n_est, matched=n_match,
        recall=n_match / n_gt if n_gt else float("nan"),
        precision=len(errors) / n_est if n_est else float("nan"),
        mpjpe_mm=float(finite.mean() * 1000) if finite.size else float("nan"),
        head_mpjpe_mm=float(head.mean() * 1000) if head.size else float("nan"),
        max_error_mm=float(finite.max() * 1000) if finite.size else float("nan"),
        joint_recall=est_joints / gt_joint_total if gt_joint_total else float("nan"),
        id_switches=switches, per_joint_mm=per_joint)
