"""Identity leakage of anonymized ground-truth faces by each recognizer, at its calibrated threshold.

For every ground-truth face a window around its box (see :func:`disguisor.quality.identity.face_window`)
is cut from the original and the anonymized image. SCRFD finds the face in the *original* window
(box + five landmarks, the detection nearest the box centre); both windows are then embedded at
that box and those landmarks by each recognizer of :mod:`disguisor.quality.recognizers` (the
attacker knows where the face is: the anonymized face need not be detectable). The face leaks for
a recognizer when the two embeddings are closer than that recognizer's calibrated same-person
threshold (:data:`~disguisor.quality.recognizers.THRESHOLDS`, impostor false-match rate 1% on real
photographs). Originals SCRFD does not find are counted as not embeddable.

Over a set of faces each recognizer also gives a Fréchet distance between the Gaussians fitted
to the originals' and the anonymized faces' embeddings (:mod:`disguisor.quality.frechet`):
non-standard (the formula of FID on a recognizer's embedding, not comparable with published
FIDs). Like FID it compares distributions: low = the replaced faces spread in the recognizer's
space like the originals (another real face in each place scores near 0); it does not say
whether a face kept its identity (the leak does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from disguisor.quality.frechet import frechet_distance
from disguisor.quality.identity import face_window
from disguisor.quality.params import QualityParams
from disguisor.quality.recognizers import RECOGNIZERS, THRESHOLDS, make_recognizer

Pair = tuple[np.ndarray, np.ndarray]  # a face's embeddings: (original, anonymized)


@dataclass(frozen=True)
class RecognizerSummary:
    """One recognizer over the evaluated faces: faces looked at, embeddable (SCRFD found the
    original), leak = share of embeddable faces whose anonymized embedding lies below
    ``threshold`` from the original's (lower = better privacy), mean_distance (embedding units:
    Euclidean distance, 0-2 for MobileFaceNet's normalized vectors), frechet: the Fréchet
    distance of the originals' and the anonymized faces' embeddings (non-standard, squared
    embedding units; None without embeddings or with fewer than 2 embeddable faces)."""

    recognizer: str
    threshold: float
    faces: int
    embeddable: int
    leak: float | None
    mean_distance: float | None
    frechet: float | None = None


class RecognizerLeak:
    """SCRFD plus the recognizers; ``face(original, anonymized, box)`` -> {name: distance or None}."""

    def __init__(self, names: tuple[str, ...] = RECOGNIZERS, params: QualityParams = QualityParams()):
        from disguisor.facedet import make_face_detector

        self.detector = make_face_detector("scrfd")
        self.recognizers = {name: make_recognizer(name) for name in names}
        self.params = params

    def embeddings(self, original: np.ndarray, anonymized: np.ndarray, box) -> dict[str, Pair | None]:
        """Per recognizer the embeddings (original, anonymized) of one face (RGB uint8 images of
        one size, box x, y, w, h px), or None where SCRFD does not find the original face."""
        win_o, (bx, by, bw, bh) = face_window(original, box, self.params)
        win_a, _ = face_window(anonymized, box, self.params)
        boxes, marks = self.detector.detect_landmarks(win_o)
        if len(boxes) == 0:
            return dict.fromkeys(self.recognizers)
        centres = boxes[:, :2] + boxes[:, 2:4] / 2
        k = int(np.argmin(np.sum((centres - (bx + bw / 2, by + bh / 2)) ** 2, axis=1)))
        return {name: (rec.embed(win_o, boxes[k], marks[k]), rec.embed(win_a, boxes[k], marks[k]))
                for name, rec in self.recognizers.items()}

    def distances(self, pairs: dict[str, Pair | None]) -> dict[str, float | None]:
        """Distance original -> anonymized per recognizer of :meth:`embeddings`' pairs."""
        return {name: None if pairs.get(name) is None else self.recognizers[name].distance(*pairs[name])
                for name in self.recognizers}

    def face(self, original: np.ndarray, anonymized: np.ndarray, box) -> dict[str, float | None]:
        """Distances original -> anonymized of one face (RGB uint8 images of one size, box x, y, w, h px)."""
        return self.distances(self.embeddings(original, anonymized, box))


def summarize(distances: list[dict[str, float | None]], names: tuple[str, ...] = RECOGNIZERS,
              pairs: list[dict[str, Pair | None]] | None = None) -> dict[str, RecognizerSummary]:
    """Per recognizer: leak share and mean distance over the faces of ``distances``, and with
    ``pairs`` (:meth:`RecognizerLeak.embeddings` of the same faces) the Fréchet distance."""
    out = {}
    for name in names:
        d = np.array([x[name] for x in distances if x.get(name) is not None], float)
        thr = THRESHOLDS[name].value
        found = [p[name] for p in pairs or () if p.get(name) is not None]
        frechet = (frechet_distance(np.stack([a for a, _ in found]), np.stack([b for _, b in found]))
                   if len(found) >= 2 else None)
        out[name] = RecognizerSummary(name, thr, len(distances), len(d), float(np.mean(d < thr)) if len(d) else None,
                                      float(d.mean()) if len(d) else None, frechet)
    return out
