"""keypoints2d.json: round trip, per-frame views, and validation errors that name the entry."""

import copy
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from disguisor.errors import InputError
from disguisor.pose2d import (
    COCO_KEYPOINTS,
    NUM_JOINTS,
    keypoints_from_json,
    keypoints_to_json,
    load_keypoints,
    save_keypoints,
)
from disguisor.synth.rig import default_rig


def _kp(seed: int = 0, missing: tuple[int, ...] = ()) -> list[float]:
    rng = np.random.default_rng(seed)
    out = []
    for j in range(NUM_JOINTS):
        if j in missing:
            out += [0.0, 0.0, 0.0]
        else:
            out += [float(rng.uniform(0, 1279)), float(rng.uniform(0, 719)), float(rng.uniform(0.3, 1.0))]
    return out


def _doc() -> dict:
    """Two frames x two cameras; three people; image 4 has nobody."""
    images = [{"id": i + 1, "file_name": f"{cam}/color/{frame:06d}.jpg", "width": 1280, "height": 720,
               "camera": cam, "frame": frame}
              for i, (cam, frame) in enumerate([("wfc1", 0), ("wfc2", 0), ("wfc1", 1), ("wfc2", 1)])]
    anns = [
        {"id": 10, "image_id": 1, "category_id": 1, "keypoints": _kp(1), "score": 0.9, "bbox": [10, 20, 100, 300],
         "person_id": 1},
        {"id": 11, "image_id": 1, "category_id": 1, "keypoints": _kp(2, missing=(3, 4)), "score": 0.8},
        {"id": 12, "image_id": 2, "category_id": 1, "keypoints": _kp(3), "score": 0.7, "person_id": 1},
        {"id": 13, "image_id": 3, "category_id": 1, "keypoints": _kp(4), "score": 0.95},
    ]
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(COCO_KEYPOINTS), "skeleton": []}],
            "info": {"detector": "test"}}


def _error(doc, calibration=None) -> InputError:
    with pytest.raises(InputError) as exc:
        keypoints_from_json(doc, source="kp.json", calibration=calibration)
    return exc.value


def test_round_trip_and_views(tmp_path: Path):
    kp = keypoints_from_json(_doc())
    assert kp.frames == [0, 1]
    assert kp.cameras == ["wfc1", "wfc2"]
    by_frame = kp.by_frame()
    assert {cam: len(d) for cam, d in by_frame[0].items()} == {"wfc1": 2, "wfc2": 1}
    assert {cam: len(d) for cam, d in by_frame[1].items()} == {"wfc1": 1, "wfc2": 0}   # empty image kept
    assert {cam: len(d) for cam, d in kp.views(0).items()} == {"wfc1": 2, "wfc2": 1}
    det = by_frame[0]["wfc1"][1]
    assert det.keypoints.shape == (17, 3)
    assert det.keypoints[3, 2] == 0.0 and det.keypoints[4, 2] == 0.0
    assert det.person_id is None and by_frame[0]["wfc1"][0].person_id == 1
    assert by_frame[0]["wfc1"][0].bbox == (10.0, 20.0, 100.0, 300.0)

    path = tmp_path / "out" / "keypoints2d.json"
    save_keypoints(path, kp)
    back = load_keypoints(path, default_rig(1280, 720, 4))
    assert [d.id for d in back.detections] == [10, 11, 12, 13]
    for a, b in zip(kp.detections, back.detections, strict=True):
        assert np.abs(a.keypoints - b.keypoints).max() < 1e-3
        assert a.score == pytest.approx(b.score, abs=1e-4)
    assert back.info == {"detector": "test"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["keypoints2d.json"]   # no temporary left behind
    assert json.loads(path.read_text())["categories"][0]["keypoints"] == list(COCO_KEYPOINTS)
    assert keypoints_to_json(back)["annotations"][0]["person_id"] == 1


@pytest.mark.parametrize("mutate, field, words", [
    (lambda d: d["annotations"][3].__setitem__("image_id", 99), "annotations[3].image_id", "unknown image id 99"),
    (lambda d: d["annotations"][2].__setitem__("keypoints", d["annotations"][2]["keypoints"][:48]),
     "annotations[2].keypoints", "expected 51 numbers"),
    (lambda d: d["annotations"][1]["keypoints"].__setitem__(7, math.nan), "annotations[1].keypoints",
     "joint 2 (right_eye) y: must be a finite number"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, math.inf), "annotations[0].keypoints",
     "joint 0 (nose) x"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(5, 1.5), "annotations[0].keypoints",
     "joint 1 (left_eye): score must be between 0 and 1"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(50, -0.1), "annotations[0].keypoints",
     "joint 16 (right_ankle)"),
    (lambda d: d["annotations"][2].__setitem__("score", 1.2), "annotations[2].score", "between 0 and 1"),
    (lambda d: d["annotations"][2].__setitem__("score", math.nan), "annotations[2].score", "finite"),
    (lambda d: d["annotations"][3].__setitem__("id", 10), "annotations[3].id", "duplicate annotation id 10"),
    (lambda d: d["images"][2].__setitem__("id", 1), "images[2].id", "duplicate image id 1"),
    (lambda d: d["images"][3].__setitem__("frame", 0), "images[3]", "same camera 'wfc2' and frame 0"),
    (lambda d: d["annotations"][1].__setitem__("category_id", 2), "annotations[1].category_id", "category"),
    (lambda d: d["annotations"][1].pop("keypoints"), "annotations[1].keypoints", "missing required field"),
    (lambda d: d["annotations"][0].__setitem__("bbox", [0, 0, -5, 10]), "annotations[0].bbox", "negative"),
    (lambda d: d["images"][0].__setitem__("frame", "0"), "images[0].frame", "integer"),
    (lambda d: d["categories"][0].__setitem__("keypoints", list(COCO_KEYPOINTS[::-1])), "categories[0].keypoints",
     "COCO order"),
    (lambda d: d.__setitem__("annotations", {}), "annotations", "must be a list"),
])
def test_validation_errors_name_the_entry(mutate, field, words):
    doc = copy.deepcopy(_doc())
    mutate(doc)
    err = _error(doc)
    assert err.field == field
    assert words in err.message
    assert str(err).startswith(f"kp.json: {field}: ")


def test_calibration_checks_cameras_and_sizes():
    calib = default_rig(1280, 720, 4)
    keypoints_from_json(_doc(), calibration=calib)       # valid as is
    doc = _doc()
    doc["images"][3]["camera"] = "cam9"
    err = _error(doc, calib)
    assert err.field == "images[3].camera" and "'cam9' is not in the calibration" in err.message
    doc = _doc()
    doc["images"][1]["width"] = 640
    err = _error(doc, calib)
    assert err.field == "images[1].width" and "640x720" in err.message and "1280x720" in err.message


def test_files_not_found_or_not_json(tmp_path: Path):
    with pytest.raises(InputError, match="file not found"):
        load_keypoints(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_keypoints(bad)
    nan_file = tmp_path / "nan.json"                        # Python's json writes NaN literals
    doc = _doc()
    doc["annotations"][2]["keypoints"][0] = math.nan
    nan_file.write_text(json.dumps(doc))
    with pytest.raises(InputError) as exc:
        load_keypoints(nan_file)
    assert exc.value.field == "annotations[2].keypoints" and exc.value.path == str(nan_file)


def test_save_refuses_invalid_data(tmp_path: Path):
    kp = keypoints_from_json(_doc())
    det = kp.detections[0]
    det.keypoints[0, 2] = 2.0                               # corrupt a score after loading
    with pytest.raises(InputError) as exc:
        save_keypoints(tmp_path / "k.json", kp)
    assert exc.value.field == "annotations[0].keypoints"
    assert not (tmp_path / "k.json").exists()


def test_scores_slightly_above_one_are_clipped_with_one_warning(caplog):
    """OpenPose writes joint scores such as 1.018: read as 1, one warning for the whole file."""
    doc = _doc()
    doc["annotations"][0]["keypoints"][2] = 1.018
    doc["annotations"][0]["keypoints"][5] = 1.05
    doc["annotations"][3]["keypoints"][50] = 1.1
    doc["annotations"][2]["score"] = 1.002
    with caplog.at_level(logging.WARNING):
        kp = keypoints_from_json(doc, source="openpose.json")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "openpose.json" in warnings[0] and "4 score(s)" in warnings[0] and "1.1" in warnings[0]
    assert kp.detections[0].keypoints[0, 2] == 1.0 and kp.detections[0].keypoints[1, 2] == 1.0
    assert kp.detections[3].keypoints[16, 2] == 1.0 and kp.detections[2].score == 1.0
    assert kp.detections[0].keypoints[2, 2] == doc["annotations"][0]["keypoints"][8]   # others untouched
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        keypoints_from_json(_doc())
    assert not caplog.records                                # nothing to clip, no warning
    doc["annotations"][1]["keypoints"][8] = 1.11             # beyond the tolerance: still refused
    err = _error(doc)
    assert err.field == "annotations[1].keypoints" and "joint 2 (right_eye)" in err.message


def test_category_id_given_as_a_string():
    doc = _doc()
    doc["annotations"][1]["category_id"] = "1"
    doc["categories"][0]["id"] = "1"
    kp = keypoints_from_json(doc)
    assert len(kp.detections) == 4
    doc["annotations"][2]["category_id"] = "2"
    err = _error(doc)
    assert err.field == "annotations[2].category_id" and err.message.endswith("not 2")
    doc["annotations"][2]["category_id"] = "person"
    assert "not 'person'" in _error(doc).message


def test_messages_show_plain_numbers_not_numpy_reprs():
    """In-memory documents (a detector's output before saving) may hold numpy numbers: they are
    read like Python numbers, and a message shows 1.5, not np.float64(1.5)."""
    doc = _doc()
    doc["annotations"][0]["keypoints"] = [np.float64(v) for v in doc["annotations"][0]["keypoints"]]
    doc["annotations"][1]["keypoints"] = [np.float32(v) for v in doc["annotations"][1]["keypoints"]]
    doc["annotations"][2]["score"] = np.float32(0.75)
    doc["images"][0]["width"] = np.int64(1280)
    kp = keypoints_from_json(doc)
    assert kp.detections[2].score == 0.75 and kp.images[1].width == 1280
    for mutate, field in [
        (lambda d: d["annotations"][0]["keypoints"].__setitem__(5, np.float64(1.5)), "annotations[0].keypoints"),
        (lambda d: d["annotations"][2].__setitem__("score", np.float64(1.25)), "annotations[2].score"),
        (lambda d: d["annotations"][3].__setitem__("bbox", [np.float64(1.0), np.float64(2.0)]), "annotations[3].bbox"),
        (lambda d: d["annotations"][3].__setitem__("score", np.float64(math.nan)), "annotations[3].score"),
        (lambda d: d["images"][1].__setitem__("frame", np.float64(0.5)), "images[1].frame"),
    ]:
        bad = copy.deepcopy(doc)
        mutate(bad)
        err = _error(bad)
        assert err.field == field
        assert "np." not in str(err) and "float64" not in str(err) and "array" not in str(err), str(err)
    bad = copy.deepcopy(doc)
    bad["annotations"][0]["keypoints"][5] = np.float64(1.5)
    assert "not 1.5" in _error(bad).message
