"""SCRFD-2.5G face detector with five landmarks (ONNX, run with onnxruntime on the CPU).

The model file is ``models/scrfd.onnx`` of the PyPI ``scrfd`` 0.3.0 *source archive* (the
wheel has none). InsightFace, who trained it, releases its models for non-commercial research
only, so disguisor does not commit it: ``make install`` downloads the archive with pip, checks
the file's sha256 and copies it to ``disguisor/assets/models/scrfd.onnx`` (see models/README.md).

Network: input ``1 x 3 x 640 x 640`` float, RGB, ``(value - 127.5) / 128``; for each stride
8, 16 and 32 two anchors per cell (anchor centre = cell corner x stride), with a face
probability, four distances (left, top, right, bottom) from the anchor centre to the box sides
and five landmark offsets (left eye, right eye, nose tip, left and right mouth corner, in image
order: "left" = smaller x), all distances in units of the stride.

An image is letterboxed into 640 x 640 (aspect kept, padded right and bottom). Faces smaller
than ~10 px after that are lost, so large images are also cut into overlapping tiles, each
letterboxed on its own, and all results merged by non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from disguisor.boxes import clip_xywh
from disguisor.errors import InputError
from disguisor.facedet.image import check_rgb

INPUT_SIDE = 640  # the ONNX graph has a fixed 640 x 640 input
STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
MODEL_FILE = Path(__file__).resolve().parents[1] / "assets" / "models" / "scrfd.onnx"
MODEL_SHA256 = "9c162a817c7dd32d35d1f1c6ae6445032d6e73c6c5fe61d8b5b663ba8bc86b30"
INSTALL = ("run `make install` (it copies models/scrfd.onnx from the PyPI scrfd==0.3.0 source archive; "
           "non-commercial research use only)")


@dataclass(frozen=True)
class ScrfdParams:
    """threshold: minimum face probability 0-1. nms_iou: overlap above which the weaker of two
    boxes is dropped. tile_px: side of the square tiles (pixels of the input image) a large
    image is also cut into; 0 = never tile. tile_overlap: share of a tile's side shared with
    its neighbour (a face on a seam lies whole in one tile when smaller than this)."""

    threshold: float = 0.5
    nms_iou: float = 0.4
    tile_px: int = 960
    tile_overlap: float = 0.25


def scrfd_model_path() -> Path:
    """The verified SCRFD model file; :class:`InputError` naming ``make install`` if missing/other."""
    from disguisor.assets import verify

    return verify(MODEL_FILE, MODEL_SHA256, INSTALL)


def _anchor_centres(side: int, stride: int) -> np.ndarray:
    """(n * ANCHORS_PER_CELL, 2) x, y anchor centres in input pixels, row-major, anchors repeated."""
    n = side // stride
    ys, xs = np.mgrid[0:n, 0:n]
    centres = np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, ANCHORS_PER_CELL, axis=0)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of x, y, w, h boxes."""
    if len(boxes) == 0:
        return np.zeros(0, int)
    keep = cv2.dnn.NMSBoxes(boxes[:, :4].tolist(), scores.tolist(), 0.0, iou)
    return np.asarray(keep, int).reshape(-1)


def windows(width: int, height: int, tile_px: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """The whole image, then (if it is larger than a tile) overlapping square tiles (x0, y0, x1, y1)."""
    out = [(0, 0, width, height)]
    if tile_px <= 0 or max(width, height) <= tile_px * 1.2:
        return out
    step = max(int(tile_px * (1.0 - overlap)), 1)
    xs = list(range(0, max(width - tile_px, 0) + 1, step))
    ys = list(range(0, max(height - tile_px, 0) + 1, step))
    if xs[-1] + tile_px < width:
        xs.append(width - tile_px)
    if ys[-1] + tile_px < height:
        ys.append(height - tile_px)
    for y0 in ys:
        for x0 in xs:
            out.append((max(x0, 0), max(y0, 0), min(x0 + tile_px, width), min(y0 + tile_px, height)))
    return out


class ScrfdDetector:
    """SCRFD-2.5G. ``detect`` -> (N, 5) x, y, w, h, score; ``detect_landmarks`` also returns the
    (N, 5, 2) landmarks (x, y pixels of the input image: left eye, right eye, nose, left and
    right mouth corner, "left" = smaller x)."""

    name = "scrfd"

    def __init__(self, params: ScrfdParams = ScrfdParams(), model_path: str | Path | None = None):
        try:
            import onnxruntime as ort
        except ModuleNotFoundError:
            raise InputError("onnxruntime", "SCRFD needs onnxruntime; run `make install`") from None
        path = Path(model_path) if model_path is not None else scrfd_model_path()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.params = params
        self._centres = {s: _anchor_centres(INPUT_SIDE, s) for s in STRIDES}

    def _run_window(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) x0, y0, x1, y1, scores (N,), landmarks (N, 5, 2), in pixels of ``crop``."""
        h, w = crop.shape[:2]
        scale = INPUT_SIDE / max(h, w)
        nh, nw = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
        canvas = np.zeros((INPUT_SIDE, INPUT_SIDE, 3), np.float32)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        canvas[:nh, :nw] = cv2.resize(crop, (nw, nh), interpolation=interp)
        # the padding must read as 0 after normalisation, like the training letterbox
        canvas[nh:, :] = 127.5
        canvas[:, nw:] = 127.5
        blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outs = dict(zip(self._outputs, self._session.run(self._outputs, {self._input: blob}), strict=True))
        boxes, scores, marks = [], [], []
        for s in STRIDES:
            score = outs[f"score_{s}"][0, :, 0]
            keep = score >= self.params.threshold
            if not keep.any():
                continue
            c = self._centres[s][keep]
            d = outs[f"bbox_{s}"][0][keep] * s
            k = outs[f"kps_{s}"][0][keep].reshape(-1, 5, 2) * s
            boxes.append(np.concatenate([c - d[:, :2], c + d[:, 2:]], 1))
            marks.append(c[:, None, :] + k)
            scores.append(score[keep])
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        return (np.concatenate(boxes) / scale, np.concatenate(scores), np.concatenate(marks) / scale)

    def detect_landmarks(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 5) x, y, w, h, score boxes and (N, 5, 2) landmarks, pixels of ``image_rgb``."""
        check_rgb(image_rgb)
        h, w = image_rgb.shape[:2]
        rows = []
        for x0, y0, x1, y1 in windows(w, h, self.params.tile_px, self.params.tile_overlap):
            b, s, m = self._run_window(image_rgb[y0:y1, x0:x1].astype(np.float32))
            # a face cut by a tile's inner edge is found whole in the neighbouring tile or the full view
            cut = np.zeros(len(b), bool)
            if (x1 - x0, y1 - y0) != (w, h):
                edge = 2.0
                cut = (((b[:, 0] < edge) & (x0 > 0)) | ((b[:, 1] < edge) & (y0 > 0))
                       | ((b[:, 2] > x1 - x0 - edge) & (x1 < w)) | ((b[:, 3] > y1 - y0 - edge) & (y1 < h)))
            b, s, m = b[~cut] + [x0, y0, x0, y0], s[~cut], m[~cut] + [x0, y0]
            rows.append(np.concatenate([b[:, :2], b[:, 2:] - b[:, :2], s[:, None], m.reshape(-1, 10)], 1))
        found = np.concatenate(rows)
        found = clip_xywh(found[_nms(found, found[:, 4], self.params.nms_iou)], w, h)
        found = found[np.argsort(-found[:, 4], kind="stable")]
        return found[:, :5], found[:, 5:].reshape(-1, 5, 2)

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        return self.detect_landmarks(image_rgb)[0]
