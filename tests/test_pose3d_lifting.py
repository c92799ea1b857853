"""People seen by one camera get 3D from that camera's depth (disguisor.pose3d.lifting).

A synthetic recording (rendered people and room, sensor-model depth noise and holes) at 640x480
with a Kinect-v1-like lens; its simulated 2D keypoints are thinned so that a person is detected
by one camera only.
"""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from disguisor.io.recording import open_recording
from disguisor.pose2d.keypoints_io import Keypoints2D, load_keypoints
from disguisor.pose3d import Pose3DParams, estimate_poses3d
from disguisor.pose3d.association import prepare_rig, reconstruct_frame
from disguisor.pose3d.lifting import depth_in_metres, facing_camera, lift_detection, lift_unexplained
from disguisor.pose3d.pipeline import depth_from_recording
from disguisor.synth.or_scene import generate_or_recording
from disguisor.synth.rig import default_rig


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lift") / "easy"
    return generate_or_recording(out, "easy", frames=2, calibration=default_rig(640, 480, 4, lens="kinect_v1"),
                                 seed=3)


def _truth(rec_root: Path) -> list[np.ndarray]:
    gt = json.loads((rec_root / "gt_poses3d.json").read_text())
    return [np.array([p["joints"] for p in f["people"]]) for f in gt["frames"]]


def _only_in(keypoints: Keypoints2D, person: int, camera: str) -> Keypoints2D:
    """The keypoints with ``person`` detected by ``camera`` only."""
    keep = tuple(d for d in keypoints.detections if d.person_id != person or d.camera == camera)
    return Keypoints2D(images=keypoints.images, detections=keep)


def _closest(poses, frame: int, joints: np.ndarray):
    people = poses.frame(frame).people
    if not people:
        return None, np.inf
    dist = [float(np.nanmean(np.linalg.norm(p.joints - joints, axis=1))) for p in people]
    k = int(np.argmin(dist))
    return people[k], dist[k]


@pytest.mark.parametrize("person, camera", [(0, "wfc1"), (1, "sc2"), (2, "wfc2")])
def test_person_seen_by_one_camera_gets_a_3d_head_from_depth(recording, person, camera):
    rec = open_recording(recording)
    truth = _truth(recording)
    kp = _only_in(load_keypoints(recording / "keypoints2d.json", rec.calibration), person, camera)
    assert all(d.camera == camera for d in kp.detections if d.person_id == person)
    without = estimate_poses3d(rec.calibration, kp)
    poses = estimate_poses3d(rec.calibration, kp, depth_of=depth_from_recording(rec))
    for f in rec.frames:
        g = truth[f][person]
        assert _closest(without, f, g)[1] > 0.5             # no second view: no triangulated person
        found, dist = _closest(poses, f, g)
        assert dist < 0.1                                    # the whole skeleton within 10 cm on average
        head = found.valid[:5]
        assert head.any()
        err = np.linalg.norm(found.joints[:5][head].mean(axis=0) - g[:5][head].mean(axis=0))
        assert err < 0.06, f"frame {f}: head {err * 1000:.0f} mm from the truth"
    # the lifted person is tracked like the others: one id over both frames
    ids = {_closest(poses, f, truth[f][person])[0].id for f in rec.frames}
    assert len(ids) == 1
    # everyone else is still found once (lifting adds no duplicates of triangulated people)
    for f in rec.frames:
        assert len(poses.frame(f).people) == len(truth[f])


def test_a_detection_with_mislabelled_limbs_is_not_lifted_beside_its_person(recording):
    """A ceiling view's detection that places a person's head right and mislabels the limbs (on
    the people-finder benchmark: hips 1 m off) is that person, not a second one: the median
    joint distance of its lift merges it, where the mean, dragged by the limbs, did not."""
    rec = open_recording(recording)
    kp = load_keypoints(recording / "keypoints2d.json", rec.calibration)
    params = Pose3DParams()
    rig = prepare_rig(rec.calibration)
    frame0 = [d for d in kp.detections if d.frame == 0]
    target = next(d for d in frame0 if d.camera == "sc1" and d.person_id == 1)
    rest = Keypoints2D(images=kp.images, detections=tuple(d for d in frame0 if d is not target))
    people = reconstruct_frame(rig, rest.by_frame()[0], params)
    truth = _truth(recording)[0][1]
    person = min(people, key=lambda p: float(np.nanmean(np.linalg.norm(p.joints - truth, axis=1))))
    k = target.keypoints.copy()
    k[5:11, 0] += 40                                    # shoulders, elbows, wrists beside the body
    k[11:17, 1] -= 150                                  # hips, knees, ankles up the image
    wrong = replace(target, keypoints=k)

    def depth_of(camera):
        return rec.read_depth(rec.calibration.camera(camera), 0)

    lifted = lift_detection(k, rec.calibration.camera("sc1"), depth_of("sc1"))
    assert lifted is not None
    d = np.linalg.norm(lifted[0] - person.joints, axis=1)
    d = d[np.isfinite(d)]
    assert d.mean() > params.lift_merge_distance_m > np.median(d)
    assert lift_unexplained(rig, {"sc1": [wrong]}, people, depth_of, params) == []
    # the same detection where nobody was found is a person of its own
    alone = [p for p in people if p is not person]
    assert len(lift_unexplained(rig, {"sc1": [wrong]}, alone, depth_of, params)) == 1


def test_raw_uint16_depth_gives_the_same_lift(recording):
    rec = open_recording(recording)
    cam = rec.calibration.camera("wfc1")
    kp = load_keypoints(recording / "keypoints2d.json", rec.calibration)
    det = next(d for d in kp.detections if d.camera == "wfc1" and d.frame == 0 and d.person_id == 0)
    raw = cv2.imread(str(rec.depth_path("wfc1", 0)), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    a = lift_detection(det.keypoints, cam, rec.read_depth(cam, 0))
    b = lift_detection(det.keypoints, cam, raw)
    c = lift_detection(det.keypoints, cam, raw.astype(np.int32), depth_scale=cam.depth_scale)
    assert a is not None and b is not None and c is not None
    assert np.allclose(a[0], b[0], equal_nan=True, atol=1e-5) and np.allclose(b[0], c[0], equal_nan=True)
    assert np.all(a[1] <= Pose3DParams().lift_confidence_scale) and np.all(a[1][~np.isfinite(a[0][:, 0])] == 0)
    assert np.array_equal(depth_in_metres(np.array([[1000, 0]], np.uint16), 0.001), [[1.0, 0.0]])
    with pytest.raises(ValueError, match="does not match"):
        lift_detection(det.keypoints, cam, raw[:100])


def test_detection_on_the_background_is_rejected_or_lies_on_it(recording):
    """A person-shaped false detection moved onto the room's walls and floor: never a person
    floating between the camera and the background."""
    rec = open_recording(recording)
    kp = load_keypoints(recording / "keypoints2d.json", rec.calibration)
    tried = lifted = 0
    for camera in ("wfc1", "wfc2"):
        cam = rec.calibration.camera(camera)
        depth = rec.read_depth(cam, 0)
        people_mask = np.zeros(depth.shape, bool)
        dets = [d for d in kp.detections if d.camera == camera and d.frame == 0]
        for d in dets:                                      # everything near a real detection
            ok = d.keypoints[:, 2] > 0
            x0, y0 = d.keypoints[ok, :2].min(axis=0) - 30
            x1, y1 = d.keypoints[ok, :2].max(axis=0) + 30
            people_mask[max(0, int(y0)):int(y1), max(0, int(x0)):int(x1)] = True
        src = max(dets, key=lambda d: int((d.keypoints[:, 2] > 0).sum()))
        for dx in range(-400, 401, 40):
            for dy in range(-200, 201, 50):
                moved = src.keypoints.copy()
                moved[:, :2] += (dx, dy)
                on = moved[:, 2] > 0
                u, v = np.round(moved[on, :2]).astype(int).T
                if (u.min() < 0 or v.min() < 0 or u.max() >= cam.width or v.max() >= cam.height
                        or people_mask[v, u].any()):
                    continue
                tried += 1
                result = lift_detection(moved, cam, depth)
                if result is None:
                    continue
                lifted += 1
                joints = result[0]
                ok = np.isfinite(joints[:, 0])
                z = cam.world_to_camera(joints[ok])[:, 2]
                surface = depth[np.round(moved[ok, 1]).astype(int), np.round(moved[ok, 0]).astype(int)]
                seen = surface > 0
                # on the background: at most the surface-to-joint offsets behind what the sensor saw
                assert np.all(np.abs(z[seen] - surface[seen]) < 0.25)
    assert tried >= 10
    assert lifted < tried                                   # most such detections are not people


def test_facing_from_2d_joints():
    kp = np.zeros((17, 3))
    kp[:, 2] = 0.9
    kp[5, :2], kp[6, :2] = (120, 100), (80, 100)            # left shoulder on the image's right
    kp[11, :2], kp[12, :2] = (112, 170), (88, 170)          # hips below: upright, from the front
    assert facing_camera(kp, 0.5) > 0.5
    back = kp.copy()
    back[[5, 6, 11, 12]] = kp[[6, 5, 12, 11]]
    assert facing_camera(back, 0.5) < -0.5
    side = kp.copy()
    side[5, 0], side[6, 0] = 101, 99
    assert abs(facing_camera(side, 0.5)) < 0.1
    kp[5, 2] = 0.0
    assert facing_camera(kp, 0.5) == 0.0


def test_depth_presence_sees_a_person_where_they_are_and_not_in_the_air(recording):
    """The presence check of held tracks (disguisor.pose3d.presence) on a rendered recording: the
    true joints agree with the sensor depth; the same skeleton 0.6 m higher reads the room behind."""
    from disguisor.pose3d.presence import depth_presence
    rec = open_recording(recording)
    present = depth_presence(rec.calibration, depth_from_recording(rec), 0.10, 0.25)
    for f in rec.frames:
        for joints in _truth(recording)[f]:
            assert present(f, joints) is True
            assert present(f, joints + [0.0, 0.0, 0.6]) is False
            assert present(f, joints - [0.0, 0.0, 0.1]) is True       # joints placed inside the body
    assert present(0, np.full((17, 3), np.nan)) is None
