"""Offline person models: sha256-checked loading, MoveNet on a rendered view, orientation search, merging."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from disguisor.assets import PACKAGED, model_file, model_path, verify
from disguisor.errors import InputError
from disguisor.geometry import project_points
from disguisor.pose2d.detector import PersonPose, keypoint_box, merge_poses, same_person
from disguisor.pose2d.keypoints_io import HEAD_JOINTS
from disguisor.pose2d.movenet import MoveNetDetector
from disguisor.pose2d.orient import rotate_image, square_box_crop
from disguisor.pose2d.params import MoveNetParams


def test_corrupted_model_copy_is_refused_with_one_line(tmp_path: Path) -> None:
    entry = model_file("movenet_multipose")
    copy = tmp_path / "movenet_multipose.onnx"
    shutil.copyfile(model_path("movenet_multipose"), copy)
    assert verify(copy, entry.sha256, entry.install) == copy  # an intact copy passes
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    copy.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        verify(copy, entry.sha256, entry.install)
    msg = str(err.value)
    assert "\n" not in msg and "sha256" in msg and str(copy) in msg and "make install" in msg


def test_missing_model_names_the_install_step(tmp_path: Path) -> None:
    for name in PACKAGED:
        entry = model_file(name)
        with pytest.raises(InputError) as err:
            verify(tmp_path / entry.path.name, entry.sha256, entry.install)
        msg = str(err.value)
        assert "\n" not in msg and "missing" in msg
        assert "make install" in msg and "models/convert_human_models.py" in msg
    heavy = model_file("pose_landmark_heavy")
    with pytest.raises(InputError) as err:
        verify(tmp_path / "pose_landmark_heavy.tflite", heavy.sha256, heavy.install)
    assert "make install" in str(err.value) and "@mediapipe/pose" in str(err.value)
    with pytest.raises(InputError, match="unknown model"):
        model_file("yolo")


@pytest.fixture(scope="module")
def rendered_view(tmp_path_factory):
    """wfc1 of a one-frame synthetic OR (easy: 4 people), RGB, and each visible person's true joints (pixels)."""
    from disguisor.io.recording import open_recording
    from disguisor.synth.or_scene import generate_or_recording

    root = generate_or_recording(tmp_path_factory.mktemp("synth") / "or", "easy", frames=1, seed=0)
    rec = open_recording(root)
    cam = rec.calibration.camera("wfc1")
    rgb = np.ascontiguousarray(rec.read_color(cam, 0)[:, :, ::-1])
    doc = json.loads((Path(root) / "gt_poses3d.json").read_text())
    people = [project_points(cam.world_to_camera(np.array(p["joints"])), cam.K, cam.dist)
              for p in doc["frames"][0]["people"]]
    return rgb, people


def _head_found(poses: list[PersonPose], truth: np.ndarray, tol_px: float) -> bool:
    """Whether a pose has >= 2 head joints within ``tol_px`` (mean) of ``truth`` ((17, 2) pixels, or
    (17, 3) with scores: its undetected joints ignored)."""
    h = list(HEAD_JOINTS)
    known = truth[h, 2] > 0 if truth.shape[1] > 2 else np.ones(len(h), bool)
    for p in poses:
        ok = (p.keypoints[h, 2] > 0) & known
        if ok.sum() >= 2 and np.linalg.norm(p.keypoints[h][ok, :2] - truth[h][ok, :2], axis=1).mean() <= tol_px:
            return True
    return False


def test_movenet_finds_the_people_of_a_rendered_view(rendered_view) -> None:
    rgb, people = rendered_view
    det = MoveNetDetector(MoveNetParams(crops=False, tiles=2))
    poses = det.detect(rgb, None)
    # 3 staff (about 210-250 px tall) stand around the table, the patient lies on it (89 px tall here,
    # feet towards the camera: whole-image MoveNet misses them); heads within 10 px of the truth
    found = sum(_head_found(poses, truth, 10.0) for truth in people)
    assert found >= 3, f"found {found} of {len(people)} people"
    assert len(poses) <= len(people) + 1


def test_orientation_search_maps_a_turned_person_back(rendered_view) -> None:
    rgb, people = rendered_view
    det = MoveNetDetector(MoveNetParams(crops=True, whole_image=False))
    # the person whose head is found upright in a crop around their true joints
    h, w = rgb.shape[:2]
    for truth in people:
        x0, y0 = truth.min(axis=0)
        x1, y1 = truth.max(axis=0)
        box = (max(x0, 0.0), max(y0, 0.0), min(x1, w - 1.0), min(y1, h - 1.0))
        upright = [p for p in det.crop(rgb, box, 0.0) if _head_found([p], truth, 10.0)]
        if upright:
            break
    else:
        pytest.fail("no upright person found to turn")
    ref = max(upright, key=lambda p: p.score).keypoints
    # turn the whole image a quarter counter-clockwise: the person now lies on their side
    turned, m = rotate_image(rgb, 1)
    corners = np.array([[box[0], box[1]], [box[2], box[3]]]) @ m[:, :2].T + m[:, 2]
    tbox = (corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max())
    found = det.oriented(turned, tbox)  # tries 0, 90, 270, 180 degrees until a confident person
    assert found
    # map the turned image's keypoints back with the inverse quarter turn
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
    back = [PersonPose(np.column_stack([p.keypoints[:, :2] @ inv[:, :2].T + inv[:, 2], p.keypoints[:, 2]]),
                       p.score, p.box) for p in found]
    hj = list(HEAD_JOINTS)
    assert _head_found(back, ref, 8.0), "the turned person's head does not map back onto the upright reading"
    best = max(back, key=lambda p: p.score)
    both = (best.keypoints[:, 2] > 0) & (ref[:, 2] > 0)
    assert both.sum() >= 8
    assert np.median(np.linalg.norm(best.keypoints[both, :2] - ref[both, :2], axis=1)) < 8.0
    assert (best.keypoints[hj, 2] > 0).sum() >= 2


def test_rotated_crop_transform_is_exact() -> None:
    img = np.zeros((100, 160, 3), np.uint8)
    img[30, 50] = 255
    for angle in (0.0, 90.0, 180.0, 270.0, 33.0):
        crop = square_box_crop(img, (40.0, 20.0, 80.0, 60.0), 0.25, 128, angle)
        ys, xs = np.nonzero(crop.pixels[:, :, 0] == crop.pixels[:, :, 0].max())
        peak = np.array([[xs.mean(), ys.mean(), 1.0]])
        assert np.allclose(crop.to_image(peak)[0, :2], (50.0, 30.0), atol=1.0), angle
    turned, m = rotate_image(img, 1)
    y, x = np.argwhere(turned[:, :, 0] == 255)[0]
    assert np.allclose(m @ [50.0, 30.0, 1.0], (x, y))


def _pose(xy: np.ndarray, score: float) -> PersonPose:
    kp = np.column_stack([xy, np.full(len(xy), score)])
    box = keypoint_box(kp)
    assert box is not None
    return PersonPose(kp, score, box)


def test_ensemble_merges_readings_of_one_person() -> None:
    rng = np.random.default_rng(3)
    a = np.column_stack([np.linspace(100, 140, 17), np.linspace(50, 250, 17)])
    b = a + [400.0, 0.0]  # another person, far away
    readings = [_pose(a, 0.9), _pose(a + rng.normal(0, 1.0, a.shape), 0.6), _pose(b, 0.5)]
    mirrored = readings[1].keypoints[[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]]
    mirrored[:, 2] = 0.4
    readings.append(PersonPose(mirrored, 0.4, readings[1].box))  # left and right read the other way
    merged = merge_poses(readings, oks_threshold=0.3, iou_threshold=0.6, head_ratio=0.15, joint_radius=0.1)
    assert len(merged) == 2
    first = max(merged, key=lambda p: p.score)
    assert first.score == pytest.approx(0.9)
    # joints: the score-weighted mean of the three readings of person a (the mirrored one unmirrored)
    expect = (0.9 * a + 0.6 * readings[1].keypoints[:, :2] + 0.4 * readings[1].keypoints[:, :2]) / 1.9
    assert np.allclose(first.keypoints[:, :2], expect, atol=1e-6)
    assert np.allclose(first.keypoints[:, 2], 0.9)
    assert not same_person(merged[0], merged[1], 0.3, 0.6, 0.15)


def test_ensemble_detector_returns_one_pose_per_person(rendered_view) -> None:
    from disguisor.pose2d.ensemble import EnsembleDetector

    rgb, people = rendered_view
    poses = EnsembleDetector().detect(rgb, None)
    # 15 px: about half the head width of these 210-250 px tall people
    assert sum(_head_found(poses, truth, 15.0) for truth in people) >= 3
    for i, p in enumerate(poses):
        for q in poses[i + 1:]:
            assert not same_person(p, q, 0.3, 0.6, 0.15)


def test_lying_patient_found_along_the_table_axis(tmp_path) -> None:
    """The patient lying on the table below a ceiling camera, with the staff beside the table merged
    into one long depth cluster (medium scenario, seed 5): the crop turned along that cluster's axis
    finds the patient's joints, and a person already found there is not searched again."""
    from disguisor.io.recording import open_recording
    from disguisor.pose2d.proposals import propose_lying
    from disguisor.synth.or_scene import generate_or_recording

    root = Path(generate_or_recording(tmp_path / "or", "medium", frames=1, seed=5, size=(640, 360)))
    rec = open_recording(root)
    roles = [p["role"] for p in json.loads((root / "people.json").read_text())["people"]]
    patient = np.array(json.loads((root / "gt_poses3d.json").read_text())["frames"][0]["people"]
                       [roles.index("patient")]["joints"])
    views = rec.views(0)
    crops = propose_lying(views)
    det = MoveNetDetector()
    best = 0
    for v in views:
        cam = v.camera
        if not crops.get(cam.name):
            continue
        rgb = np.ascontiguousarray(v.color[:, :, ::-1])
        truth = project_points(cam.world_to_camera(patient), cam.K, cam.dist)
        for crop in crops[cam.name]:
            pose, flip = det.along(rgb, crop)
            assert det.along(rgb, crop, flip)[1] == flip  # the end found first is found first again
            if pose is None:
                continue
            near = np.linalg.norm(pose.keypoints[:, :2] - truth, axis=1) < 0.06 * crop.side_px
            matched = int((near & (pose.keypoints[:, 2] > 0)).sum())
            best = max(best, matched)
            if matched >= 12:
                plain = MoveNetDetector().detect(rgb, [], cam.name)
                with_crop = MoveNetDetector().detect(rgb, [], cam.name, [crop])
                found_plain = any(_head_found([q], pose.keypoints, 5.0) for q in plain)
                # the crop adds the patient unless the whole image already had them
                assert found_plain or any(_head_found([q], pose.keypoints, 5.0) for q in with_crop)
                assert len(with_crop) == len(plain) + (not found_plain)
    assert best >= 12, f"at most {best} of the patient's 17 joints found along the axis"


def test_lying_crops_are_capped_per_image(monkeypatch) -> None:
    """A furnished room gives many long, low clusters: only the ``max_lying_crops`` largest (first)
    are searched in an image."""
    from disguisor.pose2d.orient import AxisCrop

    det = MoveNetDetector(MoveNetParams(max_lying_crops=2, whole_image=False))
    searched = []
    monkeypatch.setattr(det, "along", lambda image, crop, flip=False: (searched.append(crop), (None, flip))[1])
    crops = [AxisCrop((100.0 + 50 * i, 120.0), 150.0, 30.0 * i) for i in range(3)]
    assert det.detect(np.full((240, 320, 3), 128, np.uint8), [], "sc1", crops) == []
    assert searched == crops[:2]


def test_lying_pose_with_its_head_on_someone_elses_is_dropped() -> None:
    """Staff bending over the patient's head: the pose read along the table put the patient's head
    on the staff member's. Such a reading is dropped; one with its head apart from everyone is kept."""
    from disguisor.pose2d.movenet import _on_others_head
    from disguisor.pose2d.orient import AxisCrop

    crop = AxisCrop((200.0, 200.0), 400.0, 0.0)  # axis upright in the image
    lying = np.zeros((17, 3))
    lying[:, 0] = 200.0
    lying[:, 1] = np.linspace(60.0, 340.0, 17)  # head at the top, feet at the bottom
    lying[:, 2] = 0.6
    pose = PersonPose(lying, 0.5, keypoint_box(lying))
    staff = np.zeros((17, 3))
    staff[:, 0] = np.linspace(150.0, 330.0, 17)  # a body running across the axis
    staff[:, 1] = np.linspace(60.0, 120.0, 17)
    staff[:5, :2] = lying[:5, :2] + [3.0, 2.0]  # its head where the lying pose put the patient's
    staff[:, 2] = 0.7
    p = MoveNetParams()
    assert _on_others_head(pose, [PersonPose(staff, 0.6, keypoint_box(staff))], crop, p)
    assert not _on_others_head(pose, [PersonPose(staff, 0.2, keypoint_box(staff))], crop, p)  # too unsure
    away = staff.copy()
    away[:5, 0] += 120.0  # the staff member's head well away from the patient's
    assert not _on_others_head(pose, [PersonPose(away, 0.6, keypoint_box(away))], crop, p)
    # a second reading of the patient himself (along the axis) is no other person
    assert not _on_others_head(pose, [PersonPose(lying.copy(), 0.6, pose.box)], crop, p)
