"""People seen by one camera: 2D joints lifted to 3D with that camera's registered depth.

Triangulation needs two views; about one person in eight in real operating-room recordings is
seen by one camera only. An RGB-D camera measures the distance of every pixel, so a detection's
joints can be placed in 3D from its own depth image:

1. **Depth at each joint**: the median of the valid readings (> 0) in a small window around
   the joint's pixel (half size ``lift_window_rad`` x focal length, at least 1 px); a window
   needs ``lift_min_valid_share`` valid readings. The median ignores the few background or
   occluder pixels a window at a silhouette's edge catches.
2. **Robust to background and occluders**: a joint whose depth differs from the median of the
   person's joint depths by more than ``lift_max_depth_deviation_m`` is rejected (a wrist over
   the far wall, a joint behind an instrument table). The person needs ``lift_min_joints``
   joints, and ``lift_min_joint_share`` of its detected joints, to survive: a detection that
   is half background is not lifted. Joints scoring below ``lift_min_joint_score``, or below
   ``lift_relative_joint_score`` x the median score of the detection's joints when that is
   lower, are not used (a detector's unsure joints are often hidden, and the depth there is
   the occluder's; a detector unsure of the whole person still gets its surer joints lifted);
   face keypoints further than ``lift_head_deviation_m`` from the face's median depth are
   dropped; then, limb by limb, the end of a limb longer than a human's (the end whose depth is
   further from the person's median) is dropped.
3. **Surface to joint**: the sensor sees the skin or clothes in front of a joint; the joint lies
   behind it by roughly the body part's radius (``lift_torso_offset_m`` for shoulders and hips,
   ``lift_limb_offset_m`` for elbows, wrists, knees and ankles, ``lift_ear_offset_m`` for the
   ears), added along the optical axis. Nose and eyes lie on the skin when the person faces the
   camera (``lift_face_offset_front_m``) but on the far side of the head when the camera sees
   the back of it, where the reading is the back of the head (``lift_face_offset_back_m``);
   which side the camera sees comes from the 2D joints (:func:`facing_camera`), in between the
   offset is interpolated.
4. **Unprojection**: the joint's undistorted ray times its depth (distance along the optical
   axis, as the recording stores it) gives a point in the camera frame, then the world (metres,
   z up).
5. **Plausibility**: the lifted skeleton must have human limb lengths
   (:func:`~disguisor.pose3d.association.plausible_bodies`). A skeleton-like false detection on
   a flat background lands on that background (where it is harmless) or, when its size does not
   fit a person at that distance, is rejected; it never floats between camera and wall.

The result is a :class:`~disguisor.pose3d.association.PersonObservation` like a triangulated
person (one supporting detection, ``error_px`` NaN), so tracking, body fitting and rendering
treat it like everyone else, and its face is hidden in every view that sees it.

Pure functions: depth images come in as arrays (metres, or the recording's raw uint16 with its
``depth_scale``); the caller decides where they come from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from disguisor.geometry import undistort_pixels
from disguisor.io.calibration import Camera
from disguisor.pose2d.keypoints_io import NUM_JOINTS, Detection
from disguisor.pose3d.association import _BONE_HI, _BONES, PersonObservation, Rig, plausible_bodies
from disguisor.pose3d.params import Pose3DParams
from disguisor.pose3d.triangulation import project_to_cameras

log = logging.getLogger(__name__)

# The depth source of the pose3d stage: camera name, frame number -> that view's depth image
# registered to its colour image ((H, W) float metres or the raw uint16 of the recording, 0 = no
# reading), or None where there is none.
DepthSource = Callable[[str, int], "np.ndarray | None"]

_FACE = (0, 1, 2, 3, 4)
_TORSO = (5, 6, 11, 12)


def depth_in_metres(depth: np.ndarray, depth_scale: float) -> np.ndarray:
    """A depth image in metres (float), 0 = no reading.

    Integer images (the recording's uint16 PNGs) are multiplied by ``depth_scale`` (metres per
    unit, the camera's calibrated ``depth_scale``); float images are taken as metres already.
    Non-finite and negative readings become 0.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"a depth image is (H, W), not {depth.shape}")
    if np.issubdtype(depth.dtype, np.integer):
        return depth.astype(np.float32) * np.float32(depth_scale)
    out = depth.astype(np.float32, copy=True)
    out[~np.isfinite(out) | (out < 0)] = 0.0
    return out


def within_range(depth_m: np.ndarray, camera: Camera) -> np.ndarray:
    """A depth image in metres with readings outside ``camera.depth_range`` set to 0 (no reading)."""
    if camera.depth_range is None:
        return depth_m
    lo, hi = camera.depth_range
    return np.where((depth_m >= lo) & (depth_m <= hi), depth_m, depth_m.dtype.type(0))


def window_px(camera: Camera, window_rad: float) -> int:
    """Half size (pixels, at least 1) of a depth window of ``window_rad`` radians in ``camera``."""
    return max(1, int(round(window_rad * 0.5 * (camera.K[0, 0] + camera.K[1, 1]))))


def facing_camera(keypoints: np.ndarray, min_score: float) -> float:
    """How much a person faces the camera, from the 2D joints: +1 front, -1 back, 0 side or unknown.

    Seen from the front, the person's left shoulder is on the image's right of their right
    shoulder when the body's up direction (hips to shoulders, else shoulders to face) points
    up the image: the sign of the 2D cross product of (right -> left shoulder) and (up), scaled
    by the shoulders' apparent width relative to the up vector's length (small from the side).
    """
    ok = keypoints[:, 2] >= min_score
    if not (ok[5] and ok[6]):
        return 0.0
    mid = 0.5 * (keypoints[5, :2] + keypoints[6, :2])
    if ok[11] and ok[12]:
        up = mid - 0.5 * (keypoints[11, :2] + keypoints[12, :2])
    elif ok[list(_FACE)].any():
        up = keypoints[list(_FACE), :2][ok[list(_FACE)]].mean(axis=0) - mid
    else:
        return 0.0
    across = keypoints[5, :2] - keypoints[6, :2]
    n_up, n_across = float(np.linalg.norm(up)), float(np.linalg.norm(across))
    if n_up < 1e-6 or n_across < 1e-6:
        return 0.0
    sin = (across[1] * up[0] - across[0] * up[1]) / (n_up * n_across)    # +1: left shoulder on the right
    # shoulders ~0.36 m apart vs ~0.5 m hips-to-shoulders: a frontal view shows a ratio of ~0.7
    return float(np.clip(sin * min(1.0, n_across / (0.7 * n_up)), -1.0, 1.0))


def _surface_offsets(params: Pose3DParams, facing: float) -> np.ndarray:
    off = np.full(NUM_JOINTS, params.lift_limb_offset_m)
    off[list(_TORSO)] = params.lift_torso_offset_m
    # nose and eyes are on the skin facing the camera, on the far side of the head from behind
    back = 0.5 * (1.0 - facing)
    off[[0, 1, 2]] = params.lift_face_offset_front_m + back * (params.lift_face_offset_back_m
                                                               - params.lift_face_offset_front_m)
    off[[3, 4]] = params.lift_ear_offset_m
    return off


def joint_depths(keypoints: np.ndarray, depth_m: np.ndarray, window_px: int,
                 min_valid_share: float) -> np.ndarray:
    """(N,) median depth (m) in a (2 window_px + 1)^2 window around each joint's pixel.

    keypoints: (N, 3) pixels (x, y) of the distorted image and scores (0: not detected; N = 17
    for a detection). NaN where the joint is not detected, outside the image, or its window has
    fewer than ``min_valid_share`` valid (> 0) readings.
    """
    H, W = depth_m.shape
    out = np.full(len(keypoints), np.nan)
    for j in range(len(keypoints)):
        x, y, s = keypoints[j]
        if s <= 0:
            continue
        u, v = int(round(x)), int(round(y))
        if not (0 <= u < W and 0 <= v < H):
            continue
        win = depth_m[max(0, v - window_px):v + window_px + 1, max(0, u - window_px):u + window_px + 1]
        valid = win[win > 0]
        if valid.size and valid.size >= min_valid_share * (2 * window_px + 1) ** 2:
            out[j] = float(np.median(valid))
    return out


def lift_detection(keypoints: np.ndarray, camera: Camera, depth: np.ndarray,
                   params: Pose3DParams | None = None, depth_scale: float | None = None,
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """3D joints of one view's 2D detection from that view's registered depth.

    keypoints: (17, 3) COCO-17 joints, pixels (x, y) of the camera's distorted image and scores
    in [0, 1] (0 = not detected). camera: the calibrated camera (intrinsics, lens, pose).
    depth: (H, W) the camera's depth registered to its colour image: float metres, or the raw
    integer image of the recording, scaled by ``depth_scale`` (default: ``camera.depth_scale``);
    0 = no reading. Readings outside ``camera.depth_range`` are ignored.

    Returns (joints (17, 3) world metres, z up, NaN where not lifted; confidence (17,) in
    [0, 1], the joint score x ``lift_confidence_scale``), or None when the detection cannot be
    lifted (too few joints with consistent depth, or not a human body at that depth; see the
    module docstring).
    """
    params = params or Pose3DParams()
    kp = np.asarray(keypoints, dtype=np.float64)
    depth_m = depth_in_metres(depth, camera.depth_scale if depth_scale is None else depth_scale)
    if depth_m.shape != (camera.height, camera.width):
        raise ValueError(f"depth image {depth_m.shape[1]}x{depth_m.shape[0]} does not match camera "
                         f"{camera.name!r} ({camera.width}x{camera.height})")
    depth_m = within_range(depth_m, camera)
    # joints a detector is unsure of are often hidden, and the depth there is the occluder's
    seen = kp[:, 2] >= params.min_joint_score
    if not seen.any():
        return None
    # a joint much less sure than the rest of its detection is probably hidden; a detector that
    # is unsure of a whole person (MoveNet on a ceiling view) still gets its surer joints lifted
    floor = min(params.lift_min_joint_score, params.lift_relative_joint_score * float(np.median(kp[seen, 2])))
    detected = kp[:, 2] >= max(params.min_joint_score, floor)
    window = window_px(camera, params.lift_window_rad)
    z = joint_depths(np.where(detected[:, None], kp, 0.0), depth_m, window, params.lift_min_valid_share)
    if np.count_nonzero(np.isfinite(z)) < params.lift_min_joints:
        return None
    z_person = np.nanmedian(z)
    z = np.where(np.abs(z - z_person) <= params.lift_max_depth_deviation_m, z, np.nan)
    face = np.zeros(NUM_JOINTS, bool)
    face[list(_FACE)] = True
    if np.isfinite(z[face]).any():     # the face keypoints lie within a head's size of each other
        z = np.where(face & (np.abs(z - np.nanmedian(z[face])) > params.lift_head_deviation_m), np.nan, z)
    ok = np.isfinite(z)
    n_ok = int(ok.sum())
    if n_ok < params.lift_min_joints or n_ok < params.lift_min_joint_share * int(detected.sum()):
        return None
    xy = undistort_pixels(kp[ok, :2], camera.K, camera.dist)
    zj = z[ok] + _surface_offsets(params, facing_camera(kp, max(params.min_joint_score, floor)))[ok]
    joints = np.full((NUM_JOINTS, 3), np.nan)
    joints[ok] = camera.camera_to_world(np.concatenate([xy * zj[:, None], zj[:, None]], axis=1))
    joints = _drop_overlong_limbs(joints, np.abs(z - z_person))
    if (np.count_nonzero(np.isfinite(joints[:, 0])) < params.lift_min_joints
            or not plausible_bodies(joints[None], params.min_plausible_bones)[0]):
        return None
    ok = np.isfinite(joints[:, 0])
    conf = np.where(ok, np.clip(kp[:, 2], 0.0, 1.0) * params.lift_confidence_scale, 0.0)
    return joints, conf


def _drop_overlong_limbs(joints: np.ndarray, off_median: np.ndarray) -> np.ndarray:
    """Remove, limb by limb, the end of a limb longer than a human's whose depth is further from
    the person's median depth (``off_median``, m): a wrist read on the wall behind it makes the
    forearm too long, and it is the wrist that is wrong, not the elbow."""
    joints = joints.copy()
    for _ in range(NUM_JOINTS):
        length = np.linalg.norm(joints[_BONES[:, 0]] - joints[_BONES[:, 1]], axis=-1)
        over = np.flatnonzero(np.isfinite(length) & (length > _BONE_HI))
        if not over.size:
            break
        worst = over[np.argmax(length[over] - _BONE_HI[over])]
        a, b = _BONES[worst]
        joints[a if off_median[a] >= off_median[b] else b] = np.nan
    return joints


def _explained(rig: Rig, det: Detection, people: Sequence[PersonObservation], params: Pose3DParams) -> bool:
    """Whether a 3D person's projection into the detection's camera lies on the detection: the
    median distance of their common joints is below ``lift_explained_rad`` (3 joints at least)."""
    c = rig.index[det.camera]
    view = rig.views[c]
    kp = det.keypoints
    seen = kp[:, 2] >= params.min_joint_score
    if not seen.any() or not people:
        return False
    xy = view.normalize(kp[:, :2])
    for p in people:
        Xc = project_to_cameras(rig.P[c:c + 1], np.nan_to_num(p.joints))[:, 0]     # (17, 3)
        common = seen & p.valid & (Xc[:, 2] > 1e-6)
        if common.sum() < 3:
            continue
        proj = Xc[common, :2] / Xc[common, 2:3]
        dist = np.linalg.norm(proj - xy[common], axis=1)                             # radians (normalized)
        if float(np.median(dist)) < params.lift_explained_rad:
            return True
    return False


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """The lower of the mean and the median distance (metres) of the joints two skeletons share
    (inf when none): a ceiling view's detection mislabels the limbs of a person whose head and
    torso it places right (the median sees the person), or places most joints of a lying body a
    little off and a few on it (the mean does)."""
    d = np.linalg.norm(a - b, axis=-1)
    d = d[np.isfinite(d)]
    return float(min(d.mean(), np.median(d))) if d.size else float("inf")


def lift_unexplained(rig: Rig, views: dict[str, Sequence[Detection]], people: Sequence[PersonObservation],
                     depth_of: Callable[[str], np.ndarray | None], params: Pose3DParams | None = None,
                     contradicted: Callable[[np.ndarray], bool] | None = None,
                     refuted: Sequence[PersonObservation] = ()) -> list[PersonObservation]:
    """People lifted from depth: one per detection that no (multi-view or earlier lifted) person
    explains, at one frame.

    views: camera name -> that camera's detections; people: the frame's multi-view people;
    depth_of(camera name) -> its depth image at this frame (see :func:`lift_detection`) or None.
    A detection is explained when a person's projected joints lie on it (:func:`_explained`) or
    when its lifted skeleton lies within ``lift_merge_distance_m`` (the lower of the mean and the
    median joint distance) of a person. A lifted skeleton for which ``contradicted(joints (17, 3))`` is true (the other
    views' depth sees through it: :mod:`~disguisor.pose3d.freespace`) is dropped. The detections
    of ``refuted`` people (multi-view people the depth refuted) are tried whatever their score
    (they passed the association's ``min_person_score``). Detections are tried strongest first;
    returns the new people.
    """
    params = params or Pose3DParams()
    known = list(people)
    used = {id(d) for p in people for d in p.detections}
    second = {id(d) for p in refuted for d in p.detections}
    candidates = [d for cam in views if cam in rig.index for d in views[cam]
                  if id(d) not in used and (d.score >= params.lift_min_person_score or id(d) in second)
                  and np.count_nonzero(d.keypoints[:, 2] >= params.min_joint_score) >= params.lift_min_joints]
    candidates.sort(key=lambda d: -d.score)
    out: list[PersonObservation] = []
    for det in candidates:
        if _explained(rig, det, known, params):
            continue
        depth = depth_of(det.camera)
        if depth is None:
            continue
        lifted = lift_detection(det.keypoints, rig.views[rig.index[det.camera]].camera, depth, params)
        if lifted is None:
            continue
        joints, conf = lifted
        if any(_distance(joints, p.joints) < params.lift_merge_distance_m for p in known):
            continue
        if contradicted is not None and contradicted(joints):
            continue
        person = PersonObservation(joints=joints, confidence=conf, error_px=np.full(NUM_JOINTS, np.nan),
                                   detections=(det,), score=float(det.score) * params.lift_confidence_scale)
        known.append(person)
        out.append(person)
    if out:
        log.debug("%d person(s) lifted from depth", len(out))
    return out
