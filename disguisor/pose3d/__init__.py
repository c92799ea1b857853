"""Training-free multi-view 3D human pose: COCO-17 keypoints of all views -> tracked 3D skeletons.

Per frame, detections of different cameras are associated by a global multi-view matching
(:mod:`~disguisor.pose3d.association`) and triangulated robustly
(:mod:`~disguisor.pose3d.triangulation`); people seen by one camera are lifted from its depth
when depth is given (:mod:`~disguisor.pose3d.lifting`); over time people are tracked with stable ids, short
gaps are filled and every joint is smoothed (:mod:`~disguisor.pose3d.tracking`,
:mod:`~disguisor.pose3d.smoothing`). Output format: :mod:`~disguisor.pose3d.poses`.

>>> poses = estimate_poses3d(calibration, keypoints)    # doctest: +SKIP
>>> save_poses3d("poses3d.json", poses)                 # doctest: +SKIP
"""

from disguisor.pose3d.association import PersonObservation, Rig, associate, prepare_rig, reconstruct_frame
from disguisor.pose3d.command import pose3d_command
from disguisor.pose3d.lifting import DepthSource, lift_detection
from disguisor.pose3d.params import Pose3DParams, TrackingParams
from disguisor.pose3d.pipeline import depth_from_recording, estimate_poses3d, reconstruct_frames
from disguisor.pose3d.poses import (
    FramePoses,
    Person3D,
    Poses3D,
    load_poses3d,
    poses3d_from_json,
    poses3d_to_json,
    save_poses3d,
)
from disguisor.pose3d.tracking import track_people

__all__ = ["DepthSource", "FramePoses", "Person3D", "PersonObservation", "Pose3DParams", "Poses3D", "Rig",
           "TrackingParams", "associate", "depth_from_recording", "estimate_poses3d", "lift_detection",
           "load_poses3d", "pose3d_command", "poses3d_from_json", "poses3d_to_json", "prepare_rig",
           "reconstruct_frame", "reconstruct_frames", "save_poses3d", "track_people"]
