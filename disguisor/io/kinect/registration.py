"""Depth registration into the colour camera of one Kinect, as the SDK's transformation does."""

from __future__ import annotations

import numpy as np

from disguisor.config import KinectImportParams
from disguisor.geometry import project_points, undistort_pixels
from disguisor.io.kinect.calibration import KinectCalibration

# ----------------------------------------------------------------------------------------------
# Depth registration into the colour camera


class DepthToColor:
    """Registers depth maps of one device into its colour camera (uint16 mm in, uint16 mm out).

    The per-device work (undistorting the corner grid of the depth image) happens once here.
    """

    def __init__(self, calib: KinectCalibration, edge_jump_mm: float = KinectImportParams.depth_edge_jump_mm):
        self.calib = calib
        self.edge_jump_m = edge_jump_mm / 1000.0
        d, c = calib.depth, calib.color
        u = np.arange(d.width + 1, dtype=np.float64) - 0.5
        v = np.arange(d.height + 1, dtype=np.float64) - 0.5
        uu, vv = np.meshgrid(u, v)
        corners = undistort_pixels(np.stack([uu, vv], -1).reshape(-1, 2), d.K, d.dist)
        self.corner_rays = corners.reshape(d.height + 1, d.width + 1, 2)
        centres = undistort_pixels(np.stack(np.meshgrid(np.arange(d.width), np.arange(d.height)), -1)
                                   .reshape(-1, 2).astype(np.float64), d.K, d.dist)
        self.centre_rays = centres.reshape(d.height, d.width, 2)
        radius = np.linalg.norm(self.centre_rays, axis=-1)
        self.valid_lens = radius <= d.metric_radius if d.metric_radius > 0 else np.ones_like(radius, bool)
        # Rational lens models fold back far outside the image: only project points whose
        # normalized radius lies within the colour image's own (plus a margin).
        img_corners = np.array([[0, 0], [c.width - 1, 0], [0, c.height - 1], [c.width - 1, c.height - 1],
                                [c.width / 2, 0], [0, c.height / 2]], float)
        self.color_max_radius = 1.1 * np.linalg.norm(undistort_pixels(img_corners, c.K, c.dist), axis=1).max()

    def __call__(self, depth_mm: np.ndarray) -> np.ndarray:
        return self.register(depth_mm)

    def _corner_depths(self, depth_m: np.ndarray) -> np.ndarray:
        """Depth at the (H+1, W+1) pixel corners: the mean of the four pixels around a corner when
        they belong to one surface (spread below the edge threshold), else 0 (use the pixel's own).

        Sharing corner depths between neighbours makes footprints tile a surface without cracks.
        """
        pad = np.pad(depth_m, 1)
        quads = np.stack([pad[:-1, :-1], pad[:-1, 1:], pad[1:, :-1], pad[1:, 1:]])
        same_surface = (quads.min(axis=0) > 0) & (np.ptp(quads, axis=0) < self.edge_jump_m)
        return np.where(same_surface, quads.mean(axis=0), 0.0)

    def register(self, depth_mm: np.ndarray) -> np.ndarray:
        """Depth image (Hd, Wd) uint16 mm -> depth in the colour camera (Hc, Wc) uint16 mm, 0 = none."""
        d, c = self.calib.depth, self.calib.color
        if depth_mm.shape != (d.height, d.width):
            raise ValueError(f"depth image is {depth_mm.shape[::-1]}, calibration expects {(d.width, d.height)}")
        rows, cols = np.nonzero((depth_mm > 0) & self.valid_lens)
        z = depth_mm[rows, cols].astype(np.float64) / 1000.0
        R, t = self.calib.depth_to_color_R, self.calib.depth_to_color_t
        # Centre of each depth pixel in the colour frame: its depth there is what we store.
        centre = np.concatenate([self.centre_rays[rows, cols] * z[:, None], z[:, None]], axis=1) @ R.T + t
        keep = centre[:, 2] > 0
        keep &= np.linalg.norm(centre[:, :2] / np.maximum(centre[:, 2:3], 1e-9), axis=1) < self.color_max_radius
        rows, cols, z, centre = rows[keep], cols[keep], z[keep], centre[keep]
        corner_depth = self._corner_depths(depth_mm.astype(np.float64) / 1000.0)
        # The four corners of each pixel's footprint, at the surface's depth there.
        quad = []
        for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
            ray = self.corner_rays[rows + dr, cols + dc]
            zc = corner_depth[rows + dr, cols + dc]
            zc = np.where(zc > 0, zc, z)
            pts = np.concatenate([ray * zc[:, None], zc[:, None]], axis=1) @ R.T + t
            quad.append(project_points(pts, c.K, c.dist))
        quad = np.stack(quad, axis=1)  # (N, 4, 2)
        ok = np.all(np.isfinite(quad), axis=(1, 2))
        lo = np.ceil(quad[ok].min(axis=1) - 1e-9).astype(np.int64)    # first pixel centre inside
        hi = np.ceil(quad[ok].max(axis=1) - 1e-9).astype(np.int64)    # one past the last
        zc = centre[ok, 2]
        span = np.maximum(hi - lo, 1)  # a footprint smaller than a pixel still marks its pixel
        lo = np.where(hi - lo >= 1, lo, np.round(quad[ok].mean(axis=1)).astype(np.int64))
        idx_parts, z_parts = [], []
        for dy in range(int(span[:, 1].max(initial=0))):
            for dx in range(int(span[:, 0].max(initial=0))):
                sel = (dx < span[:, 0]) & (dy < span[:, 1])
                x, y = lo[sel, 0] + dx, lo[sel, 1] + dy
                inside = (x >= 0) & (x < c.width) & (y >= 0) & (y < c.height)
                idx_parts.append(y[inside] * c.width + x[inside])
                z_parts.append(zc[sel][inside])
        out = np.zeros(c.height * c.width, np.uint16)
        if idx_parts:
            idx, zz = np.concatenate(idx_parts), np.concatenate(z_parts)
            order = np.lexsort((zz, idx))          # by pixel, nearest first
            first = np.unique(idx[order], return_index=True)[1]
            nearest = order[first]
            out[idx[nearest]] = np.clip(np.round(zz[nearest] * 1000.0), 1, 65535).astype(np.uint16)
        return out.reshape(c.height, c.width)
