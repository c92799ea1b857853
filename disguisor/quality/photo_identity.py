"""Identity leakage on real photographs: thresholds, leak rates, template linkability.

Used by ``benchmarks/bench_identity.py`` and ``tests/test_identity.py``. Faces are found by SCRFD
(box + five landmarks) in the *original* photographs; every later embedding of the same face
(augmented or anonymized) uses the original's box and landmarks (the attacker knows where the
face is: stricter than running a detector on the anonymized picture).

- genuine pairs: photographs of one person (e.g. three of the same man), and each face against
  a degraded copy of its photograph (70% size, JPEG quality 35, gamma 0.8);
- impostor pairs: faces of different people;
- threshold: the impostor distance that 1% of impostor pairs fall below (false-match rate 1%);
- leak: share of faces whose anonymized version lies below the threshold from the original;
- frechet: the Fréchet distance of the originals' and the anonymized faces' embeddings
  (non-standard: the formula of FID on a recognizer's embedding);
- linkability: share of pairs of *different* people, both anonymized with the same template,
  that lie below the threshold from each other (impostors: 1% by construction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np

from disguisor.quality.frechet import frechet_distance

# photograph file -> person label for photos of one known person (others: one person per face)
SAME_PERSON = {"obama.jpg": "obama", "obama2.jpg": "obama", "obama3.jpg": "obama", "biden.jpg": "biden",
               "newton.png": "newton", "gauss.png": "gauss", "astronaut.png": "astronaut"}
PHOTO_FILES = ("solvay_conference_1927.jpg", "newton.png", "gauss.png", "obama.jpg", "obama2.jpg", "obama3.jpg",
               "biden.jpg")


@dataclass
class PhotoFace:
    """A face of a photograph: person label, photo name, box (x, y, w, h, score px), (5, 2) landmarks."""

    person: str
    photo: str
    box: np.ndarray
    landmarks: np.ndarray


@dataclass
class Photos:
    """Photographs (name -> RGB uint8) and the faces found in them."""

    images: dict[str, np.ndarray]
    faces: list[PhotoFace] = field(default_factory=list)


def load_photos(folder: Path, with_astronaut: bool = True) -> dict[str, np.ndarray]:
    """The benchmark photographs present in ``folder`` (plus scikit-image's astronaut)."""
    images = {}
    for name in PHOTO_FILES:
        path = Path(folder) / name
        img = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
        if img is not None:
            images[name] = np.ascontiguousarray(img[..., ::-1])
    if with_astronaut:
        try:
            from skimage import data
        except ModuleNotFoundError:
            pass
        else:
            images["astronaut.png"] = data.astronaut()
    return images


def find_faces(images: dict[str, np.ndarray], detector, min_eye_px: float = 20.0) -> Photos:
    """Faces of each photograph (SCRFD). Photos of one known person keep only their largest face;
    faces with eyes closer than ``min_eye_px`` are left out (too small to recognise reliably)."""
    photos = Photos(images)
    for name, img in images.items():
        boxes, marks = detector.detect_landmarks(img)
        keep = [i for i in range(len(boxes)) if np.linalg.norm(marks[i, 1] - marks[i, 0]) >= min_eye_px]
        if name in SAME_PERSON and keep:
            keep = [max(keep, key=lambda i: boxes[i, 2] * boxes[i, 3])]
        for k, i in enumerate(keep):
            person = SAME_PERSON.get(name, f"{Path(name).stem}#{k}")
            photos.faces.append(PhotoFace(person, name, boxes[i], marks[i]))
    return photos


def degrade(image: np.ndarray, scale: float = 0.7, jpeg: int = 35, gamma: float = 0.8) -> np.ndarray:
    """A smaller, JPEG-compressed, gamma-shifted copy (same size as ``image`` again)."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(int(w * scale), 1), max(int(h * scale), 1)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg])
    small = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    small = np.clip(255.0 * (small / 255.0) ** gamma, 0, 255).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


@dataclass
class Calibration:
    """Distances of one recognizer: genuine (same person) and impostor pairs, the threshold
    (impostor 1% quantile) and the impostor median."""

    recognizer: str
    genuine_photos: list[float]
    genuine_degraded: list[float]
    impostor: list[float]
    threshold: float
    impostor_median: float

    def summary(self) -> dict:
        g = self.genuine_photos + self.genuine_degraded
        return {"recognizer": self.recognizer, "genuine_pairs": len(g),
                "genuine_photo_pairs": len(self.genuine_photos),
                "genuine_mean": float(np.mean(g)) if g else None, "genuine_max": float(np.max(g)) if g else None,
                "genuine_photos_max": float(np.max(self.genuine_photos)) if self.genuine_photos else None,
                "genuine_below_threshold": float(np.mean(np.array(g) < self.threshold)) if g else None,
                "impostor_pairs": len(self.impostor), "impostor_median": self.impostor_median,
                "impostor_min": float(np.min(self.impostor)), "threshold_fmr_1pct": self.threshold}


def embed_all(recognizer, images: dict[str, np.ndarray], faces: list[PhotoFace]) -> np.ndarray:
    """(N, D) embeddings of ``faces`` in ``images`` (photo name -> RGB) at the faces' own positions."""
    return np.stack([recognizer.embed(images[f.photo], f.box, f.landmarks) for f in faces])


def calibrate(recognizer, photos: Photos) -> tuple[Calibration, np.ndarray]:
    """Genuine and impostor distances and the threshold; also the originals' embeddings."""
    emb = embed_all(recognizer, photos.images, photos.faces)
    degraded = {n: degrade(im) for n, im in photos.images.items()}
    emb_d = embed_all(recognizer, degraded, photos.faces)
    d = recognizer.distance
    genuine_photos, impostor = [], []
    for i, j in combinations(range(len(photos.faces)), 2):
        same = photos.faces[i].person == photos.faces[j].person
        (genuine_photos if same else impostor).append(d(emb[i], emb[j]))
    genuine_degraded = [d(a, b) for a, b in zip(emb, emb_d, strict=True)]
    cal = Calibration(recognizer.name, genuine_photos, genuine_degraded, impostor,
                      float(np.quantile(impostor, 0.01)), float(np.median(impostor)))
    return cal, emb


def leakage(recognizer, photos: Photos, anonymized: dict[str, np.ndarray], original_emb: np.ndarray,
            cal: Calibration) -> dict:
    """Leak rate and distances of the anonymized photographs against the originals."""
    emb_a = embed_all(recognizer, anonymized, photos.faces)
    dist = np.array([recognizer.distance(a, b) for a, b in zip(original_emb, emb_a, strict=True)])
    return {"faces": len(dist), "leak": float(np.mean(dist < cal.threshold)), "mean_distance": float(dist.mean()),
            "min_distance": float(dist.min()), "above_impostor_median": bool(dist.mean() > cal.impostor_median),
            "frechet": frechet_distance(original_emb, emb_a) if len(dist) >= 2 else None, "embeddings": emb_a}


def linkability(recognizer, photos: Photos, emb_a: np.ndarray, cal: Calibration) -> dict:
    """How often two different people, anonymized (with one template), match each other."""
    pairs = [(i, j) for i, j in combinations(range(len(photos.faces)), 2)
             if photos.faces[i].person != photos.faces[j].person]
    dist = np.array([recognizer.distance(emb_a[i], emb_a[j]) for i, j in pairs])
    return {"pairs": len(pairs), "matched": float(np.mean(dist < cal.threshold)), "median_distance":
            float(np.median(dist)), "impostor_matched": float(np.mean(np.array(cal.impostor) < cal.threshold)),
            "impostor_median": cal.impostor_median}


def cross_photo_leak(recognizer, photos: Photos, emb_a: np.ndarray, original_emb: np.ndarray,
                     cal: Calibration) -> dict:
    """Re-identification across photographs: each anonymized face against the *other* original
    photographs of the same person (the attacker holds another picture of them; the context of
    the photograph is not shared). ``emb_a`` / ``original_emb``: (N, D) embeddings of the faces in
    the anonymized / original photographs. Returns the pairs, the share below the threshold and
    the distances, with the originals' own cross-photograph distances for reference."""
    faces = photos.faces
    pairs = [(i, j) for i in range(len(faces)) for j in range(len(faces))
             if i != j and faces[i].person == faces[j].person and faces[i].photo != faces[j].photo]
    d = np.array([recognizer.distance(emb_a[i], original_emb[j]) for i, j in pairs])
    d0 = np.array([recognizer.distance(original_emb[i], original_emb[j]) for i, j in pairs])
    return {"pairs": len(pairs), "matched": float(np.mean(d < cal.threshold)) if len(d) else None,
            "distances": [round(float(v), 3) for v in d], "original_distances": [round(float(v), 3) for v in d0]}


def donor_template(photos: Photos, face: PhotoFace, size: tuple[int, int] = (320, 416)):
    """A *real* face as a template: ``face`` cut from its photograph into the template layout
    (mirrored like the drawn templates), for the stranger-swap control of :func:`swap_control`."""
    from disguisor.render.face2d import CANONICAL_UV, similarity
    from disguisor.render.templates import Template

    M = similarity(CANONICAL_UV * size, face.landmarks)  # template px (camera view) -> photograph px
    img = cv2.warpAffine(photos.images[face.photo], M, size, flags=cv2.WARP_INVERSE_MAP | cv2.INTER_AREA,
                         borderMode=cv2.BORDER_REPLICATE)
    return Template(f"donor:{face.person}", np.ascontiguousarray(img[:, ::-1]), {})


def swap_control(photos: Photos, face2d_params=None) -> dict[str, np.ndarray]:
    """The photographs with every face replaced by *another real person's* face, painted exactly
    like a template (same region, same colour matching): what any replacement of that region,
    however foreign, leaves to a recognizer. Donor of face k: the next face in the list that
    belongs to a different person."""
    from disguisor.render.face2d import Face2DParams, landmark_check, paint_template

    params = face2d_params or Face2DParams()
    faces = photos.faces
    out = {n: im.copy() for n, im in photos.images.items()}
    for k, face in enumerate(faces):
        donor = next(faces[(k + s) % len(faces)] for s in range(1, len(faces) + 1)
                     if faces[(k + s) % len(faces)].person != face.person)
        template = donor_template(photos, donor)
        check = landmark_check(template, face.box, face.landmarks, params)
        out[face.photo], _ = paint_template(out[face.photo], template, check, params)
    return out
