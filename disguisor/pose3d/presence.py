"""Whether the sensor depth still shows a body where a lost track is held.

A track whose person the detectors stop finding is held in place for a few frame numbers
(:func:`disguisor.pose3d.tracking.hold_still_track`). Its speed alone cannot tell a patient lying
still from a nurse who walked away: the detector's joints of a lying patient drift by
4-17 cm over a few frames (synthetic medium 1280x720 seed 0: the patient, lost in the last frame,
was judged moving and his face, fully visible from the ceiling, stayed unpainted). The depth
can: where the person still is, the sensor reads a surface at the held joints' depth; where they
left, it reads the floor, the table or the wall behind.

:func:`depth_presence` builds the check from the pose3d stage's depth source. For each camera
the held head joints (all joints when the head has none) are projected into the view; a joint
*agrees* when the median valid reading in a small window around its pixel lies within
``tolerance_m`` behind or ``front_m`` in front of the joint's depth (a surface a little nearer is
the body's own: the detector's held joints of a lying patient sat 10 cm inside the table, the
face 15-20 cm nearer the ceiling camera), and reads *behind* when it is further than that (much
nearer means an occluder: no evidence either way). A camera votes present when at least half of
its readable joints agree, absent when more than half read behind.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from disguisor.geometry import project_points
from disguisor.io.calibration import Calibration
from disguisor.pose3d.lifting import DepthSource, depth_in_metres, joint_depths

# frame number, joints (17, 3) world metres (NaN = unknown) -> True (depth shows a body there),
# False (every camera that can tell reads the background behind them) or None (cannot tell)
Presence = Callable[[int, np.ndarray], "bool | None"]

_HEAD = (0, 1, 2, 3, 4)


def presence_votes(joints_world: np.ndarray, cameras, depths_m: list[np.ndarray | None], tolerance_m: float,
                   front_m: float, window_px: int = 2) -> tuple[int, int]:
    """(cameras voting present, cameras voting absent) for ``joints_world`` (N, 3) world metres.

    cameras: the calibrated cameras; depths_m: each one's depth image in metres registered to its
    colour image (0 = no reading), or None where there is none."""
    present = absent = 0
    for cam, depth in zip(cameras, depths_m, strict=True):
        if depth is None:
            continue
        pts_cam = cam.world_to_camera(joints_world)
        uv = project_points(pts_cam, cam.K, cam.dist)
        seen = np.isfinite(uv).all(axis=1)
        readings = joint_depths(np.column_stack([np.nan_to_num(uv, nan=-1.0), seen]), depth, window_px, 0.0)
        known = np.isfinite(readings)
        readable = int(known.sum())
        z = pts_cam[known, 2]
        agree = int(((readings[known] >= z - front_m) & (readings[known] <= z + tolerance_m)).sum())
        behind = int((readings[known] > z + tolerance_m).sum())
        if readable == 0:
            continue
        if 2 * agree >= readable:
            present += 1
        elif 2 * behind > readable:
            absent += 1
    return present, absent


def depth_presence(calibration: Calibration, depth_of: DepthSource, tolerance_m: float, front_m: float) -> Presence:
    """The presence check of held tracks (module docstring) on ``depth_of(camera, frame)`` (float
    metres or the recording's raw uint16, or None)."""
    cameras = list(calibration.cameras)

    @functools.lru_cache(maxsize=2)  # held tracks ask about the same few frames one after another
    def depths_at(frame: int) -> list[np.ndarray | None]:
        out = []
        for cam in cameras:
            raw = depth_of(cam.name, frame)
            out.append(None if raw is None else depth_in_metres(raw, cam.depth_scale))
        return out

    def present(frame: int, joints: np.ndarray) -> bool | None:
        joints = np.asarray(joints, float)
        head = joints[list(_HEAD)]
        pts = head[np.isfinite(head).all(axis=1)]
        if not len(pts):
            pts = joints[np.isfinite(joints).all(axis=1)]
        if not len(pts):
            return None
        yes, no = presence_votes(pts, cameras, depths_at(frame), tolerance_m, front_m)
        if yes:
            return True
        return False if no else None

    return present
