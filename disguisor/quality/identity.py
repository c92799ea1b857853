"""Identity leakage: does a face-recognition network still recognise the person after anonymization?

The embedding is dlib's ResNet face descriptor (128-d, from the ``face-recognition-models``
package, offline), computed on the face aligned by dlib's 5-point shape predictor. Two
descriptors closer than ``identity_threshold`` (0.6, dlib's usual value) are the same person.

Per ground-truth face, a square window around its box (``identity_context`` box sizes) is cut from
the original and the anonymized image and resized to ``identity_window_px``:

1. the original face must be found there by dlib (HOG, then the CNN detector); otherwise the
   face is *not embeddable* and counted apart (the recogniser cannot judge it either way), or,
   with ``identity_at_box``, embedded at its ground-truth box;
2. **detected leak**: an attacker runs the same detector on the anonymized window; if it finds a
   face, its descriptor is compared with the original's (a face no detector finds does not leak);
3. **forced leak**: stricter, the attacker knows where the face is: the anonymized window is
   embedded at the original's face box whatever the detector says.

Lower leak rates are better for privacy.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from disguisor.facedet.detectors import _import_dlib, dlib_model_path
from disguisor.quality.params import QualityParams


@dataclass(frozen=True)
class FaceIdentity:
    """Outcome for one face. embeddable: an original descriptor was computed; original_found:
    dlib found the original face (else it was embedded at its box, with ``identity_at_box``);
    detected: dlib found a face in the anonymized window; distance_*: descriptor distance to the
    original (None when not computed)."""

    embeddable: bool
    original_found: bool = False
    detected: bool = False
    distance_detected: float | None = None
    distance_forced: float | None = None


class IdentityModel:
    """dlib's detectors, 5-point shape predictor and ResNet face descriptor."""

    def __init__(self, params: QualityParams = QualityParams()):
        dlib = _import_dlib()
        self._dlib = dlib
        self.params = params
        self.hog = dlib.get_frontal_face_detector()
        self.cnn = dlib.cnn_face_detection_model_v1(str(dlib_model_path("mmod_human_face_detector.dat")))
        self.shape = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
        self.encoder = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))

    def find_face(self, window_rgb: np.ndarray, near: tuple[float, float]):
        """The dlib rectangle of the face nearest to ``near`` (x, y px) in the window, or None."""
        rects = list(self.hog(window_rgb, self.params.identity_upsample))
        if not rects:
            rects = [d.rect for d in self.cnn(window_rgb, 0)]
        if not rects:
            return None
        return min(rects, key=lambda r: (r.center().x - near[0]) ** 2 + (r.center().y - near[1]) ** 2)

    def embed(self, window_rgb: np.ndarray, rect) -> np.ndarray:
        """128-d descriptor of the face in ``rect`` of the window."""
        shape = self.shape(window_rgb, rect)
        return np.asarray(self.encoder.compute_face_descriptor(window_rgb, shape), float)

    def rect(self, x0: float, y0: float, x1: float, y1: float):
        return self._dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))


def face_window(image: np.ndarray, box: tuple[float, float, float, float], params: QualityParams
                ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A square window around ``box`` (x, y, w, h px), padded with edge pixels where it leaves the
    image, resized to ``identity_window_px``; returns it and the box in its pixels."""
    x, y, w, h = box
    side = max(w, h) * params.identity_context
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(np.floor(cx - side / 2)), int(np.floor(cy - side / 2))
    n = max(int(np.ceil(side)), 1)
    H, W = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + n - W, y0 + n - H)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else image
    crop = padded[y0 + pad:y0 + pad + n, x0 + pad:x0 + pad + n]
    s = params.identity_window_px / n
    window = cv2.resize(crop, (params.identity_window_px,) * 2, interpolation=cv2.INTER_CUBIC if s > 1
                        else cv2.INTER_AREA)
    return np.ascontiguousarray(window), ((x - x0) * s, (y - y0) * s, w * s, h * s)


def face_identity(model: IdentityModel, original: np.ndarray, anonymized: np.ndarray,
                  box: tuple[float, float, float, float]) -> FaceIdentity:
    """Identity outcome of one ground-truth face (RGB uint8 images of one size, box x, y, w, h px)."""
    p = model.params
    win_o, (bx, by, bw, bh) = face_window(original, box, p)
    win_a, _ = face_window(anonymized, box, p)
    centre = (bx + bw / 2, by + bh / 2)
    rect = model.find_face(win_o, centre)
    original_found = rect is not None
    if rect is None:
        if not p.identity_at_box:
            return FaceIdentity(embeddable=False, original_found=False)
        half = max(bw, bh) / 2
        rect = model.rect(centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)
    ref = model.embed(win_o, rect)
    forced = float(np.linalg.norm(model.embed(win_a, rect) - ref))
    found = model.find_face(win_a, (rect.center().x, rect.center().y))
    detected = None if found is None else float(np.linalg.norm(model.embed(win_a, found) - ref))
    return FaceIdentity(embeddable=True, original_found=original_found, detected=found is not None,
                        distance_detected=detected, distance_forced=forced)


@dataclass(frozen=True)
class IdentitySummary:
    """faces: ground-truth faces looked at; not_embeddable: originals dlib could not find (and not
    embedded at their box); originals_found: originals dlib found;
    leak_detected / leak_forced: share of the embeddable faces recognised (distance below the
    threshold) by the detected / forced route; anonymized_detected: share of embeddable faces
    whose anonymized version dlib still finds; mean_distance_*: mean descriptor distances."""

    faces: int
    not_embeddable: int
    embeddable: int
    originals_found: int
    leak_detected: float | None
    leak_forced: float | None
    anonymized_detected: float | None
    mean_distance_detected: float | None
    mean_distance_forced: float | None
    threshold: float


def summarize_identity(outcomes: list[FaceIdentity], threshold: float) -> IdentitySummary:
    emb = [o for o in outcomes if o.embeddable]
    n = len(emb)

    def share(k: int) -> float | None:
        return k / n if n else None

    det = [o.distance_detected for o in emb if o.distance_detected is not None]
    forced = [o.distance_forced for o in emb if o.distance_forced is not None]
    return IdentitySummary(
        faces=len(outcomes), not_embeddable=len(outcomes) - n, embeddable=n,
        originals_found=sum(o.original_found for o in outcomes),
        leak_detected=share(sum(d < threshold for d in det)), leak_forced=share(sum(d < threshold for d in forced)),
        anonymized_detected=share(sum(o.detected for o in emb)),
        mean_distance_detected=float(np.mean(det)) if det else None,
        mean_distance_forced=float(np.mean(forced)) if forced else None, threshold=threshold)
