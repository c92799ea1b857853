"""A head refused in one frame, registered from the same person's head confirmed in a nearby frame."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from disguisor.body.bodies_io import BodyFits
from disguisor.errors import InputError
from disguisor.refine.carry import ConfirmedHead, carried_start, confirmed_centre
from disguisor.refine.face import refine_faces
from disguisor.refine.frame import NearbyHeads
from disguisor.refine.params import RefineParams
from disguisor.refine.register import HeadRegistration
from tests.test_refine import anny, head_fitted_off, person  # noqa: F401 - fixtures


def rigid(rotvec_deg, shift, about=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(4, 4) a rotation by ``rotvec_deg`` about the point ``about``, then a shift (metres)."""
    R = Rotation.from_rotvec(np.radians(rotvec_deg)).as_matrix()
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = np.asarray(about) - R @ np.asarray(about) + np.asarray(shift)
    return T


def test_a_correction_moves_with_the_head_it_was_found_on():
    """If the person (fit and truth alike) moves rigidly by M between two frames, the correction
    carried from the first frame is the first one seen through M: it sends each moved point
    where the correction sent the point before the move."""
    rng = np.random.default_rng(3)
    Rg = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()
    cg = np.array([0.4, -0.2, 1.6])
    C = rigid([8.0, -20.0, 35.0], [0.05, -0.03, 0.02], about=cg)
    M = rigid([0.0, 10.0, 70.0], [0.6, 0.3, -0.4], about=[1.0, 0.0, 0.0])
    start = carried_start(ConfirmedHead(4, Rg, cg, C), M[:3, :3] @ Rg, M[:3, :3] @ cg + M[:3, 3])
    np.testing.assert_allclose(start, M @ C @ np.linalg.inv(M), atol=1e-12)
    # the same frame: the correction itself
    np.testing.assert_allclose(carried_start(ConfirmedHead(4, Rg, cg, C), Rg, cg), C, atol=1e-12)


def test_a_refused_head_is_registered_from_its_head_confirmed_nearby(anny, person):  # noqa: F811
    """A head the fit put 12 cm off (its own registration refused as too large a correction)
    is placed onto the truth from the correction the depth confirmed two frames earlier, where
    the person stood elsewhere and turned but the fit made the same mistake. It stays not
    confirmed (safety spheres), listed, and the fit's face is painted too. A confirmed head
    that starts it nowhere near the depth is refused and leaves it as fitted; the nearby heads
    are asked for only when the fit's own start is refused."""
    model, cloud, Vp, T_fit, _, _, truth = head_fitted_off(anny, person, 3.0, [0.0, 0.12, 0.0], 22, 0.01)
    head = np.asarray(model.head_vertices)
    body = SimpleNamespace(person_id=5, vertices=Vp, head_rotation=np.eye(3))
    params = RefineParams()
    (f0, r0), = refine_faces([body], model, cloud, params)
    assert not r0.accepted and "correction too large" in r0.reason and f0.disputed

    M = rigid([0.0, 0.0, -40.0], [0.3, -0.5, 0.0], about=Vp[head].mean(0))  # where the person was then
    fix = np.linalg.inv(T_fit)
    before = ConfirmedHead(3, M[:3, :3], (M[:3, :3] @ Vp[head].mean(0)) + M[:3, 3], M @ fix @ np.linalg.inv(M))
    asked = []

    def nearby(pid):
        asked.append(pid)
        return iter([before])

    (f1, r1), = refine_faces([body], model, cloud, params, nearby=nearby)
    assert asked == [5]
    assert not r1.accepted and "registered from its head confirmed in frame 3 (not confirmed)" in f1.note
    assert not f1.disputed and not f1.refined
    assert np.linalg.norm(f1.centre - truth) < 0.005
    assert f1.as_fitted is not None and np.linalg.norm(f1.as_fitted.centre - truth) > 0.1
    # the head as the depth confirmed it then, kept for the run's safety sphere
    np.testing.assert_allclose(f1.nearby_head, confirmed_centre(before))
    assert f0.nearby_head is None

    astray = ConfirmedHead(1, np.eye(3), Vp[head].mean(0), rigid([0.0, 0.0, 0.0], [0.0, 0.0, 0.4]))
    (f2, r2), = refine_faces([body], model, cloud, params, nearby=lambda pid: iter([astray]))
    assert "confirmed in frame" not in f2.note and f2.disputed
    np.testing.assert_array_equal(r2.transform, np.eye(4))
    # a head whose own registration passes never asks
    asked.clear()
    ok = SimpleNamespace(person_id=6, vertices=person[0], head_rotation=np.eye(3))
    (f3, r3), = refine_faces([ok], model, cloud, params, nearby=nearby)
    assert r3.accepted and asked == []


def registration(accepted: bool, shift_m: float) -> HeadRegistration:
    T = rigid([0.0, 0.0, 0.0], [shift_m, 0.0, 0.0])
    return HeadRegistration(T if accepted else np.eye(4), T, accepted, "" if accepted else "refused",
                            translation_m=shift_m)


def test_nearby_heads_are_offered_nearest_first_and_only_near():
    """Frame numbers, not positions, decide what is near; the nearest frame comes first (the
    earlier of two as near); a frame not yet refined is refined only when asked for, once; one
    whose depth cannot be read offers nothing; frames no longer near are forgotten; 0 turns it
    off."""
    from disguisor.body.model import load_body_model
    from disguisor.body.params import FitParams

    model = load_body_model(FitParams().model, None)
    fits = BodyFits(model.name, (), (), {})  # no fits: a frame refined here confirms no one
    read = []

    def depth_views(frame):
        read.append(frame)
        if frame == 13:
            raise InputError("depth/000013.png", "not a PNG")
        return {}

    frames = [10, 11, 13, 14, 20]
    near = NearbyHeads(model, fits, frames, depth_views, None, RefineParams(nearby_frames=2))
    V = np.random.default_rng(0).normal(size=(int(np.max(model.head_vertices)) + 1, 3))
    body = SimpleNamespace(person_id=7, vertices=V, head_rotation=np.eye(3))
    near.record(10, [body], [registration(True, 0.01)])
    near.record(11, [body], [registration(False, 0.2)])
    lookup = near.lookup(12)
    assert read == []  # nothing computed before it is asked for
    got = list(lookup(7))
    assert [h.frame for h in got] == [10]  # 11 and 13 are nearer but confirm no one; 14 has no fit
    assert read == [13, 14]  # 10 and 11 were recorded; 13 failed
    np.testing.assert_allclose(got[0].head_centre, V[model.head_vertices].mean(0))
    np.testing.assert_allclose(got[0].correction, registration(True, 0.01).transform)
    assert list(lookup(8)) == [] and read == [13, 14]  # each frame once
    near.record(14, [body], [registration(True, 0.03)])
    assert [h.frame for h in near.lookup(15)(7)] == [14]  # 20 is not near 15; 13 offers nothing
    near.record(20, [], [])
    assert sorted(near._heads) == [20]
    assert NearbyHeads(model, fits, frames, depth_views, None, RefineParams(nearby_frames=0)).lookup(12) is None


def test_nearby_frames_setting_is_checked():
    with pytest.raises(ValueError, match=">= 0 frames"):
        RefineParams(nearby_frames=-1)
    assert RefineParams().nearby_frames == 2


def test_a_registration_the_nearby_heads_contradict_is_not_confirmed(anny, person):  # noqa: F811
    """A head fitted 38 degrees off is turned back onto the depth (accepted from the fit). When
    both nearby frames confirmed that person's face turned the other way (more than
    nearby_facing_deg from it), the registration is not believed: the head is registered again
    from their turn, not confirmed, its own registration from the fit still painted
    (``as_fitted``), the nearest
    confirmed head kept for a safety sphere; the frame's confirmed heads, which its neighbours
    use, still hold that registration. One of two nearby heads against is no majority; a turn
    under nearby_facing_min_turn_deg is never checked; None turns it off."""
    from disguisor.refine.carry import confirmed_heads

    model, cloud, Vp, _, _, _, truth = head_fitted_off(anny, person, 38.0, [0.01, 0.0, 0.0], 14, 0.01)
    head = np.asarray(model.head_vertices)
    body = SimpleNamespace(person_id=5, vertices=Vp, head_rotation=np.eye(3))
    params = RefineParams()
    (f0, r0), = refine_faces([body], model, cloud, params)
    assert r0.accepted and r0.rotation_deg > params.nearby_facing_min_turn_deg
    assert np.linalg.norm(f0.centre - truth) < 0.005
    centre = Vp[head].mean(0)
    flipped = rigid([0.0, 0.0, 180.0], [0.0, 0.0, 0.0], about=centre) @ r0.transform
    back = [ConfirmedHead(4, np.eye(3), centre, flipped), ConfirmedHead(2, np.eye(3), centre, flipped)]
    (f1, r1), = refine_faces([body], model, cloud, params, nearby=lambda pid: iter(back))
    assert not r1.accepted and not f1.refined and not f1.disputed
    assert f1.note.startswith("faces 168 deg from its head confirmed in frame 4; registered from that head's turn")
    np.testing.assert_allclose(r1.contradicted, r0.transform)
    # the skull is nearly round: the head turned to face back registers too, onto the back of the
    # head; the placement contradicted, here the right one, is painted as well
    assert np.linalg.norm(f1.centre - truth) > 0.08
    assert f1.as_fitted is not None and np.linalg.norm(f1.as_fitted.centre - truth) < 0.005
    np.testing.assert_allclose(f1.nearby_head, confirmed_centre(back[0]))
    kept = confirmed_heads(3, [body], [r1], head)
    np.testing.assert_allclose(kept[5].correction, r0.transform)

    agreeing = ConfirmedHead(2, np.eye(3), centre, r0.transform)
    (f2, r2), = refine_faces([body], model, cloud, params, nearby=lambda pid: iter([back[0], agreeing]))
    assert r2.accepted and f2.refined and f2.as_fitted is None
    off = RefineParams(nearby_facing_deg=None)
    assert refine_faces([body], model, cloud, off, nearby=lambda pid: iter(back))[0][1].accepted
    asked = []
    small = SimpleNamespace(person_id=6, vertices=head_fitted_off(anny, person, 12.0, [0.01, 0.0, 0.0], 14, 0.01)[2],
                            head_rotation=np.eye(3))
    (_, r3), = refine_faces([small], model, cloud, params, nearby=lambda pid: asked.append(pid) or iter(back))
    assert r3.accepted and r3.rotation_deg < params.nearby_facing_min_turn_deg and asked == []


def test_a_contradicted_head_is_placed_from_the_nearby_turn_when_that_registers():
    """When the registration from the nearby heads' turn passes the guard, it places the head:
    its transform after that turn (about the fitted head's centroid), not confirmed, and the
    contradicted registration kept."""
    from disguisor.refine.face import _agreeing

    centre = np.array([0.5, -0.2, 1.6])
    first = HeadRegistration(rigid([0.0, 0.0, 40.0], [0.0, 0.0, 0.0], centre), np.eye(4), True, "",
                             rotation_deg=40.0)
    nearby_turn = rigid([0.0, 0.0, 180.0], [0.0, 0.0, 0.0], centre) @ first.transform
    prior = ConfirmedHead(7, np.eye(3), centre, nearby_turn)
    small_fix = rigid([0.0, 0.0, 3.0], [0.01, 0.0, 0.0], centre)
    starts = []

    def register_from(start):
        starts.append(start)
        return HeadRegistration(small_fix, small_fix, True, "", rotation_deg=3.0)

    reg = _agreeing(first, np.eye(3), np.array([0.0, -1.0, 0.0]), centre, lambda: iter([prior]), register_from,
                    RefineParams())
    assert not reg.accepted and "faces 180 deg from its head confirmed in frame 7; registered from" in reg.reason
    np.testing.assert_allclose(starts[0], nearby_turn, atol=1e-12)  # the fitted head (identity) turned to it
    np.testing.assert_allclose(reg.transform, small_fix @ nearby_turn, atol=1e-12)
    np.testing.assert_allclose(reg.contradicted, first.transform)
    with pytest.raises(ValueError, match="180"):
        RefineParams(nearby_facing_deg=200.0)


def test_a_wide_turn_is_held_to_a_tighter_facing_test():
    """A wide turn (beyond max_rotation_deg) that the nearby heads face 60 degrees away from is
    registered again from their turn (nearby_wide_facing_deg 45); a turn of 40 degrees that they
    face as far from is kept (nearby_facing_deg 135), and so is the wide turn with the wide test
    off (None: nearby_facing_deg applies)."""
    from disguisor.refine.face import _agreeing

    centre = np.array([0.5, -0.2, 1.6])
    fix = rigid([0.0, 0.0, 2.0], [0.0, 0.0, 0.0], centre)

    def register_from(start):
        return HeadRegistration(fix, fix, True, "", rotation_deg=2.0)

    for turn_deg, params, contradicted in ((50.0, RefineParams(), True), (40.0, RefineParams(), False),
                                           (50.0, RefineParams(nearby_wide_facing_deg=None), False)):
        first = HeadRegistration(rigid([0.0, 0.0, turn_deg], [0.0, 0.0, 0.0], centre), np.eye(4), True, "",
                                 rotation_deg=turn_deg)
        away = rigid([0.0, 0.0, 60.0], [0.0, 0.0, 0.0], centre) @ first.transform
        nearby = [ConfirmedHead(f, np.eye(3), centre, away) for f in (2, 4)]
        reg = _agreeing(first, np.eye(3), np.array([0.0, -1.0, 0.0]), centre, partial(iter, nearby), register_from,
                        params)
        assert (not reg.accepted and "faces 60 deg from its head confirmed in frame 2" in reg.reason) == contradicted
        assert reg.accepted != contradicted
