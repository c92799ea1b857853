"""Camera geometry for multi-view pose: normalized projection matrices, epipolar geometry, overlap.

All 3D work happens on *undistorted normalized* image coordinates (x, y) on the z = 1 plane of
an OpenCV camera frame (x right, y down, z forward): pixels are undistorted once with
:func:`disguisor.geometry.undistort_pixels`, after which every camera is an ideal pinhole with
projection matrix ``P = [R^T | -R^T t]`` (world metres -> camera frame). Errors are turned into
pixels with the focal lengths (``fx`` for x, ``fy`` for y).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from disguisor.geometry import project_points, undistort_pixels
from disguisor.io.calibration import Calibration, Camera

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ViewGeometry:
    """One camera prepared for triangulation.

    P: (3, 4) world (metres, z up) -> camera frame on normalized coordinates.
    focal: (2,) fx, fy in pixels. center: (3,) camera centre in world metres.
    """

    camera: Camera
    P: np.ndarray
    focal: np.ndarray
    center: np.ndarray

    @property
    def name(self) -> str:
        return self.camera.name

    def normalize(self, uv: np.ndarray) -> np.ndarray:
        """Distorted pixel coordinates (..., 2) -> undistorted normalized coordinates (..., 2)."""
        uv = np.asarray(uv, dtype=np.float64)
        return undistort_pixels(uv.reshape(-1, 2), self.camera.K, self.camera.dist).reshape(uv.shape)


def view_geometry(camera: Camera) -> ViewGeometry:
    """Prepare one calibrated camera for triangulation."""
    R = np.asarray(camera.R, dtype=np.float64)
    t = np.asarray(camera.t, dtype=np.float64)
    P = np.concatenate([R.T, (-R.T @ t)[:, None]], axis=1)
    focal = np.array([camera.K[0, 0], camera.K[1, 1]], dtype=np.float64)
    return ViewGeometry(camera=camera, P=P, focal=focal, center=t.copy())


def essential_matrix(a: ViewGeometry, b: ViewGeometry) -> np.ndarray:
    """E with ``x_b^T E x_a = 0`` for normalized homogeneous points of one 3D point in a and b.

    ``E @ x_a`` is the epipolar line of x_a in b's normalized coordinates.
    """
    Ra, Rb = a.camera.R, b.camera.R
    R_ab = Rb.T @ Ra                       # a's camera frame -> b's camera frame
    t_ab = Rb.T @ (a.center - b.center)    # a's centre in b's frame
    tx = np.array([[0.0, -t_ab[2], t_ab[1]], [t_ab[2], 0.0, -t_ab[0]], [-t_ab[1], t_ab[0], 0.0]])
    return tx @ R_ab


def epipolar_distance_px(E: np.ndarray, xa: np.ndarray, xb: np.ndarray, focal_b: np.ndarray) -> np.ndarray:
    """Distance (pixels of b) of normalized points xb (..., 2) from the epipolar lines of xa (..., 2).

    xa and xb broadcast against each other; the line ``l = E @ [xa, 1]`` is measured in b's
    undistorted pixel units: ``|l . [xb, 1]| / sqrt((l0 / fx)^2 + (l1 / fy)^2)``.
    """
    lines = xa @ E[:, :2].T + E[:, 2]                     # (..., 3)
    num = np.abs(np.sum(lines[..., :2] * xb, axis=-1) + lines[..., 2])
    den = np.sqrt((lines[..., 0] / focal_b[0]) ** 2 + (lines[..., 1] / focal_b[1]) ** 2)
    return num / np.maximum(den, 1e-12)


def fov_overlap(calibration: Calibration, depth_range_m: tuple[float, float] = (0.5, 6.0),
                grid: tuple[int, int, int] = (16, 9, 12)) -> np.ndarray:
    """Share of each camera's viewing volume that each other camera also sees, (V, V) in [0, 1].

    Camera i's volume is sampled on a grid of pixels (``grid[0] x grid[1]``) times depths
    (``grid[2]``, evenly over the camera's ``depth_range`` when calibrated, else
    ``depth_range_m``); entry [i, j] is the share of those points in front of camera j and
    inside its image. The diagonal is 1.
    """
    cams = calibration.cameras
    V = len(cams)
    out = np.eye(V)
    for i, ci in enumerate(cams):
        lo, hi = ci.depth_range if ci.depth_range is not None else depth_range_m
        u = np.linspace(0.0, ci.width - 1.0, grid[0])
        v = np.linspace(0.0, ci.height - 1.0, grid[1])
        uv = np.stack(np.meshgrid(u, v), axis=-1).reshape(-1, 2)
        rays = np.concatenate([undistort_pixels(uv, ci.K, ci.dist), np.ones((len(uv), 1))], axis=1)
        depths = np.linspace(lo, hi, grid[2])
        pts = ci.camera_to_world((rays[None, :, :] * depths[:, None, None]).reshape(-1, 3))
        for j, cj in enumerate(cams):
            if i == j:
                continue
            pc = cj.world_to_camera(pts)
            px = project_points(pc, cj.K, cj.dist)
            inside = ((pc[:, 2] > 0.05) & np.isfinite(px[:, 0]) & (px[:, 0] >= -0.5) & (px[:, 0] <= cj.width - 0.5)
                      & (px[:, 1] >= -0.5) & (px[:, 1] <= cj.height - 0.5))
            out[i, j] = float(np.mean(inside))
    return out


def warn_if_views_do_not_overlap(calibration: Calibration, min_overlap: float = 0.02) -> list[str]:
    """Log a warning for every camera whose field of view overlaps no other camera's.

    A person seen by such a camera alone cannot be triangulated. Returns the isolated cameras
    (all of them when no two cameras overlap, or when there is a single camera).
    """
    names = calibration.names
    if len(names) < 2:
        log.warning("only one camera (%s): 3D poses need at least two overlapping views", ", ".join(names))
        return names
    ov = fov_overlap(calibration)
    shared = np.maximum(ov, ov.T)
    np.fill_diagonal(shared, 0.0)
    isolated = [n for n, row in zip(names, shared, strict=True) if row.max() < min_overlap]
    if len(isolated) == len(names):
        log.warning("no two cameras' fields of view overlap (%s): no person can be triangulated; check the "
                    "calibration's camera poses", ", ".join(names))
    elif isolated:
        log.warning("the field of view of camera(s) %s overlaps no other camera's: people seen only there "
                    "cannot be triangulated", ", ".join(isolated))
    return isolated
