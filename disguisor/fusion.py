"""Fuse the RGB-D views of one frame into a coloured point cloud in world coordinates.

Each depth pixel z (metres along the optical axis) becomes ``z * ray`` in its camera frame,
where ``ray`` is the undistorted pixel direction (precomputed once per camera), then moves to
the world with the camera's pose. The views are merged on a voxel grid (open3d), and optionally
cleaned with statistical outlier removal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from disguisor.config import FusionParams
from disguisor.errors import InputError
from disguisor.geometry import pixel_rays
from disguisor.io.atomic import atomic_write_bytes
from disguisor.io.calibration import Camera
from disguisor.io.recording import Recording, View


@dataclass
class PointCloud:
    """points: (N, 3) float32 world metres. colors: (N, 3) uint8 RGB. camera: (N,) int16 index of
    the camera each point came from (-1 after voxel merging mixes cameras)."""

    points: np.ndarray
    colors: np.ndarray
    camera: np.ndarray

    def __len__(self) -> int:
        return int(self.points.shape[0])


class RayCache:
    """Undistorted pixel rays per camera and stride, computed once (they only depend on the lens)."""

    def __init__(self) -> None:
        self._rays: dict[tuple[int, int], np.ndarray] = {}

    def get(self, camera: Camera, stride: int) -> np.ndarray:
        key = (id(camera), stride)
        if key not in self._rays:
            self._rays[key] = pixel_rays(camera.K, camera.dist, camera.width, camera.height, stride)
        return self._rays[key]


def view_to_points(view: View, params: FusionParams = FusionParams(), rays: RayCache | None = None,
                   camera_index: int = 0) -> PointCloud:
    """One view's depth + colour -> coloured points in world metres (invalid depth skipped).

    Raises :class:`InputError` if the depth map contains NaN or infinity: the recording format
    stores 0 for "no reading", so non-finite values mean a broken producer.
    """
    cam, s = view.camera, params.pixel_stride
    depth = view.depth[::s, ::s]
    if not np.all(np.isfinite(depth)):
        raise InputError(f"{cam.name}/depth/frame {view.frame}", "depth contains NaN or infinity "
                         "(use 0 for 'no reading')", field="depth")
    ray = (rays or RayCache()).get(cam, s)
    valid = (depth >= params.min_depth_m) & (depth <= params.max_depth_m)
    z = depth[valid]
    pts_cam = ray[valid] * z[:, None]
    pts = pts_cam @ cam.R.T.astype(np.float32) + cam.t.astype(np.float32)
    bgr = view.color[::s, ::s][valid]
    return PointCloud(points=pts.astype(np.float32), colors=bgr[:, ::-1].copy(),
                      camera=np.full(len(z), camera_index, np.int16))


def concatenate(clouds: Sequence[PointCloud]) -> PointCloud:
    if not clouds:
        return PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), np.zeros(0, np.int16))
    return PointCloud(points=np.concatenate([c.points for c in clouds]),
                      colors=np.concatenate([c.colors for c in clouds]),
                      camera=np.concatenate([c.camera for c in clouds]))


def to_open3d(cloud: PointCloud):
    import open3d as o3d

    pcd = o3d.geometry.PointCloud()
    pcd.points = o3d.utility.Vector3dVector(cloud.points.astype(np.float64))
    pcd.colors = o3d.utility.Vector3dVector(cloud.colors.astype(np.float64) / 255.0)
    return pcd


def from_open3d(pcd) -> PointCloud:
    pts = np.asarray(pcd.points, dtype=np.float32)
    cols = np.clip(np.asarray(pcd.colors) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if cols.shape[0] != pts.shape[0]:
        cols = np.zeros((pts.shape[0], 3), np.uint8)
    return PointCloud(points=pts, colors=cols, camera=np.full(len(pts), -1, np.int16))


def fuse_views(views: Sequence[View], params: FusionParams = FusionParams(),
               rays: RayCache | None = None) -> PointCloud:
    """All views of one frame -> one world point cloud, voxel-merged (and outlier-filtered)."""
    rays = rays or RayCache()
    cloud = concatenate([view_to_points(v, params, rays, i) for i, v in enumerate(views)])
    if len(cloud) == 0 or (params.voxel_size_m <= 0 and params.outlier_neighbors <= 0):
        return cloud
    pcd = to_open3d(cloud)
    if params.voxel_size_m > 0:
        pcd = pcd.voxel_down_sample(params.voxel_size_m)
    if params.outlier_neighbors > 0:
        pcd, _ = pcd.remove_statistical_outlier(params.outlier_neighbors, params.outlier_std_ratio)
    return from_open3d(pcd)


def fuse_frame(recording: Recording, frame: int, params: FusionParams = FusionParams(),
               rays: RayCache | None = None) -> PointCloud:
    """Read one frame of a recording and fuse all its views."""
    if frame not in recording.frames:
        raise InputError(recording.root, f"frame {frame} is not in the recording "
                         f"(frames {recording.frames[0]}..{recording.frames[-1]})", field="--frame")
    return fuse_views(recording.views(frame), params, rays)


def ply_bytes(cloud: PointCloud) -> bytes:
    """Binary little-endian PLY with float32 x, y, z and uint8 red, green, blue."""
    n = len(cloud)
    header = ("ply\nformat binary_little_endian 1.0\ncomment disguisor fused cloud, world metres, z up\n"
              f"element vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    rec = np.empty(n, dtype=[("p", "<f4", 3), ("c", "u1", 3)])
    rec["p"], rec["c"] = cloud.points, cloud.colors
    return header.encode("ascii") + rec.tobytes()


def write_ply(cloud: PointCloud, path: str | Path) -> None:
    """Write the cloud as PLY (atomically: complete or absent)."""
    atomic_write_bytes(Path(path), ply_bytes(cloud))
