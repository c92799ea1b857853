"""Faces at the image border: the margin that reaches into the image from a face estimated just outside.

A face whose 3D estimate projects just outside the image renders no pixel, yet the real face
may show as a sliver along the border (the estimate is a few centimetres off). The privacy
margin the renderer grows around every painted face (``RenderParams.dilate_m``) would cover that
sliver, had the face been inside; here it is applied from outside: the part of the face's
projected box grown by that margin which lies inside the image is blurred (privacy first).
"""

from __future__ import annotations

import numpy as np

from disguisor.geometry import project_points
from disguisor.io.calibration import Camera
from disguisor.refine.surface import FaceSurface

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
