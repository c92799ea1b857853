"""Multi-view 3D pose: triangulation, association, tracking, smoothing, file format, command.

All data is simulated here: COCO-17 skeletons of standing adults (1.5-1.95 m) walking in the
synthetic operating room, projected with lens distortion into the default 4-camera rig
(1280x720), with pixel noise, missed joints and people, and false detections
(:mod:`disguisor.synth.skeletons`).
"""

import dataclasses
import itertools
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from disguisor.errors import InputError
from disguisor.geometry import look_at, project_points
from disguisor.io.calibration import Calibration, Camera, save_calibration
from disguisor.pose2d import HEAD_JOINTS, Keypoints2D, save_keypoints
from disguisor.pose3d import (
    Pose3DParams,
    Poses3D,
    TrackingParams,
    estimate_poses3d,
    load_poses3d,
    pose3d_command,
    poses3d_from_json,
    poses3d_to_json,
    prepare_rig,
    reconstruct_frame,
    save_poses3d,
    track_people,
)
from disguisor.pose3d.cameras import epipolar_distance_px, essential_matrix, fov_overlap, view_geometry
from disguisor.pose3d.metrics import evaluate_poses
from disguisor.pose3d.packing import _pack_exact, _pack_milp
from disguisor.pose3d.smoothing import fill_gaps, median_outliers, rts_smooth
from disguisor.pose3d.triangulation import triangulate_robust, triangulate_weighted
from disguisor.synth.rig import default_rig
from disguisor.synth.skeletons import PersonMotion, simulate_detections, simulate_people, skeleton

CALIB = default_rig(1280, 720, 4)
RIG = prepare_rig(CALIB)


def _frames(keypoints: Keypoints2D) -> tuple[list[int], list[list]]:
    by_frame = keypoints.by_frame()
    frames = sorted(by_frame)
    return frames, [reconstruct_frame(RIG, by_frame[f]) for f in frames]


def _labels(person) -> set:
    return {d.person_id for d in person.detections}


def _project(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalized observation arrays xy (..., V, 2), w (..., V) of world points in every camera
    (weight 0 where a point is outside the image)."""
    xy, w = [], []
    for v in RIG.views:
        cam = v.camera
        uv = project_points(cam.world_to_camera(points.reshape(-1, 3)), cam.K, cam.dist)
        inside = np.isfinite(uv[:, 0]) & (np.abs(uv[:, 0] - 640) < 640) & (np.abs(uv[:, 1] - 360) < 360)
        xy.append(v.normalize(np.where(inside[:, None], uv, 0.0)).reshape(points.shape[:-1] + (2,)))
        w.append(inside.reshape(points.shape[:-1]).astype(float))
    return np.stack(xy, axis=-2), np.stack(w, axis=-1)


# --- geometry and triangulation ----------------------------------------------------------------

def test_epipolar_distance_is_zero_for_true_matches_and_grows_with_offset():
    a, b = RIG.views[0], RIG.views[2]
    pts = skeleton(1.8, (1.0, 0.5), 0.3)
    xa = a.normalize(project_points(a.camera.world_to_camera(pts), a.camera.K, a.camera.dist))
    uvb = project_points(b.camera.world_to_camera(pts), b.camera.K, b.camera.dist)
    xb = b.normalize(uvb)
    E = essential_matrix(a, b)
    assert epipolar_distance_px(E, xa, xb, b.focal).max() < 1e-6
    # a point moved 5 px perpendicular to its epipolar line is 5 px away from it
    line = np.append(xa[0], 1.0) @ E.T
    n = np.array([line[0] / b.focal[0], line[1] / b.focal[1]])
    moved = b.normalize((uvb[0] + 5.0 * n / np.linalg.norm(n))[None])
    assert epipolar_distance_px(E, xa[:1], moved, b.focal)[0] == pytest.approx(5.0, rel=0.05)


def test_noise_free_triangulation_is_sub_millimetre():
    rng = np.random.default_rng(0)
    gt = simulate_people(6, 3, rng)
    sim = simulate_detections(CALIB, gt, rng, noise_px=0.0, joint_miss_rate=0.0)
    frames, people = _frames(sim.keypoints)
    n = 0
    for f, found in zip(frames, people, strict=True):
        for person in found:
            (pid,) = _labels(person)
            err = np.linalg.norm(person.joints - gt[f, pid], axis=1)
            assert np.nanmax(err) < 1e-3
            n += int(np.isfinite(err).sum())
    assert n >= 0.8 * 3 * 6 * 17         # most joints are seen by 2+ cameras

    # and directly: random points in the room, every camera, weights of any size
    X = rng.uniform([-2, -2.5, 0.1], [2, 2.5, 2.0], (200, 3))
    xy, w = _project(X)
    X, xy, w = X[w.sum(1) >= 2], xy[w.sum(1) >= 2], w[w.sum(1) >= 2]
    assert len(X) > 150
    assert np.abs(triangulate_weighted(RIG.P, RIG.focal, xy, w * rng.uniform(0.2, 1.0, w.shape)) - X).max() < 1e-6


def test_robust_triangulation_rejects_outlier_views_and_single_views():
    rng = np.random.default_rng(1)
    X = rng.uniform([-1.5, -1.5, 0.5], [1.5, 1.5, 1.8], (50, 3))
    xy, w = _project(X)
    X, xy, w = X[w.all(1)], xy[w.all(1)], w[w.all(1)]
    assert len(X) >= 20
    bad = xy.copy()
    bad[:, 1] += 80.0 / RIG.focal[1]                           # camera 1 is 80 px off for every point
    tri = triangulate_robust(RIG.P, RIG.focal, bad, w, threshold_px=20.0)
    assert np.abs(tri.points - X).max() < 1e-4
    assert not tri.inliers[:, 1].any() and tri.inliers[:, [0, 2, 3]].all()
    assert np.all(tri.confidence > 0.9)                       # 3 inlier views, no error, score 1
    plain = triangulate_weighted(RIG.P, RIG.focal, bad, w)
    assert np.linalg.norm(plain - X, axis=1).mean() > 0.02    # what the outlier would have done

    # two views that disagree by 80 px: rejected; one view only: rejected
    w2 = w.copy()
    w2[:, 2:] = 0.0
    tri = triangulate_robust(RIG.P, RIG.focal, bad, w2, threshold_px=20.0)
    assert not tri.valid.any() and np.all(tri.confidence == 0)
    w1 = w.copy()
    w1[:, 1:] = 0.0
    assert not triangulate_robust(RIG.P, RIG.focal, xy, w1, threshold_px=20.0).valid.any()


def test_two_px_noise_accuracy_head_under_30mm_all_under_40mm():
    rng = np.random.default_rng(2)
    gt = simulate_people(6, 20, rng)
    sim = simulate_detections(CALIB, gt, rng, noise_px=2.0, joint_miss_rate=0.05)
    frames, people = _frames(sim.keypoints)
    errs, head = [], []
    for f, found in zip(frames, people, strict=True):
        for person in found:
            (pid,) = _labels(person)
            e = np.linalg.norm(person.joints - gt[f, pid], axis=1)
            errs.append(e[np.isfinite(e)])
            head.append(e[list(HEAD_JOINTS)][np.isfinite(e[list(HEAD_JOINTS)])])
    per_frame_all, per_frame_head = np.concatenate(errs).mean(), np.concatenate(head).mean()
    assert per_frame_head < 0.030 and per_frame_all < 0.040
    poses = track_people(frames, people)
    m = evaluate_poses(poses, gt, sim.observable)
    assert m.recall >= 0.97 and m.precision == 1.0
    assert m.head_mpjpe_mm < 30.0 and m.mpjpe_mm < 40.0
    assert m.head_mpjpe_mm < 1000 * per_frame_head            # tracking + smoothing helps
    assert m.id_switches == 0 and len(poses.ids) == 6


# --- association -------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [3, 4, 5])
def test_association_is_correct_in_a_crowd_of_six(seed):
    rng = np.random.default_rng(seed)
    gt = simulate_people(6, 5, rng, center=(1.25, rng.uniform(-0.8, 0.8)), radius=0.75, max_speed=0.01,
                         min_separation=0.45)
    hips = gt[:, :, [11, 12], :2].mean(axis=2)
    assert np.linalg.norm(hips[:, :, None] - hips[:, None], axis=-1).max() <= 1.5   # really crowded
    sim = simulate_detections(CALIB, gt, rng, noise_px=2.0, joint_miss_rate=0.05)
    frames, people = _frames(sim.keypoints)
    for f, found in zip(frames, people, strict=True):
        assert all(len(_labels(p)) == 1 for p in found)                 # no mixed-up person
        ids = sorted(next(iter(_labels(p))) for p in found)
        assert ids == sorted(np.flatnonzero(sim.observable[f]).tolist())  # everyone exactly once
        for p in found:
            assert len(set(p.cameras)) == len(p.cameras)                 # at most one detection per camera


def test_person_seen_by_only_two_cameras():
    rng = np.random.default_rng(6)
    gt = simulate_people(4, 6, rng)
    sim = simulate_detections(CALIB, gt, rng, noise_px=2.0, hidden={2: ["sc1", "sc2"]})
    frames, people = _frames(sim.keypoints)
    for f, found in zip(frames, people, strict=True):
        (p2,) = [p for p in found if _labels(p) == {2}]
        assert sorted(p2.cameras) == ["wfc1", "wfc2"]
        both = np.logical_and(*[d.keypoints[:, 2] >= 0.2 for d in p2.detections])
        e = np.linalg.norm(p2.joints - gt[f, 2], axis=1)
        assert np.nanmean(e) < 0.04 and np.isfinite(e).sum() >= max(5, both.sum() - 1)
        assert len(found) == int(sim.observable[f].sum())


def test_a_single_false_detection_never_creates_a_person():
    rng = np.random.default_rng(7)
    gt = simulate_people(5, 30, rng)
    cams = CALIB.names
    false = [(f, cams[int(rng.integers(len(cams)))]) for f in range(30)]
    sim = simulate_detections(CALIB, gt, rng, noise_px=2.0, false_detections=false)
    n_false = sum(d.person_id is None for d in sim.keypoints.detections)
    assert n_false == 30
    frames, people = _frames(sim.keypoints)
    for f, found in zip(frames, people, strict=True):
        assert all(None not in _labels(p) for p in found)
        assert len(found) == int(sim.observable[f].sum())

    # alone, or beside a person seen by one other camera only: nothing to triangulate
    alone = simulate_detections(CALIB, np.full((1, 0, 17, 3), np.nan), rng, false_detections=[(0, "wfc1")])
    assert _frames(alone.keypoints)[1] == [[]]
    one_view = simulate_detections(CALIB, gt[:1, :1], rng, hidden={0: ["wfc2", "sc1", "sc2"]},
                                   false_detections=[(0, "sc1")])
    assert len(one_view.keypoints.detections) == 2 and _frames(one_view.keypoints)[1] == [[]]


def test_missed_people_and_joints_rarely_mix_people_up():
    """30% of people missed per view, 20% of joints missed, false detections: people whose only
    detections are one in wfc1 and one in wfc2 can be confused (those two cameras' epipolar lines
    run along image rows, so one row constraint per joint is all they share); it stays rare."""
    found = wanted = mixed = 0
    for seed in (8, 18):
        rng = np.random.default_rng(seed)
        gt = simulate_people(6, 15, rng)
        sim = simulate_detections(CALIB, gt, rng, noise_px=2.0, joint_miss_rate=0.2, person_miss_rate=0.3,
                                  false_per_view=0.2)
        frames, people = _frames(sim.keypoints)
        for f, people_f in zip(frames, people, strict=True):
            wanted += int(sim.observable[f].sum())
            found += sum(len(_labels(p)) == 1 and None not in _labels(p) for p in people_f)
            mixed += sum(len(_labels(p)) > 1 or None in _labels(p) for p in people_f)
            for p in people_f:
                assert len(set(p.cameras)) == len(p.cameras)
    assert found >= 0.93 * wanted      # 127 of 132 found
    assert mixed <= 0.03 * found       # 2 of 129


def _perturbed(calibration: Calibration, rng: np.random.Generator, degrees: float = 1.0,
               metres: float = 0.02) -> Calibration:
    """Every camera's pose off by ``degrees`` (about a random axis) and ``metres`` (a random direction)."""
    cams = []
    for cam in calibration.cameras:
        axis, shift = rng.normal(size=3), rng.normal(size=3)
        rot, _ = cv2.Rodrigues(np.radians(degrees) * axis / np.linalg.norm(axis))
        cams.append(dataclasses.replace(cam, R=rot @ cam.R, t=cam.t + metres * shift / np.linalg.norm(shift)))
    return Calibration(cameras=tuple(cams))


def _triangulable(sim, shape: tuple[int, int], min_common: int = 4) -> np.ndarray:
    """(F, P) people that two cameras detect with at least ``min_common`` joints in common: the
    ones multi-view association can reconstruct at all (a person cut by both images' borders
    down to 2-3 shared joints needs depth, :mod:`disguisor.pose3d.lifting`)."""
    out = np.zeros(shape, bool)
    by_person: dict = {}
    for d in sim.keypoints.detections:
        if d.person_id is not None:
            by_person.setdefault((d.frame, d.person_id), []).append(d)
    for (f, p), dets in by_person.items():
        out[f, p] = any(a.camera != b.camera and np.sum((a.keypoints[:, 2] > 0) & (b.keypoints[:, 2] > 0)) >= min_common
                        for a, b in itertools.combinations(dets, 2))
    return out


@pytest.mark.parametrize("size, lens", [((640, 480), "kinect_v1"), ((2560, 1440), "azure")])
def test_association_tolerates_calibration_error_at_any_resolution(size, lens):
    """Camera poses off by 1 degree and 2 cm (keypoints simulated with the true poses, 3D from the
    perturbed ones): Kinect v1 at 640x480 (f = 525 px) and a 2560x1440 camera (f = 1236 px), the
    same angular thresholds. (Pixel thresholds tuned at f = 620 lose people at 2560x1440: 25 px
    is 0.02 rad there, about the calibration error.)"""
    true = default_rig(*size, 4, lens=lens)
    matched = wanted = seen_twice = right = estimated = 0
    for seed in range(3):
        rng = np.random.default_rng(200 + seed)
        gt = simulate_people(6, 10, rng)
        sim = simulate_detections(true, gt, rng, noise_px=2.0 * true.cameras[0].K[0, 0] / 525, joint_miss_rate=0.05,
                                  false_per_view=0.1, occlusion=True)
        poses = estimate_poses3d(_perturbed(true, rng), sim.keypoints)
        m = evaluate_poses(poses, gt, _triangulable(sim, gt.shape[:2]))
        matched, wanted = matched + m.matched, wanted + m.gt_person_frames
        seen_twice += int(sim.observable.sum())
        right, estimated = right + round(m.precision * m.estimated_person_frames), estimated + m.estimated_person_frames
        assert m.mpjpe_mm < 120                    # 1 degree at 3-5 m is 5-9 cm
    assert wanted > 100 and matched >= 0.97 * wanted
    assert right >= 0.9 * estimated
    assert wanted >= 0.9 * seen_twice       # few people seen twice share fewer than 4 joints


def test_exact_set_packing_matches_the_integer_program():
    rng = np.random.default_rng(9)
    for _ in range(30):
        n_dets = int(rng.integers(6, 16))
        masks = []
        for _ in range(int(rng.integers(5, 60))):
            k = int(rng.integers(2, 5))
            masks.append(sum(1 << int(d) for d in rng.choice(n_dets, k, replace=False)))
        scores = [float(s) for s in rng.uniform(0.1, 3.0, len(masks))]
        exact = _pack_exact(masks, scores, n_dets)
        ilp = _pack_milp(masks, scores, n_dets)
        used = 0
        for k in exact:
            assert not masks[k] & used
            used |= masks[k]
        assert sum(scores[k] for k in exact) == pytest.approx(sum(scores[k] for k in ilp), abs=1e-9)


# --- tracking and smoothing --------------------------------------------------------------------

def _walker(start, velocity, n, height=1.75, head_yaw=None) -> np.ndarray:
    t = np.arange(n)
    pos = np.asarray(start, float) + np.outer(t, velocity)
    yaw = np.full(n, np.arctan2(velocity[1], velocity[0]))
    speed = float(np.linalg.norm(velocity))
    hy = np.zeros(n) if head_yaw is None else head_yaw
    return PersonMotion(height=height, position=pos, body_yaw=yaw, head_yaw=hy, head_pitch=np.full(n, 0.1),
                        walk_phase=t * speed / 0.7 * np.pi, walk_amplitude=np.full(n, min(0.4, 12 * speed))).joints()


def test_ids_survive_a_three_frame_gap_and_the_gap_is_filled():
    rng = np.random.default_rng(10)
    gt = np.stack([_walker((-2.0, -1.0), (0.03, 0.0), 30), _walker((1.5, 1.0), (0.0, -0.03), 30, 1.6)], axis=1)
    gt_seen = gt.copy()
    gt_seen[12:15, 0] = np.nan                      # person 0 unseen by every camera for 3 frames
    sim = simulate_detections(CALIB, gt_seen, rng, noise_px=2.0)
    assert sim.views[12:15, 0].sum() == 0
    poses = estimate_poses3d(CALIB, sim.keypoints)
    assert len(poses.ids) == 2
    m = evaluate_poses(poses, gt, sim.observable | (np.arange(30)[:, None] >= 12) & (np.arange(30)[:, None] < 15))
    assert m.id_switches == 0 and m.recall == 1.0          # the 3 missing frames are filled in
    (pid,) = [p.id for p in poses.frame(0).people if p.joints[0, 0] < 0]    # person 0 starts at x = -2
    track = poses.track(pid)
    gap_err = np.linalg.norm(track[12:15] - gt[12:15, 0], axis=-1)
    assert np.nanmean(gap_err) < 0.05
    conf = [p.confidence for f in poses.frames[12:15] for p in f.people if p.joints[0, 0] < 0]
    assert len(conf) == 3 and max(c.max() for c in conf) <= 0.5   # interpolated: reduced confidence


def test_long_absence_gives_a_new_id_short_one_keeps_it():
    rng = np.random.default_rng(11)
    gt = _walker((-1.5, 1.5), (0.02, -0.01), 40)[:, None]
    for gap, n_ids in ((5, 1), (15, 2)):
        seen = gt.copy()
        seen[10:10 + gap] = np.nan
        sim = simulate_detections(CALIB, seen, rng, noise_px=2.0)
        poses = estimate_poses3d(CALIB, sim.keypoints, tracking=TrackingParams(max_gap_frames=10))
        assert len(poses.ids) == n_ids


def test_frames_far_apart_in_time_are_never_linked_or_filled():
    """Frame numbers 0, 100, 200, ...: 99 frames between samples is more than max_gap_frames,
    so every sample's people are new tracks and nobody is interpolated where they were not seen."""
    # three people standing still (a walker with zero speed), so the same places recur
    gt = np.stack([_walker((-1.5, -1.0), (1e-9, 0.0), 6), _walker((1.2, 1.0), (1e-9, 0.0), 6, 1.6),
                   _walker((1.5, -1.5), (0.0, 1e-9), 6, 1.85)], axis=1)
    gt_seen = gt.copy()
    gt_seen[2, 0] = np.nan                          # person 0 not seen at frame 200
    frames = [0, 100, 200, 300, 400, 500]
    sim = simulate_detections(CALIB, gt_seen, np.random.default_rng(21), noise_px=2.0, frames=frames)
    assert sim.observable.sum() == 17
    poses = estimate_poses3d(CALIB, sim.keypoints)
    assert poses.frame_numbers == frames
    assert [len(f.people) for f in poses.frames] == [3, 3, 2, 3, 3, 3]   # nobody invented at frame 200
    assert len(poses.ids) == 17                     # no track spans two samples
    m = evaluate_poses(poses, gt_seen, sim.observable, frames=frames)
    assert m.recall == 1.0 and m.precision == 1.0
    # the same samples one frame apart: one track per person, and the gap at frame 2 is filled
    dense = estimate_poses3d(CALIB, simulate_detections(CALIB, gt_seen, np.random.default_rng(21),
                                                        noise_px=2.0).keypoints)
    assert len(dense.ids) == 3 and len(dense.frames[2].people) == 3


def test_tracks_follow_frame_numbers_when_every_third_frame_is_processed():
    """Frames 0, 3, 6, ...: a walker keeps one id, velocities are per frame number, and a gap is
    measured in frame numbers: 2 missing samples are 8 frame numbers (bridged with max_gap 10,
    not with max_gap 6)."""
    n = 20
    frames = list(range(0, 3 * n, 3))
    gt = _walker((-2.0, -0.5), (0.09, 0.0), n)[:, None]        # 0.03 m per frame number
    seen = gt.copy()
    seen[8:10] = np.nan                                         # unseen at frames 24 and 27
    sim = simulate_detections(CALIB, seen, np.random.default_rng(22), noise_px=2.0, frames=frames)
    poses = estimate_poses3d(CALIB, sim.keypoints)
    assert poses.frame_numbers == frames and len(poses.ids) == 1
    track = poses.track(poses.ids[0])
    assert np.all(np.isfinite(track[8:10, 0]))                  # the gap is filled ...
    assert np.nanmean(np.linalg.norm(track - gt[:, 0], axis=-1)) < 0.03   # ... in the right place
    short = estimate_poses3d(CALIB, sim.keypoints, tracking=TrackingParams(max_gap_frames=6))
    assert len(short.ids) == 2 and [len(f.people) for f in short.frames[8:10]] == [0, 0]


def test_no_id_switch_when_two_people_pass_close():
    rng = np.random.default_rng(12)
    n = 40
    a = _walker((-1.6, 1.6), (0.08, 0.0), n)            # walking towards each other at 0.08 m/frame,
    b = _walker((1.6, 1.95), (-0.08, 0.0), n, 1.65)     # 0.35 m apart sideways when they meet
    gt = np.stack([a, b], axis=1)
    closest = np.min(np.linalg.norm(gt[:, 0, [11, 12], :2].mean(1) - gt[:, 1, [11, 12], :2].mean(1), axis=1))
    assert closest < 0.4
    sim = simulate_detections(CALIB, gt, rng, noise_px=2.0)
    poses = estimate_poses3d(CALIB, sim.keypoints)
    m = evaluate_poses(poses, gt, sim.observable)
    assert len(poses.ids) == 2 and m.id_switches == 0 and m.recall == 1.0


def test_smoother_reduces_jitter_and_error():
    rng = np.random.default_rng(13)
    n = 60
    gt = _walker((1.0, 1.0), (0.0, 0.0), n)[:, None]    # standing still
    sim = simulate_detections(CALIB, gt, rng, noise_px=2.0, joint_miss_rate=0.0)
    frames, people = _frames(sim.keypoints)
    raw = track_people(frames, people, TrackingParams(smoothing="none"))
    smooth = track_people(frames, people)
    r, s = raw.track(raw.ids[0]), smooth.track(smooth.ids[0])
    jitter_raw = np.sqrt(np.nanmean(np.sum(np.diff(r, axis=0) ** 2, axis=-1)))
    jitter_smooth = np.sqrt(np.nanmean(np.sum(np.diff(s, axis=0) ** 2, axis=-1)))
    assert jitter_smooth < 0.3 * jitter_raw
    err_raw = np.nanmean(np.linalg.norm(r - gt[:, 0], axis=-1))
    err_smooth = np.nanmean(np.linalg.norm(s - gt[:, 0], axis=-1))
    assert err_smooth < 0.6 * err_raw


def _crossing(track: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """Fractional frame at which a trajectory passes halfway from start to end."""
    d = (end - start) / np.linalg.norm(end - start)
    s = (track - start) @ d
    mid = 0.5 * np.linalg.norm(end - start)
    k = int(np.argmax(s > mid))
    return k - 1 + (mid - s[k - 1]) / (s[k] - s[k - 1])


def test_smoother_follows_a_fast_head_turn_within_one_frame():
    n = 50
    yaw = np.full(n, -1.0)
    yaw[20:23] = -1.0 + 2.0 * np.arange(1, 4) / 4      # 115 degrees in 4 frames
    yaw[23:] = 1.0
    gt = _walker((1.2, 0.6), (-1e-9, 0.0), n, head_yaw=yaw)[:, None]
    sim = simulate_detections(CALIB, gt, np.random.default_rng(14), noise_px=2.0, joint_miss_rate=0.0)
    poses = estimate_poses3d(CALIB, sim.keypoints)
    nose = poses.track(poses.ids[0])[:, 0]
    truth = gt[:, 0, 0]
    lag = _crossing(nose, truth[0], truth[-1]) - _crossing(truth, truth[0], truth[-1])
    assert abs(lag) <= 1.0
    assert np.linalg.norm(nose - truth, axis=-1).max() < 0.05                # rounded, not flattened
    # a causal exponential filter with the same noise reduction would lag by more than a frame
    ema = nose.copy()
    for k in range(1, n):
        ema[k] = 0.25 * nose[k] + 0.75 * ema[k - 1]
    assert _crossing(ema, truth[0], truth[-1]) - _crossing(truth, truth[0], truth[-1]) > 1.0
    assert np.linalg.norm(nose[30:] - truth[30:], axis=-1).mean() < 0.02    # settles on the new pose


def test_median_gate_removes_spikes_and_keeps_steps():
    t = np.arange(30, dtype=float)
    pts = np.zeros((30, 2, 3))
    pts[:, 0, 0] = 0.01 * t                       # joint 0: slow ramp with one 0.5 m spike
    pts[12, 0, 1] = 0.5
    pts[:, 1, 0] = np.where(t < 15, 0.0, 0.3)      # joint 1: a 0.3 m step (a fast move)
    out = median_outliers(pts, 5, 4.0, 0.12)
    assert out[12, 0] and out[:, 0].sum() == 1
    assert not out[:, 1].any()
    filled, conf, gap = fill_gaps(np.where(out[..., None], np.nan, pts), np.ones((30, 2)), 10, 0.5)
    assert gap[12, 0] and np.abs(filled[12, 0] - [0.12, 0.0, 0.0]).max() < 1e-9 and conf[12, 0] == 0.5
    smooth = rts_smooth(filled, np.full((30, 2), 0.01), 0.01)
    assert np.abs(smooth[:, 0] - pts[:, 0] * [1, 0, 1]).max() < 0.01
    assert abs(smooth[13, 1, 0] - 0.0) < 0.1 and abs(smooth[16, 1, 0] - 0.3) < 0.1   # the step stays


def test_a_still_person_the_detectors_lose_is_held_a_walker_is_not():
    """A person standing still whom no camera sees any more keeps a 3D head for hold_frames frame
    numbers (lower confidence); a walker who disappears is not carried on."""
    still = _walker((-1.0, 0.5), (1e-9, 0.0), 20)
    walker = _walker((1.5, -1.0), (0.0, 0.05), 20, 1.6)
    gt = np.stack([still, walker], axis=1)
    seen = gt.copy()
    seen[12:, :] = np.nan                          # both lost after frame 11
    sim = simulate_detections(CALIB, seen, np.random.default_rng(31), noise_px=2.0)
    poses = estimate_poses3d(CALIB, sim.keypoints, tracking=TrackingParams(hold_frames=5))
    counts = [len(f.people) for f in poses.frames]
    assert counts[:12] == [2] * 12 and counts[12:17] == [1] * 5 and counts[17:] == [0] * 3
    held = poses.frames[14].people[0]
    assert np.nanmean(np.linalg.norm(held.joints - still[14], axis=-1)) < 0.05
    assert held.confidence.max() <= 0.5
    off = estimate_poses3d(CALIB, sim.keypoints, tracking=TrackingParams(hold_frames=0))
    assert [len(f.people) for f in off.frames][12:] == [0] * 8


def test_gap_longer_than_max_gap_is_not_filled():
    pts = np.zeros((20, 1, 3))
    pts[5:17] = np.nan                            # 12 missing
    _, _, gap = fill_gaps(pts, np.ones((20, 1)), 10, 0.5)
    assert not gap.any()
    pts[5:15] = np.nan
    pts[15:17] = 0.0                              # 10 missing
    _, _, gap = fill_gaps(pts, np.ones((20, 1)), 10, 0.5)
    assert gap.sum() == 10


# --- file format and command -------------------------------------------------------------------

def _poses() -> Poses3D:
    rng = np.random.default_rng(15)
    gt = simulate_people(2, 3, rng)
    sim = simulate_detections(CALIB, gt, rng, noise_px=1.0)
    return estimate_poses3d(CALIB, sim.keypoints)


def test_poses3d_round_trip(tmp_path: Path):
    poses = _poses()
    first = poses.frames[0].people[0]
    first.joints[3] = np.nan                       # a joint not estimated -> null, confidence 0
    path = tmp_path / "poses3d.json"
    save_poses3d(path, poses)
    data = json.loads(path.read_text())
    assert data["format"] == "disguisor-poses3d" and data["version"] == 1 and data["units"] == "metre"
    assert len(data["joint_names"]) == 17 and data["joint_names"][0] == "nose"
    person = next(p for p in data["frames"][0]["people"] if p["id"] == first.id)
    assert person["joints"][3] is None and person["confidence"][3] == 0.0
    back = load_poses3d(path)
    assert back.frame_numbers == poses.frame_numbers == [0, 1, 2]
    assert back.ids == poses.ids
    for fa, fb in zip(poses.frames, back.frames, strict=True):
        for pa in fa.people:
            pb = fb.person(pa.id)
            assert np.allclose(pa.joints, pb.joints, atol=1e-4, equal_nan=True)
            assert np.all(pb.confidence[~pb.valid] == 0.0)


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.__setitem__("format", "other"), "format"),
    (lambda d: d.__setitem__("version", 2), "version"),
    (lambda d: d["joint_names"].reverse(), "joint_names"),
    (lambda d: d["frames"][1].__setitem__("frame", 0), "frames[1].frame"),
    (lambda d: d["frames"][0]["people"][0]["joints"].__setitem__(16, [1.0, 2.0]), "frames[0].people[0].joints[16]"),
    (lambda d: d["frames"][0]["people"][0]["joints"].pop(), "frames[0].people[0].joints"),
    (lambda d: d["frames"][0]["people"][0]["confidence"].__setitem__(2, 1.5), "frames[0].people[0].confidence[2]"),
    (lambda d: d["frames"][0]["people"][1].__setitem__("id", d["frames"][0]["people"][0]["id"]),
     "frames[0].people[1].id"),
    (lambda d: d["frames"][2]["people"][0].__setitem__("id", 0), "frames[2].people[0].id"),
    (lambda d: d["frames"][2]["people"][0].pop("confidence"), "frames[2].people[0].confidence"),
])
def test_poses3d_validation_names_the_entry(mutate, field):
    data = poses3d_to_json(_poses())
    assert len(data["frames"][0]["people"]) == 2
    mutate(data)
    with pytest.raises(InputError) as exc:
        poses3d_from_json(data, source="p.json")
    assert exc.value.field == field and str(exc.value).startswith(f"p.json: {field}: ")


def test_pose3d_command_with_a_recording_folder(tmp_path: Path, caplog):
    rng = np.random.default_rng(16)
    gt = simulate_people(3, 4, rng)
    sim = simulate_detections(CALIB, gt, rng, noise_px=2.0)
    rec = tmp_path / "rec"
    save_calibration(CALIB, rec / "calibration.json")
    save_keypoints(tmp_path / "keypoints2d.json", sim.keypoints)
    with caplog.at_level(logging.WARNING):
        poses = pose3d_command(rec, tmp_path / "keypoints2d.json", tmp_path / "out" / "poses3d.json")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]   # the default rig overlaps
    back = load_poses3d(tmp_path / "out" / "poses3d.json")
    assert back.frame_numbers == [0, 1, 2, 3] and len(back.ids) == 3 == len(poses.ids)
    assert evaluate_poses(back, gt, sim.observable).mpjpe_mm < 40

    with pytest.raises(InputError) as exc:                    # folder without calibration.json
        pose3d_command(tmp_path, tmp_path / "keypoints2d.json", tmp_path / "x.json")
    assert "without calibration.json" in str(exc.value)
    save_calibration(Calibration(cameras=CALIB.cameras[:2]), tmp_path / "two.json")
    with pytest.raises(InputError) as exc:                    # keypoints of a camera the calibration lacks
        pose3d_command(tmp_path / "two.json", tmp_path / "keypoints2d.json", tmp_path / "y.json")
    assert exc.value.field.endswith(".camera") and "'sc1' is not in the calibration" in exc.value.message
    assert not (tmp_path / "y.json").exists()


def _camera(name: str, eye, target) -> Camera:
    base = CALIB.cameras[0]
    return Camera(name=name, role="workflow", width=base.width, height=base.height, K=base.K, dist=base.dist,
                  R=look_at(np.array(eye, float), np.array(target, float)), t=np.array(eye, float))


def test_warns_when_fields_of_view_do_not_overlap(tmp_path: Path, caplog):
    apart = Calibration(cameras=(_camera("north", (0, 1, 1.5), (0, 4, 1.5)), _camera("south", (0, -1, 1.5),
                                                                                      (0, -4, 1.5))))
    ov = fov_overlap(apart)
    assert ov[0, 1] == 0.0 and ov[1, 0] == 0.0
    assert fov_overlap(CALIB)[0, 1] > 0.2
    save_calibration(apart, tmp_path / "calibration.json")
    kp = {"images": [{"id": 1, "file_name": "north/color/000000.jpg", "width": 1280, "height": 720,
                      "camera": "north", "frame": 0}], "annotations": []}
    (tmp_path / "keypoints2d.json").write_text(json.dumps(kp))
    with caplog.at_level(logging.WARNING):
        poses = pose3d_command(tmp_path / "calibration.json", tmp_path / "keypoints2d.json", tmp_path / "p.json")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no two cameras' fields of view overlap" in w for w in warnings)
    assert poses.frame_numbers == [0] and poses.frames[0].people == ()
    assert load_poses3d(tmp_path / "p.json").frame_numbers == [0]


def test_params_change_behaviour():
    """The documented parameters are the ones used: a strict reprojection threshold drops joints."""
    rng = np.random.default_rng(17)
    gt = simulate_people(3, 1, rng)
    sim = simulate_detections(CALIB, gt, rng, noise_px=3.0, joint_miss_rate=0.0)
    views = sim.keypoints.views(0)
    loose = reconstruct_frame(RIG, views)
    strict = reconstruct_frame(RIG, views, Pose3DParams(reprojection_threshold_rad=1.0 / 620))
    n_loose = sum(int(p.valid.sum()) for p in loose)
    n_strict = sum(int(p.valid.sum()) for p in strict)
    assert len(loose) == 3 and n_strict < 0.5 * n_loose


def test_view_geometry_projects_like_the_camera():
    cam = CALIB.cameras[1]
    v = view_geometry(cam)
    X = np.array([[0.3, 0.2, 1.2]])
    xc = v.P @ np.append(X[0], 1.0)
    assert np.allclose(xc, cam.world_to_camera(X)[0])


def test_the_depth_check_holds_a_lost_walker_while_the_depth_shows_a_body_there():
    """With the depth check (disguisor.pose3d.presence) a lost walker is held while the depth shows
    a body at its head, not where it does not; a lost still person is held either way."""
    still = _walker((-1.0, 0.5), (1e-9, 0.0), 20)
    walker = _walker((1.5, -1.0), (0.0, 0.05), 20, 1.6)
    seen = np.stack([still, walker], axis=1)
    seen[12:, :] = np.nan                          # both lost after frame 11
    frames, people = _frames(simulate_detections(CALIB, seen, np.random.default_rng(31), noise_px=2.0).keypoints)
    params = TrackingParams(hold_frames=5)
    asked = []

    def walker_stays(frame, joints):               # the depth: something at the walker's last spot up to frame 14
        asked.append(frame)
        return bool(np.nanmean(joints[:, 0]) > 0) and frame <= 14

    poses = track_people(frames, people, params, walker_stays)
    assert [len(f.people) for f in poses.frames][12:] == [2, 2, 2, 1, 1, 0, 0, 0]
    held = [p for p in poses.frames[14].people if np.nanmean(p.joints[:, 0]) > 0]
    assert np.nanmean(np.linalg.norm(held[0].joints - walker[11], axis=-1)) < 0.1   # where it was lost
    assert asked == [12, 13, 14, 15]               # the still person is not asked about
    for unsure in (None, lambda frame, joints: None, lambda frame, joints: False):
        counts = [len(f.people) for f in track_people(frames, people, params, unsure).frames]
        assert counts[12:] == [1, 1, 1, 1, 1, 0, 0, 0]


def test_a_track_is_not_held_on_top_of_a_person_who_goes_on_under_another_id():
    """Where a lost track's person goes on as another track (the depth shows that body there), the
    depth check does not hold the lost track: that would be a second person in the same place."""
    from disguisor.pose3d.association import PersonObservation
    from disguisor.pose3d.tracking import Track, build_poses
    body = _walker((1.0, 0.0), (0.0, 0.0), 1)[0]

    def walking(times, offset):                    # 5 cm per frame along y: not still
        obs = [PersonObservation(joints=body + np.asarray(offset) + [0.0, 0.05 * t, 0.0],
                                 confidence=np.full(17, 0.9), error_px=np.zeros(17), detections=(), score=1.0)
               for t in times]
        return Track(id=int(times[0]), times=list(times), observations=obs)

    frames = list(range(8))
    early = walking([0, 1, 2, 3], [0.0, 0.0, 0.0])
    params = TrackingParams(hold_frames=3)
    goes_on = walking([4, 5, 6, 7], [0.0, 0.05, 0.0])        # the same person, 10 cm on, under a new id
    poses = build_poses(frames, [early, goes_on], params, lambda frame, joints: True)
    assert [len(f.people) for f in poses.frames] == [1] * 8
    elsewhere = walking([4, 5, 6, 7], [2.0, 0.0, 0.0])      # someone else, 2 m away: both are held
    poses = build_poses(frames, [early, elsewhere], params, lambda frame, joints: True)
    assert [len(f.people) for f in poses.frames] == [1, 2, 2, 2, 2, 2, 2, 1]


def test_a_drifting_end_is_held_where_the_depth_confirms_the_person():
    """A lying patient's last joints drift 10-20 cm off; where the depth does not confirm the end
    sample but confirms the median of the last samples, the track is held there."""
    from disguisor.pose3d.tracking import Track, hold_still_track
    body = _walker((1.0, 0.0), (0.0, 0.0), 1)[0]
    pts = np.stack([body + [dx, 0.0, 0.0] for dx in (0.0, 0.0, 0.0, 0.1, 0.2)])
    conf = np.full((5, 17), 0.8)
    frames = list(range(8))

    def at_the_body(frame, joints):                # the depth reads a surface at the true spot only
        return bool(abs(np.nanmean(joints[:, 0] - body[:, 0])) < 0.05)

    samples, held, _ = hold_still_track(Track(id=1, times=[0, 1, 2, 3, 4]), frames, np.arange(5), pts, conf,
                                        TrackingParams(hold_frames=3), at_the_body)
    assert samples.tolist() == list(range(8))
    assert np.abs(held[5:] - body).max() < 1e-9                   # at the median, not at the drifted end
    samples, _, _ = hold_still_track(Track(id=1, times=[0, 1, 2, 3, 4]), frames, np.arange(5), pts, conf,
                                     TrackingParams(hold_frames=3), lambda frame, joints: None)
    assert samples.tolist() == list(range(5))                     # moving and unconfirmed: not held


def test_a_still_track_is_not_held_on_top_of_a_person_who_goes_on_under_another_id():
    """A still track is held without asking the depth, but not where another track stands: the
    lying patient lost under one id and found again 10 cm on under another is one person."""
    from disguisor.pose3d.association import PersonObservation
    from disguisor.pose3d.tracking import Track, build_poses
    body = _walker((1.0, 0.0), (0.0, 0.0), 1)[0]

    def lying(times, offset):                      # the same joints every frame: still
        obs = [PersonObservation(joints=body + np.asarray(offset), confidence=np.full(17, 0.9),
                                 error_px=np.zeros(17), detections=(), score=1.0) for _ in times]
        return Track(id=int(times[0]), times=list(times), observations=obs)

    frames = list(range(8))
    params = TrackingParams(hold_frames=3)
    lost = lying([0, 1, 2, 3], [0.0, 0.0, 0.0])
    for depth in (None, lambda frame, joints: False):   # still: held whatever the depth says ...
        poses = build_poses(frames, [lost], params, depth)
        assert [len(f.people) for f in poses.frames] == [1, 1, 1, 1, 1, 1, 1, 0]
    found_again = lying([5, 6, 7], [0.0, 0.1, 0.0])
    poses = build_poses(frames, [lost, found_again], params, None)
    assert [len(f.people) for f in poses.frames] == [1, 1, 1, 1, 1, 1, 1, 1]   # ... but not on top of him
    elsewhere = lying([5, 6, 7], [2.0, 0.0, 0.0])
    poses = build_poses(frames, [lost, elsewhere], params, None)
    assert [len(f.people) for f in poses.frames] == [1, 1, 2, 2, 2, 2, 2, 1]   # both held, 3 frames each


def test_a_second_3d_person_on_the_same_body_is_dropped():
    """Association can split one person's views into two 3D people: a partial skeleton on the
    same body is dropped where the full one's head covers its head; a neighbour standing shoulder
    to shoulder, a partial whose head lies elsewhere and a partial with the only head are kept;
    drop_same_body_m=None keeps both."""
    from disguisor.pose3d.poses import Person3D
    from disguisor.pose3d.tracking import one_per_body

    body = _walker((0.0, 0.0), (0.0, 0.0), 1)[0]
    params = TrackingParams()

    def part(joints, offset, score):
        j = np.full_like(body, np.nan)
        j[joints] = body[joints] + np.asarray(offset)
        return Person3D(2, j, np.where(np.isfinite(j[:, 0]), score, 0.0))

    full = Person3D(1, body, np.full(17, 0.5))
    near = Person3D(3, body + np.array([0.45, 0.0, 0.0]), np.full(17, 0.3))    # shoulder to shoulder
    half = part(range(7), (0.05, 0.03, 0.02), 0.6)                             # head and shoulders, 6 cm off
    assert [p.id for p in one_per_body([half, full, near], params)] == [1, 3]
    assert len(one_per_body([half, full, near], TrackingParams(drop_same_body_m=None))) == 3
    # the larger confidence sum stays, whichever comes first
    weak_full = Person3D(1, body, np.full(17, 0.2))
    assert [p.id for p in one_per_body([weak_full, part(range(7), (0.05, 0.03, 0.02), 0.9)], params)] == [2]
    # a head 0.19 m away is a face the other one's does not hide
    assert len(one_per_body([full, part(range(7), (0.15, 0.1, 0.05), 0.6)], params)) == 2
    # legs alone go; the only head stays even when its owner has the smaller confidence sum
    assert [p.id for p in one_per_body([full, part(range(11, 17), (0.1, 0.0, 0.0), 0.9)], params)] == [1]
    headless = Person3D(1, np.where(np.arange(17)[:, None] < 5, np.nan, body), np.full(17, 0.9))
    assert len(one_per_body([headless, part(range(7), (0.05, 0.03, 0.02), 0.3)], params)) == 2
    # a person 0.3 m or more off on average is another person
    apart = Person3D(4, body + np.array([0.3, 0.0, 0.0]), np.full(17, 0.1))
    assert len(one_per_body([full, apart], params)) == 2


def test_a_second_skeleton_on_the_same_head_is_dropped_however_far_its_limbs():
    """Association can join one person's head to limbs that are not his: a skeleton with the
    same head (within drop_same_head_m) but hips 0.4 m lower and legs under the floor is one
    body with the full one (too far for same_body alone) and goes; with two or fewer shared
    head joints, or heads 0.15 m apart, both stay."""
    from disguisor.pose3d.poses import Person3D
    from disguisor.pose3d.tracking import one_per_body, same_body, same_head

    body = _walker((0.0, 0.0), (0.0, 0.0), 1)[0]
    params = TrackingParams()
    full = Person3D(1, body, np.full(17, 0.5))
    stretched = body.copy()
    stretched[:5] += (0.01, -0.01, 0.02)
    stretched[7:] += np.linspace(0.4, 1.0, 10)[:, None] * np.array([0.3, 0.2, -1.0])
    ghost = Person3D(2, stretched, np.full(17, 0.3))
    assert not same_body(full.joints, ghost.joints, params.gate_m, params.drop_same_body_m)
    assert same_head(full.joints, ghost.joints, params.drop_same_head_m)
    assert [p.id for p in one_per_body([ghost, full], params)] == [1]
    # the ghost has the larger confidence sum: it stays, and the full one goes (its head is covered)
    assert [p.id for p in one_per_body([Person3D(2, stretched, np.full(17, 0.9)), full], params)] == [2]
    two_head_joints = stretched.copy()
    two_head_joints[2:5] = np.nan
    assert not same_head(full.joints, two_head_joints, params.drop_same_head_m)
    assert len(one_per_body([full, Person3D(2, two_head_joints, np.full(17, 0.3))], params)) == 2
    beside = stretched.copy()
    beside[:5] += (0.15, 0.0, 0.0)
    assert len(one_per_body([full, Person3D(2, beside, np.full(17, 0.3))], params)) == 2
