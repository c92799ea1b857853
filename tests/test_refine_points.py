"""Depth points read around a head (disguisor/refine/points.py): the density cap of long lenses."""

from __future__ import annotations

import numpy as np
import pytest

from disguisor.fusion import RayCache
from disguisor.refine.params import RefineParams
from disguisor.refine.points import box_points, pixel_grid
from disguisor.synth.rig import default_rig


def test_pixel_grid_is_one_image_wide_grid():
    whole = pixel_grid(0, 200, 1.6)
    assert np.array_equal(pixel_grid(37, 91, 1.6), whole[(whole >= 37) & (whole < 91)])
    assert np.array_equal(pixel_grid(5, 9, 1.0), np.arange(5, 9))
    assert len(whole) == 125  # 200 / 1.6


def _plane_view(width: int, height: int, depth_m: float):
    cam = default_rig(width, height, n_cameras=1).cameras[0]
    rays = RayCache().get(cam, 1)
    # the plane z_cam = depth_m seen by the camera: depth images store z along the optical axis
    depth = np.full((height, width), depth_m, np.float32)
    centre = cam.t + rays[height // 2, width // 2] * depth_m
    return cam, depth, centre


@pytest.mark.parametrize("size", [(2048, 1536), (1280, 720)])
def test_long_lens_read_at_the_density_of_the_cap(size):
    cam, depth, centre = _plane_view(*size, 2.5)
    views = {cam.name: (cam, depth)}
    lo, hi = centre - 0.15, centre + 0.15
    rays = RayCache()
    full = box_points(views, rays, lo, hi)
    capped = box_points(views, rays, lo, hi, max_focal_px=620.0)
    f = cam.K[0, 0]
    assert len(full) > 1000
    if f <= 620.0:  # 1280x720 (618 px): every pixel, as before
        assert np.array_equal(full, capped)
    else:  # 2048x1536 (989 px): (620 / 989)^2 of the pixels, each one of the full read
        assert len(capped) == pytest.approx(len(full) * (620.0 / f) ** 2, rel=0.05)
        full_set = {tuple(p) for p in np.round(full, 6)}
        assert all(tuple(p) in full_set for p in np.round(capped, 6))


def test_cap_must_be_positive():
    with pytest.raises(ValueError, match="> 0 pixels"):
        RefineParams(max_focal_px=0.0)
