"""Pinhole cameras with OpenCV lens distortion: projection, unprojection, rigid transforms.

Camera frames follow OpenCV: x right, y down, z forward (metres). Pixel coordinates are
(u, v) = (column, row) with (0, 0) at the centre of the top-left pixel. Distortion
coefficients use OpenCV's order (k1, k2, p1, p2[, k3[, k4, k5, k6[, s1..s4[, tx, ty]]]]).
"""

from __future__ import annotations

import cv2
import numpy as np

# Iterative undistortion: Kinect-style rational lenses need far more than OpenCV's default
# 5 iterations to converge near the image border.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)


def undistort_pixels(uv: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Pixel coordinates (N, 2) -> normalized image coordinates (N, 2) on the z = 1 plane."""
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 1, 2)
    if uv.shape[0] == 0:
        return np.zeros((0, 2))
    if dist is None or not np.any(dist):
        uv = uv.reshape(-1, 2)
        y = (uv[:, 1] - K[1, 2]) / K[1, 1]
        x = (uv[:, 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
        return np.stack([x, y], axis=1)
    out = cv2.undistortPointsIter(uv, K, np.asarray(dist, np.float64), None, None, _UNDISTORT_CRITERIA)
    return out.reshape(-1, 2)


def project_points(points_cam: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Points in the camera frame (N, 3) -> pixel coordinates (N, 2), lens distortion applied.

    Points at or behind the camera (z <= 0) come back as NaN.
    """
    p = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    out = np.full((p.shape[0], 2), np.nan)
    front = p[:, 2] > 1e-9
    if np.any(front):
        uv, _ = cv2.projectPoints(p[front].reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K,
                                  np.asarray(dist, np.float64))
        out[front] = uv.reshape(-1, 2)
    return out


def pixel_grid(width: int, height: int, stride: int = 1) -> np.ndarray:
    """Pixel centres (h', w', 2) as (u, v), every ``stride``-th pixel."""
    u = np.arange(0, width, stride, dtype=np.float64)
    v = np.arange(0, height, stride, dtype=np.float64)
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu, vv], axis=-1)


def pixel_rays(K: np.ndarray, dist: np.ndarray, width: int, height: int, stride: int = 1) -> np.ndarray:
    """Normalized rays (h', w', 3) = (x, y, 1) for every ``stride``-th pixel.

    A depth reading z (distance along the optical axis, as RGB-D sensors report it) at that
    pixel lies at ``z * ray`` in the camera frame. Computed once per camera and reused.
    """
    grid = pixel_grid(width, height, stride)
    xy = undistort_pixels(grid.reshape(-1, 2), K, dist).reshape(grid.shape)
    rays = np.concatenate([xy, np.ones(grid.shape[:2] + (1,))], axis=-1)
    return rays.astype(np.float32)


def rotation_error(R: np.ndarray) -> float:
    """How far R is from a proper rotation: max of |R^T R - I| entries and |det R - 1|."""
    R = np.asarray(R, dtype=np.float64)
    return float(max(np.abs(R.T @ R - np.eye(3)).max(), abs(np.linalg.det(R) - 1.0)))


def transform_points(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Apply x -> R x + t to points (N, 3)."""
    return points @ np.asarray(R, points.dtype).T + np.asarray(t, points.dtype)


def invert_transform(R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of x -> R x + t."""
    R = np.asarray(R, dtype=np.float64)
    return R.T, -R.T @ np.asarray(t, dtype=np.float64)


def looking_down_deg(camera) -> float:
    """How far (degrees) a camera's optical axis points below the horizon (world z up): 90 for
    a camera looking straight down, 0 for a level one, negative when it looks up. ``camera``: any
    object with the world-to-camera rotation ``R`` (3, 3)."""
    return float(np.degrees(np.arcsin(np.clip(-camera.R[2, 2], -1.0, 1.0))))


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world rotation of an OpenCV camera at ``eye`` looking at ``target`` (world z up)."""
    up = np.array([0.0, 0.0, 1.0])
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-6:  # looking straight down or up: pick any image x axis
        x = np.cross(z, np.array([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)
