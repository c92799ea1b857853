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
