"""People the depth contradicts: 3D joints floating in space that a camera sees through.

A wrong association (one camera's detection of the lying patient matched with another camera's
detection of the anaesthetist behind him) triangulates joints where nobody stands; a lift from
an occluder's depth puts them in front of the person. Both pass the geometric checks (human
limb lengths, small reprojection error in the views used). The depth images refute them: a
joint lies inside a body, so every camera that sees its position reads a surface at or in front
of the joint. A camera that reads well *beyond* the joint sees through it: nothing is there.

A person is refuted when, in some camera, at least ``free_space_min_joints`` joints and
``free_space_min_share`` of the joints checked there lie in free space: every valid reading in
the joint's depth window (half size ``lift_window_rad`` x focal length) is more than
``free_space_margin_m`` beyond the joint along that camera's optical axis. The window minimum
keeps limbs at a silhouette's edge (a few pixels of calibration error) from counting; joints
outside the image, behind the camera, or without readings are not checked.

A refuted person seen by three or more cameras is triangulated again without each view in
turn (:func:`without_one_view`): one wrong detection among right ones is dropped and the
person kept. Otherwise its detections are lifted one by one from their own views' depth
(:func:`~disguisor.pose3d.lifting.lift_unexplained`); a refuted lift is dropped.

The head alone can be wrong while the body is right: a detector that sees a bent head from
above marks the nose and eyes on the cap, and with one other view the two rays meet far from
the face (two views cannot tell an error along their epipolar line). A person whose head
joints a camera sees through gets them again from its other detections (:func:`repair_head`).

Measured on the synthetic recordings of seed 23 (6 runs, 10 frames, default detector): of 12
multi-view people more than 0.2 m from the person they stand for, 10 are refuted with a 0.15 m
margin, share 0.5 and 3 joints; of 214 people within 0.1 m, 2 (see BENCHMARKS.md).

Functions over numpy arrays; the caller reads the depth (:class:`FrameDepth` caches one frame's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from disguisor.coco import HEAD_JOINTS, SHOULDERS
from disguisor.geometry import project_points
from disguisor.io.calibration import Camera
from disguisor.pose3d.association import PersonObservation, Rig, reconstruct_frame
from disguisor.pose3d.lifting import DepthSource, depth_in_metres, lift_detection, window_px, within_range
from disguisor.pose3d.params import Pose3DParams


def metres_in_range(depth: np.ndarray, camera: Camera) -> np.ndarray:
    """A view's depth image (float metres or the recording's raw integers) in metres, 0 where
    there is no reading or the reading lies outside ``camera.depth_range``."""
    return within_range(depth_in_metres(depth, camera.depth_scale), camera)


def free_space_joints(joints: np.ndarray, camera: Camera, depth_m: np.ndarray, window_px: int,
                      margin_m: float) -> tuple[int, int]:
    """(joints in free space, joints checked) of one skeleton as one camera's depth sees it.

    joints: (J, 3) world metres, z up, NaN = missing. depth_m: (H, W) the camera's depth
    registered to its colour image, metres, 0 = no reading. A joint is checked when it lies in
    front of the camera, projects into the image and its (2 window_px + 1)^2 window holds a
    reading; it is in free space when the window's nearest reading is more than ``margin_m``
    beyond the joint (distance along the optical axis, as the depth image stores it).
    """
    ok = np.isfinite(joints).all(axis=1)
    if not ok.any():
        return 0, 0
    X = camera.world_to_camera(joints[ok])
    front = X[:, 2] > 0.1
    X = X[front]
    if not len(X):
        return 0, 0
    uv = np.rint(project_points(X, camera.K, camera.dist)).astype(int)
    H, W = depth_m.shape
    through = checked = 0
    for (u, v), z in zip(uv, X[:, 2], strict=True):
        if not (0 <= u < W and 0 <= v < H):
            continue
        win = depth_m[max(0, v - window_px):v + window_px + 1, max(0, u - window_px):u + window_px + 1]
        valid = win[win > 0]
        if not valid.size:
            continue
        checked += 1
        through += int(valid.min() > z + margin_m)
    return through, checked


def refuting_camera(joints: np.ndarray, cameras: list[Camera], depth_m_of: Callable[[str], np.ndarray | None],
                    params: Pose3DParams) -> str | None:
    """The name of a camera whose depth sees through the skeleton (see the module docstring),
    or None when no camera refutes it (or ``params.free_space_margin_m`` is None: the check is off).

    joints: (J, 3) world metres, z up, NaN = missing. depth_m_of(camera name) -> that view's
    depth in metres (0 = no reading; :func:`metres_in_range`) at the skeleton's frame, or None.
    """
    if params.free_space_margin_m is None:
        return None
    for camera, through, checked in _free_counts(joints, cameras, depth_m_of, params):
        if through >= params.free_space_min_joints and through >= params.free_space_min_share * checked:
            return camera.name
    return None


def _free_counts(joints: np.ndarray, cameras: Sequence[Camera], depth_m_of: Callable[[str], np.ndarray | None],
                 params: Pose3DParams):
    """(camera, joints in its free space, joints it checks) for each camera with depth."""
    for camera in cameras:
        depth_m = depth_m_of(camera.name)
        if depth_m is not None:
            yield (camera, *free_space_joints(joints, camera, depth_m, window_px(camera, params.lift_window_rad),
                                              params.free_space_margin_m))


class FrameDepth:
    """One frame's depth views, each read (and converted) once.

    cameras: the calibrated cameras; depth_of(camera name, frame) -> that view's registered depth
    (float metres or the recording's raw integers, 0 = no reading) or None.
    """

    def __init__(self, cameras: Sequence[Camera], frame: int, depth_of: DepthSource, params: Pose3DParams):
        self.cameras = list(cameras)
        self.frame = frame
        self.params = params
        self._depth_of = depth_of
        self._by_name = {c.name: c for c in self.cameras}
        self._raw: dict[str, np.ndarray | None] = {}
        self._metres: dict[str, np.ndarray | None] = {}

    def raw(self, name: str) -> np.ndarray | None:
        """The view's depth as the source gives it, or None."""
        if name not in self._raw:
            self._raw[name] = self._depth_of(name, self.frame)
        return self._raw[name]

    def metres(self, name: str) -> np.ndarray | None:
        """(H, W) metres, 0 = no reading or outside the camera's depth range; or None."""
        if name not in self._metres:
            d = self.raw(name)
            self._metres[name] = None if d is None else metres_in_range(d, self._by_name[name])
        return self._metres[name]

    def free_share(self, joints: np.ndarray) -> float:
        """Share of the skeleton's checked joint views (all cameras) that lie in free space."""
        counts = [(t, c) for _, t, c in _free_counts(joints, self.cameras, self.metres, self.params)]
        checked = sum(c for _, c in counts)
        return sum(t for t, _ in counts) / checked if checked else 0.0

    def refuted(self, joints: np.ndarray) -> bool:
        """Whether a camera's depth sees through the skeleton (:func:`refuting_camera`)."""
        return refuting_camera(joints, self.cameras, self.metres, self.params) is not None


def without_one_view(rig: Rig, person: PersonObservation, depth: FrameDepth,
                     params: Pose3DParams) -> PersonObservation | None:
    """The refuted ``person`` triangulated again from all its detections but one: of those that
    no camera refutes, the one with the smallest share of its checked joints in any camera's free
    space, or None (fewer than three detections, or every such person is refuted too)."""
    dets = person.detections
    if len(dets) < 3 or params.free_space_margin_m is None:
        return None
    best, best_share = None, np.inf
    for k in range(len(dets)):
        views: dict[str, list] = {}
        for i, det in enumerate(dets):
            if i != k:
                views.setdefault(det.camera, []).append(det)
        for found in reconstruct_frame(rig, views, params):
            if len(found.detections) != len(dets) - 1 or depth.refuted(found.joints):
                continue
            share = depth.free_share(found.joints)
            if share < best_share:
                best, best_share = found, share
    return best


HEAD = list(HEAD_JOINTS)
# a head's centre lies this far (metres) from the midpoint of its shoulders, give or take
_HEAD_FROM_SHOULDERS_M = (0.08, 0.45)


def head_refuted(joints: np.ndarray, depth: FrameDepth, params: Pose3DParams) -> bool:
    """Whether some camera's depth sees through at least ``params.free_space_head_joints`` of the
    skeleton's head joints (joints (17, 3) world metres), and at least half of those it checks."""
    need = params.free_space_head_joints
    if need is None or params.free_space_margin_m is None:
        return False
    head = np.asarray(joints, float)[HEAD]
    return any(through >= need and 2 * through >= checked
               for _, through, checked in _free_counts(head, depth.cameras, depth.metres, params))


def _on_shoulders(joints: np.ndarray) -> bool:
    """Whether the head joints' centroid lies a head's distance from the shoulders' midpoint
    (true when either is unknown)."""
    head = joints[HEAD]
    head = head[np.isfinite(head[:, 0])]
    mid = joints[SHOULDERS].mean(axis=0)
    if not len(head) or not np.all(np.isfinite(mid)):
        return True
    d = float(np.linalg.norm(head.mean(axis=0) - mid))
    return _HEAD_FROM_SHOULDERS_M[0] <= d <= _HEAD_FROM_SHOULDERS_M[1]


def repair_head(rig: Rig, person: PersonObservation, depth: FrameDepth,
                params: Pose3DParams) -> PersonObservation:
    """``person`` with head joints no camera sees through (see :func:`head_refuted`), else as given.

    Each of its detections is left out in turn: the head joints are triangulated from the rest
    (two or more) or lifted from the one left (:func:`~disguisor.pose3d.lifting.lift_detection`).
    Of the heads that no camera refutes and that sit on the person's shoulders, the one with the
    smallest share of its joint views in free space wins (then more views, then surer joints);
    its joints and confidences replace the head's, the body's stay. When none does, the person
    is returned as given (the render stage's safety spheres do not depend on the head joints)."""
    if not head_refuted(person.joints, depth, params):
        return person
    dets = person.detections
    best, best_key = None, None
    for k in range(len(dets)):
        rest = [d for i, d in enumerate(dets) if i != k]
        if not rest:
            continue
        if len(rest) >= 2:
            views: dict[str, list] = {}
            for det in rest:
                views.setdefault(det.camera, []).append(det)
            found = [f for f in reconstruct_frame(rig, views, params) if len(f.detections) == len(rest)]
            if not found:
                continue
            head, conf = found[0].joints[HEAD], found[0].confidence[HEAD]
        else:
            raw, camera = depth.raw(rest[0].camera), rig.views[rig.index[rest[0].camera]].camera
            lifted = None if raw is None else lift_detection(rest[0].keypoints, camera, raw, params)
            if lifted is None:
                continue
            head, conf = lifted[0][HEAD], lifted[1][HEAD]
        if np.count_nonzero(np.isfinite(head[:, 0])) < 2:
            continue
        joints = person.joints.copy()
        joints[HEAD] = head
        if head_refuted(joints, depth, params) or not _on_shoulders(joints):
            continue
        key = (depth.free_share(joints[HEAD]), -len(rest), -float(np.nansum(conf)))
        if best_key is None or key < best_key:
            confidence = person.confidence.copy()
            confidence[HEAD] = np.where(np.isfinite(head[:, 0]), conf, 0.0)
            error = person.error_px.copy()
            error[HEAD] = np.nan
            best, best_key = replace(person, joints=joints, confidence=confidence, error_px=error), key
    return person if best is None else best
