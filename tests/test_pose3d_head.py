"""Head joints of the 3D skeletons: a rigid head of human size (disguisor/pose3d/head.py)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from disguisor.pose3d.head import HEAD_LAYOUT_M, fit_layout, place_head, place_heads
from disguisor.pose3d.params import HeadParams
from disguisor.pose3d.poses import FramePoses, Person3D, Poses3D


def _person(head: np.ndarray, conf: float = 0.9) -> Person3D:
    joints = np.zeros((17, 3)) + [0.0, 0.0, 1.2]
    joints[:5] = head
    return Person3D(id=1, joints=joints, confidence=np.where(np.isfinite(joints[:, 0]), conf, 0.0))


def test_the_layout_is_a_human_head_in_a_right_handed_frame():
    nose, leye, reye, lear, rear = HEAD_LAYOUT_M
    assert 0.14 <= np.linalg.norm(lear - rear) <= 0.16          # ear to ear
    assert leye[0] > 0 > reye[0] and nose[1] < 0                  # x: the person's left, face along -y
    # as on a person in a right-handed world: left x forward points down (a mirror image: up)
    assert np.dot(np.cross(lear - rear, nose - (lear + rear) / 2), [0, 0, 1]) < 0


def test_the_fit_recovers_a_moved_and_turned_head():
    R = Rotation.from_euler("zyx", [70, -20, 10], degrees=True).as_matrix()
    t = np.array([1.0, -0.5, 1.6])
    head = HEAD_LAYOUT_M @ R.T + t
    got_R, got_t = fit_layout(head, np.ones(5))
    assert np.allclose(got_R, R, atol=1e-9) and np.allclose(got_t, t, atol=1e-9)
    # three joints suffice; two do not
    head[[1, 3]] = np.nan
    assert np.allclose(fit_layout(head, np.ones(5))[1], t, atol=1e-9)
    head[0] = np.nan
    assert fit_layout(head, np.ones(5)) is None


def test_head_keypoints_shrunk_towards_the_centre_get_a_human_size():
    R = Rotation.from_euler("z", 120, degrees=True).as_matrix()
    t = np.array([0.3, 0.2, 1.55])
    true = HEAD_LAYOUT_M @ R.T + t
    centre = true.mean(0)
    shrunk = centre + 0.65 * (true - centre)  # what triangulated detector keypoints look like
    placed = place_head(_person(shrunk), HeadParams())
    assert np.abs(placed.joints[:5] - true).max() < 0.02
    assert np.linalg.norm(placed.joints[3] - placed.joints[4]) > 0.14
    assert np.array_equal(placed.joints[5:], _person(shrunk).joints[5:])   # the body is untouched


def test_joints_that_are_no_head_stay_as_they_are():
    head = HEAD_LAYOUT_M + [0.0, 0.0, 1.6]
    head[3] += [0.0, 0.0, -0.3]   # a shoulder taken for the left ear
    head[4] += [0.0, 0.0, -0.3]
    person = _person(head)
    assert np.array_equal(place_head(person, HeadParams()).joints, person.joints)
    # a missing joint stays missing; switched off, nothing changes
    head = HEAD_LAYOUT_M * 0.7 + [0.0, 0.0, 1.6]
    head[2] = np.nan
    placed = place_head(_person(head), HeadParams())
    assert np.isnan(placed.joints[2]).all() and np.isfinite(placed.joints[[0, 1, 3, 4]]).all()
    poses = Poses3D(frames=(FramePoses(frame=0, people=(_person(head),)),))
    assert place_heads(poses, HeadParams(enabled=False)) is poses
    assert not np.array_equal(place_heads(poses, HeadParams()).frames[0].people[0].joints, _person(head).joints)
