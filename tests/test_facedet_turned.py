"""A face detector run at quarter turns (disguisor/facedet/turned.py)."""

from __future__ import annotations

import numpy as np
import pytest

from disguisor.facedet.turned import TurnedFaceDetector, box_from_turned


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_a_box_of_the_turned_image_maps_back_onto_the_same_pixels(turns):
    image = np.zeros((40, 70), np.uint8)
    image[5:12, 50:63] = 1  # rows 5-11, columns 50-62: the box (50, 5, 13, 7)
    turned = np.rot90(image, turns)
    ys, xs = np.nonzero(turned)
    box = (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
    assert box_from_turned(box, turns, 70, 40) == pytest.approx((50, 5, 13, 7))


class _BrightBlob:
    """A stand-in 'detector' that finds a bright blob only when it is wider than tall (an
    'upright face' of this toy world): it sees the blob in two of the four turns."""

    name = "blob"

    def detect(self, rgb):
        ys, xs = np.nonzero(rgb[..., 0] > 200)
        if not len(xs):
            return np.zeros((0, 5))
        w, h = xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
        return np.array([[xs.min(), ys.min(), w, h, 0.9]]) if w > h else np.zeros((0, 5))


def test_turns_find_what_the_upright_image_hides_and_report_it_in_image_pixels():
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[10:40, 30:40] = 255  # taller than wide: the upright pass sees nothing
    assert len(_BrightBlob().detect(rgb)) == 0
    boxes = TurnedFaceDetector(_BrightBlob()).detect(rgb)
    assert len(boxes) == 1  # found at 90 and 270 degrees, merged
    assert boxes[0][:4] == pytest.approx((30, 10, 10, 30))


def test_blazeface_finds_a_real_face_upside_down():
    """The astronaut photograph (scikit-image, public domain) turned upside down: BlazeFace
    alone misses the face, the turned detector finds it where it is."""
    data = pytest.importorskip("skimage.data")
    from disguisor.facedet import make_face_detector

    photo = np.ascontiguousarray(data.astronaut()[::-1, ::-1])  # 180 degrees
    base = make_face_detector("blazeface")
    upright_hits = base.detect(photo)
    boxes = TurnedFaceDetector(base).detect(photo)
    # the face: x 170-250, y 40-130 in the original (512 x 512) -> x 262-342, y 382-472 here
    centre = [(b[0] + b[2] / 2, b[1] + b[3] / 2) for b in boxes]
    assert any(262 < cx < 342 and 382 < cy < 472 for cx, cy in centre)
    assert not any(262 < b[0] + b[2] / 2 < 342 and 382 < b[1] + b[3] / 2 < 472 for b in upright_hits)


def test_landmarks_found_at_a_turn_map_back_onto_the_face():
    class _BlobWithMarks(_BrightBlob):
        def detect_landmarks(self, rgb):
            boxes = self.detect(rgb)
            marks = [np.array([[b[0] + 1, b[1] + 1], [b[0] + b[2] - 1, b[1] + 1], [b[0] + b[2] / 2, b[1] + b[3] / 2],
                               [b[0] + 1, b[1] + b[3] - 1], [b[0] + b[2] - 1, b[1] + b[3] - 1]]) for b in boxes]
            return boxes, np.array(marks).reshape(-1, 5, 2)

    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[10:40, 30:40] = 255
    boxes, marks = TurnedFaceDetector(_BlobWithMarks()).detect_landmarks(rgb)
    assert len(boxes) == 2 and marks.shape == (2, 5, 2)  # at 90 and 270 degrees, not merged
    for b, m in zip(boxes, marks, strict=True):
        assert b[:4] == pytest.approx((30, 10, 10, 30))
        assert np.all((m[:, 0] > 30) & (m[:, 0] < 40) & (m[:, 1] > 10) & (m[:, 1] < 40))
        assert m[2] == pytest.approx((35, 25))  # the centre stays the centre
