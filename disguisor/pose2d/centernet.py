"""CenterNet person boxes (MobileNetV3 CenterNet trained on COCO, ONNX, offline).

An RGB box source beside the depth proposals (:mod:`disguisor.pose2d.proposals`): it finds people
whose depth is missing or merged with furniture, and gives tighter boxes than a 3D cluster.
"""

from __future__ import annotations

import cv2
import numpy as np

from disguisor.pose2d.detector import Box, box_nms
from disguisor.pose2d.params import CenterNetParams

PERSON_CLASS = 0  # COCO's first class


class CenterNetBoxes:
    """``boxes(image_rgb)`` -> person boxes ``(x0, y0, x1, y1)`` in pixels of that image, and scores."""

    def __init__(self, params: CenterNetParams | None = None) -> None:
        self.params = params or CenterNetParams()
        self._session = None

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self._session is None:
            from disguisor.pose2d.movenet import onnx_session

            self._session = onnx_session("centernet", self.params.threads, self.params.spin_wait)
            self._input = self._session.get_inputs()[0].name
        return self._session.run(["tower_0/detections"], {self._input: x})[0][0]

    def boxes(self, image_rgb: np.ndarray) -> tuple[list[Box], list[float]]:
        p = self.params
        h, w = image_rgb.shape[:2]
        x = cv2.resize(image_rgb, (p.input_px, p.input_px), interpolation=cv2.INTER_AREA).astype(np.float32)[None]
        det = self._run(x)  # (100, 6): x0, y0, x1, y1 (input pixels), score, class
        det = det[(det[:, 5] == PERSON_CLASS) & (det[:, 4] >= p.min_score)]
        xy = det[:, :4] * np.array([w, h, w, h]) / p.input_px
        xy[:, [0, 2]] = np.clip(xy[:, [0, 2]], 0, w - 1)
        xy[:, [1, 3]] = np.clip(xy[:, [1, 3]], 0, h - 1)
        ok = ((xy[:, 2] - xy[:, 0]) >= p.min_box_px) & ((xy[:, 3] - xy[:, 1]) >= p.min_box_px)
        xy, scores = xy[ok], det[ok, 4]
        keep = box_nms(xy, scores, p.nms_iou)[: p.max_boxes]
        return [tuple(float(v) for v in xy[i]) for i in keep], [float(scores[i]) for i in keep]
