"""Face-localization evaluation: IoU, Hungarian matching, recall/precision/F1, holistic recall,
breakdowns, validation errors and the ``disguisor eval`` command. Expected numbers are worked
out by hand in the comments."""

import json
from pathlib import Path

import numpy as np
import pytest

from disguisor.errors import InputError
from disguisor.evaluate import (
    box_iou,
    evaluate,
    ground_truth_from_json,
    iou,
    load_camera_roles,
    load_ground_truth,
    load_predictions,
    match_boxes,
    predictions_from_json,
)
from disguisor.evaluate.report import result_to_json
from tests.conftest import disguisor_cli

ROOT = Path(__file__).resolve().parents[1]


# --- builders -------------------------------------------------------------------------------

def _img(image_id, camera, frame, scenario=None, role=None, width=100, height=100):
    out = {"id": image_id, "file_name": f"{camera}/color/{frame:06d}.jpg", "width": width, "height": height,
           "camera": camera, "frame": frame}
    if scenario is not None:
        out["scenario"] = scenario
    if role is not None:
        out["role"] = role
    return out


def _gt(images, boxes):
    """boxes: (image_id, person_id, bbox); annotation ids are 1, 2, ... in order."""
    anns = [{"id": i + 1, "image_id": im, "category_id": 1, "bbox": list(b), "person_id": p}
            for i, (im, p, b) in enumerate(boxes)]
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "face"}]}


def _preds(boxes):
    """boxes: (image_id, bbox) -> COCO results list."""
    return [{"image_id": im, "category_id": 1, "bbox": list(b), "score": 0.9} for im, b in boxes]


def _run_eval(gt_doc, pred_list, **kw):
    gt = ground_truth_from_json(gt_doc)
    return evaluate(gt, predictions_from_json(pred_list, gt), **kw)


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


# --- IoU and matching -----------------------------------------------------------------------

def test_iou_of_known_boxes():
    # half-shifted: overlap 5 x 10 = 50, union 100 + 100 - 50 = 150 -> 1/3
    assert iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(1 / 3)
    # contained: overlap 5 x 5 = 25, union 100 -> 0.25
    assert iou([0, 0, 10, 10], [2, 2, 5, 5]) == pytest.approx(0.25)
    # diagonal shift: overlap 5 x 5 = 25, union 200 - 25 = 175 -> 1/7
    assert iou([0, 0, 10, 10], [5, 5, 10, 10]) == pytest.approx(1 / 7)
    assert iou([3, 4, 10, 20], [3, 4, 10, 20]) == pytest.approx(1.0)
    assert iou([0, 0, 10, 10], [10, 0, 10, 10]) == 0.0  # touching edges share no area
    assert iou([0, 0, 10, 10], [50, 50, 5, 5]) == 0.0
    assert iou([5, 5, 0, 0], [5, 5, 0, 0]) == 0.0  # no area at all: 0, not NaN
    m = box_iou(np.array([[0, 0, 10, 10], [5, 0, 10, 10]]), np.array([[0, 0, 10, 10], [2, 2, 5, 5], [90, 90, 1, 1]]))
    assert m.shape == (2, 3)
    # row 2: [5,0,10,10] vs [0,0,10,10] = 1/3; vs [2,2,5,5]: overlap x 5..7 = 2, y 2..7 = 5 -> 10,
    # union 100 + 25 - 10 = 115 -> 2/23
    np.testing.assert_allclose(m, [[1, 0.25, 0], [1 / 3, 2 / 23, 0]])


def test_hungarian_beats_greedy():
    # All boxes 10 px high at y = 0; only x differs (1D intervals).
    #   G1 = [10, 20], G2 = [15, 25]; P1 = [12, 22], P2 = [6, 16].
    #   G1-P1: overlap 8 -> 80 / (200 - 80) = 2/3   (the best single pair)
    #   G1-P2: overlap 6 -> 60 / 140 = 3/7 ~ 0.429  (>= 0.4)
    #   G2-P1: overlap 7 -> 70 / 130 = 7/13 ~ 0.538 (>= 0.4)
    #   G2-P2: overlap 1 -> 10 / 190 = 1/19 ~ 0.053 (< 0.4)
    # Greedy takes G1-P1 first and leaves G2 with P2 (below threshold): 1 match.
    # Hungarian: G1-P2 + G2-P1 = 3/7 + 7/13 ~ 0.967 > 2/3 + 1/19 ~ 0.719: 2 matches.
    gt_boxes = np.array([[10, 0, 10, 10], [15, 0, 10, 10]], float)
    pred_boxes = np.array([[12, 0, 10, 10], [6, 0, 10, 10]], float)
    m = box_iou(gt_boxes, pred_boxes)
    np.testing.assert_allclose(m, [[2 / 3, 3 / 7], [7 / 13, 1 / 19]])
    assert np.unravel_index(m.argmax(), m.shape) == (0, 0) and m[1, 1] < 0.4  # greedy's trap
    pairs = match_boxes(gt_boxes, pred_boxes, 0.4)
    assert sorted((g, p) for g, p, _ in pairs) == [(0, 1), (1, 0)]
    assert sum(v for _, _, v in pairs) == pytest.approx(3 / 7 + 7 / 13)

    doc = _gt([_img(1, "wfc1", 0, width=40, height=10)], [(1, 1, gt_boxes[0]), (1, 2, gt_boxes[1])])
    res = _run_eval(doc, _preds([(1, pred_boxes[0]), (1, pred_boxes[1])]))
    assert (res.overall.matched, res.overall.recall, res.overall.precision) == (2, 1.0, 1.0)
    assert {(m.gt_id, m.prediction_index) for m in res.matches} == {(1, 1), (2, 0)}


def test_more_matches_beat_one_excellent_match():
    # 1D boxes, 10 px high. G1 = [0, 10], G2 = [4, 14]; P1 = [0.25, 10.25], P2 = [-4, 6].
    #   G1-P1: 9.75 / 10.25 ~ 0.951;  G2-P1: 6.25 / 13.75 ~ 0.455
    #   G1-P2: 6 / 14 ~ 0.429;        G2-P2: 2 / 18 ~ 0.111 (< 0.4)
    # Maximum total IoU alone would take G1-P1 (0.951 > 0.429 + 0.455 = 0.883): one match.
    # Matching must prefer two matches: G1-P2 and G2-P1.
    gt_boxes = np.array([[0, 0, 10, 10], [4, 0, 10, 10]], float)
    pred_boxes = np.array([[0.25, 0, 10, 10], [-4, 0, 10, 10]], float)
    m = box_iou(gt_boxes, pred_boxes)
    np.testing.assert_allclose(m, [[9.75 / 10.25, 6 / 14], [6.25 / 13.75, 2 / 18]])
    pairs = match_boxes(gt_boxes, pred_boxes, 0.4)
    assert sorted((g, p) for g, p, _ in pairs) == [(0, 1), (1, 0)]


def test_threshold_boundary():
    # GT [0,0,10,10] (area 100). P1 = [0,0,10,4]: overlap 40, union 100 -> IoU exactly 0.4.
    # P2 (other image) = [0,0,10,3.99]: overlap 39.9, union 100 -> 0.399.
    doc = _gt([_img(1, "a", 0), _img(2, "b", 0)], [(1, 1, [0, 0, 10, 10]), (2, 1, [0, 0, 10, 10])])
    preds = _preds([(1, [0, 0, 10, 4]), (2, [0, 0, 10, 3.99])])
    assert iou([0, 0, 10, 10], [0, 0, 10, 4]) == 0.4
    res = _run_eval(doc, preds)
    assert res.overall.matched == 1 and res.per_camera["a"].recall == 1.0 and res.per_camera["b"].recall == 0.0
    assert res.matches[0].iou == 0.4
    # the threshold is configurable: at 0.3 both count (0.399 >= 0.3), at 0.41 neither
    assert _run_eval(doc, preds, iou_threshold=0.3).overall.matched == 2
    assert _run_eval(doc, preds, iou_threshold=0.41).overall.matched == 0
    # Exactly 0.4 on paper, 0.3999999999999999 in floating point (offset 0.1): still counts.
    g, p = [0.1, 0.1, 10, 10], [0.1, 0.1, 10, 4]
    assert iou(g, p) < 0.4
    assert len(match_boxes(np.array([g]), np.array([p]), 0.4)) == 1
    # ...but 0.4 - 1e-6 does not: [0,0,10,3.9999999] -> 0.39999999
    assert match_boxes(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 3.9999999]]), 0.4) == []


# --- recall, precision, holistic recall -----------------------------------------------------

def test_holistic_needs_every_view():
    # Person 7 is visible in cameras a, b, c at frames 0 and 1 (same box A everywhere).
    # Frame 0: found in a and b, missed in c (no prediction) -> 2 of 3 views: not holistic.
    # Frame 1: found in a, b and c -> 3 of 3: holistic.
    A = [10, 10, 20, 20]
    images = [_img(i + 1, cam, f) for i, (f, cam) in enumerate((f, c) for f in (0, 1) for c in "abc")]
    doc = _gt(images, [(i, 7, A) for i in range(1, 7)])
    res = _run_eval(doc, _preds([(1, A), (2, A), (4, A), (5, A), (6, A)]))
    # boxes: 6, matched 5 -> recall 5/6; faces (frame 0, frame 1): 2, found 1 -> 1/2
    assert (res.overall.gt, res.overall.matched) == (6, 5)
    assert res.overall.recall == pytest.approx(5 / 6)
    assert (res.overall.faces, res.overall.faces_found, res.overall.holistic_recall) == (2, 1, 0.5)
    assert len(res.holistic_misses) == 1
    miss = res.holistic_misses[0]
    assert (miss.frame, miss.person_id, miss.cameras, miss.missed_cameras) == (0, 7, ("a", "b", "c"), ("c",))
    assert res.missed == (3,)
    # With the frame-0 view in c found too: 3 of 3 views at both frames -> 2/2.
    res = _run_eval(doc, _preds([(i, A) for i in range(1, 7)]))
    assert (res.overall.faces, res.overall.faces_found, res.overall.holistic_recall) == (2, 2, 1.0)
    assert res.holistic_misses == ()


def test_precision_with_false_positives_and_one_to_one():
    A, B = [10, 10, 20, 20], [60, 60, 20, 20]
    doc = _gt([_img(1, "a", 0)], [(1, 1, A), (1, 2, B)])
    # A and B found, plus a false positive far away: precision 2/3, recall 2/2,
    # F1 = 2 * 2 / (2 gt + 3 predictions) = 0.8
    res = _run_eval(doc, _preds([(1, A), (1, B), (1, [40, 40, 5, 5])]))
    assert res.overall.precision == pytest.approx(2 / 3)
    assert res.overall.recall == 1.0 and res.overall.f1 == pytest.approx(0.8)
    # A duplicate detection of A (shifted 1 px: IoU 19*20/(800-380) = 380/420 ~ 0.905) is a false
    # positive: one-to-one matching. Matched 1 of 2 GT and 1 of 2 predictions -> all 0.5.
    res = _run_eval(doc, _preds([(1, A), (1, [11, 10, 20, 20])]))
    assert (res.overall.matched, res.overall.recall, res.overall.precision, res.overall.f1) == (1, 0.5, 0.5, 0.5)
    assert res.overall.mean_iou == 1.0  # the exact copy won (IoU 1), not the shifted one
    assert res.missed == (2,)


def test_empty_predictions(tmp_path):
    A = [10, 10, 20, 20]
    doc = _gt([_img(1, "a", 0), _img(2, "b", 0)], [(1, 1, A), (2, 1, A)])
    gt = load_ground_truth(_write(tmp_path / "gt.json", doc))
    for form in ([], {"annotations": []}):
        res = evaluate(gt, load_predictions(_write(tmp_path / "p.json", form), gt))
        # 0 of 2 boxes, no predictions: precision undefined, F1 = 0 / (2 + 0) = 0, holistic 0/1
        s = res.overall
        assert (s.gt, s.predictions, s.matched, s.recall, s.precision, s.f1) == (2, 0, 0, 0.0, None, 0.0)
        assert (s.faces, s.faces_found, s.holistic_recall) == (1, 0, 0.0)
        assert res.missed == (1, 2)
    out = result_to_json(res)
    assert out["overall"]["precision"] is None and out["overall"]["recall"] == 0.0


def test_images_without_faces():
    # image 1 has no face and no prediction; image 2 has no face and one false positive
    doc = _gt([_img(1, "a", 0), _img(2, "b", 0)], [])
    res = _run_eval(doc, _preds([(2, [10, 10, 20, 20])]))
    a, b = res.per_camera["a"], res.per_camera["b"]
    # camera a: nothing to count -> every ratio undefined
    assert (a.recall, a.precision, a.f1, a.holistic_recall) == (None, None, None, None)
    # camera b: 0 of 1 predictions right -> precision 0, F1 = 0 / (0 + 1) = 0, recall undefined
    assert (b.recall, b.precision, b.f1, b.faces) == (None, 0.0, 0.0, 0)
    assert (res.overall.predictions, res.overall.matched) == (1, 0)


def test_other_categories_are_ignored():
    A = [10, 10, 20, 20]
    doc = _gt([_img(1, "a", 0)], [(1, 1, A)])
    doc["categories"].append({"id": 2, "name": "hand"})
    doc["annotations"].append({"id": 9, "image_id": 1, "category_id": 2, "bbox": [50, 50, 10, 10]})
    preds = _preds([(1, A)]) + [{"image_id": 1, "category_id": 2, "bbox": [50, 50, 10, 10], "score": 1.0}]
    res = _run_eval(doc, preds)
    # the hand box and the hand prediction are neither GT nor predictions: 1/1 and 1/1
    assert (res.overall.gt, res.overall.predictions, res.overall.matched) == (1, 1, 1)
    assert (res.ignored_annotations, res.ignored_predictions) == (1, 1)


# --- breakdowns per camera, role, scenario --------------------------------------------------

A, B = [10, 10, 20, 20], [60, 60, 20, 20]
FP1, FP2 = [40, 40, 5, 5], [80, 0, 10, 10]
CAMS = {1: ("s1", 0, "wfc1"), 2: ("s1", 0, "wfc2"), 3: ("s1", 0, "sc1"),
        4: ("s1", 1, "wfc1"), 5: ("s1", 1, "wfc2"), 6: ("s1", 1, "sc1"),
        7: ("s2", 0, "wfc1"), 8: ("s2", 0, "sc1")}
ROLE = {"wfc1": "workflow", "wfc2": "workflow", "sc1": "surgical"}


def _scene(with_roles=True):
    """Two scenarios, cameras wfc1, wfc2 (workflow) and sc1 (surgical), 11 GT boxes, 11 predictions.

    GT (person 1 = box A, person 2 = box B):
      s1 f0: wfc1 p1 p2 | wfc2 p1 p2 | sc1 p1     (5 boxes)
      s1 f1: wfc1 p1 p2 | wfc2 p1    | sc1 p1     (4)
      s2 f0: wfc1 p1    | sc1 p1                  (2)
    Predictions: everything found except s1 f0 sc1 p1 (no prediction) and s1 f1 wfc1 p2 (a false
    positive FP1 elsewhere instead); one more false positive FP2 in s2 f0 sc1.
    """
    images = [_img(i, cam, f, scen, ROLE[cam] if with_roles else None) for i, (scen, f, cam) in CAMS.items()]
    gt = [(1, 1, A), (1, 2, B), (2, 1, A), (2, 2, B), (3, 1, A),
          (4, 1, A), (4, 2, B), (5, 1, A), (6, 1, A),
          (7, 1, A), (8, 1, A)]
    preds = [(1, A), (1, B), (2, A), (2, B),
             (4, A), (4, FP1), (5, A), (6, A),
             (7, A), (8, A), (8, FP2)]
    return _gt(images, gt), _preds(preds)


def _check_scene(res):
    s = res.overall
    # matched 9 (all but img3 p1 and img4 p2) of 11 GT and of 11 predictions; F1 = 18/22
    assert (s.images, s.gt, s.predictions, s.matched) == (8, 11, 11, 9)
    assert s.recall == pytest.approx(9 / 11) and s.precision == pytest.approx(9 / 11)
    assert s.f1 == pytest.approx(18 / 22)
    # faces: (s1,0,p1) missed in sc1; (s1,0,p2) found; (s1,1,p1) found; (s1,1,p2) missed; (s2,0,p1) found
    assert (s.faces, s.faces_found) == (5, 3)

    cam = res.per_camera
    assert list(cam) == ["sc1", "wfc1", "wfc2"]
    # wfc1 (imgs 1,4,7): gt 2+2+1 = 5, preds 2+2+1 = 5, matched 2+1+1 = 4; faces 5, found 4
    assert (cam["wfc1"].gt, cam["wfc1"].predictions, cam["wfc1"].matched) == (5, 5, 4)
    assert (cam["wfc1"].faces, cam["wfc1"].faces_found) == (5, 4)
    # wfc2 (imgs 2,5): gt 3, preds 3, matched 3
    assert (cam["wfc2"].gt, cam["wfc2"].predictions, cam["wfc2"].matched, cam["wfc2"].recall) == (3, 3, 3, 1.0)
    # sc1 (imgs 3,6,8): gt 3, preds 0+1+2 = 3, matched 2; per camera holistic = recall = 2/3
    assert (cam["sc1"].gt, cam["sc1"].predictions, cam["sc1"].matched) == (3, 3, 2)
    assert cam["sc1"].holistic_recall == pytest.approx(2 / 3) == pytest.approx(cam["sc1"].recall)

    role = res.per_role
    assert list(role) == ["workflow", "surgical"]
    # workflow = wfc1 + wfc2: gt 8, preds 8, matched 7. Faces with a workflow box: all 5; only
    # (s1,1,p2) missed there -> 4/5. (s1,0,p1) counts as found for workflow (its miss is in sc1).
    w = role["workflow"]
    assert (w.gt, w.predictions, w.matched, w.faces, w.faces_found) == (8, 8, 7, 5, 4)
    # surgical = sc1: faces (s1,0,p1) missed, (s1,1,p1), (s2,0,p1) found -> 2/3
    su = role["surgical"]
    assert (su.gt, su.predictions, su.matched, su.faces, su.faces_found) == (3, 3, 2, 3, 2)
    assert res.camera_roles == {"sc1": "surgical", "wfc1": "workflow", "wfc2": "workflow"}

    sc = res.per_scenario
    assert list(sc) == ["s1", "s2"]
    # s1: gt 9, preds 8, matched 7 -> recall 7/9, precision 7/8, F1 14/17; faces 4, found 2
    assert (sc["s1"].gt, sc["s1"].predictions, sc["s1"].matched) == (9, 8, 7)
    assert sc["s1"].f1 == pytest.approx(14 / 17)
    assert (sc["s1"].faces, sc["s1"].faces_found, sc["s1"].holistic_recall) == (4, 2, 0.5)
    # s2: gt 2, preds 3, matched 2 -> recall 1, precision 2/3, F1 4/5; faces 1, found 1
    assert (sc["s2"].recall, sc["s2"].f1, sc["s2"].holistic_recall) == (1.0, pytest.approx(0.8), 1.0)
    assert sc["s2"].precision == pytest.approx(2 / 3)

    assert sorted(res.missed) == [5, 7]  # annotation ids of img3 p1 and img4 p2
    assert [(m.scenario, m.frame, m.person_id, m.missed_cameras) for m in res.holistic_misses] == [
        ("s1", 0, 1, ("sc1",)), ("s1", 1, 2, ("wfc1",))]


def test_breakdowns_with_roles_from_images():
    gt_doc, preds = _scene(with_roles=True)
    _check_scene(_run_eval(gt_doc, preds))


def test_breakdowns_with_roles_from_calibration():
    gt_doc, preds = _scene(with_roles=False)
    gt = ground_truth_from_json(gt_doc)
    pr = predictions_from_json(preds, gt)
    roles = load_camera_roles(ROOT / "calib" / "example_calibration.json", gt)
    assert roles["sc1"] == "surgical" and roles["wfc2"] == "workflow"
    _check_scene(evaluate(gt, pr, camera_roles=roles))
    # neither image roles nor a calibration: one group "unknown" holding everything
    res = evaluate(gt, pr)
    assert list(res.per_role) == ["unknown"] and res.per_role["unknown"] == res.overall


def test_no_scenarios_means_no_scenario_breakdown():
    doc = _gt([_img(1, "a", 0), _img(2, "b", 0)], [(1, 1, A), (2, 1, A)])
    res = _run_eval(doc, _preds([(1, A)]))
    assert res.per_scenario == {}
    assert (res.overall.faces, res.overall.faces_found, res.overall.recall) == (1, 0, 0.5)


# --- validation -----------------------------------------------------------------------------

def _valid_gt():
    return _gt([_img(1, "wfc1", 0, width=100, height=50), _img(2, "wfc2", 0, width=100, height=50)],
               [(1, 1, [10, 10, 20, 20]), (2, 1, [10, 10, 20, 20])])


def _set(path, value):
    def mutate(doc):
        *head, last = path
        for key in head:
            doc = doc[key]
        if value is _DELETE:
            del doc[last]
        else:
            doc[last] = value
    return mutate


_DELETE = object()
NAN = float("nan")

GT_ERRORS = [
    (_set(["images", 0, "camera"], _DELETE), "images[0].camera", "missing required field"),
    (_set(["images", 1, "frame"], _DELETE), "images[1].frame", "missing required field"),
    (_set(["images", 0, "frame"], 1.5), "images[0].frame", "must be an integer"),
    (_set(["images", 0, "width"], _DELETE), "images[0].width", "missing"),
    (_set(["images"], _DELETE), "images", "missing required field"),
    (_set(["images", 1, "id"], 1), "images[1].id", "duplicate image id 1"),
    (_set(["images", 1, "camera"], "wfc1"), "images[1]", "same camera 'wfc1' and frame 0 as images[0]"),
    (_set(["annotations", 1, "id"], 1), "annotations[1].id", "duplicate annotation id 1"),
    (_set(["annotations", 1, "image_id"], 99), "annotations[1].image_id", "unknown image id 99"),
    (_set(["annotations", 0, "person_id"], _DELETE), "annotations[0].person_id", "missing required field"),
    (_set(["annotations", 0, "bbox"], [10, 10, -5, 20]), "annotations[0].bbox", "negative width or height"),
    (_set(["annotations", 0, "bbox"], [10, 10, 0, 20]), "annotations[0].bbox", "zero width or height"),
    (_set(["annotations", 0, "bbox"], [90, 10, 12, 20]), "annotations[0].bbox", "outside its image"),  # 102 > 101
    (_set(["annotations", 0, "bbox"], [10, -1.5, 20, 20]), "annotations[0].bbox", "outside its image"),
    (_set(["annotations", 0, "bbox"], [10, NAN, 20, 20]), "annotations[0].bbox", "finite number"),
    (_set(["annotations", 0, "bbox"], [10, 10, 20]), "annotations[0].bbox", "[x, y, width, height]"),
    (_set(["annotations", 0, "visible_fraction"], 1.5), "annotations[0].visible_fraction", "between 0 and 1"),
    (_set(["annotations", 0, "visible_fraction"], NAN), "annotations[0].visible_fraction", "finite"),
    (_set(["annotations", 0, "category_id"], 5), "annotations[0].category_id", "not in 'categories'"),
    (_set(["annotations", 1, "image_id"], 1), "annotations[1].person_id", "person 1 already has a face box"),
]


@pytest.mark.parametrize("mutate,field,words", GT_ERRORS, ids=[f"{e[1]}:{e[2][:20]}" for e in GT_ERRORS])
def test_bad_ground_truth_names_file_and_field(tmp_path, mutate, field, words):
    doc = _valid_gt()
    mutate(doc)
    path = _write(tmp_path / "faces_gt.json", doc)
    with pytest.raises(InputError) as info:
        load_ground_truth(path)
    assert info.value.field == field
    assert str(info.value).startswith(f"{path}: {field}: ")
    assert words in str(info.value)


def test_ground_truth_tolerance_and_file_errors(tmp_path):
    doc = _valid_gt()
    # 1 px outside on every side (x = -1, x + w = 101 = width + 1, y + h = 51 = height + 1) is accepted
    doc["annotations"][0]["bbox"] = [-1, -1, 102, 52]
    gt = load_ground_truth(_write(tmp_path / "gt.json", doc))
    assert gt.faces[0].bbox == (-1.0, -1.0, 102.0, 52.0) and len(gt.images) == 2
    with pytest.raises(InputError, match=r"nope\.json: file not found"):
        load_ground_truth(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InputError, match=r"broken\.json: not valid JSON"):
        load_ground_truth(tmp_path / "broken.json")
    with pytest.raises(InputError, match=r"list\.json: \(top level\): expected a JSON object"):
        load_ground_truth(_write(tmp_path / "list.json", []))


PRED_ERRORS = [
    ([{"image_id": 99, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 1}], "[0].image_id", "unknown image id 99"),
    ({"annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
                      {"image_id": 7, "category_id": 1, "bbox": [1, 1, 5, 5]}]},
     "annotations[1].image_id", "unknown image id 7"),
    ([{"image_id": 1, "category_id": 1, "score": 1}], "[0].bbox", "missing required field"),
    ([{"image_id": 1, "bbox": [1, 1, 5, 5]}], "[0].category_id", "missing required field"),
    ([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": NAN}], "[0].score", "finite number"),
    ([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, -1]}], "[0].bbox", "negative width or height"),
    ([{"image_id": 2, "category_id": 1, "bbox": [1, 40, 5, 12]}], "[0].bbox", "outside its image"),  # 52 > 51
    ({"detections": []}, "(top level)", "expected a JSON list"),
    ("boxes", "(top level)", "must be a list"),
]


@pytest.mark.parametrize("data,field,words", PRED_ERRORS, ids=[e[1] for e in PRED_ERRORS])
def test_bad_predictions_name_file_and_field(tmp_path, data, field, words):
    gt = ground_truth_from_json(_valid_gt())
    path = _write(tmp_path / "dets.json", data)
    with pytest.raises(InputError) as info:
        load_predictions(path, gt)
    assert info.value.field == field
    assert str(info.value).startswith(f"{path}: {field}: ")
    assert words in str(info.value)


def test_predictions_file_errors_and_optional_fields(tmp_path):
    gt = ground_truth_from_json(_valid_gt())
    with pytest.raises(InputError, match=r"missing\.json: file not found"):
        load_predictions(tmp_path / "missing.json", gt)
    (tmp_path / "bad.json").write_text("[1, 2,")
    with pytest.raises(InputError, match=r"bad\.json: not valid JSON"):
        load_predictions(tmp_path / "bad.json", gt)
    # score and person_id are optional; a zero-size detection is allowed (it can only be a false positive)
    preds = load_predictions(_write(tmp_path / "ok.json", [
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "person_id": 4},
        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 0, 0], "score": 0.1}]), gt)
    assert [(d.score, d.person_id, d.index) for d in preds.detections] == [(None, 4, 0), (0.1, None, 1)]
    res = evaluate(gt, preds)
    assert (res.overall.matched, res.overall.precision) == (1, 0.5)


def test_evaluate_refuses_bad_threshold():
    gt = ground_truth_from_json(_valid_gt())
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate(gt, predictions_from_json([], gt), iou_threshold=0.0)


# --- command line ---------------------------------------------------------------------------

def _cli(*args):
    return disguisor_cli(*args, timeout=300)


def _one_line_error(res, *words):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_cli_eval_table_json_and_plots(tmp_path):
    gt_doc, preds = _scene(with_roles=False)
    gt_path, pred_path = _write(tmp_path / "gt.json", gt_doc), _write(tmp_path / "pred.json", {"annotations": preds})
    out, plots = tmp_path / "out" / "eval.json", tmp_path / "plots"
    res = _cli("eval", "--gt", gt_path, "--pred", pred_path, "--json", out, "--plot", plots,
               "--calibration", ROOT / "calib" / "example_calibration.json")
    assert res.returncode == 0, res.stderr
    assert "holistic" in res.stdout and "face localization (IoU >= 0.4)" in res.stdout
    assert "0.818 9/11" in res.stdout  # overall recall and precision: 9/11
    assert "0.600 3/5" in res.stdout  # overall holistic recall
    assert "0.875 7/8" in res.stdout  # workflow recall and s1 precision
    assert "sc1 (surgical)" in res.stdout and "0.667 2/3" in res.stdout
    data = json.loads(out.read_text())
    assert data["format"] == "disguisor-eval" and data["iou_threshold"] == 0.4
    assert data["overall"]["gt"] == 11 and data["overall"]["matched"] == 9
    assert data["overall"]["recall"] == pytest.approx(9 / 11) and data["overall"]["holistic_recall"] == 0.6
    assert data["per_role"]["surgical"]["faces_found"] == 2 and data["per_role"]["surgical"]["faces"] == 3
    assert data["per_camera"]["wfc1"]["role"] == "workflow" and data["per_camera"]["wfc1"]["matched"] == 4
    assert data["per_scenario"]["s1"]["precision"] == 7 / 8
    assert sorted(data["missed_annotations"]) == [5, 7]
    assert data["holistic_misses"][1] == {"scenario": "s1", "frame": 1, "person_id": 2, "cameras": ["wfc1"],
                                          "missed_cameras": ["wfc1"]}
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == ["recall_per_camera.png", "recall_per_role.png", "recall_per_scenario.png"]
    import matplotlib.image

    for name in pngs:
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        h, w = matplotlib.image.imread(plots / name).shape[:2]
        assert h == 400 and w >= 400

    # a stricter threshold changes the numbers: an exact box still matches at --iou 1.0
    res = _cli("eval", "--gt", gt_path, "--pred", pred_path, "--iou", "1.0", "--json", out)
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text())["iou_threshold"] == 1.0 and json.loads(out.read_text())["overall"][
        "matched"] == 9


def test_cli_eval_bad_input_one_line_exit_2(tmp_path):
    gt_doc, preds = _scene()
    gt_path = _write(tmp_path / "gt.json", gt_doc)
    preds[3]["image_id"] = 42
    bad = _write(tmp_path / "dets.json", preds)
    out = tmp_path / "eval.json"
    _one_line_error(_cli("eval", "--gt", gt_path, "--pred", bad, "--json", out), "dets.json", "[3].image_id",
                    "unknown image id 42")
    assert not out.exists()
    gt_doc["annotations"][4]["bbox"] = [95, 10, 20, 20]
    _one_line_error(_cli("eval", "--gt", _write(tmp_path / "gt2.json", gt_doc), "--pred", bad), "gt2.json",
                    "annotations[4].bbox", "outside its image")
    _one_line_error(_cli("eval", "--gt", tmp_path / "none.json", "--pred", bad), "none.json", "file not found")
    _one_line_error(_cli("eval", "--gt", gt_path, "--pred", bad, "--iou", "0"), "--iou")
    good = _write(tmp_path / "good.json", _scene()[1])
    (tmp_path / "cal.json").write_text("{}")
    _one_line_error(_cli("eval", "--gt", gt_path, "--pred", good, "--calibration", tmp_path / "cal.json"),
                    "cal.json")


def test_cli_eval_help():
    res = _cli("eval", "--help")
    assert res.returncode == 0 and "--gt" in res.stdout and "--calibration" in res.stdout



def test_covered_fraction_by_hand():
    from disguisor.evaluate.metrics import covered_fraction

    gt = [[10, 10, 10, 10]]                        # area 100
    # two overlapping predictions covering x 10-16 (y 10-20) and y 10-14 (x 10-20): union inside
    # the box = 6*10 + 4*4 = 76 px -> 0.76; the overlap (6*4) is counted once
    assert covered_fraction(gt, [[0, 0, 16, 30], [0, 0, 30, 14]])[0] == pytest.approx(0.76)
    assert covered_fraction(gt, [[5, 5, 30, 30]])[0] == 1.0       # a larger box hides it all
    assert covered_fraction(gt, [[40, 40, 5, 5]])[0] == 0.0
    assert covered_fraction(gt, np.zeros((0, 4)))[0] == 0.0


def test_coverage_counts_oversized_boxes_that_iou_rejects():
    A = [40, 40, 4, 10]                    # a sliver of a mostly hidden face (area 40)
    big = [36, 36, 16, 20]                 # the painted face around it: IoU 40 / 320 = 0.125 < 0.4
    half = [40, 40, 2, 10]                 # covers 20 of 40 px
    doc = _gt([_img(1, "a", 0), _img(2, "b", 0)], [(1, 5, A), (2, 5, A)])
    res = _run_eval(doc, _preds([(1, big), (2, half)]))
    assert res.overall.recall == 0.5       # only the exact half box has IoU 0.5 >= 0.4
    assert (res.overall.covered, res.overall.coverage_recall) == (1, 0.5)   # big covers, half does not
    assert (res.overall.faces_covered, res.overall.holistic_coverage) == (0, 0.0)
    res = _run_eval(doc, _preds([(1, big), (2, big)]), coverage_threshold=0.9)
    assert (res.overall.recall, res.overall.coverage_recall, res.overall.holistic_coverage) == (0.0, 1.0, 1.0)
    res = _run_eval(doc, _preds([(1, big), (2, half)]), coverage_threshold=0.5)
    assert res.overall.holistic_coverage == 1.0


def test_boxes_below_min_visible_are_dont_care(tmp_path):
    """--min-visible: slivers are neither required (recall, holistic) nor held against the
    predictions on them (precision); without it every box counts."""
    images = [_img(1, "c1", 0), _img(2, "c2", 0)]
    doc = _gt(images, [(1, 7, (10, 10, 20, 20)), (2, 7, (50, 50, 4, 12)), (1, 8, (60, 10, 20, 20))])
    doc["annotations"][1]["visible_fraction"] = 0.1   # person 7's sliver in c2
    doc["annotations"][2]["visible_fraction"] = 0.05  # person 8: only a sliver, in c1
    # person 7 found in c1, its sliver in c2 missed by a box beside it; person 8's sliver found
    preds = _preds([(1, (10, 10, 20, 20)), (2, (70, 50, 4, 12)), (1, (60, 10, 20, 20))])
    full = _run_eval(doc, preds)
    assert full.overall.holistic_recall == 0.5 and full.overall.recall == pytest.approx(2 / 3)
    assert full.overall.precision == pytest.approx(2 / 3) and full.dont_care_boxes == 0
    part = _run_eval(doc, preds, min_visible=0.25)
    assert part.overall.faces == 1 and part.overall.holistic_recall == 1.0 and part.overall.recall == 1.0
    # the prediction on person 8's sliver counts nowhere; the one beside person 7's sliver is still wrong
    assert part.overall.predictions == 2 and part.overall.precision == 0.5
    assert part.dont_care_boxes == 2 and part.dont_care_predictions == 1 and part.missed == ()
    assert part.holistic_misses == ()
    assert _run_eval(doc, preds, min_visible=0.0).overall == full.overall
    with pytest.raises(ValueError, match="min_visible"):
        _run_eval(doc, preds, min_visible=1.5)
    gt_path, pred_path = _write(tmp_path / "gt.json", doc), _write(tmp_path / "pred.json", preds)
    res = _cli("eval", "--gt", gt_path, "--pred", pred_path, "--min-visible", "0.25", "--json", tmp_path / "e.json")
    assert res.returncode == 0, res.stderr
    assert "don't care (visible fraction < 0.25): 2 ground-truth box(es), 1 prediction(s)" in res.stdout
    data = json.loads((tmp_path / "e.json").read_text())
    assert data["min_visible"] == 0.25 and data["dont_care"] == {"gt_boxes": 2, "predictions": 1}
    assert data["overall"]["holistic_recall"] == 1.0
    _one_line_error(_cli("eval", "--gt", gt_path, "--pred", pred_path, "--min-visible", "2"), "--min-visible")
