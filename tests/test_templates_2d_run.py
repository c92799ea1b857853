"""Templates on faces that ``run`` finds only in 2D (2d-head fallback, --also-2d detections).

Uses a real photograph (scikit-image's astronaut) and the real SCRFD model (``make install``).
"""

from __future__ import annotations

import numpy as np
import pytest

from disguisor.facedet.scrfd import MODEL_FILE
from disguisor.render.templates import load_templates
from disguisor.run.frames import FrameWorker
from disguisor.run.params import RunParams


def _worker(method: str = "template", template: str | None = None) -> FrameWorker:
    # only the members template_2d / landmark_faces use: no recording needed
    worker = FrameWorker.__new__(FrameWorker)
    worker.params = RunParams(method=method, template=template)
    worker.templates = load_templates()
    worker.detector = None
    worker._template_of = {}
    worker._landmarker = None
    return worker


@pytest.fixture(scope="module")
def astronaut():
    if not MODEL_FILE.is_file():
        pytest.skip(f"{MODEL_FILE} absent: `make install` copies it from the PyPI scrfd==0.3.0 source archive")
    data = pytest.importorskip("skimage.data", reason="scikit-image (dev extra) gives the astronaut photograph")
    return np.ascontiguousarray(data.astronaut())


def test_face_in_a_2d_region_gets_the_template(astronaut):
    worker = _worker()
    found = worker.landmark_faces(astronaut)
    assert found is not None and len(found[0]) >= 1
    fx, fy, fw, fh = found[0][0][:4]
    head = (fx - 0.3 * fw, fy - 0.4 * fh, 1.6 * fw, 1.6 * fh)  # a head-sized region around the face
    out, painted = worker.template_2d(astronaut, head, found)
    assert painted is not None and painted.any()
    assert np.array_equal(out[~painted], astronaut[~painted])  # the mask is what changed
    inner = (slice(int(fy + 0.3 * fh), int(fy + 0.8 * fh)), slice(int(fx + 0.2 * fw), int(fx + 0.8 * fw)))
    changed = np.any(out[inner] != astronaut[inner], axis=2).mean()
    assert changed > 0.9  # the face's eyes, nose and mouth are replaced
    far = (slice(400, 512), slice(0, 100))
    assert np.array_equal(out[far], astronaut[far])  # nothing painted away from the face


def test_no_reliable_face_in_the_region_means_blur(astronaut):
    worker = _worker()
    found = worker.landmark_faces(astronaut)
    empty = (0.0, 400.0, 100.0, 100.0)  # no face there: the caller blurs the region as before
    out, painted = worker.template_2d(astronaut, empty, found)
    assert painted is None and out is astronaut
    fx, fy, fw, fh = found[0][0][:4]
    huge = (0.0, 0.0, 8.0 * fw, 8.0 * fh)  # the face is < 1/4 of the region: not trusted to be its face
    assert worker.template_2d(astronaut, huge, found)[1] is None
    assert _worker(method="blur").landmark_faces(astronaut) is None  # other methods never paint templates


def test_a_2d_face_without_landmarks_is_blurred_beyond_its_box():
    """Where no template can be posed, a 2D-only face box is blurred grown by run.face_2d_margin
    on each side (the detectors' boxes hug eyes and mouth); nothing beyond that changes."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)  # texture: any blur changes it
    box = (60.0, 40.0, 40.0, 30.0, 0.9)
    worker = _worker(method="blur")
    out, _ = worker.hide_2d_faces(image.copy(), image, [box], None, {})
    changed = np.any(out != image, axis=2)
    m = worker.params.face_2d_margin
    assert m > 0
    x0, y0, x1, y1 = round(60 - m * 40), round(40 - m * 30), round(100 + m * 40), round(70 + m * 30)
    assert changed[y0 + 1:y1 - 1, x0 + 1:x1 - 1].mean() > 0.95  # the box and its margin
    outside = np.ones_like(changed)
    outside[y0:y1, x0:x1] = False
    assert not changed[outside].any()
    worker.params = RunParams(method="blur", face_2d_margin=0.0)
    tight = np.any(worker.hide_2d_faces(image.copy(), image, [box], None, {})[0] != image, axis=2)
    assert not tight[:40].any() and not tight[:, :60].any() and tight[40:70, 60:100].mean() > 0.95
