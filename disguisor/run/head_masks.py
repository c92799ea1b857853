"""Which pixels of a view a blurred head covers: the silhouette of a sphere around a head placed
in 3D (:func:`head_sphere_mask`) or a disk around a head seen in 2D (:func:`head_disk_mask`),
each reduced, with the view's depth, to the pixels where a face inside could show."""

from __future__ import annotations

import cv2
import numpy as np

from disguisor.geometry import project_points, undistort_pixels
from disguisor.io.calibration import Camera


def head_sphere_mask(camera: Camera, centre: np.ndarray, radius_m: float, depth_m: np.ndarray | None = None,
                     behind_m: float | None = None, edge_px: int = 0,
                     ball_slack_m: float | None = None) -> tuple[np.ndarray, list[float]] | None:
    """Pixels (H, W) bool covered by a sphere (world metres) in ``camera``, and their box [x, y, w, h];
    None when the sphere is behind the camera or outside the image (or, with the depth, seen
    through everywhere).

    depth_m: (H, W) sensor depth of the view (metres along the optical axis, 0 or NaN = no
    reading) or None. behind_m: with the depth, a pixel whose reading lies more than this beyond
    the sphere's far side is left out: the sensor sees the wall or the floor there, so nothing
    inside the sphere (no face) shows in it. Pixels without a reading, or reading anything
    nearer, stay. edge_px: pixels within this distance of those that stay stay too (the sensor's
    silhouettes lie a pixel or two off the colour image's). ball_slack_m: with the depth, a pixel
    whose reading, back-projected, lies more than ``radius_m + ball_slack_m`` from the centre is
    left out too (a shoulder, a chest or the table seen in front of or beside the head: the
    surface there is not inside the sphere, so no face inside it shows there); pixels without a
    reading stay."""
    pc = camera.world_to_camera(centre[None])[0]
    if pc[2] <= radius_m:
        return None
    # outline points of the sphere's silhouette, approximated by a ring facing the camera
    a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = pc + radius_m * np.stack([np.cos(a), np.sin(a), np.zeros_like(a)], 1) * (np.linalg.norm(pc) / pc[2])
    uv = project_points(ring, camera.K, camera.dist)
    mask = np.zeros((camera.height, camera.width), np.uint8)
    cv2.fillPoly(mask, [np.round(uv).astype(np.int32)], 1)
    if depth_m is not None and behind_m is not None and mask.any():
        mask = _drop_seen_behind(mask.astype(bool), np.nan_to_num(depth_m, nan=0.0), pc[2] + radius_m + behind_m,
                                 edge_px).astype(np.uint8)
    if depth_m is not None and ball_slack_m is not None and mask.any():
        mask = _drop_outside_ball(mask.astype(bool), np.nan_to_num(depth_m, nan=0.0), camera, pc,
                                  radius_m + ball_slack_m, edge_px).astype(np.uint8)
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    box = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
    return mask.astype(bool), box


def head_disk_mask(shape: tuple[int, int], centre: np.ndarray, radius_px: float, depth_m: np.ndarray | None = None,
                   behind_m: float | None = None, edge_px: int = 0) -> np.ndarray:
    """Pixels (H, W) bool of the disk (``centre`` (2,) px, ``radius_px``) blurred around a 2D
    head. With the depth (as :func:`head_sphere_mask`) and ``behind_m``, the pixels reading more
    than ``behind_m`` beyond the head are left out, the head's depth being the 75th percentile of
    the readings in the inner half of the disk: where the disk lies mostly on the background that
    reference is the background, and nothing is left out."""
    yy, xx = np.ogrid[:shape[0], :shape[1]]
    d2 = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2
    mask = d2 <= radius_px ** 2
    if depth_m is None or behind_m is None or not mask.any():
        return mask
    depth = np.nan_to_num(depth_m, nan=0.0)
    inner = depth[(d2 <= (radius_px / 2) ** 2) & (depth > 0)]
    if inner.size == 0:
        return mask
    return _drop_seen_behind(mask, depth, float(np.percentile(inner, 75)) + behind_m, edge_px)


def _drop_seen_behind(mask: np.ndarray, depth_m: np.ndarray, far_m: float, edge_px: int) -> np.ndarray:
    """``mask`` without its pixels whose reading lies beyond ``far_m`` (metres), except those
    within ``edge_px`` of the pixels kept."""
    return _keep_with_edge(mask, depth_m, edge_px, lambda box, d: ~(d > far_m))


def _drop_outside_ball(mask: np.ndarray, depth_m: np.ndarray, camera: Camera, centre_cam: np.ndarray,
                       reach_m: float, edge_px: int) -> np.ndarray:
    """``mask`` without its pixels whose reading (back-projected into the camera frame, metres)
    lies farther than ``reach_m`` from ``centre_cam`` (3,), except those within ``edge_px`` of
    the pixels kept; pixels without a reading stay."""
    def near(box, d):
        vv, uu = np.mgrid[box]
        xy = undistort_pixels(np.stack([uu.ravel(), vv.ravel()], 1), camera.K, camera.dist).reshape(d.shape + (2,))
        points = np.concatenate([xy * d[..., None], d[..., None]], axis=-1)
        return (d <= 0) | (np.linalg.norm(points - np.asarray(centre_cam, float), axis=-1) <= reach_m)
    return _keep_with_edge(mask, depth_m, edge_px, near)


def _keep_with_edge(mask: np.ndarray, depth_m: np.ndarray, edge_px: int, keep_fn) -> np.ndarray:
    """``mask`` (H, W) bool reduced to the pixels ``keep_fn(box, depth_m[box])`` keeps plus those within
    ``edge_px`` of them, worked on the mask's box (grown by ``edge_px``) alone."""
    ys, xs = np.nonzero(mask)
    box = (slice(max(ys.min() - edge_px, 0), ys.max() + edge_px + 1),
           slice(max(xs.min() - edge_px, 0), xs.max() + edge_px + 1))
    m = mask[box]
    box = (slice(box[0].start, box[0].start + m.shape[0]), slice(box[1].start, box[1].start + m.shape[1]))
    keep = m & keep_fn(box, depth_m[box])
    if edge_px > 0 and keep.any():
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * edge_px + 1, 2 * edge_px + 1))
        keep = m & cv2.dilate(keep.astype(np.uint8), k).astype(bool)
    out = np.zeros_like(mask)
    out[box] = keep
    return out
