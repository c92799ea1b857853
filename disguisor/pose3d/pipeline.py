"""The 3D pose stage end to end: per-frame association and triangulation, then tracking.

>>> poses = estimate_poses3d(load_calibration("rec/calibration.json"),
...                          load_keypoints("keypoints2d.json"))          # doctest: +SKIP
>>> save_poses3d("poses3d.json", poses)                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from disguisor.errors import InputError
from disguisor.io.calibration import Calibration
from disguisor.pose2d.keypoints_io import Keypoints2D
from disguisor.pose3d.association import PersonObservation, prepare_rig, reconstruct_frame
from disguisor.pose3d.params import Pose3DParams, TrackingParams
from disguisor.pose3d.poses import Poses3D
from disguisor.pose3d.tracking import track_people

log = logging.getLogger(__name__)


def reconstruct_frames(calibration: Calibration, keypoints: Keypoints2D, params: Pose3DParams | None = None,
                       progress: Callable[[int], None] | None = None,
                       ) -> tuple[list[int], list[list[PersonObservation]]]:
    """Per-frame people (untracked) for every frame of ``keypoints``: (frame numbers, people per frame)."""
    params = params or Pose3DParams()
    unknown = [c for c in keypoints.cameras if c not in calibration.names]
    if unknown:
        raise InputError(keypoints.source, f"camera(s) {', '.join(map(repr, unknown))} are not in the calibration "
                         f"(cameras: {', '.join(calibration.names)})", field="images")
    rig = prepare_rig(calibration)
    by_frame = keypoints.by_frame()
    frames = sorted(by_frame)
    people: list[list[PersonObservation]] = []
    for k, frame in enumerate(frames):
        people.append(reconstruct_frame(rig, by_frame[frame], params))
        if progress is not None:
            progress(k + 1)
    return frames, people


def estimate_poses3d(calibration: Calibration, keypoints: Keypoints2D, params: Pose3DParams | None = None,
                     tracking: TrackingParams | None = None,
                     progress: Callable[[int], None] | None = None) -> Poses3D:
    """Tracked, smoothed 3D skeletons (world metres, z up) from per-view COCO-17 keypoints.

    Every frame of ``keypoints`` appears in the result, with the people found there (possibly
    none). ``progress(done)`` is called after each frame's reconstruction.
    """
    frames, people = reconstruct_frames(calibration, keypoints, params, progress)
    poses = track_people(frames, people, tracking)
    log.info("3D poses: %d frames, %d people (tracks), %d person-frames", len(frames), len(poses.ids),
             sum(len(f.people) for f in poses.frames))
    return poses
