"""Fuse the RGB-D views of one frame into a coloured point cloud in world coordinates.

Each depth pixel z (metres along the optical axis) becomes ``z * ray`` in its camera frame,
where ``ray`` is the undistorted pixel direction (precomputed once per camera), then moves to
the world with the camera's pose. The views are merged on a voxel grid (open3d), and optionally
cleaned with statistical outlier removal.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from disguisor.config import FusionParams
from disguisor.errors import InputError
from disguisor.geometry import pixel_rays
from disguisor.io.atomic import atomic_write_bytes
from disguisor.io.calibration import Camera
from disguisor.io.recording import Recording, View

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fusion")


@dataclass
class PointCloud:
    """points: (N, 3) float32 world metres. colors: (N, 3) uint8 RGB. camera: (N,) int16 index of
    the camera each point came from (-1 where voxel merging mixed cameras)."""

    points: np.ndarray
    colors: np.ndarray
    camera: np.ndarray

    def __len__(self) -> int:
        return int(self.points.shape[0])


class RayCache:
    """Per camera and stride, the undistorted pixel rays already rotated into the world frame
    (world direction per metre of depth). Computed once: they depend only on lens and pose."""

    def __init__(self) -> None:
        self._rays: dict[tuple[int, int], tuple[Camera, np.ndarray]] = {}

    def get(self, camera: Camera, stride: int) -> np.ndarray:
        key = (id(camera), stride)
        if key not in self._rays:
            rays = pixel_rays(camera.K, camera.dist, camera.width, camera.height, stride)
            world = (rays.reshape(-1, 3).astype(np.float64) @ camera.R.T).astype(np.float32)
            # keep the camera referenced so its id() cannot be reused by another object
            self._rays[key] = (camera, world.reshape(rays.shape))
        return self._rays[key][1]


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
    pts = ray[valid] * z[:, None] + cam.t.astype(np.float32)
    bgr = view.color[::s, ::s][valid]
    return PointCloud(points=pts, colors=bgr[:, ::-1].copy(),
                      camera=np.full(len(z), camera_index, np.int16))


def concatenate(clouds: Sequence[PointCloud]) -> PointCloud:
    if not clouds:
        return PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), np.zeros(0, np.int16))
    return PointCloud(points=np.concatenate([c.points for c in clouds]),
                      colors=np.concatenate([c.colors for c in clouds]),
                      camera=np.concatenate([c.camera for c in clouds]))


def to_open3d(cloud: PointCloud):
    """An ``open3d.geometry.PointCloud`` with the same points and colours (0-1)."""
    import open3d as o3d

    pcd = o3d.geometry.PointCloud()
    pcd.points = o3d.utility.Vector3dVector(cloud.points.astype(np.float64))
    pcd.colors = o3d.utility.Vector3dVector(cloud.colors.astype(np.float64) / 255.0)
    return pcd


def voxel_downsample(cloud: PointCloud, voxel_size_m: float) -> PointCloud:
    """Merge points falling into the same voxel: mean position and mean colour per voxel.

    Sort-based (numpy), several times faster than open3d's voxel_down_sample on a 4-view
    frame. Merged points no longer belong to one camera: their camera index is -1.
    """
    n = len(cloud)
    if n == 0:
        return cloud
    cells = np.floor(cloud.points * np.float32(1.0 / voxel_size_m)).astype(np.int32)
    cells -= cells.min(axis=0)
    if np.any(cells.max(axis=0) >= 1 << 21):
        raise ValueError("point cloud spans more than 2^21 voxels along an axis")
    cells = cells.astype(np.int64)
    keys = (cells[:, 0] << 42) | (cells[:, 1] << 21) | cells[:, 2]
    order = np.argsort(keys)
    keys = np.take(keys, order)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    counts = np.diff(np.append(starts, n)).astype(np.float32)[:, None]
    points = np.add.reduceat(np.take(cloud.points, order, axis=0), starts, axis=0) / counts
    colors = np.add.reduceat(np.take(cloud.colors, order, axis=0), starts, axis=0, dtype=np.uint32) / counts
    return PointCloud(points=points.astype(np.float32, copy=False),
                      colors=(colors + 0.5).astype(np.uint8),
                      camera=np.full(len(starts), -1, np.int16))


def remove_outliers(cloud: PointCloud, neighbors: int, std_ratio: float) -> PointCloud:
    """Statistical outlier removal (open3d): drop points whose mean distance to their
    ``neighbors`` nearest points exceeds the global mean by ``std_ratio`` standard deviations."""
    _, keep = to_open3d(cloud).remove_statistical_outlier(neighbors, std_ratio)
    keep = np.asarray(keep, dtype=np.int64)
    return PointCloud(cloud.points[keep], cloud.colors[keep], cloud.camera[keep])


def fuse_views(views: Sequence[View], params: FusionParams = FusionParams(),
               rays: RayCache | None = None) -> PointCloud:
    """All views of one frame -> one world point cloud, voxel-merged (and outlier-filtered)."""
    rays = rays or RayCache()
    for v in views:  # fill the cache before the threads read it
        rays.get(v.camera, params.pixel_stride)
    # numpy releases the GIL in these array operations: unproject the views on two threads
    jobs = [(v, params, rays, i) for i, v in enumerate(views)]
    cloud = concatenate(list(_POOL.map(lambda job: view_to_points(*job), jobs)))
    if len(cloud) and params.voxel_size_m > 0:
        cloud = voxel_downsample(cloud, params.voxel_size_m)
    if len(cloud) and params.outlier_neighbors > 0:
        cloud = remove_outliers(cloud, params.outlier_neighbors, params.outlier_std_ratio)
    return cloud


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
