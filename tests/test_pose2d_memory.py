"""MoveNet's per-view memory: boxes that found nobody are skipped in the next images of that view,
and the orientation search pauses in a view where it found nobody (no model runs: crops stubbed)."""

from __future__ import annotations

import numpy as np

from disguisor.pose2d.detector import PersonPose, keypoint_box
from disguisor.pose2d.movenet import MoveNetDetector
from disguisor.pose2d.params import MoveNetParams

IMAGE = np.zeros((720, 1280, 3), np.uint8)
FURNITURE = (100.0, 100.0, 300.0, 400.0)
PERSON = (700.0, 100.0, 900.0, 600.0)


def _person(box: tuple[float, float, float, float], score: float) -> PersonPose:
    x0, y0, x1, y1 = box
    xy = np.column_stack([np.linspace(x0 + 10, x1 - 10, 17), np.linspace(y0 + 10, y1 - 10, 17)])
    kp = np.column_stack([xy, np.full(17, score)])
    found = keypoint_box(kp)
    assert found is not None
    return PersonPose(kp, score, found)


class Stub(MoveNetDetector):
    """Crops answered without a model: a person in PERSON (score ``person_score`` upright, 0.9 at 90
    degrees), nobody elsewhere. ``calls``: (box, angle) of every crop run."""

    def __init__(self, params: MoveNetParams, person_score: float = 0.9) -> None:
        super().__init__(params)
        self.calls: list[tuple[tuple[float, ...], float]] = []
        self.person_score = person_score

    def whole_image(self, image_rgb: np.ndarray) -> list[PersonPose]:
        return []

    def crop(self, image_rgb: np.ndarray, box, angle_deg: float) -> list[PersonPose]:
        self.calls.append((tuple(box), angle_deg))
        if tuple(box) != PERSON:
            return []
        return [_person(PERSON, self.person_score if angle_deg == 0.0 else 0.9)]


def _crops_per_image(det: Stub, images: int, view: str | None, boxes) -> list[list[tuple]]:
    out = []
    for _ in range(images):
        det.calls.clear()
        det.detect(IMAGE, boxes, view)
        out.append(list(det.calls))
    return out


def test_a_box_that_found_nobody_is_skipped_then_cropped_again() -> None:
    params = MoveNetParams(rotations=(0.0,), empty_box_iou=0.8, empty_recheck=2)
    det = Stub(params)
    runs = _crops_per_image(det, 5, "cam", [FURNITURE, PERSON])
    furniture = [sum(box == FURNITURE for box, _ in calls) for calls in runs]
    # cropped, skipped twice (empty_recheck), cropped again, skipped
    assert furniture == [1, 0, 0, 1, 0]
    # the box with a person is cropped in every image
    assert all(sum(box == PERSON for box, _ in calls) == 1 for calls in runs)
    # a box that moved (IoU with the remembered one below 0.8) is new: cropped
    det.calls.clear()
    moved = (FURNITURE[0] + 60.0, FURNITURE[1], FURNITURE[2] + 60.0, FURNITURE[3])
    det.detect(IMAGE, [moved, PERSON], "cam")
    assert (moved, 0.0) in det.calls


def test_without_a_view_nothing_is_remembered() -> None:
    det = Stub(MoveNetParams(rotations=(0.0,)))
    runs = _crops_per_image(det, 3, None, [FURNITURE, PERSON])
    assert [len(calls) for calls in runs] == [2, 2, 2]
    # views are remembered apart
    det = Stub(MoveNetParams(rotations=(0.0,)))
    det.detect(IMAGE, [FURNITURE], "a")
    det.calls.clear()
    det.detect(IMAGE, [FURNITURE], "b")
    assert det.calls == [(FURNITURE, 0.0)]


def test_orientation_search_pauses_where_it_found_nobody() -> None:
    params = MoveNetParams(rotations=(0.0, 90.0, 270.0), empty_box_iou=None, rotate_patience=1, rotate_recheck=3)
    det = Stub(params)
    runs = _crops_per_image(det, 7, "cam", [FURNITURE])
    turned = [sum(angle != 0.0 for _, angle in calls) for calls in runs]
    # searched in image 0 (nobody: 2 more angles), paused, searched again every 3rd image
    assert turned == [2, 0, 0, 2, 0, 0, 2]
    # by default the search never pauses (pausing lost people end to end)
    det = Stub(MoveNetParams(rotations=(0.0, 90.0, 270.0), empty_box_iou=None))
    runs = _crops_per_image(det, 4, "cam", [FURNITURE])
    assert [sum(angle != 0.0 for _, angle in calls) for calls in runs] == [2, 2, 2, 2]


def test_orientation_search_continues_where_it_pays() -> None:
    # the person is weak upright (0.3 < rotate_below) and confident turned: every search gains
    params = MoveNetParams(rotations=(0.0, 90.0, 270.0), empty_box_iou=None, rotate_patience=1, rotate_recheck=3)
    det = Stub(params, person_score=0.3)
    runs = _crops_per_image(det, 4, "cam", [PERSON])
    assert [sum(angle != 0.0 for _, angle in calls) for calls in runs] == [1, 1, 1, 1]
    found = det.detect(IMAGE, [PERSON], "cam")
    assert max(p.score for p in found) == 0.9
