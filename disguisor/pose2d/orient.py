"""Square, optionally rotated crops around person boxes, and mapping keypoints back to the image.

Pose models trained on upright people miss people seen from the ceiling or lying down; trying a
crop at 0/90/180/270 degrees and keeping the best pose helps. All coordinates are pixels with
(0, 0) at the centre of the top-left pixel, as OpenCV's ``warpAffine`` uses them, so one affine
matrix maps crop pixels and keypoints alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from disguisor.pose2d.detector import Box

GREY = 128


@dataclass(frozen=True)
class Crop:
    """A crop of an image: ``pixels`` (S, S, 3) and the 2x3 affine ``to_crop`` mapping image pixels
    (x, y) to crop pixels. ``angle_deg``: counter-clockwise rotation of the image content."""

    pixels: np.ndarray
    to_crop: np.ndarray
    angle_deg: float

    def to_image(self, keypoints: np.ndarray) -> np.ndarray:
        """(N, 2+) crop-pixel coordinates (extra columns such as scores kept) -> image pixels."""
        kp = np.array(keypoints, dtype=np.float64, copy=True)
        inv = cv2.invertAffineTransform(self.to_crop)
        kp[:, :2] = kp[:, :2] @ inv[:, :2].T + inv[:, 2]
        return kp


def crop_transform(center: tuple[float, float], side: float, size: int, angle_deg: float) -> np.ndarray:
    """2x3 affine: the square of ``side`` image pixels around ``center``, rotated by ``angle_deg``
    (counter-clockwise, as seen in the image), onto a ``size`` x ``size`` crop."""
    scale = size / max(side, 1e-6)
    a = np.deg2rad(angle_deg)
    # image y points down: a counter-clockwise turn of the content is this matrix in (x, y)
    rot = scale * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    c = (size - 1) / 2.0
    t = np.array([c, c]) - rot @ np.asarray(center, dtype=np.float64)
    return np.hstack([rot, t[:, None]])


def square_box_crop(image: np.ndarray, box: Box, margin: float, size: int, angle_deg: float = 0.0) -> Crop:
    """Crop the square around ``box`` (pixels x0, y0, x1, y1) grown by ``margin`` of its longer side
    on every side, rotated by ``angle_deg``, resized to ``size`` pixels, grey outside the image."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    return centred_crop(image, ((x0 + x1) / 2.0, (y0 + y1) / 2.0), side, size, angle_deg)


def centred_crop(image: np.ndarray, center: tuple[float, float], side: float, size: int,
                 angle_deg: float = 0.0) -> Crop:
    """The square of ``side`` image pixels around ``center`` rotated by ``angle_deg``, resized to
    ``size`` pixels, grey outside the image."""
    m = crop_transform(center, side, size, angle_deg)
    pixels = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=(GREY, GREY, GREY))
    return Crop(pixels=pixels, to_crop=m, angle_deg=angle_deg)


@dataclass(frozen=True)
class AxisCrop:
    """Where to look for a person lying along a known axis in one image: the square of ``side_px``
    pixels around ``center_px`` (x, y), turned by ``angle_deg`` (counter-clockwise) so that the
    axis runs from the crop's bottom to its top; the opposite turn (+180) puts the other end up."""

    center_px: tuple[float, float]
    side_px: float
    angle_deg: float

    def direction(self) -> np.ndarray:
        """(2,) unit vector of the axis in image pixels (x right, y down), towards the end that
        ``angle_deg`` turns up."""
        a = np.deg2rad(90.0 - self.angle_deg)
        return np.array([np.cos(a), -np.sin(a)])


def rotate_image(image: np.ndarray, quarter_turns: int) -> tuple[np.ndarray, np.ndarray]:
    """The image turned counter-clockwise by ``quarter_turns`` x 90 degrees (exact, no resampling) and
    the 2x3 affine that maps original pixels to the turned image's pixels."""
    k = quarter_turns % 4
    h, w = image.shape[:2]
    out = np.ascontiguousarray(np.rot90(image, k))
    # np.rot90 turns counter-clockwise: (x, y) -> (y, w-1-x) for one turn
    m = {0: [[1, 0, 0], [0, 1, 0]], 1: [[0, 1, 0], [-1, 0, w - 1]], 2: [[-1, 0, w - 1], [0, -1, h - 1]],
         3: [[0, -1, h - 1], [1, 0, 0]]}[k]
    return out, np.array(m, dtype=np.float64)

