"""Where a rendered face holds no detail worth drawing: surfaces seen edge-on, and the margin.

A template drawn on a face surface seen nearly edge-on (a face seen from a ceiling camera, the
side of a face in profile) squeezes eyes, brows and mask edges into a few pixels: dark and white
slivers that look like fragments of a face on the skull or cap. And the privacy margin beyond
the face, filled with the colour of the nearest face pixel, shows radial streaks. Both are
replaced here by smooth colours of the same face (window pixels, RGB uint8):

- :func:`facing_cos` per pixel how squarely the rendered surface faces the camera;
- :func:`soften_grazing` the face's colours low-passed where it is seen edge-on;
- :func:`extend_smooth` the face's colours carried smoothly over the margin.
"""

from __future__ import annotations

import cv2
import numpy as np

from disguisor.render.blend import poisson_blend
from disguisor.render.depth import extend_depth, nearest_fill


def too_small(rendered: np.ndarray, min_px: int) -> bool:
    """Whether the rendered faces' extent (the larger side of the (h, w) bool mask's bounds,
    pixels) is below ``min_px``, or nothing is rendered: fragments of such faces are too small to see."""
    ys, xs = np.nonzero(rendered)
    return len(xs) == 0 or max(int(xs.max() - xs.min()), int(ys.max() - ys.min())) + 1 < min_px


def facing_cos(depth: np.ndarray, K: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """(h, w) float32 in [0, 1]: |cos| of the angle between the rendered surface's normal and the
    ray to the camera, per pixel of a rendered window.

    Args:
        depth: (h, w) rendered depth, metres along the optical axis (0 = nothing rendered).
        K: (3, 3) camera matrix (pixels); lens distortion is ignored (a few pixels of window).
        x0, y0: the window's top-left corner in the image (pixels).

    Pixels outside the rendered surface get the value of the nearest rendered pixel; 1 where
    nothing is rendered at all (or the window is thinner than 2 px)."""
    h, w = depth.shape
    if not (depth > 0).any() or h < 2 or w < 2:
        return np.ones((h, w), np.float32)
    z = extend_depth(depth).astype(np.float64)
    u = (np.arange(w, dtype=np.float64) + x0 - K[0, 2]) / K[0, 0]
    v = (np.arange(h, dtype=np.float64) + y0 - K[1, 2]) / K[1, 1]
    pts = np.stack([u[None, :] * z, v[:, None] * z, z], axis=-1)
    du = np.gradient(pts, axis=1)
    dv = np.gradient(pts, axis=0)
    n = np.cross(du, dv)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    ray = pts / np.maximum(np.linalg.norm(pts, axis=-1, keepdims=True), 1e-12)
    return np.abs((n * ray).sum(-1)).astype(np.float32)


def _low_pass(color: np.ndarray, known: np.ndarray, sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalized convolution: the Gaussian mean (sigma_px) of ``color`` over the ``known`` pixels,
    and the weight of known pixels behind each value."""
    m = known.astype(np.float32)
    k = int(2 * np.ceil(3 * sigma_px) + 1)
    wsum = cv2.GaussianBlur(m, (k, k), sigma_px, borderType=cv2.BORDER_CONSTANT)
    csum = cv2.GaussianBlur(color.astype(np.float32) * m[..., None], (k, k), sigma_px, borderType=cv2.BORDER_CONSTANT)
    return csum / np.maximum(wsum, 1e-6)[..., None], wsum


def soften_grazing(color: np.ndarray, rendered: np.ndarray, cos: np.ndarray, cos_lo: float, cos_hi: float,
                   sigma_px: float) -> np.ndarray:
    """``color`` (h, w, 3) uint8 with the rendered pixels seen edge-on replaced by the face's own
    low-passed colours: weight 0 (all low-pass) at ``cos <= cos_lo``, 1 (the template) at
    ``cos >= cos_hi``, linear between.

    Args:
        color: (h, w, 3) uint8 rendered colours of a window.
        rendered: (h, w) bool pixels the faces cover.
        cos: (h, w) :func:`facing_cos` of the window.
        cos_lo, cos_hi: the ramp (|cos| of the angle to the camera; 0 = edge-on).
        sigma_px: the low-pass's Gaussian sigma (pixels)."""
    if not rendered.any() or sigma_px <= 0 or cos_hi <= cos_lo:
        return color
    weight = np.clip((cos - cos_lo) / (cos_hi - cos_lo), 0.0, 1.0)[..., None]
    if not (weight[rendered] < 1.0).any():
        return color
    smooth, _ = _low_pass(color, rendered, sigma_px)
    mixed = weight * color.astype(np.float32) + (1.0 - weight) * smooth
    out = color.copy()
    out[rendered] = np.clip(np.round(mixed[rendered]), 0, 255).astype(np.uint8)
    return out


def extend_smooth(color: np.ndarray, rendered: np.ndarray, sigma_px: float) -> np.ndarray:
    """``color`` (h, w, 3) uint8 RGB defined on ``rendered`` (h, w) bool, carried over every other
    pixel smoothly: the Gaussian mean (``sigma_px``) of the rendered colours nearby, falling
    back to the nearest rendered pixel where none lies within reach. Rendered pixels keep
    their colour (the face's own edge colours lead into the margin)."""
    if rendered.all() or not rendered.any():
        return color
    if sigma_px <= 0:
        return nearest_fill(color, rendered)
    smooth, wsum = _low_pass(color, rendered, sigma_px)
    # beyond the low-pass's reach: the nearest value it still gives (smooth along the face's edge)
    out = nearest_fill(smooth, wsum > 0.02)
    out[rendered] = color[rendered]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def membrane_margin(color: np.ndarray, image: np.ndarray, rendered: np.ndarray, paint: np.ndarray) -> np.ndarray:
    """The blend's source with the privacy margin as a membrane: on the painted pixels the faces
    do not cover (``paint & ~rendered``) the smoothest colours (harmonic: Laplace's equation)
    that meet the face's own colours on the inside and the image's on the outside, so the margin
    is a soft passage from the face to what surrounds it, not a halo of face colour over the
    hair, neck or background; the image's own detail there (an eye of a face placed a few cm
    off) is gone all the same. The pixels just outside the margin take the image's colours, so
    that the Poisson blend adds no second correction there.

    Args:
        color: (h, w, 3) uint8 rendered face colours carried over every pixel (:func:`extend_smooth`).
        image: (h, w, 3) uint8 the window of the picture being painted.
        rendered: (h, w) bool pixels the faces cover. paint: (h, w) bool pixels to be painted."""
    ring = paint & ~rendered
    if not ring.any() or not rendered.any():
        return color
    known = np.where(rendered[..., None], color, image)
    filled = poisson_blend(known, np.zeros_like(known), ring, regularization=1e-7)
    out = color.copy()
    out[ring] = filled[ring]
    beside = cv2.dilate(ring.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~paint
    out[beside] = image[beside]
    return out
