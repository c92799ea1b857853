import numpy as np
import pytest

from disguisor.config import FusionParams
from disguisor.errors import InputError
from disguisor.fusion import RayCache, fuse_frame, fuse_views, view_to_points, write_ply
from disguisor.geometry import project_points
from disguisor.io.recording import open_recording

EXACT = FusionParams(pixel_stride=1, voxel_size_m=0.0)


def test_points_land_on_the_known_floor(box_room):
    """Floor pixels of every camera must come back at z = 0 (the box room's floor top)."""
    rec = open_recording(box_room)
    rays = RayCache()
    for i, view in enumerate(rec.views(0)):
        pts = view_to_points(view, EXACT, rays, i).points
        floor = pts[np.abs(pts[:, 2]) < 0.05]
        # away from walls and furniture
        floor = floor[(np.abs(floor[:, 0]) < 2.5) & (np.abs(floor[:, 1]) < 3.2)]
        assert len(floor) > 1000
        # uint16 millimetre depth quantization is the only error: well under 2 mm
        assert np.percentile(np.abs(floor[:, 2]), 95) < 0.002, view.camera.name


def _depth_disagreement(view_a, view_b) -> np.ndarray:
    """Project camera A's points into camera B and compare with B's own depth there (metres).

    Only pixels where both see the same surface (difference under 10 cm, i.e. not occluded)
    are returned, so the median measures how well the two cameras' geometry agrees.
    """
    pts = view_to_points(view_a, EXACT).points.astype(np.float64)
    cam_b = view_b.camera
    in_b = cam_b.world_to_camera(pts)
    uv = project_points(in_b, cam_b.K, cam_b.dist)
    ok = np.all(np.isfinite(uv), axis=1)
    uv, z_a = uv[ok], in_b[ok, 2]
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < cam_b.width - 1) & (uv[:, 1] >= 0) & (uv[:, 1] < cam_b.height - 1)
    uv, z_a = uv[inside], z_a[inside]
    # bilinear lookup of B's depth at the projected positions (pixel centres are integers);
    # a neighbourhood touching "no reading" gives 0 and is dropped below
    x0, y0 = np.floor(uv).astype(int).T
    fx, fy = (uv - np.floor(uv)).T
    d = view_b.depth
    corners = np.stack([d[y0, x0], d[y0, x0 + 1], d[y0 + 1, x0], d[y0 + 1, x0 + 1]])
    weights = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    z_b = np.where(corners.min(axis=0) > 0, (corners * weights).sum(axis=0), 0.0)
    diff = z_b - z_a
    return diff[(z_b > 0) & (np.abs(diff) < 0.1)]


def test_cameras_agree_on_shared_surfaces(box_room):
    """Every camera's points land on the surfaces every other camera sees, within millimetres."""
    views = open_recording(box_room).views(0)
    for a in range(len(views)):
        for b in range(len(views)):
            if a != b:
                diff = _depth_disagreement(views[a], views[b])
                assert len(diff) > 2000
                assert np.median(np.abs(diff)) < 0.0015, (a, b, np.median(np.abs(diff)))


def test_a_wrong_pose_breaks_agreement(box_room):
    """The agreement check above can fail: raise one camera by 5 cm and it does. (A shift
    parallel to the floor would not show: the floor looks the same from there.)"""
    import dataclasses

    views = open_recording(box_room).views(0)
    views[1].camera = dataclasses.replace(views[1].camera, t=views[1].camera.t + np.array([0.0, 0.0, 0.05]))
    assert np.median(np.abs(_depth_disagreement(views[0], views[1]))) > 0.01


def test_voxel_fusion_merges_views(box_room):
    rec = open_recording(box_room)
    raw = fuse_frame(rec, 0, FusionParams(pixel_stride=1, voxel_size_m=0.0))
    merged = fuse_frame(rec, 0, FusionParams(pixel_stride=1, voxel_size_m=0.05))
    assert len(merged) < len(raw) / 3
    # merging keeps the scene's extent
    np.testing.assert_allclose(merged.points.min(axis=0), raw.points.min(axis=0), atol=0.05)
    np.testing.assert_allclose(merged.points.max(axis=0), raw.points.max(axis=0), atol=0.05)


def test_outlier_removal_drops_flying_points(box_room):
    from scipy.spatial import cKDTree

    views = open_recording(box_room).views(0)
    clean = fuse_views(views, FusionParams(voxel_size_m=0.02, pixel_stride=1))
    rng = np.random.default_rng(1)
    far = np.argwhere(views[0].depth > 1.5)
    ys, xs = far[rng.choice(len(far), 60, replace=False)].T
    views[0].depth[ys, xs] *= 0.6  # isolated readings floating >= 0.6 m in front of the surface

    def flying(cloud) -> int:
        dist, _ = cKDTree(clean.points).query(cloud.points)
        return int(np.sum(dist > 0.05))

    noisy = fuse_views(views, FusionParams(voxel_size_m=0.02, pixel_stride=1))
    cleaned = fuse_views(views, FusionParams(voxel_size_m=0.02, pixel_stride=1, outlier_neighbors=20))
    assert flying(noisy) >= 50
    assert flying(cleaned) <= 0.2 * flying(noisy)
    assert len(cleaned) > 0.9 * len(noisy)  # the real surfaces stay


def test_nan_depth_is_an_error(box_room):
    rec = open_recording(box_room)
    views = rec.views(0)
    views[2].depth[10, 10] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fuse_views(views, FusionParams(pixel_stride=1))


def test_unknown_frame(box_room):
    rec = open_recording(box_room)
    with pytest.raises(InputError, match="frame 99 is not in the recording"):
        fuse_frame(rec, 99)


def test_ply_is_readable_and_complete(box_room, tmp_path):
    import open3d as o3d

    rec = open_recording(box_room)
    cloud = fuse_frame(rec, 0)
    path = tmp_path / "cloud.ply"
    write_ply(cloud, path)
    pcd = o3d.io.read_point_cloud(str(path))
    assert len(pcd.points) == len(cloud)
    np.testing.assert_allclose(np.asarray(pcd.points), cloud.points, atol=1e-6)
    np.testing.assert_allclose(np.asarray(pcd.colors) * 255, cloud.colors, atol=0.51)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left
