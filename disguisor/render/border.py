"""Faces at the image border: the margin that reaches into the image from a face estimated just outside.

A face whose 3D estimate projects just outside the image renders no pixel, yet the real face
may show as a sliver along the border (the estimate is a few centimetres off). The privacy
margin the renderer grows around every painted face (``RenderParams.dilate_m``) would cover that
sliver, had the face been inside; here it is applied from outside: the part of the face's
projected box grown by that margin which lies inside the image is blurred (privacy first).
"""

from __future__ import annotations

import cv2
import numpy as np

from disguisor.geometry import project_points
from disguisor.io.calibration import Camera
from disguisor.refine.surface import FaceSurface
from disguisor.render.obfuscate import obfuscate
from disguisor.render.results import facing_angle_deg

NEAR_M = 0.05  # vertices nearer than this to the camera do not project


def border_strip(camera: Camera, face: FaceSurface, margin_px: int) -> tuple[int, int, int, int] | None:
    """The image box ``(x0, y0, x1, y1)`` (pixels, end exclusive) where the face's projected box,
    grown by ``margin_px``, reaches into the image while the face itself lies (partly) outside;
    None when the face is behind the camera, fully inside the image (an occluded face, not a
    border case) or its grown box misses the image."""
    p = camera.world_to_camera(np.asarray(face.vertices, float))
    p = p[p[:, 2] > NEAR_M]
    if len(p) == 0:
        return None
    uv = project_points(p, camera.K, camera.dist)
    uv = uv[np.isfinite(uv).all(axis=1)]
    if len(uv) == 0:
        return None
    (u0, v0), (u1, v1) = uv.min(axis=0), uv.max(axis=0)
    if u0 >= 0 and v0 >= 0 and u1 <= camera.width - 1 and v1 <= camera.height - 1:
        return None
    x0, y0 = max(int(np.floor(u0)) - margin_px, 0), max(int(np.floor(v0)) - margin_px, 0)
    x1 = min(int(np.ceil(u1)) + margin_px + 1, camera.width)
    y1 = min(int(np.ceil(v1)) + margin_px + 1, camera.height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def turned_footprint(camera: Camera, face: FaceSurface, depth_m: np.ndarray | None, margin_px: int,
                     nearer_m: float, farther_m: float) -> np.ndarray | None:
    """(H, W) bool: where a face turned just beyond profile from ``camera`` would show, had its
    estimate been turned a few tens of degrees too far: the convex hull of all its projected
    vertices (front and back alike), grown by ``margin_px``, on the pixels whose sensor depth
    (``depth_m`` (H, W) metres along the optical axis, 0/NaN = no reading; None = no depth) lies
    from ``nearer_m`` in front of the face's nearest vertex (the back of the head hides the face
    from behind) to ``farther_m`` beyond its farthest, or has no reading. None when the face is
    behind the camera or the footprint misses the image."""
    p = camera.world_to_camera(np.asarray(face.vertices, float))
    p = p[p[:, 2] > NEAR_M]
    if len(p) < 3:
        return None
    uv = project_points(p, camera.K, camera.dist)
    uv = uv[np.isfinite(uv).all(axis=1)]
    if len(uv) < 3:
        return None
    # the work stays in the footprint's window (the hull's box grown by the margin), not the image
    m = max(int(margin_px), 0) + 1
    x0, y0 = max(int(np.floor(uv[:, 0].min())) - m, 0), max(int(np.floor(uv[:, 1].min())) - m, 0)
    x1 = min(int(np.ceil(uv[:, 0].max())) + m + 1, camera.width)
    y1 = min(int(np.ceil(uv[:, 1].max())) + m + 1, camera.height)
    if x1 <= x0 or y1 <= y0:
        return None
    win = np.zeros((y1 - y0, x1 - x0), np.uint8)
    hull = np.round(cv2.convexHull((uv - [x0, y0]).astype(np.float32))).astype(np.int32).reshape(-1, 2)
    cv2.fillConvexPoly(win, hull, 1)
    if margin_px > 0:
        win = cv2.dilate(win, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1,) * 2))
    keep = win.astype(bool)
    if depth_m is not None and keep.any():
        d = np.nan_to_num(np.asarray(depth_m[y0:y1, x0:x1], np.float32), nan=0.0)
        keep &= (d <= 0) | ((d >= p[:, 2].min() - nearer_m) & (d <= p[:, 2].max() + farther_m))
    if not keep.any():
        return None
    out = np.zeros((camera.height, camera.width), bool)
    out[y0:y1, x0:x1] = keep
    return out


def blur_turned(out: np.ndarray, depth_m: np.ndarray | None, camera: Camera, faces, result, dilation_px,
                params) -> None:
    """Blur in ``out`` (H, W, 3), on the pixels ``result.mask`` leaves free, the footprint
    (:func:`turned_footprint`) of each face turned just beyond profile from ``camera`` (facing
    angle in (90, ``params.turned_blur_max_deg``]) that the view did not paint (with
    ``turned_blur_painted``: painted or not): a head registration turned 20-40 degrees too far
    leaves the true face's edge in this view. ``result``: the view's
    :class:`~disguisor.render.results.ViewResult`, its mask grown; ``dilation_px(camera, face)``:
    the privacy margin (px); ``params``: RenderParams."""
    drawn = {f.person_id for f in result.faces}
    for face in faces:
        if not 90.0 < facing_angle_deg(face, camera) <= params.turned_blur_max_deg or (
                face.person_id in drawn and not params.turned_blur_painted):
            continue
        mask = turned_footprint(camera, face, depth_m, dilation_px(camera, face), params.turned_blur_nearer_m,
                                params.ring_background_margin_m)
        if mask is not None and (mask := mask & ~result.mask).any():
            out[:] = obfuscate(out, mask, "blur", params.obfuscation)
            result.mask |= mask
