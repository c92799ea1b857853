import json
from pathlib import Path

import numpy as np
import pytest

from disguisor.errors import InputError
from disguisor.io.calibration import calibration_schema, load_calibration, save_calibration
from disguisor.synth.rig import default_rig

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path, data) -> Path:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(data))
    return path


def _valid():
    return default_rig(640, 360, 2).to_json()


def test_round_trip_keeps_every_number(tmp_path):
    rig = default_rig(640, 360, 4)
    save_calibration(rig, tmp_path / "calibration.json")
    back = load_calibration(tmp_path / "calibration.json")
    assert back.names == rig.names
    for a, b in zip(rig.cameras, back.cameras, strict=True):
        np.testing.assert_array_equal(a.K, b.K)
        np.testing.assert_array_equal(a.R, b.R)
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.dist, b.dist)
        assert (a.role, a.width, a.height, a.depth_scale) == (b.role, b.width, b.height, b.depth_scale)


def test_examples_in_calib_folder_are_valid():
    cal = load_calibration(ROOT / "calib" / "example_calibration.json")
    assert [c.role for c in cal.cameras] == ["workflow", "workflow", "surgical", "surgical"]
    on_disk = json.loads((ROOT / "calib" / "calibration.schema.json").read_text())
    assert on_disk == calibration_schema()


def test_world_and_camera_transforms_are_inverse():
    cam = default_rig().cameras[2]
    pts = np.random.default_rng(0).normal(size=(20, 3))
    np.testing.assert_allclose(cam.camera_to_world(cam.world_to_camera(pts)), pts, atol=1e-12)
    # the camera looks at the table: a point 1 m along its optical axis is in front of it
    ahead = cam.camera_to_world(np.array([[0.0, 0.0, 1.0]]))[0]
    assert ahead[2] < cam.t[2]  # surgical cameras look down


@pytest.mark.parametrize("mutate, field, words", [
    (lambda d: d["cameras"][1].pop("K"), "cameras[1]", "'K' is a required property"),
    (lambda d: d["cameras"][0].__setitem__("role", "ceiling"), "cameras[0].role", "is not one of"),
    (lambda d: d["cameras"][0].__setitem__("width", 0), "cameras[0].width", "less than the minimum"),
    (lambda d: d["cameras"][0].__setitem__("distortion", [0.1, 0.2, 0.3]), "cameras[0].distortion", ""),
    (lambda d: d["cameras"][1]["camera_to_world"].__setitem__("rotation", [[1, 0, 0], [0, 1, 0], [0, 0.3, 1]]),
     "cameras[1].camera_to_world.rotation", "not a rotation matrix"),
    (lambda d: d["cameras"][0]["camera_to_world"].__setitem__("rotation", [[1, 0, 0], [0, 1, 0], [0, 0, -1]]),
     "cameras[0].camera_to_world.rotation", "mirrored (determinant -1)"),  # a reflection
    (lambda d: d["cameras"][1].__setitem__("name", d["cameras"][0]["name"]), "cameras[1].name", "duplicate"),
    (lambda d: d["cameras"][0]["K"].__setitem__(2, [0, 0, 2]), "cameras[0].K", "must be"),
    (lambda d: d["cameras"][0]["K"][0].__setitem__(0, float("nan")), "cameras[0].K", "NaN"),
    (lambda d: d.__setitem__("version", 2), "version", "was expected"),
    (lambda d: d["world"].__setitem__("up", "+y"), "world.up", "was expected"),
])
def test_bad_calibration_names_file_and_field(tmp_path, mutate, field, words):
    data = _valid()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(InputError) as exc:
        load_calibration(path)
    assert str(path) in str(exc.value)
    assert exc.value.field == field
    assert words in str(exc.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_calibration(tmp_path / "nope.json")
    path = tmp_path / "calibration.json"
    path.write_text("{ not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_calibration(path)
