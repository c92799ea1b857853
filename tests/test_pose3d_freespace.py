"""People the depth contradicts are refuted (disguisor.pose3d.freespace): a skeleton floating in
space that a camera sees through is taken apart, and its detections are lifted one by one."""

import dataclasses

import numpy as np

from disguisor.geometry import project_points
from disguisor.io.recording import open_recording
from disguisor.pose2d.keypoints_io import Keypoints2D, load_keypoints
from disguisor.pose3d import PersonObservation, Pose3DParams, prepare_rig, reconstruct_frames
from disguisor.pose3d.freespace import (
    FrameDepth,
    free_space_joints,
    head_refuted,
    metres_in_range,
    refuting_camera,
    repair_head,
    without_one_view,
)
from disguisor.pose3d.pipeline import depth_from_recording
from disguisor.synth.rig import default_rig
from tests.test_pose3d_lifting import _truth, recording  # noqa: F401  (module fixture)


def _wall_view():
    """A camera facing a flat wall 3 m away (depth 3 m everywhere) and points in its frame."""
    cam = default_rig(640, 480, 1, lens="kinect_v1").cameras[0]
    depth = np.full((cam.height, cam.width), 3.0, np.float32)
    return cam, depth


def test_a_joint_in_front_of_the_wall_is_in_free_space_and_one_behind_it_is_not():
    cam, depth = _wall_view()
    inside = np.array([[0.0, 0.0], [0.3, 0.2], [-0.4, -0.1], [0.1, 0.3]])            # x/z, y/z in the image
    def at(z, xy=inside):
        return cam.camera_to_world(np.column_stack([xy * z, np.full(len(xy), z)]))
    window = 3
    assert free_space_joints(at(2.0), cam, depth, window, 0.15) == (4, 4)    # 1 m in front: nothing there
    assert free_space_joints(at(2.9), cam, depth, window, 0.15) == (0, 4)    # within the margin
    assert free_space_joints(at(3.2), cam, depth, window, 0.15) == (0, 4)    # behind the surface: hidden
    outside = np.array([[5.0, 0.0], [0.0, -5.0]])                             # far outside the image
    assert free_space_joints(at(2.0, outside), cam, depth, window, 0.15) == (0, 0)
    holes = depth.copy()
    holes[:] = 0.0                                                            # no readings: not checked
    assert free_space_joints(at(2.0), cam, holes, window, 0.15) == (0, 0)
    # one reading at the joint's depth in the window is enough to leave it unrefuted (silhouette edges)
    edge = depth.copy()
    u, v = np.rint(project_points(cam.world_to_camera(at(2.0)), cam.K, cam.dist)[0]).astype(int)
    edge[v + 2, u - 1] = 2.0
    assert free_space_joints(at(2.0), cam, edge, window, 0.15) == (3, 4)
    # refuted by the camera only with enough joints and share
    joints = np.full((17, 3), np.nan)
    joints[:4] = at(2.0)
    params = Pose3DParams()
    assert refuting_camera(joints, [cam], lambda name: depth, params) == cam.name
    assert refuting_camera(joints, [cam], lambda name: None, params) is None
    assert refuting_camera(joints, [cam], lambda name: depth,
                           dataclasses.replace(params, free_space_min_joints=5)) is None
    assert refuting_camera(joints, [cam], lambda name: depth,
                           dataclasses.replace(params, free_space_margin_m=None)) is None
    raw = np.full((cam.height, cam.width), 3000, np.uint16)
    assert np.allclose(metres_in_range(raw, cam), 3.0)


def _two_cameras(root, other: str):
    """The recording at ``root``, its keypoints, the true joints per frame, and the cameras wfc1
    and ``other``."""
    rec = open_recording(root)
    kp = load_keypoints(root / "keypoints2d.json", rec.calibration)
    return rec, kp, _truth(root), rec.calibration.camera("wfc1"), rec.calibration.camera(other)


def test_a_phantom_from_a_wrong_second_view_is_refuted_and_the_person_lifted(recording):  # noqa: F811
    """Person 0 is seen by wfc1; a second camera's detection agrees with wfc1's rays but puts every
    joint 0.4 m nearer wfc1 (what a detection of someone else in that view can do). Triangulated,
    the pair is a phantom floating in front of the person; wfc1's depth sees through it. wfc1's
    detection scores 0.2, under ``lift_min_person_score``: a lone detection so weak is not
    lifted, one the association had used is."""
    rec, kp, truth, wfc1, other = _two_cameras(recording, "wfc2")
    keep, phantoms = [], {}
    for d in kp.detections:
        if d.person_id != 0:
            keep.append(d)
        elif d.camera == "wfc1":
            d = dataclasses.replace(d, score=0.2)
            keep.append(d)
            g = truth[d.frame][0]
            rays = g - wfc1.t
            phantom = g - 0.4 * rays / np.linalg.norm(rays, axis=1, keepdims=True)     # 0.4 m nearer wfc1
            phantoms[d.frame] = phantom
            uv = project_points(other.world_to_camera(phantom), other.K, other.dist)
            forged = d.keypoints.copy()
            forged[:, :2] = uv
            keep.append(dataclasses.replace(d, id=f"forged{d.frame}", camera="wfc2", keypoints=forged,
                                            image_id=next(i.id for i in kp.images.values() if i.camera == "wfc2"
                                                          and i.frame == d.frame)))
    forged_kp = Keypoints2D(images=kp.images, detections=tuple(keep))
    depth_of = depth_from_recording(rec)

    def nearest(people, joints):
        return min((float(np.nanmean(np.linalg.norm(p.joints - joints, axis=1))) for p in people), default=np.inf)

    off = Pose3DParams(free_space_margin_m=None)
    frames, without = reconstruct_frames(rec.calibration, forged_kp, off, depth_of=depth_of)
    for f, people in zip(frames, without, strict=True):
        assert nearest(people, phantoms[f]) < 0.1           # the phantom is there without the check
        assert nearest(people, truth[f][0]) > 0.3
    frames, checked = reconstruct_frames(rec.calibration, forged_kp, Pose3DParams(), depth_of=depth_of)
    for f, people in zip(frames, checked, strict=True):
        assert nearest(people, phantoms[f]) > 0.25          # refuted
        assert nearest(people, truth[f][0]) < 0.15          # wfc1's detection lifted from its depth
        lifted = min(people, key=lambda p: float(np.nanmean(np.linalg.norm(p.joints - truth[f][0], axis=1))))
        assert [d.camera for d in lifted.detections] == ["wfc1"]
        head = np.isfinite(lifted.joints[:5, 0])
        assert np.linalg.norm(lifted.joints[:5][head].mean(axis=0) - truth[f][0][:5][head].mean(axis=0)) < 0.06
        assert len(people) >= len(truth[f])                 # nobody else was lost
    alone = Keypoints2D(images=kp.images, detections=tuple(d for d in keep if not str(d.id).startswith("forged")))
    frames, lone = reconstruct_frames(rec.calibration, alone, Pose3DParams(), depth_of=depth_of)
    for f, people in zip(frames, lone, strict=True):
        assert nearest(people, truth[f][0]) > 0.3           # the same detection alone is too weak to lift


def test_a_wrong_third_view_is_dropped_and_the_person_kept(recording):  # noqa: F811
    """A person triangulated from two right views and one forged one (0.4 m nearer wfc1): the
    depth refutes the three together; without the forged view the person is right again."""
    rec = open_recording(recording)
    kp = load_keypoints(recording / "keypoints2d.json", rec.calibration)
    truth = _truth(recording)
    rig = prepare_rig(rec.calibration)
    wfc1, wfc2 = rec.calibration.camera("wfc1"), rec.calibration.camera("wfc2")
    frame = 0
    g = truth[frame][0]
    real = [d for d in kp.detections if d.person_id == 0 and d.frame == frame and d.camera in ("wfc1", "sc1")]
    assert len(real) == 2
    rays = g - wfc1.t
    phantom = g - 0.4 * rays / np.linalg.norm(rays, axis=1, keepdims=True)
    template = next(d for d in kp.detections if d.person_id == 0 and d.frame == frame and d.camera == "wfc2")
    forged = template.keypoints.copy()
    forged[:, :2] = project_points(wfc2.world_to_camera(phantom), wfc2.K, wfc2.dist)
    wrong = dataclasses.replace(template, keypoints=forged)
    params = Pose3DParams()
    depth = FrameDepth([v.camera for v in rig.views], frame, depth_from_recording(rec), params)
    joints = np.nanmean([g, phantom], axis=0)                 # what the three views together give
    three = PersonObservation(joints=joints, confidence=np.ones(17), error_px=np.zeros(17),
                              detections=(real[0], real[1], wrong), score=1.5)
    assert depth.refuted(phantom) and not depth.refuted(g)
    kept = without_one_view(rig, three, depth, params)
    assert kept is not None
    assert sorted(d.camera for d in kept.detections) == ["sc1", "wfc1"]
    assert np.nanmean(np.linalg.norm(kept.joints - g, axis=1)) < 0.08
    two = dataclasses.replace(three, detections=(real[0], wrong))
    assert without_one_view(rig, two, depth, params) is None   # two views: nothing to drop, lift instead


def test_a_head_one_view_put_on_the_cap_is_taken_from_the_other_view(recording):  # noqa: F811
    """Person 0 seen by two cameras only: wfc1 marks the head right, sc1 marks the body right but
    its nose, eyes and ears where a head 0.3 m nearer wfc1 would show (a detector putting them
    on the cap of a bent head). Two rays always meet: the head is triangulated 0.3 m in front of
    the face, where wfc1's depth reads the face behind it. The body stays; the head is lifted
    from wfc1's view, near the true one; with the check off it stays wrong."""
    rec, kp, truth, wfc1, sc1 = _two_cameras(recording, "sc1")
    keep, forged_at = [], {}
    for d in kp.detections:
        if d.person_id != 0:
            keep.append(d)
            continue
        if d.camera == "wfc1":
            keep.append(d)
        elif d.camera == "sc1":
            g = truth[d.frame][0]
            rays = g[:5] - wfc1.t
            phantom = g[:5] - 0.3 * rays / np.linalg.norm(rays, axis=1, keepdims=True)
            forged = d.keypoints.copy()
            forged[:, :2] = project_points(sc1.world_to_camera(g), sc1.K, sc1.dist)
            forged[:5, :2] = project_points(sc1.world_to_camera(phantom), sc1.K, sc1.dist)
            forged[:, 2] = np.maximum(forged[:, 2], 0.6)
            forged_at[d.frame] = phantom
            keep.append(dataclasses.replace(d, keypoints=forged))
    assert forged_at
    two_views = Keypoints2D(images=kp.images, detections=tuple(keep))
    depth_of = depth_from_recording(rec)

    def person0(people, f):
        return min(people, key=lambda p: float(np.nanmean(np.linalg.norm(p.joints[5:13] - truth[f][0][5:13], axis=1))))

    def head_error(p, f):
        ok = np.isfinite(p.joints[:5, 0])
        return float(np.linalg.norm(p.joints[:5][ok].mean(axis=0) - truth[f][0][:5][ok].mean(axis=0)))

    off = Pose3DParams(free_space_head_joints=None)
    frames, plain = reconstruct_frames(rec.calibration, two_views, off, depth_of=depth_of)
    frames, checked = reconstruct_frames(rec.calibration, two_views, Pose3DParams(), depth_of=depth_of)
    rig = prepare_rig(rec.calibration)
    for f, before, after in zip(frames, plain, checked, strict=True):
        if f not in forged_at:
            continue
        p0, p1 = person0(before, f), person0(after, f)
        assert sorted(p0.cameras) == ["sc1", "wfc1"]
        assert head_error(p0, f) > 0.15                           # the rays meet in front of the face
        depth = FrameDepth([v.camera for v in rig.views], f, depth_of, Pose3DParams())
        assert head_refuted(p0.joints, depth, Pose3DParams())      # wfc1 sees through that head
        assert head_error(p1, f) < 0.08                           # lifted from wfc1
        assert not head_refuted(p1.joints, depth, Pose3DParams())
        assert np.allclose(p1.joints[5:], p0.joints[5:], equal_nan=True)   # the body is kept
        assert repair_head(rig, p1, depth, Pose3DParams()) is p1   # a head nobody refutes stays as it is
