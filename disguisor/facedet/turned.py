"""A 2D face detector run on the image turned by quarter turns, its boxes mapped back.

Face detectors learn upright faces. A patient lying on the table, seen from a ceiling camera,
shows the face turned by 90 or 180 degrees, and so does anyone bent over the table below such a
camera. Running the detector on the image rotated by 0, 90, 180 and 270 degrees (``np.rot90``:
exact, no resampling) finds those faces; the boxes of all turns are mapped back to the image and
merged by non-maximum suppression.
"""

from __future__ import annotations

import numpy as np

from disguisor.boxes import clip_xywh, nms_xywh
from disguisor.facedet.image import check_rgb

QUARTER_TURNS = (0, 1, 2, 3)


def points_from_turned(points, turns: int, width: int, height: int) -> np.ndarray:
    """(N, 2) points (x, y, pixels) of ``np.rot90(image, turns)`` as points of ``image`` (``width``
    x ``height`` pixels). One counter-clockwise turn maps the point (x, y) of the original to
    (y, width - x) of the turned image (pixel edges); this undoes it ``turns`` times."""
    p = np.asarray(points, float).reshape(-1, 2)
    for m in range(turns % 4, 0, -1):
        below_width = width if (m - 1) % 2 == 0 else height  # width of the image one turn less
        p = np.stack([below_width - p[:, 1], p[:, 0]], axis=1)
    return p


def box_from_turned(box, turns: int, width: int, height: int) -> tuple[float, float, float, float]:
    """A box (x, y, w, h, pixels) found in ``np.rot90(image, turns)`` as a box of ``image``."""
    x, y, w, h = (float(v) for v in box[:4])
    corners = points_from_turned([[x, y], [x + w, y + h]], turns, width, height)
    (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


class TurnedFaceDetector:
    """``base`` (any detector with ``detect(rgb) -> (N, 5) x, y, w, h, score``) run at ``turns``
    quarter turns; overlapping boxes (IoU > ``nms_iou``) of different turns are merged."""

    def __init__(self, base, turns: tuple[int, ...] = QUARTER_TURNS, nms_iou: float = 0.3):
        self.base, self.turns, self.nms_iou = base, tuple(turns), nms_iou
        self.name = f"{getattr(base, 'name', 'detector')}-turned"

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        """(N, 5) boxes (x, y, w, h, score) in pixels of ``image_rgb`` ((H, W, 3) uint8 RGB)."""
        check_rgb(image_rgb)
        h, w = image_rgb.shape[:2]
        rows = []
        for k in self.turns:
            turned = np.ascontiguousarray(np.rot90(image_rgb, k)) if k % 4 else image_rgb
            for b in np.asarray(self.base.detect(turned), float).reshape(-1, 5):
                rows.append((*box_from_turned(b, k, w, h), b[4]))
        boxes = clip_xywh(np.asarray(rows, float).reshape(-1, 5), w, h)
        return nms_xywh(boxes, self.nms_iou)

    def detect_landmarks(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``base.detect_landmarks`` at every turn, mapped back to ``image_rgb``: (N, 5) boxes
        (x, y, w, h, score) and (N, 5, 2) landmarks in its pixels, turn by turn (not merged: a
        face found at two turns is listed twice, each with its own landmarks)."""
        h, w = image_rgb.shape[:2]
        boxes, marks = [], []
        for k in self.turns:
            turned = np.ascontiguousarray(np.rot90(image_rgb, k)) if k % 4 else image_rgb
            b, lm = self.base.detect_landmarks(turned)
            boxes.append(np.array([[*box_from_turned(x, k, w, h), x[4]] for x in b], float).reshape(-1, 5))
            marks.append(np.array([points_from_turned(m, k, w, h) for m in lm], float).reshape(-1, 5, 2))
        return np.concatenate(boxes), np.concatenate(marks)

    def close(self) -> None:
        if hasattr(self.base, "close"):
            self.base.close()
