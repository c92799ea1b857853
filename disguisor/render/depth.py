"""Sensor and rendered depth maps prepared for the per-pixel depth tests of the face renderer.

Both maps are (h, w) float metres in one camera's image; 0 means no reading (sensor) or
nothing rendered.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage


def fill_depth_holes(depth: np.ndarray, radius_px: int, min_share: float) -> np.ndarray:
    """Sensor depth (h, w) metres with speckle dropouts filled: a pixel without a reading
    takes the mean of the readings within ``radius_px`` when they cover at least ``min_share``
    of that window. Dark hair and depth edges drop readings at random, and a face drawn behind
    the back of a head must still meet the head there; large regions without readings (outside
    the depth field of view) stay empty."""
    missing = depth <= 0
    if radius_px <= 0 or not missing.any() or missing.all():
        return depth
    valid = (~missing).astype(np.float32)
    k = (2 * radius_px + 1, 2 * radius_px + 1)
    total = cv2.boxFilter(depth * valid, -1, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
    count = cv2.boxFilter(valid, -1, k, normalize=False, borderType=cv2.BORDER_CONSTANT)
    fill = missing & (count >= min_share * k[0] * k[1])
    out = depth.copy()
    out[fill] = total[fill] / count[fill]
    return out


def nearest_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``values`` (h, w, ...) with every pixel outside ``known`` (h, w) bool given the value of the
    nearest known pixel (unchanged when all or none are known)."""
    if not known.any() or known.all():
        return values
    iy, ix = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
    return values[iy, ix]


def extend_depth(depth: np.ndarray) -> np.ndarray:
    """Rendered ``depth`` (h, w; 0 = nothing rendered) with every empty pixel given the depth
    of the nearest rendered one (unchanged when all or none are rendered)."""
    return nearest_fill(depth, depth > 0)
