"""Tracking people over time: stable ids, gap filling and smoothing of every joint.

Linking (frame by frame, a global assignment per frame): every live track predicts where its
centroid will be (constant velocity from its recent centroid motion); the cost of giving a
person of the current frame to a track is the 3D distance between the person's centroid and the
track's predicted centroid, both taken over the joints the two have in common (so a person whose
legs are not seen is compared on the same joints). People and tracks are matched by the
Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`) under a gate that widens
while a track is missing; unmatched people start new tracks. A track missing for more than
``max_gap_frames`` ends; a person re-entering within that time gets the old id back, later it
gets a new one (there is no appearance model to recognize a person after a long absence).

Time is the **frame number**, not the position in the list of processed frames: a recording
whose frames are 0, 100, 200, ... has 99 frames between samples, more than any sensible
``max_gap_frames``, so nobody is linked across them and nothing is interpolated between them;
a recording processed every 3rd frame links people 3 frames apart, with velocities per frame.

Afterwards each track is cleaned per joint: a running-median gate removes triangulation spikes,
gaps of up to ``max_gap_frames`` frame numbers are filled by linear interpolation (at the
processed frames in the gap only), and the joint trajectories are smoothed with a zero-lag RTS
smoother (:mod:`disguisor.pose3d.smoothing`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from disguisor.pose2d.keypoints_io import HEAD_JOINTS, NUM_JOINTS
from disguisor.pose3d.association import PersonObservation
from disguisor.pose3d.params import TrackingParams
from disguisor.pose3d.poses import FramePoses, Person3D, Poses3D
from disguisor.pose3d.presence import Presence
from disguisor.pose3d.smoothing import clamp_to_measurements, fill_gaps, median_outliers, rts_smooth

Alone = Callable[[int, np.ndarray], bool]  # (frame number, joints (17, 3) m) -> no other track there

log = logging.getLogger(__name__)

_NO_MATCH = 1e9


@dataclass
class Track:
    """One person over time. times: frame numbers of its observations; velocity: m per frame number."""

    id: int
    times: list[int] = field(default_factory=list)
    observations: list[PersonObservation] = field(default_factory=list)
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @property
    def last_time(self) -> int:
        return self.times[-1]

    @property
    def last_joints(self) -> np.ndarray:
        return self.observations[-1].joints


def _common_centroids(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroids of two skeletons (17, 3) over their common joints (all joints of each if none)."""
    both = np.isfinite(a[:, 0]) & np.isfinite(b[:, 0])
    if not both.any():
        return np.nanmean(a, axis=0), np.nanmean(b, axis=0)
    return a[both].mean(axis=0), b[both].mean(axis=0)


def link_tracks(frames: Sequence[int], observations: Sequence[Sequence[PersonObservation]],
                params: TrackingParams | None = None) -> list[Track]:
    """Give every person of every frame a track (see the module docstring).

    frames: the processed frame numbers, increasing; observations: per processed frame, the
    people reconstructed there. Returns the tracks in order of first appearance, ids 1, 2, ...
    """
    params = params or TrackingParams()
    if len(frames) != len(observations):
        raise ValueError("one list of people per frame is needed")
    if np.any(np.diff(np.asarray(frames)) <= 0):
        raise ValueError("frame numbers must increase")
    tracks: list[Track] = []
    live: list[Track] = []
    for t, people in zip(frames, observations, strict=True):
        t = int(t)
        live = [tr for tr in live if t - tr.last_time - 1 <= params.max_gap_frames]
        cost = np.full((len(live), len(people)), _NO_MATCH)
        for i, tr in enumerate(live):
            dt = t - tr.last_time
            predicted = tr.last_joints + tr.velocity * dt
            gate = params.gate_m + params.gate_growth_m_per_frame * (dt - 1)
            for j, person in enumerate(people):
                ca, cb = _common_centroids(person.joints, predicted)
                d = float(np.linalg.norm(ca - cb))
                if d <= gate:
                    cost[i, j] = d
        matched_people: set[int] = set()
        if cost.size:
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols, strict=True):
                if cost[i, j] >= _NO_MATCH:
                    continue
                tr, person = live[i], people[j]
                dt = t - tr.last_time
                ca, cb = _common_centroids(person.joints, tr.last_joints)
                v_new = (ca - cb) / dt
                v = params.velocity_smoothing * v_new + (1.0 - params.velocity_smoothing) * tr.velocity
                speed = float(np.linalg.norm(v))
                if speed > params.max_speed_m_per_frame:
                    v *= params.max_speed_m_per_frame / speed
                tr.velocity = v
                tr.times.append(t)
                tr.observations.append(person)
                matched_people.add(j)
        for j, person in enumerate(people):
            if j in matched_people:
                continue
            tr = Track(id=len(tracks) + 1, times=[t], observations=[person])
            tracks.append(tr)
            live.append(tr)
    return tracks


def track_arrays(track: Track, frames: Sequence[int],
                 params: TrackingParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cleaned and smoothed joints of one track at the processed frames it spans.

    frames: all processed frame numbers, increasing. Returns (sample indices into ``frames``
    (T,), joints (T, 17, 3) NaN where unknown, confidence (T, 17)).
    """
    frames_arr = np.asarray(frames)
    first, last = np.searchsorted(frames_arr, [track.times[0], track.times[-1]])
    samples = np.arange(first, last + 1)
    times = frames_arr[samples]
    T = len(samples)
    pts = np.full((T, NUM_JOINTS, 3), np.nan)
    conf = np.zeros((T, NUM_JOINTS))
    rows = np.searchsorted(times, track.times)
    for k, obs in zip(rows, track.observations, strict=True):
        pts[k] = obs.joints
        conf[k] = obs.confidence
    if params.outlier_window >= 3:
        out = median_outliers(pts, params.outlier_window, params.outlier_sigmas, params.outlier_min_m)
        if out.any():
            log.debug("track %d: %d joint outlier(s) removed", track.id, int(out.sum()))
            pts[out] = np.nan
            conf[out] = 0.0
    pts, conf, filled = fill_gaps(pts, conf, params.max_gap_frames, params.interpolated_confidence_scale, times)
    if params.smoothing == "rts":
        std = params.measurement_noise_m / np.maximum(conf, 0.1)
        measured = np.where(filled[..., None], np.nan, pts)
        pts = clamp_to_measurements(rts_smooth(pts, std, params.acceleration_noise_m, times=times), measured,
                                    params.max_smoothing_shift_m)
    elif params.smoothing != "none":
        raise ValueError(f"unknown smoothing {params.smoothing!r} (use 'rts' or 'none')")
    conf = np.where(np.isfinite(pts[..., 0]), conf, 0.0)
    return samples, pts, conf


def _still(pts: np.ndarray, times: np.ndarray, max_speed: float) -> bool:
    """Whether a track's joints ``pts`` (T, 17, 3) at frame numbers ``times`` moved at most
    ``max_speed`` metres per frame number between its first and last sample: the median over the
    joints known at both (robust to a detector that reads different joints in each frame)."""
    ok = np.isfinite(pts[..., 0]).any(axis=1)
    if ok.sum() < 2:
        return False
    first, last = pts[ok][0], pts[ok][-1]
    span = float(times[ok][-1] - times[ok][0])
    moved = np.linalg.norm(last - first, axis=1)
    moved = moved[np.isfinite(moved)]
    return span > 0 and len(moved) >= 3 and float(np.median(moved)) <= max_speed * span


def _held(candidates: np.ndarray, frames_arr: np.ndarray, end: np.ndarray, still: bool,
          present: Presence | None, alone: Alone | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The leading run of ``candidates`` (sample indices, nearest to the track's end first) at
    which the track is held, and the joints (17, 3) it is held with. ``end``: the track's samples
    nearest its end (T, 17, 3), the end first. A still track is held at its end sample, at all
    of them: it is not let go on the depth's word, its held head may sit a few cm off the real
    one (privacy first). A moving one only where the depth shows a body at its head (present is
    True), at its end sample or, when the depth does not confirm that, at the per-joint median
    of ``end`` (the detector's last joints of a lying patient may have drifted 10-20 cm).
    Either is held only while ``alone`` (frame number, joints -> bool; None: always) holds."""
    if still:
        stop = next((k for k, c in enumerate(candidates)
                     if alone is not None and not alone(int(frames_arr[c]), end[0])), len(candidates))
        return np.asarray(candidates[:stop], dtype=int), end[0]
    none = np.zeros(0, dtype=int)
    if present is None or not len(candidates):
        return none, end[0]
    first = int(frames_arr[candidates[0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # joints unknown in all of ``end`` stay NaN
        options = [end[0], np.nanmedian(end, axis=0)] if len(end) > 1 else [end[0]]

    def ok(frame: int, joints: np.ndarray) -> bool:
        return (alone is None or alone(frame, joints)) and present(frame, joints) is True

    joints = next((j for j in options if ok(first, j)), None)
    if joints is None:
        return none, end[0]
    held = [candidates[0]]
    for sample in candidates[1:]:
        if not ok(int(frames_arr[sample]), joints):
            break
        held.append(sample)
    return np.asarray(held, dtype=int), joints


def hold_still_track(track: Track, frames: Sequence[int], samples: np.ndarray, pts: np.ndarray, conf: np.ndarray,
                     params: TrackingParams, present: Presence | None = None, alone: Alone | None = None,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A lost track held in place for up to ``params.hold_frames`` frame numbers beyond its ends
    (see :class:`TrackingParams`); returns the extended (samples, joints, confidence).

    present: the depth check of :mod:`disguisor.pose3d.presence` (frame number, joints -> True /
    False / None), or None (no depth: only nearly still tracks are held). alone: (frame number,
    joints -> bool) False where another track stands there (then the track is not held from
    that frame on, still or not), or None."""
    if params.hold_frames <= 0 or len(samples) < 2:
        return samples, pts, conf
    frames_arr = np.asarray(frames)
    times = frames_arr[samples]
    n = max(params.outlier_window, 2)
    before = np.flatnonzero((frames_arr < times[0]) & (frames_arr >= times[0] - params.hold_frames))[::-1]
    after = np.flatnonzero((frames_arr > times[-1]) & (frames_arr <= times[-1] + params.hold_frames))
    scale = params.interpolated_confidence_scale
    speed = params.hold_max_speed_m_per_frame
    tail, tail_joints = _held(after, frames_arr, pts[::-1][:n], _still(pts[-n:], times[-n:], speed), present, alone)
    head, head_joints = _held(before, frames_arr, pts[:n], _still(pts[:n], times[:n], speed), present, alone)
    head = head[::-1]
    if not len(head) and not len(tail):
        return samples, pts, conf
    parts_s, parts_p, parts_c = [], [], []
    if len(head):
        parts_s.append(head)
        parts_p.append(np.repeat(head_joints[None], len(head), axis=0))
        parts_c.append(np.repeat(conf[:1] * scale, len(head), axis=0))
    parts_s.append(samples), parts_p.append(pts), parts_c.append(conf)
    if len(tail):
        parts_s.append(tail)
        parts_p.append(np.repeat(tail_joints[None], len(tail), axis=0))
        parts_c.append(np.repeat(conf[-1:] * scale, len(tail), axis=0))
    return np.concatenate(parts_s), np.concatenate(parts_p), np.concatenate(parts_c)


def build_poses(frames: Sequence[int], tracks: Sequence[Track], params: TrackingParams | None = None,
                present: Presence | None = None) -> Poses3D:
    """Turn linked tracks into :class:`Poses3D` over ``frames`` (the processed frame numbers,
    increasing); ``present``: the depth check of held tracks (:func:`hold_still_track`)."""
    params = params or TrackingParams()
    per_frame: list[list[Person3D]] = [[] for _ in frames]
    kept = [tr for tr in tracks if len(tr.times) >= params.min_track_frames]
    spans = [track_arrays(tr, frames, params) for tr in kept]
    # where each track is, frame by frame, before any holding: a held track must not double a
    # person who goes on under another id (the depth there shows that person's body)
    at_frame: list[list[np.ndarray]] = [[] for _ in frames]
    for samples, pts, _ in spans:
        for k, sample in enumerate(samples):
            if np.isfinite(pts[k, :, 0]).any():
                at_frame[sample].append(pts[k])
    index = {int(f): i for i, f in enumerate(frames)}

    def alone(frame: int, joints: np.ndarray) -> bool:
        return not any(same_body(joints, other, params.gate_m, params.hold_same_body_m)
                       for other in at_frame[index[frame]])

    next_id = 1
    for tr, (samples, pts, conf) in zip(kept, spans, strict=True):
        before = set(samples.tolist())
        samples, pts, conf = hold_still_track(tr, frames, samples, pts, conf, params, present, alone)
        for k, sample in enumerate(samples):  # a later track is not held where this one is held
            if int(sample) not in before:
                at_frame[sample].append(pts[k])
        pid, next_id = next_id, next_id + 1
        for k, sample in enumerate(samples):
            if np.isfinite(pts[k, :, 0]).any():
                per_frame[sample].append(Person3D(id=pid, joints=pts[k], confidence=conf[k]))
    doubles = 0
    for k, people in enumerate(per_frame):
        per_frame[k] = one_per_body(people, params)
        doubles += len(people) - len(per_frame[k])
    if doubles:
        log.info("%d person-frame(s) dropped: a second 3D person on the same body", doubles)
    return Poses3D(frames=tuple(FramePoses(frame=int(f), people=tuple(p))
                                for f, p in zip(frames, per_frame, strict=True)))


def same_body(a: np.ndarray, b: np.ndarray, gate_m: float, mean_m: float) -> bool:
    """Whether two skeletons (17, 3) (NaN: missing joint) of one frame are one body: the
    centroids of their shared joints within ``gate_m`` and their shared joints within ``mean_m``
    of each other on average (centroids of a few shared joints meet for two people side by side;
    the same body also agrees joint by joint)."""
    ca, cb = _common_centroids(a, b)
    if float(np.linalg.norm(ca - cb)) >= gate_m:
        return False
    d = np.linalg.norm(a - b, axis=1)
    d = d[np.isfinite(d)]
    return bool(d.size) and float(d.mean()) < mean_m


def same_head(a: np.ndarray, b: np.ndarray, head_m: float, min_joints: int = 3) -> bool:
    """Whether two skeletons (17, 3) (NaN: missing joint) of one frame share at least
    ``min_joints`` head joints and those lie within ``head_m`` of each other on average: two
    people's heads cannot overlap, so they are one body whatever their other joints say."""
    head = list(HEAD_JOINTS)
    d = np.linalg.norm(a[head] - b[head], axis=1)
    d = d[np.isfinite(d)]
    return d.size >= min_joints and float(d.mean()) < head_m


def head_covered(keeper: np.ndarray, other: np.ndarray, head_m: float) -> bool:
    """Whether the face of skeleton ``keeper`` (17, 3) also hides that of ``other``: ``other``
    has no head joints, or ``keeper`` has each head joint ``other`` has, within ``head_m`` on
    average."""
    head = list(HEAD_JOINTS)
    theirs = np.isfinite(other[head, 0])
    if not theirs.any():
        return bool(np.isfinite(keeper[head, 0]).any())
    if not np.isfinite(keeper[head, 0])[theirs].all():
        return False
    return float(np.linalg.norm(keeper[head] - other[head], axis=1)[theirs].mean()) < head_m


def one_per_body(people: Sequence[Person3D], params: TrackingParams) -> list[Person3D]:
    """``people`` of one frame without the second 3D person on one body
    (``params.drop_same_body_m``): of two people that are one body (:func:`same_body`, or
    :func:`same_head` within ``params.drop_same_head_m``) the one with the larger sum of joint
    confidences stays, and the other goes only where the first one's head covers its head
    (:func:`head_covered`, ``params.drop_same_head_m``), so no face loses its cover. Order kept."""
    if params.drop_same_body_m is None or len(people) < 2:
        return list(people)
    weight = [float(np.sum(np.where(p.valid, p.confidence, 0.0))) for p in people]
    kept: list[int] = []
    for i in sorted(range(len(people)), key=lambda i: -weight[i]):
        a = people[i].joints
        if not any((same_body(people[j].joints, a, params.gate_m, params.drop_same_body_m)
                    or same_head(people[j].joints, a, params.drop_same_head_m))
                   and head_covered(people[j].joints, a, params.drop_same_head_m) for j in kept):
            kept.append(i)
    return [people[i] for i in sorted(kept)]


def track_people(frames: Sequence[int], observations: Sequence[Sequence[PersonObservation]],
                 params: TrackingParams | None = None, present: Presence | None = None) -> Poses3D:
    """Link, clean and smooth per-frame reconstructions into tracked :class:`Poses3D`.

    frames: the frame numbers of the processed frames, increasing (time is counted in frame
    numbers, see the module docstring); observations: the people of each of those frames;
    present: the depth check of held tracks (:mod:`disguisor.pose3d.presence`) or None.
    """
    params = params or TrackingParams()
    return build_poses(frames, link_tracks(frames, observations, params), params, present)
