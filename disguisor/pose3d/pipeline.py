"""The 3D pose stage end to end: per-frame association and triangulation, depth lifting of
people seen by one camera, then tracking.

>>> rec = open_recording("rec")                                                     # doctest: +SKIP
>>> poses = estimate_poses3d(rec.calibration, load_keypoints("keypoints2d.json"),
...                          depth_of=depth_from_recording(rec))                   # doctest: +SKIP
>>> save_poses3d("poses3d.json", poses)                                            # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from disguisor.errors import InputError
from disguisor.io.calibration import Calibration
from disguisor.pose2d.keypoints_io import Keypoints2D
from disguisor.pose3d.association import PersonObservation, prepare_rig, reconstruct_frame
from disguisor.pose3d.freespace import FrameDepth, repair_head, without_one_view
from disguisor.pose3d.head import place_heads
from disguisor.pose3d.lifting import DepthSource, lift_unexplained
from disguisor.pose3d.params import Pose3DParams, TrackingParams
from disguisor.pose3d.poses import Poses3D
from disguisor.pose3d.presence import depth_presence
from disguisor.pose3d.tracking import track_people

if TYPE_CHECKING:
    from disguisor.io.recording import Recording

log = logging.getLogger(__name__)


def depth_from_recording(recording: Recording) -> DepthSource:
    """A depth source for :func:`estimate_poses3d`: camera name, frame -> that view's depth
    (float metres, 0 = no reading) read from ``recording``, or None where the recording lacks it."""
    def depth_of(camera: str, frame: int):
        cams = [c for c in recording.cameras_at(frame) if c.name == camera]
        return recording.read_depth(cams[0], frame) if cams else None
    return depth_of


def reconstruct_frames(calibration: Calibration, keypoints: Keypoints2D, params: Pose3DParams | None = None,
                       progress: Callable[[int], None] | None = None, depth_of: DepthSource | None = None,
                       ) -> tuple[list[int], list[list[PersonObservation]]]:
    """Per-frame people (untracked) for every frame of ``keypoints``: (frame numbers, people per frame).

    With ``depth_of`` (camera name, frame number -> that view's registered depth image, float
    metres or the recording's raw uint16, or None) detections that no multi-view person explains
    are lifted to 3D from their own view's depth (:mod:`~disguisor.pose3d.lifting`), unless
    ``params.lift_single_view`` is off. People whose joints a camera's depth sees through
    (:mod:`~disguisor.pose3d.freespace`) are refuted first: a multi-view person is triangulated
    again without one of its views, or else its detections are lifted one by one (whatever
    their score); a lifted person is dropped.
    """
    params = params or Pose3DParams()
    unknown = [c for c in keypoints.cameras if c not in calibration.names]
    if unknown:
        raise InputError(keypoints.source, f"camera(s) {', '.join(map(repr, unknown))} are not in the calibration "
                         f"(cameras: {', '.join(calibration.names)})", field="images")
    rig = prepare_rig(calibration)
    by_frame = keypoints.by_frame()
    frames = sorted(by_frame)
    people: list[list[PersonObservation]] = []
    cameras = [view.camera for view in rig.views]
    lifted = refuted = 0
    for k, frame in enumerate(frames):
        found = reconstruct_frame(rig, by_frame[frame], params)
        if depth_of is not None and params.lift_single_view:
            depth = FrameDepth(cameras, frame, depth_of, params)
            kept, gone = [], []
            for person in found:
                if not depth.refuted(person.joints):
                    kept.append(repair_head(rig, person, depth, params))
                    continue
                refuted += 1
                gone.append(person)                   # its unused detections may be lifted
                repaired = without_one_view(rig, person, depth, params)
                if repaired is not None:
                    kept.append(repaired)
            extra = lift_unexplained(rig, by_frame[frame], kept, depth.raw, params, depth.refuted, gone)
            lifted += len(extra)
            found = kept + extra
        people.append(found)
        if progress is not None:
            progress(k + 1)
    if depth_of is not None:
        log.info("%d person-frame(s) lifted from depth; %d refuted by a camera that sees through them",
                 lifted, refuted)
    return frames, people


def estimate_poses3d(calibration: Calibration, keypoints: Keypoints2D, params: Pose3DParams | None = None,
                     tracking: TrackingParams | None = None, progress: Callable[[int], None] | None = None,
                     depth_of: DepthSource | None = None) -> Poses3D:
    """Tracked, smoothed 3D skeletons (world metres, z up) from per-view COCO-17 keypoints.

    Every frame of ``keypoints`` appears in the result, with the people found there (possibly
    none); time is counted in frame numbers (:mod:`~disguisor.pose3d.tracking`).
    ``progress(done)`` is called after each frame's reconstruction. ``depth_of(camera name,
    frame number)`` (optional) returns that view's depth registered to its colour image ((H, W)
    float metres or the raw uint16 of the recording, 0 = no reading) or None; with it, people
    seen by one camera are lifted to 3D from that depth (see :func:`reconstruct_frames`,
    :func:`depth_from_recording`) and lost tracks are held where the depth still shows them
    (:mod:`~disguisor.pose3d.presence`). With ``params.head.enabled`` the head joints are a rigid head
    of human size fitted to the tracked head keypoints (:mod:`~disguisor.pose3d.head`).
    """
    frames, people = reconstruct_frames(calibration, keypoints, params, progress, depth_of)
    tracking = tracking or TrackingParams()
    present = None
    if depth_of is not None and tracking.hold_depth_tolerance_m is not None:
        present = depth_presence(calibration, depth_of, tracking.hold_depth_tolerance_m,
                                 tracking.hold_depth_front_m)
    # optionally a head of human size on the head keypoints (they shrink towards the head's centre)
    poses = place_heads(track_people(frames, people, tracking, present), (params or Pose3DParams()).head)
    log.info("3D poses: %d frames, %d people (tracks), %d person-frames", len(frames), len(poses.ids),
             sum(len(f.people) for f in poses.frames))
    return poses
