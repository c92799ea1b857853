"""Identity leakage of ``anonymize-images`` templates on real photographs, two recognizers.

The photographs come from registry source archives (``make install`` copies them into
benchmarks/photos/); tests skip with the reason when they are absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from disguisor.facedet.scrfd import MODEL_FILE
from disguisor.quality import photo_identity as pi

pytestmark = pytest.mark.slow  # whole pipeline runs / subprocesses: `pytest -m "not slow"` skips them

PHOTOS = Path(__file__).resolve().parents[1] / "benchmarks" / "photos"


@pytest.fixture(scope="module")
def photos():
    if not MODEL_FILE.is_file():
        pytest.skip(f"{MODEL_FILE} absent: `make install` copies it from the PyPI scrfd==0.3.0 source archive")
    missing = [n for n in ("solvay_conference_1927.jpg", "obama.jpg", "obama2.jpg") if not (PHOTOS / n).is_file()]
    if missing:
        pytest.skip(f"photographs {missing} absent from {PHOTOS} (`make install` extracts them from the scrfd and "
                    "face_recognition source archives)")
    pytest.importorskip("skimage", reason="scikit-image (dev extra) gives the astronaut photograph")
    from disguisor.facedet import make_face_detector

    return pi.find_faces(pi.load_photos(PHOTOS), make_face_detector("scrfd"))


@pytest.fixture(scope="module")
def anonymized(photos):
    from disguisor.images.anonymize import ImagesParams

    return _anonymize(photos, ImagesParams(template="auto"))


def _anonymize(photos, params):
    from disguisor.images.anonymize import ImageAnonymizer

    anonymizer = ImageAnonymizer(params)
    out = {}
    for name, image in photos.images.items():
        anonymizer.reset_track()  # separate photographs, not frames of one video
        out[name] = anonymizer(image)[0]
    return out


def test_photographs_hold_many_people(photos):
    people = {f.person for f in photos.faces}
    assert len(photos.faces) >= 33 and len(people) >= 31
    assert sum(f.person == "obama" for f in photos.faces) >= 2


def test_dlib_templates_remove_identity(photos, anonymized):
    from disguisor.quality.recognizers import THRESHOLDS, make_recognizer

    rec = make_recognizer("dlib")
    cal, emb = pi.calibrate(rec, photos)
    # the recognizer works on these photographs: every genuine pair below the threshold
    assert max(cal.genuine_photos + cal.genuine_degraded) < cal.threshold < cal.impostor_median
    assert abs(cal.threshold - THRESHOLDS["dlib"].value) < 0.05  # the recorded calibration still holds
    leak = pi.leakage(rec, photos, anonymized, emb, cal)
    assert leak["leak"] <= 0.02
    assert leak["mean_distance"] > cal.impostor_median


def test_mobilefacenet_tells_people_apart(photos):
    from disguisor.quality.recognizers import THRESHOLDS, make_recognizer

    cal, _ = pi.calibrate(make_recognizer("mobilefacenet"), photos)
    impostor = np.array(cal.impostor)
    # the three photographs of one man are closer than >= 90% of the pairs of different people
    assert max(float(np.mean(impostor < g)) for g in cal.genuine_photos) < 0.1
    assert np.mean(np.array(cal.genuine_photos + cal.genuine_degraded) < cal.threshold) > 0.9
    assert abs(cal.threshold - THRESHOLDS["mobilefacenet"].value) < 0.03  # the recorded calibration still holds


def test_quality_uses_the_calibrated_dlib_threshold():
    from disguisor.quality.params import QualityParams
    from disguisor.quality.recognizers import THRESHOLDS

    assert QualityParams().identity_threshold == THRESHOLDS["dlib"].value


def test_one_template_does_not_make_different_people_one_person(photos):
    """Two different people given the same template get different faces (per-face variation):
    without it dlib matched 100% of such pairs; measured with it 3.0-4.0% (seeds 0-2), against
    1.1% of real impostor pairs and 2.9% when every face is replaced by another real face."""
    from disguisor.images.anonymize import ImagesParams
    from disguisor.quality.recognizers import make_recognizer

    rec = make_recognizer("dlib")
    cal, emb = pi.calibrate(rec, photos)
    anon = _anonymize(photos, ImagesParams(template="light", seed=0))
    lk = pi.leakage(rec, photos, anon, emb, cal)
    assert lk["leak"] <= 0.02
    link = pi.linkability(rec, photos, lk["embeddings"], cal)
    assert link["matched"] <= 0.08
    assert link["median_distance"] > 0.9 * cal.impostor_median


def test_mobilefacenet_matches_the_context_not_only_the_face(photos):
    """Why the MobileFaceNet target is out of reach of any face replacement of this region: with
    every face replaced by *another real person's* face, painted like a template, MobileFaceNet
    still matches 30.6% of them to their originals (dlib: 5.6%)."""
    from disguisor.quality.recognizers import make_recognizer

    rec = make_recognizer("mobilefacenet")
    cal, emb = pi.calibrate(rec, photos)
    swapped = pi.swap_control(photos)
    assert pi.leakage(rec, photos, swapped, emb, cal)["leak"] >= 0.15


@pytest.mark.xfail(strict=True, reason="measured: MobileFaceNet still matches 5-6 of 36 template-anonymized faces "
                   "to their originals (13.9-16.7% over variation seeds 0-2; blur 13.9%; another real person's "
                   "face painted the same way 30.6%): it matches the hair, head outline and skin tone around "
                   "the painted face (BENCHMARKS.md)")
def test_mobilefacenet_templates_leak_nothing(photos, anonymized):
    from disguisor.quality.recognizers import make_recognizer

    rec = make_recognizer("mobilefacenet")
    cal, emb = pi.calibrate(rec, photos)
    assert pi.leakage(rec, photos, anonymized, emb, cal)["leak"] <= 0.02


def test_recognizer_leak_of_one_face(photos, anonymized):
    from disguisor.quality.recognizer_leak import RecognizerLeak, summarize

    name = "astronaut.png"
    face = next(f for f in photos.faces if f.photo == name)
    box = tuple(float(v) for v in face.box[:4])
    model = RecognizerLeak()
    same = model.face(photos.images[name], photos.images[name], box)
    assert all(d is not None and d < 1e-3 for d in same.values())  # an untouched face leaks to every recognizer
    anon = model.face(photos.images[name], anonymized[name], box)
    summary = summarize([same, anon])
    assert summary["dlib"].leak == 0.5 and summary["dlib"].embeddable == 2  # the template hides it from dlib
    assert anon["dlib"] > summary["dlib"].threshold
    blank = np.full_like(photos.images[name], 128)
    assert set(model.face(blank, blank, box).values()) == {None}  # no face found: not embeddable


def test_recognizer_frechet_distance_of_the_embeddings(photos, anonymized):
    """The Fréchet distance of the embeddings (non-standard): zero for untouched faces, clearly
    above it for the template-anonymized ones, for each recognizer; None without embeddings."""
    from disguisor.quality.recognizer_leak import RecognizerLeak, summarize

    model = RecognizerLeak()
    same, anon = [], []
    for face in photos.faces[:8]:
        box = tuple(float(v) for v in face.box[:4])
        img = photos.images[face.photo]
        same.append(model.embeddings(img, img, box))
        anon.append(model.embeddings(img, anonymized[face.photo], box))
    untouched = summarize([model.distances(p) for p in same], pairs=same)
    replaced = summarize([model.distances(p) for p in anon], pairs=anon)
    for name, s in replaced.items():
        assert s.embeddable >= 4 and untouched[name].frechet < 1e-6
        # moved by at least the mean squared distance of a face to its anonymized version, roughly
        assert s.frechet > 0.5 * s.mean_distance ** 2, (name, s)
    assert all(s.frechet is None for s in summarize([model.distances(p) for p in anon]).values())
