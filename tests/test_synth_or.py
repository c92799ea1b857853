"""Synthetic OR recordings: determinism, ground truth consistent with the geometry, occlusion by
OR lights, sensor-like depth, and files the project's own loaders accept."""

import json
from dataclasses import replace

import numpy as np
import pytest

from disguisor.evaluate import load_ground_truth
from disguisor.geometry import project_points
from disguisor.io.recording import open_recording
from disguisor.pose2d.keypoints_io import load_keypoints
from disguisor.synth.or_scene import generate_or_recording
from disguisor.synth.rig import default_rig
from disguisor.synth.room import LightSpec
from disguisor.synth.scenarios import SCENARIOS
from disguisor.synth.sensor import DepthSensorModel

pytestmark = pytest.mark.slow  # whole pipeline runs / subprocesses: `pytest -m "not slow"` skips them

SIZE = (640, 360)


@pytest.fixture(scope="module")
def easy(tmp_path_factory):
    out = tmp_path_factory.mktemp("or") / "easy"
    generate_or_recording(out, "easy", frames=2, size=SIZE, seed=3)
    return out


def test_loads_with_the_project_loaders(easy):
    rec = open_recording(easy)
    assert rec.frames == [0, 1] and len(rec.cameras) == 4
    gt = load_ground_truth(easy / "annotations.json")
    kp = load_keypoints(easy / "keypoints2d.json", rec.calibration)
    assert len(kp.frames) == 2
    data = json.loads((easy / "annotations.json").read_text())
    assert len(data["images"]) == 8
    # 4 people, most faces visible in several views
    assert len(data["annotations"]) >= 12
    assert {a["person_id"] for a in data["annotations"]} == {0, 1, 2, 3}
    del gt


def test_face_boxes_contain_the_projected_face(easy):
    data = json.loads((easy / "annotations.json").read_text())
    poses = json.loads((easy / "gt_poses3d.json").read_text())
    cams = {c.name: c for c in open_recording(easy).cameras}
    images = {im["id"]: im for im in data["images"]}
    checked = 0
    for ann in data["annotations"]:
        if ann["visible_fraction"] < 0.9:
            continue
        im = images[ann["image_id"]]
        cam = cams[im["camera"]]
        person = poses["frames"][im["frame"]]["people"][ann["person_id"]]
        centre = np.array(person["face_center"])
        uv = project_points(cam.world_to_camera(centre[None]), cam.K, cam.dist)[0]
        x, y, w, h = ann["bbox"]
        assert x - 1 <= uv[0] <= x + w + 1 and y - 1 <= uv[1] <= y + h + 1, (ann, uv)
        # a face is ~18 x 22 cm: the box size follows the distance
        distance = np.linalg.norm(centre - cam.t)
        expected = cam.K[0, 0] * 0.2 / distance
        assert 0.3 * expected < max(w, h) < 2.0 * expected, (w, h, expected)
        checked += 1
    assert checked >= 5


def test_same_seed_same_bytes(tmp_path):
    spec = replace(SCENARIOS["easy"], roles=("surgeon", "patient"))
    for name in ("a", "b"):
        generate_or_recording(tmp_path / name, "easy", frames=1, size=(320, 180), n_cameras=2, seed=5, spec=spec)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) > 5
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_a_light_hides_a_face_in_one_view_only(tmp_path):
    """Hang a lamp between the surgical camera sc1 and the surgeon's face: the face loses its
    annotation in sc1 and keeps it in the other views."""
    base = replace(SCENARIOS["easy"], roles=("surgeon", "patient"), lights=())
    clear = tmp_path / "clear"
    generate_or_recording(clear, "easy", frames=1, size=SIZE, seed=1, spec=base)
    face = np.array(json.loads((clear / "gt_poses3d.json").read_text())["frames"][0]["people"][0]["face_center"])
    sc1 = default_rig(*SIZE).camera("sc1")
    lamp = sc1.t + 0.45 * (face - sc1.t)
    blocked = tmp_path / "blocked"
    generate_or_recording(blocked, "easy", frames=1, size=SIZE, seed=1, spec=replace(
        base, lights=(LightSpec(mount_xy=(float(lamp[0]), float(lamp[1])), head=tuple(lamp), tilt=0.0),)))

    def views_with_face(rec):
        data = json.loads((rec / "annotations.json").read_text())
        cams = {im["id"]: im["camera"] for im in data["images"]}
        return {cams[a["image_id"]] for a in data["annotations"] if a["person_id"] == 0}

    before, after = views_with_face(clear), views_with_face(blocked)
    assert "sc1" in before and "sc1" not in after
    assert after == before - {"sc1"} and len(after) >= 1


def test_depth_is_the_geometry_plus_sensor_noise(easy):
    """Floor pixels unprojected from the recorded depth lie on z = 0 within the noise model."""
    from disguisor.config import FusionParams
    from disguisor.fusion import view_to_points

    model = DepthSensorModel()
    rec = open_recording(easy)
    for view in rec.views(0):
        pts = view_to_points(view, FusionParams(pixel_stride=1, voxel_size_m=0, max_depth_m=10)).points
        assert len(pts) > 0.3 * SIZE[0] * SIZE[1] / 1  # most of the image has depth
        floor = pts[np.abs(pts[:, 2]) < 0.05]
        dist = np.linalg.norm(floor - view.camera.t, axis=1)
        sigma = model.noise_a_m + model.noise_b_per_m * dist**2
        # depth along the optical axis: the vertical error is at most the depth error
        inside = np.abs(floor[:, 2]) < 4 * sigma + 0.001
        assert inside.mean() > 0.97, view.camera.name
        assert len(floor) > 1000


def test_depth_has_the_sensor_limits(easy):
    rec = open_recording(easy)
    for view in rec.views(1):
        d = view.depth
        valid = d[d > 0]
        assert valid.min() >= 0.45 and valid.max() <= 5.46 + 0.15  # range limit plus noise
        # the depth field of view is narrower than colour: image corners have no depth
        assert d[:10, :10].max() == 0 and d[-10:, -10:].max() == 0
