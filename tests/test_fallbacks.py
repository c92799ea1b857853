"""Fallbacks of the render stage for faces the 3D path cannot place well (disguisor/run/fallbacks.py)."""

from __future__ import annotations

import numpy as np

from disguisor.io.calibration import Camera
from disguisor.pose3d.poses import Person3D
from disguisor.refine.surface import FaceSurface
from disguisor.run.fallbacks import head_sphere_mask, unobserved_heads
from disguisor.run.params import FailClosedParams


def _person(pid: int, head_seen: bool) -> Person3D:
    joints = np.tile(np.array([0.0, 0.0, 1.0]), (17, 1)) + 0.01 * np.arange(17)[:, None]
    if not head_seen:
        joints[:5] = np.nan  # nose, eyes, ears: no camera saw the head
    return Person3D(id=pid, joints=joints, confidence=np.where(np.isfinite(joints[:, 0]), 0.8, 0.0))


def _face(pid: int, refined: bool, centre=(0.0, 0.0, 1.6)) -> FaceSurface:
    v = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]], float) + np.asarray(centre)
    return FaceSurface(person_id=pid, vertices=v, triangles=np.array([[0, 1, 2]]), uv=np.zeros((3, 2)),
                       centre=np.asarray(centre, float), facing=np.array([1.0, 0, 0]),
                       up=np.array([0, 0, 1.0]), refined=refined)


def test_only_faces_placed_by_the_body_fit_alone_get_the_sphere():
    people = [_person(1, head_seen=False), _person(2, head_seen=True), _person(3, head_seen=False)]
    faces = [_face(1, refined=False, centre=(0.5, 0.2, 1.1)), _face(2, refined=False), _face(3, refined=True)]
    got = unobserved_heads(people, faces, FailClosedParams())
    # 2: a camera saw the head (its face follows the detector); 3: the depth confirmed it
    assert [pid for pid, _, _ in got] == [1]
    assert np.allclose(got[0][1], (0.5, 0.2, 1.1)) and got[0][2] == FailClosedParams().unobserved_head_radius_m
    # a face whose person is missing from the frame's poses is treated as unseen
    assert [pid for pid, _, _ in unobserved_heads([], faces[:1], FailClosedParams())] == [1]
    assert unobserved_heads(people, faces, FailClosedParams(unobserved_head_radius_m=0.0)) == []


def test_the_sphere_covers_a_face_up_to_its_radius_away():
    K = np.array([[525.0, 0, 320], [0, 525.0, 240], [0, 0, 1]])
    cam = Camera(name="c", role="workflow", K=K, dist=np.zeros(5), R=np.eye(3), t=np.zeros(3), width=640, height=480)
    centre = np.array([0.0, 0.0, 2.0])  # 2 m in front of the camera (camera frame = world here)
    mask, box = head_sphere_mask(cam, centre, 0.2)
    # 0.2 m at 2 m with f = 525 px: ~52 px radius; a face 15 cm off the centre is inside
    assert 45 <= box[2] / 2 <= 60
    u, v = (K @ (centre + [0.15, 0.0, 0.0]))[:2] / 2.0
    assert mask[round(v), round(u)]
