"""Fallbacks of the render stage for faces the 3D path cannot place well (disguisor/run/fallbacks.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from disguisor.coco import torso_axis
from disguisor.io.calibration import Camera
from disguisor.pose3d.poses import Person3D
from disguisor.refine.carry import ConfirmedHead
from disguisor.refine.surface import FaceSurface
from disguisor.render.obfuscate import blur_region
from disguisor.run.fallbacks import (
    fallback_heads,
    fill_undrawn,
    recent_heads,
    torso_head_centre,
    unconfirmed_heads,
)
from disguisor.run.head_masks import head_disk_mask, head_sphere_mask
from disguisor.run.params import FailClosedParams


def _person(pid: int, head_seen: bool) -> Person3D:
    joints = np.tile(np.array([0.0, 0.0, 1.0]), (17, 1)) + 0.01 * np.arange(17)[:, None]
    joints[[5, 6], 2], joints[[11, 12], 2] = 1.45, 0.95  # shoulders above hips: a standing torso
    if not head_seen:
        joints[:5] = np.nan  # nose, eyes, ears: no camera saw the head
    return Person3D(id=pid, joints=joints, confidence=np.where(np.isfinite(joints[:, 0]), 0.8, 0.0))


def _face(pid: int, refined: bool, centre=(0.0, 0.0, 1.6)) -> FaceSurface:
    v = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]], float) + np.asarray(centre)
    return FaceSurface(person_id=pid, vertices=v, triangles=np.array([[0, 1, 2]]), uv=np.zeros((3, 2)),
                       centre=np.asarray(centre, float), facing=np.array([1.0, 0, 0]),
                       up=np.array([0, 0, 1.0]), refined=refined)


def test_only_faces_the_depth_did_not_confirm_get_the_spheres():
    people = [_person(1, head_seen=False), _person(2, head_seen=True), _person(3, head_seen=False)]
    faces = [_face(1, refined=False, centre=(0.5, 0.2, 1.1)), _face(2, refined=False), _face(3, refined=True)]
    got = unconfirmed_heads(people, faces, FailClosedParams())
    # 3: the depth confirmed the head. 1 and 2 (whatever the detector said of the head): a sphere
    # around the fitted face and one beyond the shoulders (torso_head_centre); 2's head joints
    # lie 0.6 m from the fitted face: a third sphere around them
    assert [pid for pid, _, _ in got] == [1, 1, 2, 2, 2]
    assert np.allclose(got[4][1], people[1].joints[:5].mean(0))
    assert np.allclose(got[0][1], (0.5, 0.2, 1.1)) and got[0][2] == FailClosedParams().unconfirmed_head_radius_m
    assert np.allclose(got[1][1], torso_head_centre(people[0].joints, FailClosedParams()))
    assert got[1][2] == FailClosedParams().torso_head_radius_m
    # a face whose person is missing from the frame's poses: the fitted face's sphere only
    assert [pid for pid, _, _ in unconfirmed_heads([], faces[:1], FailClosedParams())] == [1]
    assert unconfirmed_heads(people, faces, FailClosedParams(unconfirmed_head_radius_m=0.0)) == []


def _facing(pid: int, facing) -> FaceSurface:
    face = _face(pid, refined=True)
    return FaceSurface(person_id=pid, vertices=face.vertices, triangles=face.triangles, uv=face.uv,
                       centre=face.centre, facing=np.asarray(facing, float) / np.linalg.norm(facing),
                       up=face.up, refined=True)


def test_a_face_looking_up_further_than_a_neck_bends_gets_the_spheres():
    p = FailClosedParams()
    standing = _person(1, head_seen=True)
    standing.joints[[5, 6]] = [[0.0, 0.2, 1.45], [0.0, -0.2, 1.45]]  # an upright torso
    standing.joints[[11, 12]] = [[0.0, 0.1, 0.95], [0.0, -0.1, 0.95]]
    standing.joints[:5] = torso_head_centre(standing.joints, p)  # the head where the torso puts it
    lying = _person(2, head_seen=True)
    lying.joints[[5, 6]] = [[0.0, 0.4, 1.0], [0.1, 0.4, 1.0]]  # the torso along +y: a patient on the table
    lying.joints[[11, 12]] = [[0.0, -0.1, 1.0], [0.1, -0.1, 1.0]]
    lying.joints[:5] = torso_head_centre(lying.joints, p)
    a = np.radians(p.max_face_up_deg)
    just_below = [np.cos(a - 0.05), 0.0, np.sin(a - 0.05)]
    just_above = [np.cos(a + 0.05), 0.0, np.sin(a + 0.05)]
    assert unconfirmed_heads([standing], [_facing(1, just_below)], p) == []
    # the face drawn on the crown of a head seen from behind: doubtful, both spheres
    assert [pid for pid, _, _ in unconfirmed_heads([standing], [_facing(1, just_above)], p)] == [1, 1]
    assert [pid for pid, _, _ in unconfirmed_heads([standing], [_facing(1, [0, 0, 1.0])], p)] == [1, 1]
    # a patient lying on their back looks straight up: across their torso, not along it
    assert unconfirmed_heads([lying], [_facing(2, [0, 0, 1.0])], p) == []
    # (the test face lies 0.6 m from the lying head joints: a third sphere around them)
    assert [pid for pid, _, _ in unconfirmed_heads([lying], [_facing(2, [0, 1.0, 0.2])], p)] == [2, 2, 2]
    # no torso axis (no hip seen): nothing to judge by
    standing.joints[[11, 12]] = np.nan
    assert unconfirmed_heads([standing], [_facing(1, [0, 0, 1.0])], p) == []


def test_the_sphere_covers_a_face_up_to_its_radius_away():
    K = np.array([[525.0, 0, 320], [0, 525.0, 240], [0, 0, 1]])
    cam = Camera(name="c", role="workflow", K=K, dist=np.zeros(5), R=np.eye(3), t=np.zeros(3), width=640, height=480)
    centre = np.array([0.0, 0.0, 2.0])  # 2 m in front of the camera (camera frame = world here)
    mask, box = head_sphere_mask(cam, centre, 0.2)
    # 0.2 m at 2 m with f = 525 px: ~52 px radius; a face 15 cm off the centre is inside
    assert 45 <= box[2] / 2 <= 60
    u, v = (K @ (centre + [0.15, 0.0, 0.0]))[:2] / 2.0
    assert mask[round(v), round(u)]



def test_the_sphere_leaves_out_the_wall_seen_past_the_head():
    K = np.array([[525.0, 0, 320], [0, 525.0, 240], [0, 0, 1]])
    cam = Camera(name="c", role="workflow", K=K, dist=np.zeros(5), R=np.eye(3), t=np.zeros(3), width=640, height=480)
    centre = np.array([0.0, 0.0, 2.0])
    depth = np.full((480, 640), 4.0, np.float32)  # a wall 2 m behind the head
    yy, xx = np.mgrid[:480, :640]
    head = (xx - 320) ** 2 + (yy - 240) ** 2 <= 25 ** 2
    depth[head] = 1.95  # the head, 25 px around the centre
    depth[240, 350:352] = 0.0  # a speck without a reading (dark hair)
    depth[200:202, 300] = 2.15  # a shoulder behind the head's centre, inside the sphere
    full, full_box = head_sphere_mask(cam, centre, 0.2)
    gated, box = head_sphere_mask(cam, centre, 0.2, depth, behind_m=0.25, edge_px=3)
    # the head, the speck and what lies inside the sphere stay; the wall beyond the edge band goes
    assert gated[head].all() and gated[240, 350:352].all() and gated[200:202, 300].all()
    ring = ((xx - 320) ** 2 + (yy - 240) ** 2 >= 30 ** 2) & (yy > 250)  # away from the speck and the shoulder
    assert not gated[ring].any() and full[ring].sum() > 2000
    assert gated.sum() < full.sum() / 3 and box[2] < full_box[2]
    # the band of edge_px around what stays is kept (colour and depth silhouettes differ)
    assert gated[240, 320 - 27] and not gated[240, 320 - 29]
    # nearer than the sphere's far side plus the margin: kept (a face the fit placed a little off)
    assert head_sphere_mask(cam, centre, 0.2, np.full((480, 640), 2.4, np.float32), 0.25, 3)[0].sum() == full.sum()
    # seen through everywhere: nothing of the sphere shows
    assert head_sphere_mask(cam, centre, 0.2, np.full((480, 640), 4.0, np.float32), 0.25, 3) is None
    # without the margin: the whole silhouette, as before
    assert head_sphere_mask(cam, centre, 0.2, depth, None, 3)[0].sum() == full.sum()

def test_the_sphere_leaves_out_surfaces_in_front_of_or_beside_the_head():
    K = np.array([[525.0, 0, 320], [0, 525.0, 240], [0, 0, 1]])
    cam = Camera(name="c", role="workflow", K=K, dist=np.zeros(5), R=np.eye(3), t=np.zeros(3), width=640, height=480)
    centre = np.array([0.0, 0.0, 2.0])
    yy, xx = np.mgrid[:480, :640]
    depth = np.full((480, 640), 2.0, np.float32)  # a neck and collar at the head's depth
    low = yy > 268  # a shoulder 0.5 m nearer than the head, below it (a person leaning in)
    depth[low] = 1.5
    head = (xx - 320) ** 2 + (yy - 240) ** 2 <= 25 ** 2
    depth[head] = 1.9  # the face, 10 cm in front of the centre
    depth[230:233, 280:283] = 0.0  # no reading (dark hair): stays
    full, full_box = head_sphere_mask(cam, centre, 0.2)
    behind_only, _ = head_sphere_mask(cam, centre, 0.2, depth, 0.25, 3)
    ball, box = head_sphere_mask(cam, centre, 0.2, depth, 0.25, 3, ball_slack_m=0.05)
    # the behind test keeps everything here (nothing lies beyond the sphere)
    assert behind_only.sum() == full.sum()
    # the ball keeps the face, the pixels without a reading and the surfaces within 0.25 m of
    # the centre; the shoulder in front of the head goes, apart from the edge band
    assert ball[head].all() and ball[230:233, 280:283].all() and ball[250:268][full[250:268]].all()
    assert not ball[yy > 271].any() and full[yy > 271].sum() > 300
    assert ball.sum() < full.sum() and box[3] < full_box[3] and box[2] == full_box[2]
    # a wall 0.3 m behind the centre (within the behind test's margin) but outside the ball: out
    wall = np.full((480, 640), 2.3, np.float32)
    wall[head] = 1.9
    assert head_sphere_mask(cam, centre, 0.2, wall, 0.25, 3)[0].sum() == full.sum()
    near_face = head_sphere_mask(cam, centre, 0.2, wall, 0.25, 3, ball_slack_m=0.05)[0]
    assert near_face[head].all() and near_face.sum() < 2 * head.sum()
    # a sensor reading everywhere inside the ball: nothing left out
    assert head_sphere_mask(cam, centre, 0.2, np.full((480, 640), 2.0, np.float32), 0.25, 3,
                            ball_slack_m=0.05)[0][full & ((xx - 320) ** 2 + (yy - 240) ** 2 <= 60 ** 2)].all()


def test_a_2d_head_disk_leaves_out_the_background_beyond_its_head():
    depth = np.full((200, 300), 4.0, np.float32)  # the wall
    yy, xx = np.mgrid[:200, :300]
    head = (xx - 100) ** 2 + (yy - 100) ** 2 <= 14 ** 2
    depth[head] = 2.0
    full = head_disk_mask(depth.shape, np.array([100.0, 100.0]), 30.0)
    gated = head_disk_mask(depth.shape, np.array([100.0, 100.0]), 30.0, depth, behind_m=0.25, edge_px=3)
    assert full.sum() > 2500 and gated[head].all() and gated.sum() < full.sum() / 2
    assert gated[100, 100 - 16] and not gated[100, 100 - 20]  # the edge band of 3 px around the head
    # a disk beside the head (the detection off): its inner half reads the wall, nothing is left out
    off = head_disk_mask(depth.shape, np.array([150.0, 100.0]), 30.0, depth, behind_m=0.25, edge_px=3)
    assert off.sum() == head_disk_mask(depth.shape, np.array([150.0, 100.0]), 30.0).sum()
    # no reading in the inner half: the whole disk
    depth[(xx - 100) ** 2 + (yy - 100) ** 2 <= 15 ** 2] = 0.0
    assert head_disk_mask(depth.shape, np.array([100.0, 100.0]), 30.0, depth, 0.25, 3).sum() == full.sum()


def _body(shoulders, hips) -> np.ndarray:
    joints = np.full((17, 3), np.nan)
    joints[[5, 6]] = shoulders
    joints[[11, 12]] = hips
    return joints


def test_the_head_is_beyond_the_shoulders_standing_or_lying():
    p = FailClosedParams()
    standing = _body([[0.2, 0, 1.45], [-0.2, 0, 1.45]], [[0.1, 0, 0.95], [-0.1, 0, 0.95]])
    head = torso_head_centre(standing, p)
    assert np.allclose(head, (0, 0, 1.45 + p.torso_head_ahead_m + p.torso_head_up_m))
    # a patient lying along +y with the head towards +y, seen from one side only (one shoulder)
    lying = _body([[0.16, 0.34, 1.0], [np.nan] * 3], [[0.09, -0.13, 1.0], [-0.09, -0.13, 1.0]])
    head = torso_head_centre(lying, p)
    true_face = np.array([0.0, 0.53, 1.16])  # the generator's patient: face up, above the table
    assert np.linalg.norm(head - true_face) < p.torso_head_radius_m
    assert head[1] > 0.34 + 0.1  # beyond the shoulder, not above the chest
    assert torso_head_centre(_body([[np.nan] * 3] * 2, [[0, 0, 1.0]] * 2), p) is None
    # a lying person without a body fit and without head joints: the sphere goes there too
    person = Person3D(id=7, joints=lying, confidence=np.where(np.isfinite(lying[:, 0]), 0.5, 0.0))
    [(pid, centre, radius)] = fallback_heads([person], set(), p)
    assert pid == 7 and np.allclose(centre, head) and radius == p.torso_head_radius_m


def test_a_head_bent_over_the_table_is_within_the_sphere_beyond_one_shoulder():
    """A nurse bent over the table, found with one shoulder, both hips and no head joint (the
    detector's skeleton of medium 640x480 seed 51, frame 0): the point beyond the shoulders lies
    within the sphere's radius of her true face. Before, the axis ran from the hips' centre to
    that shoulder and the point was 0.22 m beyond and 0.08 m up: 0.36 m off, her masked face left
    unchanged in two views."""
    p = FailClosedParams()
    bent = _body([[0.37, -0.11, 1.39], [np.nan] * 3], [[0.61, -0.0, 0.98], [0.57, 0.14, 0.92]])
    true_face = np.array([0.16, 0.07, 1.42])
    head = torso_head_centre(bent, p)
    assert np.linalg.norm(head - true_face) < 0.2 < p.torso_head_radius_m
    before = torso_head_centre(bent, replace(p, torso_head_ahead_m=0.22, torso_head_up_m=0.08))
    assert np.linalg.norm(before - true_face) > 0.25  # the one-shoulder axis alone does not suffice
    top, axis = torso_axis(bent, sided=True)
    assert np.allclose(top, [0.35, -0.04, 1.36])  # the shoulder moved by the hips' half width
    assert np.allclose(axis, np.subtract([0.37, -0.11, 1.39], [0.61, -0.0, 0.98]) / np.linalg.norm(
        np.subtract([0.37, -0.11, 1.39], [0.61, -0.0, 0.98])))
    # both shoulders: their centre and the axis from the hips' centre, as always
    both = _body([[0.2, 0, 1.45], [-0.2, 0, 1.45]], [[0.1, 0, 0.95], [-0.1, 0, 0.95]])
    for sided in (True, False):
        top, axis = torso_axis(both, sided=sided)
        assert np.allclose(top, [0, 0, 1.45]) and np.allclose(axis, [0, 0, 1])
    assert np.allclose(torso_axis(bent)[0], [0.37, -0.11, 1.39])  # not sided: the known shoulder itself


def test_head_joints_far_from_the_torso_make_even_a_registered_face_doubtful():
    p = FailClosedParams()
    # the joints of a lying patient found from one side (synthetic medium scenario, seed 3)
    lying = _body([[-0.03, 0.37, 0.99], [np.nan] * 3], [[-0.02, -0.13, 1.04], [0.15, -0.15, 1.14]])
    lying[[3, 4]] = [[0.10, 0.39, 1.14], [0.15, 0.37, 1.17]]  # "ears" on the shoulder
    person = Person3D(id=4, joints=lying, confidence=np.where(np.isfinite(lying[:, 0]), 0.5, 0.0))
    got = unconfirmed_heads([person], [_face(4, refined=True, centre=(0.16, 0.32, 1.12))], p)
    assert [pid for pid, _, _ in got] == [4, 4]
    # ears where the torso puts the head: a registered face needs nothing more
    there = torso_head_centre(lying, p, p.torso_head_disagree_ahead_m, p.torso_head_disagree_up_m, sided=False)
    lying[[3, 4]] = there + [[0.08, 0, 0], [-0.08, 0, 0]]
    person = Person3D(id=4, joints=lying, confidence=np.where(np.isfinite(lying[:, 0]), 0.5, 0.0))
    assert unconfirmed_heads([person], [_face(4, refined=True)], p) == []


def test_a_face_placed_beside_a_confirmed_one_is_a_duplicate():
    from disguisor.run.listing import duplicate_faces

    confirmed = _face(1, refined=True, centre=(0.0, 0.0, 1.6))
    beside = _face(2, refined=False, centre=(0.2, 0.0, 1.6))       # 20 cm away, not confirmed: a duplicate
    other = _face(3, refined=False, centre=(0.6, 0.0, 1.6))        # 60 cm away: another person
    same_head = _face(4, refined=True, centre=(0.02, 0.0, 1.6))    # registered onto person 1's head
    assert duplicate_faces([confirmed, beside, other, same_head], 0.3, 0.1) == {2, 4}
    # without a confirmed face nearby nothing is a duplicate (privacy: each is still painted anyway)
    assert duplicate_faces([beside, other], 0.3, 0.1) == set()


def test_a_face_turned_away_and_mostly_hidden_is_painted_but_not_listed():
    from disguisor.render.results import RenderedFace
    from disguisor.run.listing import unlisted_reason
    from disguisor.run.params import RunParams

    def face(angle, visible, box=(10.0, 10.0, 20.0, 20.0), pid=1):
        return RenderedFace(person_id=pid, bbox=box, full_bbox=box, painted_bbox=box, painted_pixels=400,
                            visible_fraction=visible, facing_angle_deg=angle)

    p = RunParams()
    assert unlisted_reason(face(30.0, 1.0), p) is None
    assert unlisted_reason(face(150.0, 0.4), p) is None        # seen from behind, but a good part of it shows
    assert unlisted_reason(face(60.0, 0.05), p) is None        # mostly behind an occluder, facing the camera
    assert unlisted_reason(face(150.0, 0.05), p) is not None   # the back of the head
    assert unlisted_reason(face(165.0, 0.4), p) is not None    # the crown seen from above: never a face
    assert unlisted_reason(face(30.0, 1.0, box=(0.0, 0.0, 3.0, 3.0)), p) is not None   # a sliver
    assert unlisted_reason(face(30.0, 1.0), p, unlisted={1: "duplicate"}) == "duplicate"
    # a face estimated just outside the image: its margin is blurred inside, but it is not in the picture
    strip = replace(face(30.0, 0.0, box=(0.0, 0.0, 60.0, 5.0)), border=True, blend="blur")
    assert unlisted_reason(strip, p) is not None
    assert unlisted_reason(strip, replace(p, report_border_faces=True)) is None
    # the frame record says why each painted face is not listed, and where it was painted
    from disguisor.run.listing import unlisted_reason, unlisted_record
    assert unlisted_reason(face(30.0, 1.0), p) is None
    assert unlisted_reason(face(150.0, 0.05), p) == "turned away"
    assert unlisted_reason(face(165.0, 0.4), p) == "back"
    assert unlisted_reason(face(30.0, 1.0, box=(0.0, 0.0, 3.0, 3.0)), p) == "small"
    assert unlisted_reason(strip, p) == "border"
    assert unlisted_reason(face(30.0, 1.0), p, unlisted={1: "disputed"}) == "disputed"
    rec = unlisted_record(face(150.0, 0.05), "turned away")
    assert rec == {"person_id": 1, "reason": "turned away", "bbox": [10.0, 10.0, 20.0, 20.0],
                   "painted_bbox": [10.0, 10.0, 20.0, 20.0], "facing_deg": 150.0, "visible": 0.05}


def test_a_disputed_face_is_listed_only_in_views_whose_detector_sees_it_in_its_box():
    from disguisor.render.results import RenderedFace
    from disguisor.run.listing import seen_in_box, unlisted_reasons

    def _unlisted_ids(*args):  # the person ids a view paints but does not list
        return set(unlisted_reasons(*args))
    from disguisor.run.params import RunParams

    def rendered(pid, box, angle=70.0):  # turned 70 degrees from the camera: not seen from the front
        return RenderedFace(person_id=pid, bbox=box, full_bbox=box, painted_bbox=box, painted_pixels=400,
                            visible_fraction=1.0, facing_angle_deg=angle)

    def detection(nose, eyes_score=0.8):
        kp = np.zeros((17, 3))
        kp[0] = [*nose, 0.9]
        kp[1] = [nose[0] + 4, nose[1] - 4, eyes_score]
        kp[2] = [nose[0] - 4, nose[1] - 4, eyes_score]
        return kp

    box = (100.0, 100.0, 30.0, 30.0)
    assert seen_in_box(box, [detection((115, 118))], 0.5)
    assert not seen_in_box(box, [detection((115, 118), eyes_score=0.3)], 0.5)   # eyes too unsure
    assert not seen_in_box(box, [detection((160, 118))], 0.5)                    # a face beside it
    assert not seen_in_box(box, [detection((102, 118))], 0.5)                    # an eye outside the box
    disputed = replace(_face(1, refined=False), disputed=True)
    faces = [disputed, _face(2, refined=True, centre=(1.0, 0.0, 1.6))]
    people = {1: _person(1, head_seen=True), 2: _person(2, head_seen=True)}
    views = [rendered(1, box), rendered(2, (300.0, 100.0, 30.0, 30.0))]
    p = RunParams()
    assert _unlisted_ids(faces, views, people, [], p) == {1}
    assert unlisted_reasons(faces, views, people, [], p) == {1: "disputed"}
    assert _unlisted_ids(faces, views, people, [detection((115, 118))], p) == set()
    # the detection lies in the other face's box: it does not vouch for the disputed one
    assert _unlisted_ids(faces, views, people, [detection((315, 118))], p) == {1}
    assert _unlisted_ids(faces, views, people, [detection((115, 118))],
                          replace(p, report_disputed_seen_score=None)) == {1}
    # not rendered in this view (hidden, outside): nothing to list
    assert _unlisted_ids(faces, views[1:], people, [detection((115, 118))], p) == {1}
    # a view the disputed face turns towards (within report_disputed_front_deg) lists it without a detection
    front = [rendered(1, box, angle=30.0), views[1]]
    assert p.report_disputed_front_deg == 45.0
    assert _unlisted_ids(faces, front, people, [], p) == set()
    assert _unlisted_ids(faces, [rendered(1, box, angle=50.0), views[1]], people, [], p) == {1}
    assert _unlisted_ids(faces, front, people, [], replace(p, report_disputed_front_deg=None)) == {1}
    assert _unlisted_ids(faces, front, people, [], replace(p, report_disputed_faces=True)) == set()
    with pytest.raises(ValueError, match="report_disputed_front_deg"):
        RunParams(report_disputed_front_deg=200.0)


def test_a_face_looking_up_further_than_a_neck_bends_is_listed_only_where_the_detector_sees_it():
    """The face drawn on the crown of a head seen from behind (its turn from a nose and eyes
    guessed there) is painted but not listed, even in a view it seems to face, unless that
    view's detector sees nose and eyes inside its box; a face looking level stays listed."""
    from disguisor.render.results import RenderedFace
    from disguisor.run.listing import looks_up, unlisted_reasons
    from disguisor.run.params import RunParams

    box = (100.0, 100.0, 30.0, 30.0)
    seen_from_above = RenderedFace(person_id=1, bbox=box, full_bbox=box, painted_bbox=box, painted_pixels=400,
                                   visible_fraction=1.0, facing_angle_deg=20.0)   # it "faces" a ceiling camera
    up, level = replace(_face(1, refined=True), facing=np.array([0.0, 0.0, 1.0])), _face(1, refined=True)
    people = {1: _person(1, head_seen=True)}   # standing: shoulders above hips
    p = RunParams()
    assert looks_up(people[1], up.facing, 45.0) and not looks_up(people[1], level.facing, 45.0)
    assert not looks_up(None, up.facing, 45.0)
    assert unlisted_reasons([up], [seen_from_above], people, [], p) == {1: "looking up"}
    assert unlisted_reasons([level], [seen_from_above], people, [], p) == {}
    kp = np.zeros((17, 3))
    kp[:3] = [[115, 118, 0.9], [119, 114, 0.8], [111, 114, 0.8]]   # nose and eyes inside the box
    assert unlisted_reasons([up], [seen_from_above], people, [kp], p) == {}
    assert unlisted_reasons([up], [seen_from_above], people, [], replace(p, report_faces_looking_up=True)) == {}
    # a face looking up 55 degrees (the test torso leans back a little) is doubtful at 45, not at 60
    a = np.radians(55.0)
    steep = replace(up, facing=np.array([np.cos(a), 0.0, np.sin(a)]))
    assert unlisted_reasons([steep], [seen_from_above], people, [], p) == {1: "looking up"}
    loose = replace(p, fail_closed=replace(p.fail_closed, max_face_up_deg=60.0))
    assert unlisted_reasons([steep], [seen_from_above], people, [], loose) == {}


def test_a_sphere_without_a_face_reports_a_face_sized_box_at_the_eyes():
    from disguisor.run.fallbacks import face_sphere_box

    K = np.array([[525.0, 0, 320], [0, 525.0, 240], [0, 0, 1]])
    cam = Camera(name="c", role="workflow", K=K, dist=np.zeros(5), R=np.eye(3), t=np.zeros(3), width=640, height=480)
    joints = np.full((17, 3), np.nan)
    joints[[0, 1, 2]] = [[0.1, 0.0, 2.0], [0.12, -0.03, 2.0], [0.08, -0.03, 2.0]]
    person = Person3D(id=1, joints=joints, confidence=np.where(np.isfinite(joints[:, 0]), 0.8, 0.0))
    p = FailClosedParams()
    box = face_sphere_box(cam, person, np.array([0.0, 0.0, 2.0]), p)
    sphere = head_sphere_mask(cam, np.array([0.0, 0.0, 2.0]), p.head_radius_m)[1]
    # 8 cm at 2 m with f = 525 px: ~42 px wide, around the eyes' and nose's mean (x 0.1 m: u ~346)
    assert 36 <= box[2] <= 48 and abs(box[0] + box[2] / 2 - (320 + 525 * 0.1 / 2.0)) < 3
    assert box[2] * box[3] < 0.3 * sphere[2] * sphere[3]
    # no head joints: the same size around the sphere's centre
    box = face_sphere_box(cam, None, np.array([0.0, 0.0, 2.0]), p)
    assert abs(box[0] + box[2] / 2 - 320) < 2


def _camera_looking(direction, f=500.0) -> Camera:
    """A 640x480 camera at 3 m height whose optical axis is ``direction`` (world, z up)."""
    z = np.asarray(direction, float) / np.linalg.norm(direction)
    x = np.cross(z, [0.0, 0.0, 1.0]) if abs(z[2]) < 0.999 else np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    K = np.array([[f, 0, 320.0], [0, f, 240.0], [0, 0, 1.0]])
    return Camera("c", "surgical", 640, 480, K, np.zeros(5), np.stack([x, y, z], axis=1), np.array([0.0, 0.0, 3.0]))


def test_looking_down_measures_the_optical_axis_below_the_horizon():
    from disguisor.geometry import looking_down_deg

    assert looking_down_deg(_camera_looking([0, 0, -1])) == pytest.approx(90.0)
    assert looking_down_deg(_camera_looking([1, 0, -1])) == pytest.approx(45.0)
    assert looking_down_deg(_camera_looking([1, 0, 0])) == pytest.approx(0.0, abs=1e-9)
    assert looking_down_deg(_camera_looking([1, 0, 0.3])) < 0


def test_head_sized_keeps_boxes_of_a_face_size_at_their_depth():
    from disguisor.run.fallbacks import head_sized

    cam = _camera_looking([0, 0, -1], f=500.0)
    depth = np.zeros((480, 640), np.float32)
    depth[:, :320] = 2.0  # left half read at 2 m; right half without readings
    boxes = np.array([[100, 100, 40, 40, 0.9],   # 40 px at 2 m: 0.16 m, a face
                      [100, 300, 6, 6, 0.8],     # 0.024 m: a speck
                      [150, 200, 150, 150, 0.7],  # 0.6 m: no face
                      [400, 100, 6, 6, 0.6]])    # no reading: kept
    kept = head_sized(boxes, cam, depth, 0.08, 0.40)
    assert kept[:, 4].tolist() == [0.9, 0.6]
    assert len(head_sized(boxes, cam, None, 0.08, 0.40)) == 4


def _detection_of(cam: Camera, joints: np.ndarray) -> np.ndarray:
    """(17, 3) keypoints (x, y px, score 0.9) of world joints seen by ``cam``."""
    from disguisor.geometry import project_points

    uv = project_points(cam.world_to_camera(joints), cam.K, cam.dist)
    return np.column_stack([uv, np.full(len(joints), 0.9)])


def _camera_and_body() -> tuple[Camera, np.ndarray]:
    """A 640x480 camera at the origin looking along +z, and a person's joints (17, 3) 3 m away."""
    K = np.array([[525.0, 0, 320], [0, 525.0, 240], [0, 0, 1]])
    cam = Camera(name="c", role="workflow", K=K, dist=np.zeros(5), R=np.eye(3), t=np.zeros(3), width=640, height=480)
    body = np.zeros((17, 3))
    body[:, 0] = np.linspace(-0.3, 0.3, 17)
    body[:, 1] = np.linspace(-0.6, 0.6, 17)
    body[:, 2] = 3.0
    body[:5] = [[0.0, 0.3, 3.0], [-0.03, 0.27, 3.0], [0.03, 0.27, 3.0], [-0.07, 0.28, 3.0], [0.07, 0.28, 3.0]]
    return cam, body


def test_a_2d_head_that_the_3d_person_does_not_place_is_painted():
    """A person bent over the table: the body found in 3D explains the 2D detection, but the 3D
    person has no head joints (its face would be guessed above the torso) or a head elsewhere:
    the head the detector saw is still hidden, unless that spot is painted already."""
    from disguisor.run.fallbacks import unexplained_heads

    cam, body = _camera_and_body()
    det = _detection_of(cam, body)
    params = FailClosedParams()
    whole = Person3D(id=1, joints=body, confidence=np.full(17, 0.8))
    assert unexplained_heads(cam, [det], [whole], params) == []            # body and head explained
    headless = body.copy()
    headless[:5] = np.nan
    got = unexplained_heads(cam, [det], [Person3D(id=1, joints=headless, confidence=np.full(17, 0.8))], params)
    assert len(got) == 1 and np.allclose(got[0][0], det[:5, :2].mean(0))
    elsewhere = body.copy()
    elsewhere[:5, 1] -= 0.5                                                  # head 0.5 m off, body in place
    assert len(unexplained_heads(cam, [det], [Person3D(id=1, joints=elsewhere, confidence=np.full(17, 0.8))],
                                 params)) == 1
    (centre, radius, face_seen), = got
    assert face_seen                                                         # nose and eyes: a face, listed
    from_behind = det.copy()
    from_behind[:3, 2] = 0.0                                                 # ears only: a head seen from behind
    (*_, behind_face), = unexplained_heads(cam, [from_behind], [], params)
    assert not behind_face                                                   # blurred, not listed
    x, y, r = int(round(centre[0])), int(round(centre[1])), int(np.ceil(radius))
    painted = np.zeros((480, 640), bool)
    painted[y - r - 1:y + r + 2, x - r - 1:x + r + 2] = True                 # the head is hidden already
    assert unexplained_heads(cam, [det], [Person3D(id=1, joints=headless, confidence=np.full(17, 0.8))],
                             params, painted) == []
    assert len(unexplained_heads(cam, [det], [], params, painted)) == 1      # nobody in 3D: as before
    # painted up to the head's centre only (the edge of a sphere painted beside it): not hidden
    edge = np.zeros((480, 640), bool)
    edge[:, :x + 1] = True
    assert len(unexplained_heads(cam, [det], [Person3D(id=1, joints=headless, confidence=np.full(17, 0.8))],
                                 params, edge)) == 1
    # a 3D person on the detection's head but not on its limbs (one 3D person per head: the
    # limbs were someone else's): explained where the head's disk is painted, else hidden
    other_limbs = body.copy()
    other_limbs[5:, 0] += 0.6
    on_head = Person3D(id=1, joints=other_limbs, confidence=np.full(17, 0.8))
    assert len(unexplained_heads(cam, [det], [on_head], params)) == 1
    assert len(unexplained_heads(cam, [det], [on_head], params, edge)) == 1
    assert unexplained_heads(cam, [det], [on_head], params, painted) == []
    off_head = other_limbs.copy()
    off_head[:5, 1] -= 0.5
    assert len(unexplained_heads(cam, [det], [Person3D(id=1, joints=off_head, confidence=np.full(17, 0.8))],
                                 params, painted)) == 1


def test_a_face_the_detector_sees_uncovered_is_blurred():
    """A 2D detection showing nose and an eye whose head disk nothing painted (the 3D face was
    judged hidden by its own head in that view) gets its disk; half painted or more, or only ears
    and eyes seen (a head from behind), or the rule off: nothing."""
    from dataclasses import replace

    from disguisor.run.fallbacks import unpainted_faces

    cam, body = _camera_and_body()
    det = _detection_of(cam, body)
    params = FailClosedParams()
    nothing = np.zeros((480, 640), bool)
    (centre, radius), = unpainted_faces([det], nothing, params)
    assert np.allclose(centre, det[:5, :2].mean(0)) and radius >= params.min_head_radius_px
    half = nothing.copy()
    half[:, :int(round(centre[0])) + 1] = True  # the face painted up to its centre
    assert unpainted_faces([det], half, params) == []
    back = det.copy()
    back[0, 2] = 0.1                                                         # no nose: a head seen from behind
    assert unpainted_faces([back], nothing, params) == []
    assert unpainted_faces([det], nothing, replace(params, seen_face_painted_share=None)) == []


def test_on_legs_tells_a_foot_from_a_face_by_the_3d_people():
    """A face box whose centre, at the sensor depth, lies at a 3D person's ankle and far from
    every head is a foot (BlazeFace at a quarter turn takes bare feet for faces)."""
    from disguisor.run.fallbacks import on_legs

    cam = _camera_looking([0, 0, -1], f=500.0)        # 3 m up, straight down: pixel (320, 240) is (0, 0)
    depth = np.full((480, 640), 2.0, np.float32)      # everything read 2 m below the camera (z = 1 m)
    patient = _person(1, head_seen=True)
    patient.joints[:] = np.nan
    patient.joints[15] = [0.0, 0.0, 1.0]                            # an ankle right below the camera
    patient.joints[:5] = [[1.5, 0.0, 1.0]] * 5                      # the head 1.5 m away
    box = (310.0, 230.0, 20.0, 20.0)                                # centred on (0, 0, 1)
    assert on_legs(box, cam, depth, [patient], 0.25, 0.35)
    assert not on_legs((560.0, 230.0, 20.0, 20.0), cam, depth, [patient], 0.25, 0.35)   # 0.5 m off the ankle
    assert not on_legs(box, cam, None, [patient], 0.25, 0.35)       # no depth: listed, privacy first
    assert not on_legs(box, cam, np.zeros_like(depth), [patient], 0.25, 0.35)
    assert not on_legs(box, cam, depth, [], 0.25, 0.35)
    bending = _person(2, head_seen=True)
    bending.joints[:] = np.nan
    bending.joints[:5] = [[0.1, 0.0, 1.05]] * 5                     # someone's head at those feet
    assert not on_legs(box, cam, depth, [patient, bending], 0.25, 0.35)


def test_turned_elsewhere_lifts_only_faces_no_3d_person_explains():
    """A face found at quarter turns becomes a world point at its depth; kept for the other views
    only when no 3D face or head is near it and it is not on someone's legs."""
    from disguisor.run.fallbacks import turned_elsewhere

    cam = _camera_looking([0, 0, -1], f=500.0)         # 3 m up, straight down
    depth = np.full((480, 640), 2.0, np.float32)       # the table surface at z = 1 m
    box = np.array([[310.0, 230.0, 20.0, 20.0, 0.6]])  # centred on (0, 0, 1)
    views = {"c": (cam, box, depth)}
    got = turned_elsewhere(views, [], [], 0.3, 0.25, 0.35)
    assert len(got) == 1 and got[0][0] == "c" and np.allclose(got[0][1], [0.0, 0.0, 1.0], atol=1e-6)
    assert turned_elsewhere({"c": (cam, box, None)}, [], [], 0.3, 0.25, 0.35) == []      # no depth: no point
    near_face = _face(1, refined=True, centre=(0.1, 0.0, 1.05))
    assert turned_elsewhere(views, [near_face], [], 0.3, 0.25, 0.35) == []            # a 3D face there
    head = _person(2, head_seen=True)
    head.joints[:] = np.nan
    head.joints[:5] = [[0.0, 0.2, 1.0]] * 5
    assert turned_elsewhere(views, [], [head], 0.3, 0.25, 0.35) == []                 # a 3D head there
    feet = _person(3, head_seen=True)
    feet.joints[:] = np.nan
    feet.joints[15], feet.joints[:5] = [0.0, 0.05, 1.0], [[1.5, 0.0, 1.0]] * 5
    assert turned_elsewhere(views, [], [feet], 0.3, 0.25, 0.35) == []                 # on the legs
    assert len(turned_elsewhere(views, [], [feet], 0.3, None, 0.35)) == 1


def test_a_2d_head_no_3d_person_explains_is_lifted_for_the_other_views():
    """A person one view's detector found while the other views' detections were lost: the
    head of that detection, at its depth, becomes a world point the other views hide; not
    where a 3D person's head is, not with ``lift_2d_heads`` off, and the quarter-turn faces
    are lifted as before."""
    from disguisor.run.fallbacks import lifted_faces
    from disguisor.run.params import RunParams

    cam, body = _camera_and_body()
    det = _detection_of(cam, body)
    depth = np.full((480, 640), 3.0, np.float32)
    params = RunParams()
    assert params.lift_2d_heads
    none = np.zeros((0, 5))
    (name, point), = lifted_faces({"c": (cam, none, [det], depth)}, [], [], params)
    assert name == "c" and np.linalg.norm(point - body[:5].mean(0)) < 0.05
    whole = Person3D(id=1, joints=body, confidence=np.full(17, 0.8))
    assert lifted_faces({"c": (cam, none, [det], depth)}, [], [whole], params) == []       # explained
    headless = body.copy()
    headless[:5] = headless[13:] = np.nan   # a 3D torso there without a head: the head is lifted
    assert len(lifted_faces({"c": (cam, none, [det], depth)}, [],
                            [Person3D(id=1, joints=headless, confidence=np.full(17, 0.8))], params)) == 1
    assert lifted_faces({"c": (cam, none, [det], None)}, [], [], params) == []               # no depth
    off = replace(params, lift_2d_heads=False)
    assert lifted_faces({"c": (cam, none, [det], depth)}, [], [], off) == []
    turned = np.array([[310.0, 230.0, 20.0, 20.0, 0.6]])
    assert len(lifted_faces({"c": (cam, turned, [], depth)}, [], [], off)) == 1
    assert lifted_faces({"c": (cam, turned, [det], depth)}, [], [], replace(params, turned_lift_m=None)) == []


def test_a_face_neither_keypoints_nor_depth_placed_is_guessed():
    """Guessed (painted, not listed by default): the registration refused and no head joint in
    the 3D pose; a head joint or an accepted registration is enough to list it."""
    from disguisor.run.listing import guessed_faces, without_head_joints

    people = {1: _person(1, head_seen=False), 2: _person(2, head_seen=True), 3: _person(3, head_seen=False)}
    faces = [_face(1, refined=False), _face(2, refined=False), _face(3, refined=True), _face(4, refined=False)]
    assert guessed_faces(faces, people) == {1, 4}  # 4: no 3D person at all this frame
    assert without_head_joints(people[1]) and not without_head_joints(people[2]) and without_head_joints(None)
    one_ear = _person(5, head_seen=False)
    one_ear.joints[3] = [0.0, 0.1, 1.6]
    assert not without_head_joints(one_ear)


def test_a_lifted_face_is_listed_only_where_the_depth_shows_it():
    """A face found in 2D in another view, lifted to (0, 0, 1): listed in a camera 2 m above it
    with a face-sized box around its projection when that camera reads the face's depth there;
    not when it reads a head's depth nearer (the back of the head, an occluder), reads through
    it (the floor behind), reads nothing, or the point lies outside its image."""
    from disguisor.run.fallbacks import lifted_face_box

    cam = _camera_looking([0, 0, -1], f=500.0)  # 3 m up: the point is 2 m in front of it
    point = np.array([0.0, 0.0, 1.0])
    radius = 0.09

    def box(reading):
        return lifted_face_box(cam, point, np.full((480, 640), reading, np.float32), radius, 0.1)

    got = box(2.03)
    assert got is not None
    x, y, w, h = got
    assert abs(x + w / 2 - 320) < 1.5 and abs(y + h / 2 - 240) < 1.5
    assert abs(w - 2 * radius * 500 / 2.0) < 3 and abs(h - w) < 2  # a face's size at 2 m
    half = np.full((480, 640), 2.02, np.float32)
    half[:, 322:] = 1.5  # an occluder over the right half of the face: the box keeps the left
    x2, y2, w2, h2 = lifted_face_box(cam, point, half, radius, 0.1)
    assert x2 == x and x2 + w2 == 322 and (y2, h2) == (y, h)
    assert box(1.82) is None       # the back of the head, a head's depth nearer
    assert box(2.5) is None        # seen through: the floor behind the point
    assert box(0.0) is None        # no reading
    assert lifted_face_box(cam, point, None, radius, 0.1) is None
    assert lifted_face_box(cam, np.array([5.0, 0.0, 1.0]), np.full((480, 640), 2.0, np.float32), radius, 0.1) is None


def test_a_wide_blur_leaves_the_faces_already_drawn():
    """A template blended to a smooth face's tones, then blurred over by a wide safety sphere,
    comes back within 6 grey levels of the face it replaced; fill_undrawn keeps it as drawn and
    blurs the rest of the sphere."""
    rng = np.random.default_rng(0)
    original = np.full((120, 120, 3), 150, np.uint8)
    original[:, :60] = 90  # a dark wall on the left: the blur has something to average with
    face = np.zeros((120, 120), bool)
    face[50:80, 65:95] = True
    drawn = original.copy()
    # the template: features +-25 grey levels around the face's own tone
    drawn[face] = np.clip(150 + rng.choice([-25, 25], size=(int(face.sum()), 1)), 0, 255).astype(np.uint8)
    sphere = np.zeros((120, 120), bool)
    yy, xx = np.mgrid[:120, :120]
    sphere[(yy - 65) ** 2 + (xx - 75) ** 2 < 45 ** 2] = True

    def changed(img):
        diff = np.abs(img.astype(int).mean(axis=2) - original.astype(int).mean(axis=2))
        return float((diff[face] > 6).mean())

    assert changed(drawn) == 1.0
    assert changed(blur_region(drawn, sphere, 91)) < 0.5  # the flaw: the face counts as not hidden
    kept = fill_undrawn(drawn, sphere, 91, face)
    assert changed(kept) == 1.0
    np.testing.assert_array_equal(kept[face], drawn[face])
    ring = sphere & ~face
    assert np.abs(kept[ring].astype(int) - drawn[ring].astype(int)).max() > 6  # the rest is blurred


def test_head_joints_the_fit_did_not_follow_keep_a_sphere():
    """A lying patient's body fit put his face 0.28 m from the true one (held joints of a poor
    skeleton) while his detected nose and eye lay 0.14 m from it (medium 1280x720 seed 52):
    the sphere around the fitted face and the one beyond the shoulders both missed the face;
    the one around the head joints holds it. Head joints near the fitted face add nothing."""
    p = FailClosedParams()
    patient = _person(6, head_seen=False)
    patient.joints[[0, 1]] = [[0.04, 0.45, 1.04], [0.03, 0.58, 0.92]]  # nose, left eye (detected)
    patient.joints[5] = [0.39, 0.16, 1.38]  # a shoulder taken from the surgeon beside him
    patient.joints[6] = np.nan
    patient.joints[[11, 12]] = [[0.13, -0.11, 1.03], [-0.14, -0.06, 1.07]]
    true_face = np.array([0.02, 0.59, 1.10])
    fitted = _face(6, refined=False, centre=(0.21, 0.38, 1.09))
    got = unconfirmed_heads([patient], [fitted], p)
    covered = [float(np.linalg.norm(c - true_face)) < r for _, c, r in got]
    assert covered[-1] and not any(covered[:-1])
    near = _face(6, refined=False, centre=tuple(patient.joints[[0, 1]].mean(0) + [0.0, 0.0, 0.05]))
    assert len(unconfirmed_heads([patient], [near], p)) == len(got) - 1


def test_a_membrane_fill_hides_a_smooth_face_a_blur_leaves():
    """A small face a little brighter than what surrounds it (a patient's cheek against a pale
    wall, 20 px at 640x480): a wide blur keeps most of its mean, so most of its pixels move by
    less than the 6 grey levels of the pixel check; the membrane (Laplace's equation from the
    sphere's edge) keeps nothing of it. Pixels outside the sphere or already drawn stay."""
    img = np.full((120, 160, 3), 120, np.uint8)
    yy, xx = np.mgrid[:120, :160]
    face = (yy - 60) ** 2 + (xx - 80) ** 2 <= 10 ** 2
    img[face] = 128
    sphere = (yy - 60) ** 2 + (xx - 80) ** 2 <= 30 ** 2
    drawn = np.zeros_like(sphere)
    drawn[30:40, 70:90] = True
    moved = {}
    for fill in ("blur", "membrane"):
        out = fill_undrawn(img, sphere, 61, drawn, fill)
        assert np.array_equal(out[~sphere | drawn], img[~sphere | drawn])
        moved[fill] = (np.abs(out.astype(int) - img.astype(int)).max(axis=2) > 6)[face].mean()
    assert moved["blur"] < 0.5 < 0.95 < moved["membrane"]


def test_a_head_confirmed_a_moment_ago_keeps_a_sphere():
    """A lying patient confirmed in frame 4 whose head joints sank 0.35 m into the table in
    frames 5-6 (easy 640x480 seed 57): the fit followed them, both unconfirmed, his face stayed
    33-49% changed in a ceiling view. The head where the depth confirmed it two frames before
    (``FaceSurface.nearby_head``) keeps a sphere; a nearby head beside the fitted face adds none."""
    p = FailClosedParams()
    patient = _person(4, head_seen=True)
    patient.joints[:5] = [[0.15, 0.54, 0.71], [0.15, 0.58, 0.78], [0.11, 0.6, 0.74], [0.16, 0.56, 0.79],
                          [0.06, 0.57, 0.72]]
    true_face = np.array([-0.01, 0.57, 1.11])
    sunk = _face(4, refined=False, centre=(0.07, 0.58, 0.86))
    got = unconfirmed_heads([patient], [sunk], p)
    assert not any(float(np.linalg.norm(c - true_face)) < r for _, c, r in got)
    then = replace(sunk, nearby_head=np.array([-0.01, 0.53, 1.07]))
    more = unconfirmed_heads([patient], [then], p)
    assert len(more) == len(got) + 1 and float(np.linalg.norm(more[-1][1] - true_face)) < more[-1][2]
    beside = replace(sunk, nearby_head=np.asarray(sunk.centre) + [0.0, 0.05, 0.0])
    assert len(unconfirmed_heads([patient], [beside], p)) == len(got)


def test_a_person_without_a_body_fit_keeps_a_sphere_where_the_depth_last_saw_the_head():
    """A lying patient whose keypoints failed in the last frame (medium 1280x720 seed 64): 5
    joints left, no body fit, his eyes 18 cm below his face; the sphere around them left 94% of
    his face unchanged in a workflow view (78% visible). His head, confirmed by the depth one
    frame before, keeps a sphere; none without a nearby head, none beside the joints' sphere."""
    p = FailClosedParams()
    patient = _person(6, head_seen=False)
    patient.joints[:] = np.nan
    patient.joints[[1, 2, 4]] = [[0.10, 0.45, 0.99], [0.08, 0.44, 1.01], [0.01, 0.45, 1.03]]  # eyes, right ear
    patient.joints[[6, 8]] = [[-0.13, 0.34, 1.04], [-0.21, 0.08, 1.05]]  # right shoulder, elbow
    true_face = np.array([0.0, 0.56, 1.15])
    fallback = fallback_heads([patient], set(), p)
    assert not any(float(np.linalg.norm(c - true_face)) < r - 0.05 for _, c, r in fallback)
    shift = np.eye(4)
    shift[:3, 3] = [0.0, 0.0, 0.02]  # the registration's correction of the fitted head
    seen = ConfirmedHead(frame=8, head_rotation=np.eye(3), head_centre=np.array([0.0, 0.56, 1.05]), correction=shift)
    got = recent_heads(fallback, lambda pid: iter([seen] if pid == 6 else []), p)
    assert [pid for pid, _, _ in got] == [6]
    assert float(np.linalg.norm(got[0][1] - [0.0, 0.56, 1.07])) < 1e-9
    assert float(np.linalg.norm(got[0][1] - true_face)) < got[0][2] - 0.05
    assert recent_heads(fallback, lambda pid: iter([]), p) == []
    assert recent_heads(fallback, None, p) == []
    beside = ConfirmedHead(8, np.eye(3), np.asarray(fallback[0][1]) + [0.0, 0.05, 0.0], np.eye(4))
    assert recent_heads(fallback, lambda pid: iter([beside]), p) == []
