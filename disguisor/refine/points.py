"""Depth points around a head, straight from the views (no whole-frame fusion needed)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from disguisor.geometry import project_points
from disguisor.io.calibration import Camera

MIN_DEPTH_IN_FRONT_M = 0.05  # a box corner closer than this to a camera's image plane: footprint undefined


def pixel_grid(start: int, stop: int, step: float) -> np.ndarray:
    """Pixel indices in [start, stop) of the image-wide grid floor(k * step), k = 0, 1, ...
    (``step`` >= 1; the same pixels whatever window is asked for)."""
    if step <= 1.0:
        return np.arange(start, stop)
    k = np.arange(int(np.ceil(start / step)), int(np.ceil(stop / step)))
    return np.unique(np.floor(k * step).astype(int))


def box_points(views: Mapping[str, tuple[Camera, np.ndarray]], rays, lo: np.ndarray, hi: np.ndarray,
               max_focal_px: float | None = None) -> np.ndarray:
    """World points (N, 3) float32 metres of every view's depth pixels inside the axis-aligned box
    [lo, hi] (world metres).

    views: camera name -> (camera, depth (H, W) metres, 0 = no reading). rays: a
    :class:`disguisor.fusion.RayCache`. Only the pixels inside the box's image footprint are
    unprojected: for a head that is ~1% of the image, so this is ~50x cheaper than fusing views.
    max_focal_px: a camera whose focal length (pixels) exceeds this is read on a grid of every
    (focal / max_focal_px)-th pixel in x and y, so that every view gives the density of such a
    lens (RefineParams.max_focal_px); None: every pixel.
    """
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    chunks = []
    for cam, depth in views.values():
        pc = cam.world_to_camera(corners)
        if (pc[:, 2] <= MIN_DEPTH_IN_FRONT_M).any():
            continue  # the box reaches behind this camera (rare for heads)
        uv = project_points(pc, cam.K, cam.dist)
        x0, y0 = np.floor(uv.min(0)).astype(int)
        x1, y1 = np.ceil(uv.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, cam.width), min(y1, cam.height)
        if x1 <= x0 or y1 <= y0:
            continue
        step = 1.0 if max_focal_px is None else float(max(cam.K[0, 0], cam.K[1, 1])) / max_focal_px
        if step > 1.0:
            rows, cols = pixel_grid(y0, y1, step), pixel_grid(x0, x1, step)
            d = depth[np.ix_(rows, cols)]
            r = rays.get(cam, 1)[np.ix_(rows, cols)]
        else:
            d, r = depth[y0:y1, x0:x1], rays.get(cam, 1)[y0:y1, x0:x1]
        ok = d > 0
        if not ok.any():
            continue
        r = r[ok]
        pts = r * d[ok][:, None] + cam.t.astype(np.float32)
        inside = ((pts >= lo) & (pts <= hi)).all(axis=1)
        chunks.append(pts[inside])
    return np.concatenate(chunks) if chunks else np.zeros((0, 3), np.float32)


def head_cloud(views: Mapping[str, tuple[Camera, np.ndarray]], rays, bodies, head_vertices: np.ndarray,
               params) -> np.ndarray:
    """Depth points (N, 3) world metres inside the refinement crop box of each body's head."""
    from disguisor.refine.register import crop_box

    chunks = [box_points(views, rays, *crop_box(np.asarray(b.vertices)[head_vertices], params), params.max_focal_px)
              for b in bodies]
    return np.concatenate(chunks) if chunks else np.zeros((0, 3), np.float32)
