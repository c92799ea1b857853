"""Identity leakage of anonymized ground-truth faces by each recognizer, at its calibrated threshold.

For every ground-truth face a window around its box (see :func:`disguisor.quality.identity.face_window`)
is cut from the original and the anonymized image. SCRFD finds the face in the *original* window
(box + five landmarks, the detection nearest the box centre); both windows are then embedded at
that box and those landmarks by each recognizer of :mod:`disguisor.quality.recognizers` (the
attacker knows where the face is: the anonymized face need not be detectable). The face leaks for
a recognizer when the two embeddings are closer than that recognizer's calibrated same-person
threshold (:data:`~disguisor.quality.recognizers.THRESHOLDS`, impostor false-match rate 1% on real
photographs). Originals SCRFD does not find are counted as not embeddable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from disguisor.quality.identity import face_window
from disguisor.quality.params import QualityParams
from disguisor.quality.recognizers import RECOGNIZERS, THRESHOLDS, make_recognizer


@dataclass(frozen=True)
class RecognizerSummary:
    """One recognizer over the evaluated faces: faces looked at, embeddable (SCRFD found the
    original), leak = share of embeddable faces whose anonymized embedding lies below
    ``threshold`` from the original's (lower = better privacy), mean_distance (embedding units:
    Euclidean distance, 0-2 for MobileFaceNet's normalized vectors)."""

    recognizer: str
    threshold: float
    faces: int
    embeddable: int
    leak: float | None
    mean_distance: float | None


class RecognizerLeak:
    """SCRFD plus the recognizers; ``face(original, anonymized, box)`` -> {name: distance or None}."""

    def __init__(self, names: tuple[str, ...] = RECOGNIZERS, params: QualityParams = QualityParams()):
        from disguisor.facedet import make_face_detector

        self.detector = make_face_detector("scrfd")
        self.recognizers = {name: make_recognizer(name) for name in names}
        self.params = params

    def face(self, original: np.ndarray, anonymized: np.ndarray, box) -> dict[str, float | None]:
        """Distances original -> anonymized of one face (RGB uint8 images of one size, box x, y, w, h px)."""
        win_o, (bx, by, bw, bh) = face_window(original, box, self.params)
        win_a, _ = face_window(anonymized, box, self.params)
        boxes, marks = self.detector.detect_landmarks(win_o)
        if len(boxes) == 0:
            return dict.fromkeys(self.recognizers)
        centres = boxes[:, :2] + boxes[:, 2:4] / 2
        k = int(np.argmin(np.sum((centres - (bx + bw / 2, by + bh / 2)) ** 2, axis=1)))
        out: dict[str, float | None] = {}
        for name, rec in self.recognizers.items():
            ref = rec.embed(win_o, boxes[k], marks[k])
            out[name] = rec.distance(ref, rec.embed(win_a, boxes[k], marks[k]))
        return out


def summarize(distances: list[dict[str, float | None]], names: tuple[str, ...] = RECOGNIZERS
              ) -> dict[str, RecognizerSummary]:
    """Per recognizer: leak share and mean distance over the faces of ``distances``."""
    out = {}
    for name in names:
        d = np.array([x[name] for x in distances if x.get(name) is not None], float)
        thr = THRESHOLDS[name].value
        out[name] = RecognizerSummary(name, thr, len(distances), len(d), float(np.mean(d < thr)) if len(d) else None,
                                      float(d.mean()) if len(d) else None)
    return out
