"""``disguisor pose3d``: calibration + 2D keypoints -> tracked 3D poses (``poses3d.json``).

Plain function for the CLI: ``pose3d_command(calibration_path, keypoints_path, out_path)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from disguisor.errors import InputError
from disguisor.io.calibration import load_calibration
from disguisor.pose2d.keypoints_io import load_keypoints
from disguisor.pose3d.cameras import warn_if_views_do_not_overlap
from disguisor.pose3d.lifting import DepthSource
from disguisor.pose3d.params import Pose3DParams, TrackingParams
from disguisor.pose3d.pipeline import estimate_poses3d
from disguisor.pose3d.poses import Poses3D, save_poses3d

log = logging.getLogger(__name__)


def resolve_calibration_path(path: str | Path) -> Path:
    """``calibration.json`` itself, or a recording folder holding one."""
    path = Path(path)
    if path.is_dir():
        inner = path / "calibration.json"
        if not inner.is_file():
            raise InputError(path, "is a folder without calibration.json; give the calibration file or a "
                             "recording folder", field="--calibration")
        return inner
    return path


def pose3d_command(calibration_path: str | Path, keypoints_path: str | Path, out_path: str | Path,
                   params: Pose3DParams | None = None, tracking: TrackingParams | None = None,
                   progress: Callable[[int], None] | None = None, depth_of: DepthSource | None = None) -> Poses3D:
    """Read and validate the inputs, estimate tracked 3D poses, write ``out_path`` atomically.

    calibration_path: ``calibration.json`` or a recording folder containing it. Logs a warning
    (and goes on) when cameras' fields of view do not overlap. Raises
    :class:`~disguisor.errors.InputError` for bad inputs; nothing is written then.
    """
    out_path = Path(out_path)
    if out_path.is_dir():
        raise InputError(out_path, "is a folder; give a file name such as poses3d.json", field="--out")
    calibration = load_calibration(resolve_calibration_path(calibration_path))
    keypoints = load_keypoints(keypoints_path, calibration)
    warn_if_views_do_not_overlap(calibration)
    poses = estimate_poses3d(calibration, keypoints, params, tracking, progress, depth_of=depth_of)
    save_poses3d(out_path, poses)
    return poses
