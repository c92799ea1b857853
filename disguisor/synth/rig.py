"""The default camera rig: an operating room seen by workflow and surgical cameras.

Room and rig follow the DisguisOR setup (METHOD.md): a 5.5 x 6.75 x 3.0 m space, world
origin on the floor at the room centre, z up; workflow cameras about 2.2 m high at ordinary
angles, surgical cameras at the ceiling looking down steeply at the table.
"""

from __future__ import annotations

import numpy as np

from disguisor.geometry import look_at
from disguisor.io.calibration import Calibration, Camera

ROOM_SIZE_M = (5.5, 6.75, 3.0)
# Azure Kinect 720p colour: ~90 deg horizontal field of view.
HORIZONTAL_FOV_DEG = 92.0
# Mild lens distortion (OpenCV k1, k2, p1, p2, k3) so every stage is exercised with it.
DEFAULT_DISTORTION = (0.03, -0.02, 0.0005, -0.0003, 0.0)
# Kinect v1 (first-generation) colour camera at 640x480: focal length ~525 px (~62 x 49 degree
# field of view) and a stronger lens than the Azure Kinect's, of the size typical published
# calibrations of that sensor report (OpenCV k1, k2, p1, p2, k3).
KINECT_V1_SIZE = (640, 480)
KINECT_V1_FOCAL_PX = 525.0
KINECT_V1_DISTORTION = (0.20, -0.50, -0.002, 0.001, 0.45)

# name, role, eye (m), look-at target (m)
_RIG = (
    ("wfc1", "workflow", (-2.4, -2.9, 2.2), (0.0, 0.0, 1.0)),
    ("wfc2", "workflow", (2.4, -2.9, 2.3), (0.0, 0.2, 1.0)),
    ("sc1", "surgical", (-0.9, 0.6, 2.9), (0.1, 0.0, 0.9)),
    ("sc2", "surgical", (0.9, -0.7, 2.9), (-0.1, 0.1, 0.9)),
    ("wfc3", "workflow", (2.5, 3.0, 2.2), (0.0, 0.0, 1.0)),
    ("wfc4", "workflow", (-2.5, 3.0, 2.1), (0.0, 0.0, 1.0)),
)


def intrinsics(width: int, height: int, hfov_deg: float = HORIZONTAL_FOV_DEG) -> np.ndarray:
    """Square-pixel intrinsics with the principal point at the image centre."""
    f = (width / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def default_rig(width: int = 1280, height: int = 720, n_cameras: int = 4, lens: str = "azure") -> Calibration:
    """The default rig: two workflow and two surgical cameras (up to six cameras).

    lens: ``"azure"`` (Azure Kinect 720p colour: ~92 degree horizontal field of view at any
    size, mild distortion) or ``"kinect_v1"`` (Kinect v1 colour: focal length 525 px at
    640x480, scaled with the width for other sizes, :data:`KINECT_V1_DISTORTION`).
    """
    if not 1 <= n_cameras <= len(_RIG):
        raise ValueError(f"the default rig has 1 to {len(_RIG)} cameras, not {n_cameras}")
    if lens == "azure":
        K, dist = intrinsics(width, height), DEFAULT_DISTORTION
    elif lens == "kinect_v1":
        hfov = 2.0 * np.degrees(np.arctan((KINECT_V1_SIZE[0] / 2.0) / KINECT_V1_FOCAL_PX))
        K, dist = intrinsics(width, height, hfov), KINECT_V1_DISTORTION
    else:
        raise ValueError(f"unknown lens {lens!r} (use 'azure' or 'kinect_v1')")
    cams = []
    for name, role, eye, target in _RIG[:n_cameras]:
        cams.append(Camera(name=name, role=role, width=width, height=height, K=K.copy(),
                           dist=np.array(dist), R=look_at(np.array(eye), np.array(target)),
                           t=np.array(eye, float), depth_scale=0.001, depth_range=(0.25, 6.0)))
    return Calibration(cameras=tuple(cams),
                       world_description="synthetic operating room: origin on the floor at the room centre")
