"""A time-of-flight depth sensor model (Azure Kinect-like) applied to rendered depth.

What real depth maps of an OR look like, and what this reproduces:
- noise growing with distance: standard deviation a + b * z^2 (m);
- a limited range (NFOV binned mode: 0.5-5.46 m);
- a depth field of view narrower than the colour camera's (NFOV: 75 x 65 degrees, hexagonal),
  so the sides of a wide colour image have no depth at all;
- missing readings along depth discontinuities (mixed pixels are discarded) and on dark,
  absorbing surfaces (black table pads, screens, dark hair and caps).
Missing readings are 0, as in the recording format.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from disguisor.geometry import pixel_rays
from disguisor.io.calibration import Camera


@dataclass(frozen=True)
class DepthSensorModel:
    noise_a_m: float = 0.0008
    noise_b_per_m: float = 0.0012
    min_range_m: float = 0.5
    max_range_m: float = 5.46
    fov_x_deg: float = 75.0
    fov_y_deg: float = 65.0
    edge_jump_m: float = 0.06
    edge_dropout: float = 0.7
    dark_luminance: float = 45.0
    dark_dropout: float = 0.6


def depth_fov_mask(camera: Camera, model: DepthSensorModel = DepthSensorModel()) -> np.ndarray:
    """(H, W) bool: colour pixels that the (narrower, hexagonal) depth field of view covers."""
    rays = pixel_rays(camera.K, camera.dist, camera.width, camera.height)
    tx, ty = np.tan(np.radians(model.fov_x_deg / 2)), np.tan(np.radians(model.fov_y_deg / 2))
    ax, ay = np.abs(rays[..., 0]) / tx, np.abs(rays[..., 1]) / ty
    return (ax <= 1.0) & (ay <= 1.0) & (ax + ay <= 1.6)


def simulate_depth(depth: np.ndarray, color_rgb: np.ndarray, fov_mask: np.ndarray, rng: np.random.Generator,
                   model: DepthSensorModel = DepthSensorModel(), dark_mask: np.ndarray | None = None) -> np.ndarray:
    """Ideal rendered depth (H, W) metres -> what the sensor reports (0 = no reading).

    ``dark_mask`` marks pixels of surfaces known to absorb the sensor's light; pixels whose
    colour is very dark drop out too.
    """
    z = depth.astype(np.float32)
    valid = (z >= model.min_range_m) & (z <= model.max_range_m) & fov_mask
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(z, kernel) - cv2.erode(np.where(z > 0, z, 1e3).astype(np.float32), kernel)
    edge = spread > model.edge_jump_m
    u = rng.random(z.shape, dtype=np.float32)
    valid &= ~(edge & (u < model.edge_dropout))
    luminance = color_rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    dark = luminance < model.dark_luminance
    if dark_mask is not None:
        dark |= dark_mask
    valid &= ~(dark & (rng.random(z.shape, dtype=np.float32) < model.dark_dropout))
    sigma = model.noise_a_m + model.noise_b_per_m * z * z
    noisy = z + rng.standard_normal(z.shape, dtype=np.float32) * sigma
    return np.where(valid, noisy, 0.0).astype(np.float32)
