"""The detector-free floor: heads of moving, person-sized depth clusters no 3D person explains."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from disguisor.fusion import RayCache
from disguisor.io.recording import open_recording
from disguisor.pose2d.floor import (
    FloorParams,
    depth_heads,
    find_heads,
    floor_background,
    head_box,
    held_still_heads,
    still_heads,
)
from disguisor.synth.or_scene import generate_or_recording
from disguisor.synth.scenarios import SCENARIOS

pytestmark = pytest.mark.slow  # whole pipeline runs / subprocesses: `pytest -m "not slow"` skips them

EARS = [3, 4]   # COCO-17 left/right ear: their midpoint is the head centre


# --- clusters of points, by hand --------------------------------------------------------------------

def _column(x: float, y: float, height: float, rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    """A person-like column of points: a 0.4 m wide body up to the shoulders, a 0.2 m head above."""
    body = np.column_stack([rng.uniform(-0.2, 0.2, n) + x, rng.uniform(-0.12, 0.12, n) + y,
                            rng.uniform(0.0, height - 0.3, n)])
    head = np.column_stack([rng.uniform(-0.09, 0.09, n // 5) + x, rng.uniform(-0.09, 0.09, n // 5) + y,
                            rng.uniform(height - 0.25, height, n // 5)])
    return np.vstack([body, head])


def _joints(x: float, y: float, height: float) -> np.ndarray:
    """A crude 17-joint skeleton standing at (x, y); unknown joints NaN."""
    j = np.full((17, 3), np.nan)
    j[0] = (x + 0.08, y, height - 0.12)                       # nose
    j[3], j[4] = (x, y - 0.08, height - 0.12), (x, y + 0.08, height - 0.12)
    j[5], j[6] = (x, y - 0.18, height - 0.3), (x, y + 0.18, height - 0.3)
    j[11], j[12] = (x, y - 0.1, height * 0.52), (x, y + 0.1, height * 0.52)
    return j


def test_one_column_one_head_at_its_top():
    rng = np.random.default_rng(0)
    heads = find_heads(_column(1.0, -0.5, 1.75, rng), [])
    assert len(heads) == 1
    assert np.linalg.norm(heads[0].center - [1.0, -0.5, 1.75 - 0.11]) < 0.05
    assert heads[0].top_z == pytest.approx(1.75, abs=0.01)


def test_explained_by_the_joints_over_its_footprint():
    rng = np.random.default_rng(1)
    pts = _column(1.0, -0.5, 1.75, rng)
    assert find_heads(pts, [_joints(1.0, -0.5, 1.75)]) == []
    # someone else's joints, 1 m away, explain nothing; so does a hand alone reaching over it
    hand = np.full((17, 3), np.nan)
    hand[9] = (1.0, -0.5, 1.1)
    hand[[0, 5, 6, 11, 12]] = _joints(2.0, -0.5, 1.8)[[0, 5, 6, 11, 12]]
    assert len(find_heads(pts, [_joints(2.0, -0.5, 1.8), hand])) == 1


def test_two_people_side_by_side_two_heads_each_explained_alone():
    rng = np.random.default_rng(2)
    pts = np.vstack([_column(0.0, 0.0, 1.8, rng), _column(0.45, 0.0, 1.65, rng)])
    heads = find_heads(pts, [])
    assert sorted(round(h.top_z, 1) for h in heads) == [1.6, 1.8]
    left = find_heads(pts, [_joints(0.0, 0.0, 1.8)])
    assert len(left) == 1 and np.linalg.norm(left[0].center[:2] - [0.45, 0.0]) < 0.05


def test_low_or_flat_things_are_not_people():
    rng = np.random.default_rng(3)
    table = np.column_stack([rng.uniform(-0.3, 0.3, 4000), rng.uniform(-1.0, 1.0, 4000), rng.uniform(0.8, 0.95, 4000)])
    trolley = _column(2.0, 0.0, 1.0, rng)                       # top below min_top_z_m
    lamp = np.column_stack([rng.uniform(0.7, 1.3, 2000), rng.uniform(-0.3, 0.3, 2000),   # not 0.35 m tall
                            rng.uniform(1.9, 2.05, 2000)])
    assert find_heads(np.vstack([table, trolley, lamp]), []) == []


def _staff(x: float, y: float, height: float, rng: np.random.Generator, n: int = 4000) -> np.ndarray:
    """A person seen from all sides: legs and trunk 0.45 x 0.3 m, the arms hanging beside the
    trunk (out to 0.3 m from the middle), a 0.2 m head on top."""
    trunk = np.column_stack([rng.uniform(-0.22, 0.22, n) + x, rng.uniform(-0.15, 0.15, n) + y,
                             rng.uniform(0.1, height - 0.3, n)])
    arms = np.column_stack([rng.choice([-1, 1], n) * rng.uniform(0.22, 0.3, n) + x, rng.uniform(-0.2, 0.2, n) + y,
                            rng.uniform(height - 0.95, height - 0.32, n)])
    head = np.column_stack([rng.uniform(-0.09, 0.09, n // 4) + x, rng.uniform(-0.1, 0.1, n // 4) + y,
                            rng.uniform(height - 0.25, height, n // 4)])
    return np.vstack([trunk, arms, head])


def test_a_still_head_above_shoulders_among_all_points():
    rng = np.random.default_rng(4)
    floor = np.column_stack([rng.uniform(-2, 2, 4000), rng.uniform(-2, 2, 4000), rng.uniform(0.0, 0.02, 4000)])
    person = _staff(0.5, 0.3, 1.7, rng)
    heads = still_heads(np.vstack([floor, person]), [])
    assert len(heads) == 1 and heads[0].static
    assert np.linalg.norm(heads[0].center - [0.5, 0.3, 1.7 - 0.11]) < 0.05
    # explained by a 3D person's head joints over it, not by joints 0.5 m away
    assert still_heads(np.vstack([floor, person]), [_joints(0.5, 0.3, 1.7)]) == []
    assert len(still_heads(np.vstack([floor, person]), [_joints(1.0, 0.3, 1.7)])) == 1


def test_a_still_head_of_a_nearby_frame_is_held_while_the_depth_still_shows_it():
    """Someone bent over the table whose ring test failed in this frame: the still head found two
    frames before is hidden here too while the points at its top's height are still there; not
    when they are gone (the person left), when a 3D person's head joints explain it, or when
    this frame found a head there itself."""
    rng = np.random.default_rng(5)
    floor = np.column_stack([rng.uniform(-2, 2, 4000), rng.uniform(-2, 2, 4000), rng.uniform(0.0, 0.02, 4000)])
    person = _staff(0.5, 0.3, 1.7, rng)
    before, = still_heads(np.vstack([floor, person]), [], frame=3)
    p = FloorParams()
    bent = person.copy()
    bent[:, 2] -= 0.05  # 5 cm lower: still there
    held = held_still_heads([before], np.vstack([floor, bent]), [], [], p, frame=5)
    assert len(held) == 1 and held[0].frame == 3 and held[0].static
    assert held_still_heads([before], floor, [], [], p, frame=5) == []                   # gone
    assert held_still_heads([before], np.vstack([floor, bent]), [_joints(0.5, 0.3, 1.7)], [], p, frame=5) == []
    assert held_still_heads([before], np.vstack([floor, bent]), [], [before], p, frame=5) == []
    later = replace(before, frame=7)
    assert held_still_heads([later, before], np.vstack([floor, bent]), [], [], p, frame=4)[0].frame == 3
    with pytest.raises(ValueError, match="static_hold_frames"):
        FloorParams(static_hold_frames=-1)


def test_furniture_tops_and_lights_are_not_still_heads():
    rng = np.random.default_rng(5)

    def box(x, y, z, sx, sy, sz, n=6000):
        return np.column_stack([rng.uniform(x - sx, x + sx, n), rng.uniform(y - sy, y + sy, n),
                                rng.uniform(z - sz, z + sz, n)])

    cabinet = box(-1.5, 1.5, 0.9, 0.3, 0.25, 0.9)                # flat top at 1.8 m
    monitor = np.vstack([box(1.5, 1.5, 0.8, 0.03, 0.03, 0.8), box(1.5, 1.5, 1.75, 0.3, 0.05, 0.2)])
    light = box(0.0, -1.5, 1.95, 0.3, 0.3, 0.05)                 # hangs over nothing nearby
    table = box(0.0, 0.5, 0.9, 0.3, 1.0, 0.05)
    patient = np.vstack([box(0.0, 0.5, 1.02, 0.2, 0.8, 0.07), box(0.0, 1.35, 1.05, 0.09, 0.1, 0.09)])
    assert still_heads(np.vstack([cabinet, monitor, light, table, patient]), []) == []
    # the same scene with a still person by the table: only their head comes back
    heads = still_heads(np.vstack([cabinet, monitor, light, table, patient, _staff(0.6, -0.2, 1.65, rng)]), [])
    assert [np.round(h.center[:2], 1).tolist() for h in heads] == [[0.6, -0.2]]


# --- a synthetic recording: a nurse walking, a surgeon at the table, the patient lying still -----------

@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("floor") / "rec"
    # seed 11: the nurse walks in every frame (no pause at a waypoint)
    generate_or_recording(out, frames=8, size=(320, 180), seed=11,
                          spec=replace(SCENARIOS["easy"], roles=("surgeon", "nurse", "patient")))
    return out


def _frames(rec: Path):
    recording = open_recording(rec)
    background, rays = floor_background(recording), RayCache()
    truth = json.loads((rec / "gt_poses3d.json").read_text())["frames"]
    for fr in truth:
        people = {p["role"]: np.array(p["joints"], dtype=float) for p in fr["people"]}
        views = recording.views(fr["frame"])

        def heads(roles, params=None, views=views, people=people):
            return depth_heads(views, [people[r] for r in roles], background, params or FloorParams(), rays)

        yield fr["frame"], views, people, heads


def test_unexplained_walking_person_gets_their_head(rec):
    annotations = json.loads((rec / "annotations.json").read_text())
    images = {im["id"]: im for im in annotations["images"]}
    truth = json.loads((rec / "gt_poses3d.json").read_text())["frames"]
    nurse_id = next(p["id"] for p in truth[0]["people"] if p["role"] == "nurse")
    boxes_checked = 0
    for frame, views, people, heads in _frames(rec):
        found = heads(["surgeon", "patient"])           # the nurse is missing from the 3D people
        assert len(found) == 1, (frame, found)
        assert np.linalg.norm(found[0].center - people["nurse"][EARS].mean(axis=0)) < 0.15
        # the head sphere's box covers the nurse's ground-truth face box in every view showing it
        for a in annotations["annotations"]:
            im = images[a["image_id"]]
            if a["person_id"] != nurse_id or im["frame"] != frame:
                continue
            view = next(v for v in views if v.camera.name == im["camera"])
            box = head_box(view.camera, view.depth, found[0])
            assert box is not None, im["camera"]
            x, y, w, h = a["bbox"]
            ix = max(0.0, min(box[2], x + w) - max(box[0], x)) * max(0.0, min(box[3], y + h) - max(box[1], y))
            assert ix >= 0.9 * w * h, (im["camera"], box, a["bbox"])
            boxes_checked += 1
    assert boxes_checked >= 8


def test_everyone_explained_nothing_comes_back(rec):
    # also the table, the anaesthesia machine and the other furniture: static, never a head
    for frame, _, _, heads in _frames(rec):
        assert heads(["surgeon", "nurse", "patient"]) == [], frame


def test_a_still_person_missing_from_the_3d_people_gets_their_head(rec):
    # the surgeon stands at the table through the recording: part of the static background, so
    # only the look at all depth points finds his head
    for frame, _, people, heads in _frames(rec):
        found = heads(["nurse", "patient"])
        assert len(found) == 1 and found[0].static, (frame, found)
        assert np.linalg.norm(found[0].center - people["surgeon"][EARS].mean(axis=0)) < 0.15
        assert heads(["nurse", "patient"], FloorParams(static=False)) == [], frame


def test_the_still_heads_of_nearby_frames_are_found_once_and_held(rec):
    """StillHeadMemory on a recording: the surgeon's still head of the frames around one (not
    that frame itself) comes back for it; a frame whose ring test failed gets it held by
    depth_heads; with static_hold_frames 0 nothing is held."""
    from disguisor.pose2d.floor import StillHeadMemory

    recording = open_recording(rec)
    background, rays = floor_background(recording), RayCache()
    truth = {fr["frame"]: {p["role"]: np.array(p["joints"], float) for p in fr["people"]}
             for fr in json.loads((rec / "gt_poses3d.json").read_text())["frames"]}
    others = lambda f: [truth[f]["nurse"], truth[f]["patient"]]  # noqa: E731 - the surgeon is missing
    memory = StillHeadMemory(recording.frames, recording.depth_views, others, background, FloorParams(), rays)
    near = memory.nearby(4)
    assert sorted(h.frame for h in near) == [1, 2, 3, 5, 6, 7] and all(h.static for h in near)
    # frame 4's own look finds nothing (its ring test made to fail): the head of frame 3 is held
    strict = FloorParams(static_min_drop_m=5.0)
    held = depth_heads(recording.views(4), others(4), background, strict, rays, near)
    assert len(held) == 1 and held[0].frame in (3, 5)
    assert np.linalg.norm(held[0].center - truth[4]["surgeon"][EARS].mean(axis=0)) < 0.15
    off = StillHeadMemory(recording.frames, recording.depth_views, others, background,
                          FloorParams(static_hold_frames=0), rays)
    assert off.nearby(4) == []


def test_static_lying_patient_is_not_picked_up(rec):
    for frame, _, people, heads in _frames(rec):
        found = heads(["surgeon", "nurse"])              # the patient is missing from the 3D people
        assert found == [], (frame, [h.center for h in found])
        # not even with nobody explained: whatever comes back is not at the patient's head
        patient_head = people["patient"][EARS].mean(axis=0)
        assert all(np.linalg.norm(h.center - patient_head) > 0.5 for h in heads([]))


def test_too_few_frames_no_floor(rec):
    recording = open_recording(rec)
    background = floor_background(recording, FloorParams(min_frames=len(recording.frames) + 1))
    assert depth_heads(recording.views(0), [], background) == []
