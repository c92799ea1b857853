"""Exact ray casting of box-shaped scenes: known geometry for tests, benchmarks and the demo.

Boxes are axis-aligned in the world (metres). Every pixel's ray is intersected analytically,
so depth is exact (before optional sensor noise) and every camera sees the same surfaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from disguisor.geometry import pixel_rays
from disguisor.io.calibration import Camera


@dataclass(frozen=True)
class Box:
    """Axis-aligned box: centre and size (m, world), base colour (B, G, R), checker size (m)."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    color: tuple[int, int, int]
    checker_m: float = 0.25


def static_room_boxes() -> list[Box]:
    """A coarse OR: floor, two walls, a table and equipment."""
    return [
        Box((0.0, 0.0, -0.05), (5.5, 6.75, 0.1), (150, 160, 150), 0.5),    # floor
        Box((0.0, 3.4, 1.5), (5.5, 0.1, 3.0), (190, 200, 205), 0.75),      # back wall
        Box((-2.8, 0.0, 1.5), (0.1, 6.75, 3.0), (200, 190, 180), 0.75),    # side wall
        Box((0.0, 0.0, 0.45), (0.6, 1.9, 0.9), (120, 110, 60), 0.2),       # operating table
        Box((1.6, 1.8, 0.6), (0.6, 0.5, 1.2), (90, 90, 90), 0.15),         # equipment
        Box((-1.7, 1.5, 0.5), (0.5, 0.5, 1.0), (60, 100, 140), 0.15),      # equipment
    ]


def moving_boxes(frame: int, n_frames: int) -> list[Box]:
    """A person-sized column walking a circle around the table over the recording."""
    phase = 2 * np.pi * frame / max(n_frames, 1)
    px, py = 1.1 * np.cos(phase), 1.1 * np.sin(phase)
    return [Box((px, py, 0.85), (0.4, 0.3, 1.7), (150, 120, 40), 0.1)]


def raycast_boxes(camera: Camera, boxes: Sequence[Box], rays: np.ndarray | None = None,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Render boxes into a camera: colour (H, W, 3) uint8 BGR and depth (H, W) float32 metres
    along the optical axis (0 where no box is hit). ``rays`` may pass precomputed pixel rays."""
    if rays is None:
        rays = pixel_rays(camera.K, camera.dist, camera.width, camera.height)
    d = rays.reshape(-1, 3).astype(np.float64) @ camera.R.T  # world direction per unit camera z
    o = camera.t.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
    best = np.full(d.shape[0], np.inf)
    hit_box = np.full(d.shape[0], -1)
    for i, box in enumerate(boxes):
        c, h = np.asarray(box.center), np.asarray(box.size) / 2.0
        with np.errstate(invalid="ignore"):
            t1, t2 = (c - h - o) * inv, (c + h - o) * inv
            near = np.nanmax(np.minimum(t1, t2), axis=1)
            far = np.nanmin(np.maximum(t1, t2), axis=1)
        hit = (near <= far) & (near > 1e-6) & (near < best)
        best[hit], hit_box[hit] = near[hit], i
    depth = np.where(np.isfinite(best), best, 0.0)
    color = np.zeros((d.shape[0], 3))
    for i, box in enumerate(boxes):
        sel = np.nonzero(hit_box == i)[0]
        if sel.size == 0:
            continue
        p = o + d[sel] * depth[sel, None]
        rel = (p - np.asarray(box.center)) / (np.asarray(box.size) / 2.0)
        normal_axis = np.argmax(np.abs(rel), axis=1)
        shade = np.array([0.8, 0.9, 1.0])[normal_axis]  # faces of different orientation differ
        cells = np.floor(p / box.checker_m).astype(np.int64)
        cells[np.arange(len(sel)), normal_axis] = 0  # checker on the face's own two axes
        checker = (cells.sum(axis=1) % 2) * 0.25 + 0.75
        color[sel] = np.asarray(box.color, float) * (shade * checker)[:, None]
    h, w = camera.height, camera.width
    return (np.clip(color, 0, 255).astype(np.uint8).reshape(h, w, 3),
            depth.astype(np.float32).reshape(h, w))


def composite(layers: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer several (colour, depth) renders of the same camera: nearest surface wins."""
    color, depth = layers[0][0].copy(), layers[0][1].copy()
    for c, z in layers[1:]:
        nearer = (z > 0) & ((depth == 0) | (z < depth))
        color[nearer], depth[nearer] = c[nearer], z[nearer]
    return color, depth
