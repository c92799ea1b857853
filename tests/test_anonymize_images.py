"""SCRFD, templates posed from 2D landmarks, and ``disguisor anonymize-images`` (images, folders, videos)."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from disguisor.facedet.scrfd import MODEL_FILE
from disguisor.render.face2d import Face2DParams, canonical_points, landmark_check, paint_template, similarity
from disguisor.render.templates import load_templates
from disguisor.render.variation import VariationParams
from tests.conftest import disguisor_cli

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "benchmarks" / "photos"
needs_scrfd = pytest.mark.skipif(not MODEL_FILE.is_file(), reason=f"{MODEL_FILE} absent: `make install` copies "
                                 "it from the PyPI scrfd==0.3.0 source archive")


def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (dev extra) gives the test photo")
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def detector():
    if not MODEL_FILE.is_file():
        pytest.skip(f"{MODEL_FILE} absent (make install)")
    from disguisor.facedet import make_face_detector

    return make_face_detector("scrfd")


@needs_scrfd
def test_scrfd_finds_the_astronaut_with_ordered_landmarks(detector):
    boxes, marks = detector.detect_landmarks(astronaut())
    assert len(boxes) == 1
    x, y, w, h, score = boxes[0]
    assert score > 0.7 and 60 < w < 130 and 80 < h < 160
    le, re, nose, lm, rm = marks[0]
    assert le[0] < nose[0] < re[0] and lm[0] < rm[0]
    assert max(le[1], re[1]) < nose[1] < min(lm[1], rm[1])
    assert np.all((marks[0] >= [x, y]) & (marks[0] <= [x + w, y + h]))
    assert np.array_equal(detector.detect(astronaut()), boxes)


@needs_scrfd
def test_scrfd_finds_the_29_solvay_faces(detector):
    path = PHOTOS / "solvay_conference_1927.jpg"
    if not path.is_file():
        pytest.skip(f"{path} absent (make install extracts it from the scrfd source archive)")
    boxes, _ = detector.detect_landmarks(cv2.imread(str(path))[..., ::-1].copy())
    assert len(boxes) == 29


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 300, (5, 2))
    a, s, t = 0.4, 0.3, np.array([50.0, -20.0])
    R = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    M = similarity(src, src @ R.T + t)
    assert np.allclose(M[:, :2], R, atol=1e-9) and np.allclose(M[:, 2], t, atol=1e-7)


def test_landmark_check_accepts_frontal_and_refuses_profile_small_and_weak():
    t = load_templates()["light"]
    frontal = canonical_points(t) * 0.5 + [100, 80]  # eyes 48 px apart
    box = np.array([100 + 0.12 * 160, 80 + 0.15 * 208, 0.76 * 160, 0.7 * 208, 0.9])
    ok = landmark_check(t, box, frontal)
    assert ok.reliable, ok.reason
    assert ok.residual < 1e-6 and abs(ok.eye_px - 48) < 1e-6
    turned = frontal.copy()
    turned[2, 0] += 20  # nose far off the eyes' midpoint: a head turned to the side
    assert not landmark_check(t, box, turned).reliable
    assert "small" in landmark_check(t, box * [1, 1, 1, 1, 1], canonical_points(t) * 0.02 + 100).reason
    assert "score" in landmark_check(t, np.r_[box[:4], 0.3], frontal).reason
    # a box far bigger than the posed face (landmarks of a small part of it): not covered
    assert not landmark_check(t, np.array([0, 0, 600, 600, 0.9]), frontal).reliable


def test_template_replaces_the_face_and_nothing_far_outside():
    t = load_templates()["olive"]
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    marks = canonical_points(t) * 0.5 + [70, 40]
    check = landmark_check(t, np.array([90, 80, 120, 140, 0.9]), marks)
    out, mask = paint_template(image, t, check, Face2DParams())
    assert mask[int(marks[2, 1]), int(marks[2, 0])]  # the nose is painted
    changed = np.any(out != image, axis=2)
    assert np.array_equal(changed & ~mask, np.zeros_like(mask))  # only inside the mask
    ys, xs = np.nonzero(mask)
    assert xs.min() > 60 and xs.max() < 240 and ys.min() > 40 and ys.max() < 270
    # the painted face is the template's, not the noise: far smoother than the input there
    inner = mask & (cv2.erode(mask.astype(np.uint8), np.ones((15, 15))) > 0)
    assert out[inner].std(0).mean() < 0.6 * image[inner].std(0).mean()


def test_a_soft_photograph_gets_a_template_as_soft_as_its_face():
    """The posed template is blurred until its sharpness matches the original face's: a crisp
    face drawn into a soft photograph would stand out (and crisp features are what different
    people's replacements share); into a crisp photograph it goes as drawn."""
    from disguisor.render.face2d import sharpness

    t = load_templates()["olive"]
    marks = canonical_points(t) * 0.5 + [70, 40]
    check = landmark_check(t, np.array([90, 80, 120, 140, 0.9]), marks)
    # the "photograph": a coloured pattern with detail at every scale, crisp and then softened
    rng = np.random.default_rng(3)
    crisp = sum(cv2.resize(rng.integers(0, 60, (300 // k, 300 // k, 3)).astype(np.float32), (300, 300),
                           interpolation=cv2.INTER_NEAREST) for k in (1, 3, 10)).astype(np.uint8) + [40, 30, 20]
    crisp = crisp.astype(np.uint8)
    soft = cv2.GaussianBlur(crisp, (0, 0), 2.5)
    as_drawn, mask = paint_template(soft, t, check, Face2DParams(sharpness_sigmas_px=()))
    matched, mask2 = paint_template(soft, t, check, Face2DParams())
    assert np.array_equal(mask, mask2)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    target = sharpness(soft, inner)
    assert abs(sharpness(matched, inner) - target) < 0.5 * abs(sharpness(as_drawn, inner) - target)
    assert sharpness(matched, inner) < 0.7 * sharpness(as_drawn, inner)
    # still the template's face, not the original's: far from the soft original inside the oval
    assert np.abs(matched[inner].astype(int) - soft[inner]).mean() > 5
    # a crisp photograph: drawn as is (the blur would only make it softer than the original)
    crisp_out, _ = paint_template(crisp, t, check, Face2DParams())
    assert np.array_equal(crisp_out, paint_template(crisp, t, check, Face2DParams(sharpness_sigmas_px=()))[0])


@needs_scrfd
def test_two_people_one_template_get_different_faces_reproducibly():
    from disguisor.images.anonymize import ImageAnonymizer, ImagesParams

    img = astronaut()
    pair = np.ascontiguousarray(np.hstack([img, img[:, ::-1]]))  # two faces, one template for both
    a = ImageAnonymizer(ImagesParams(template="light"))
    out, hidden = a(pair)
    assert [h.hidden_by for h in hidden] == ["template:light", "template:light"]
    boxes = [np.round(h.box[:4]).astype(int) for h in hidden]
    left, right = (out[y:y + h, x:x + w].astype(float) for x, y, w, h in boxes)
    right = cv2.resize(right[:, ::-1], left.shape[1::-1])
    assert np.abs(left - right).mean() > 4.0  # not the same drawn face
    a.reset_track()
    assert np.array_equal(a(pair)[0], out)  # same picture, same seed: same bytes
    other = ImageAnonymizer(ImagesParams(template="light", seed=1))(pair)[0]
    assert not np.array_equal(other, out)
    fixed = ImageAnonymizer(ImagesParams(template="light", variation=VariationParams(enabled=False)))(pair)[0]
    assert not np.array_equal(fixed, out)


def _make_video(path: Path, frames: int = 6) -> None:
    import av

    img = astronaut()
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=Fraction(25, 2))
        v.width, v.height, v.pix_fmt = 512, 512, "yuv420p"
        a = c.add_stream("aac", rate=16000)
        for i in range(frames):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.roll(img, 4 * i, axis=1), format="rgb24")))
        c.mux(v.encode(None))
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)).astype(np.float32)[None]
        af = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        for p in a.encode(af):
            c.mux(p)
        c.mux(a.encode(None))


def _cli(*args) -> subprocess.CompletedProcess:
    return disguisor_cli(*args, timeout=300)


@needs_scrfd
@pytest.mark.slow
def test_anonymize_images_folder_and_video(tmp_path):
    import av

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    face = astronaut()
    cv2.imwrite(str(folder / "astronaut.png"), face[..., ::-1])
    cv2.imwrite(str(folder / "sub" / "empty.jpg"), np.full((120, 160, 3), 90, np.uint8))
    video = tmp_path / "clip.mp4"
    _make_video(video)
    out = tmp_path / "out"
    proc = _cli("anonymize-images", folder, video, "-o", out)
    assert proc.returncode == 0, proc.stderr
    anon = cv2.imread(str(out / "in" / "astronaut.png"))[..., ::-1]
    dets = json.loads((out / "detections.json").read_text())
    images = json.loads((out / "images.json").read_text())["images"]
    by_file = {im["file_name"]: im for im in images}
    assert {"in/astronaut.png", "in/sub/empty.jpg", "clip.mp4"} <= set(by_file)
    still = [d for d in dets if d["image_id"] == by_file["in/astronaut.png"]["id"]]
    assert len(still) == 1 and still[0]["hidden_by"].startswith("template:") and still[0]["source"] == "2d:scrfd"
    x, y, w, h = (int(v) for v in still[0]["bbox"])
    inner = face[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4].astype(int)
    assert np.abs(anon[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4].astype(int) - inner).mean() > 12
    assert np.abs(anon[400:, 400:].astype(int) - face[400:, 400:].astype(int)).max() == 0  # PNG: untouched
    video_dets = [d for d in dets if d["camera"] == "clip.mp4"]
    assert sorted({d["frame"] for d in video_dets}) == list(range(6))
    assert len({d["hidden_by"] for d in video_dets}) == 1  # one template through the clip
    with av.open(str(out / "clip.mp4")) as c:
        assert c.streams.video[0].average_rate == Fraction(25, 2)
        assert [a.codec_context.name for a in c.streams.audio] == ["aac"]
        assert sum(1 for _ in c.decode(video=0)) == 6

    # --seed: another seed, another varied face; the seed is recorded with the settings
    seeded = tmp_path / "seed1"
    assert _cli("anonymize-images", folder / "astronaut.png", "-o", seeded, "--seed", "1").returncode == 0
    assert json.loads((seeded / "anonymize.json").read_text())["settings"]["seed"] == 1
    other = cv2.imread(str(seeded / "astronaut.png"))[..., ::-1]
    assert not np.array_equal(other[y:y + h, x:x + w], anon[y:y + h, x:x + w])

    blur_out = tmp_path / "blur"
    assert _cli("anonymize-images", folder / "astronaut.png", "-o", blur_out, "--method", "blur").returncode == 0
    assert json.loads((blur_out / "detections.json").read_text())[0]["hidden_by"] == "blur"


@pytest.mark.slow
def test_anonymize_images_bad_input_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    proc = _cli("anonymize-images", tmp_path / "notes.txt", "-o", tmp_path / "o")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and "notes.txt" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    proc = _cli("anonymize-images", bad, "-o", tmp_path / "o2")
    assert proc.returncode == 2 and "broken.png" in proc.stderr and not (tmp_path / "o2").exists()
