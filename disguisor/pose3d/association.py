"""Per-frame multi-view association of 2D detections into people, and their 3D skeletons.

The problem: at one frame every camera reports a list of 2D skeletons (some missed, some false,
people occluding each other); find which detections of different cameras show the same person,
with at most one detection per camera per person, then triangulate each person.

Method (a global multi-view matching, not greedy pairing):

1. **Pairwise affinities.** Every joint of every detection is undistorted to normalized
   coordinates. For two detections of different cameras, each joint both detect gives a
   symmetric epipolar distance as an angle (pixels / focal length); the pair's affinity is the
   score-weighted mean over shared joints of ``max(0, 1 - distance / epipolar_threshold_rad)``.
   Pairs with too few shared joints or an affinity below ``min_pair_affinity`` can never be the
   same person.
2. **Hypotheses**, grown view by view. Every compatible pair is a hypothesis for one person.
   Each hypothesis is triangulated with all its views (weighted DLT) and kept only if (a) every
   member view reprojects consistently: its *consistency* is the score-weighted mean over its
   joints of ``max(0, 1 - reprojection error / threshold)`` and must reach
   ``min_view_consistency`` (two views cannot rule out two *different* people on the same
   epipolar lines, a third can), and (b) the skeleton is a plausible body (limb lengths in
   human ranges, in front of the cameras). A kept hypothesis grows by one detection of another
   camera whose joints lie where its 3D joints project, or, when they share fewer than
   ``min_common_joints`` joints (partial views: one camera sees the left side, another the
   right), that is epipolar-compatible with one of its members; the grown hypothesis is
   checked as a whole again. Score = sum of the member views' consistencies - 1 (two perfect
   views: 1, three: 2, ...), which must exceed ``min_hypothesis_score``: one consistent larger
   hypothesis outscores its parts, so a person is not split in two.
3. **Global selection.** The hypotheses that explain the detections best are chosen by a
   maximum-weight set packing: maximize the total score subject to every detection being used
   at most once. Groups of hypotheses that share detections are solved independently, exactly:
   by branch and bound when small, by an integer linear program (HiGHS via
   :func:`scipy.optimize.milp`) when larger.
4. **Triangulation and clean-up.** Each chosen person is triangulated robustly per joint
   (:func:`~disguisor.pose3d.triangulation.triangulate_robust`). People with too few joints or
   an implausible body are dropped; two reconstructions closer than ``merge_distance_m`` are one
   person (merged when their cameras differ, else the weaker is dropped).

Pixel thresholds are angles converted with each camera's focal length
(:meth:`Rig.threshold_px`), so cameras of any resolution and field of view share one setting.

A single false detection in one view cannot create a person (without depth; see
:mod:`~disguisor.pose3d.lifting` for people seen by one camera): every person needs consistent
support from at least two views, and a random skeleton rarely matches another view's detection
on all of its joints' epipolar lines, its reprojection in a third view, and human limb lengths;
where a real detection matches better, the packing prefers it. Known limit: two views whose
epipolar lines run along the image rows (cameras side by side at one height, like the rig's
wfc1 and wfc2) constrain only each joint's image row, so two *different* people each seen by
only one of those two cameras (or a false detection and a lone real one) can pair into a
misplaced person when they stand at similar distances. A third view removes the ambiguity.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from disguisor.io.calibration import Calibration
from disguisor.pose2d.keypoints_io import NUM_JOINTS, Detection
from disguisor.pose3d.cameras import ViewGeometry, epipolar_distance_px, essential_matrix, view_geometry
from disguisor.pose3d.packing import select_hypotheses
from disguisor.pose3d.params import Pose3DParams
from disguisor.pose3d.triangulation import (
    project_to_cameras,
    reprojection_errors,
    triangulate_robust,
    triangulate_weighted,
)

log = logging.getLogger(__name__)

# COCO joint pairs (0-based) with the range of lengths (metres) of an adult's limb, generous
# enough for 10 px keypoint noise at 5 m: used to tell a body from a mismatched pair of views.
BONE_LENGTH_RANGES_M: tuple[tuple[int, int, float, float], ...] = (
    (5, 7, 0.12, 0.55), (6, 8, 0.12, 0.55),      # upper arms
    (7, 9, 0.10, 0.50), (8, 10, 0.10, 0.50),     # forearms
    (11, 13, 0.20, 0.70), (12, 14, 0.20, 0.70),  # thighs
    (13, 15, 0.20, 0.70), (14, 16, 0.20, 0.70),  # shins
    (5, 6, 0.12, 0.65), (11, 12, 0.08, 0.55),    # shoulder and hip width
    (5, 11, 0.20, 0.85), (6, 12, 0.20, 0.85),    # torso sides
    (3, 4, 0.05, 0.35), (0, 5, 0.05, 0.60), (0, 6, 0.05, 0.60),  # head width, nose to shoulders
)
_BONES = np.array([(a, b) for a, b, _, _ in BONE_LENGTH_RANGES_M])
_BONE_LO = np.array([lo for _, _, lo, _ in BONE_LENGTH_RANGES_M])
_BONE_HI = np.array([hi for _, _, _, hi in BONE_LENGTH_RANGES_M])

# Joints further outside the image than this share of its size are ignored.
_OUTSIDE_MARGIN = 0.1

# Safety valve against combinatorial blow-up in absurd inputs (dozens of people all
# epipolar-compatible): hypotheses of 3+ views stop being enumerated beyond this many.
MAX_HYPOTHESES = 20000


@dataclass(frozen=True, eq=False)
class Rig:
    """The cameras prepared for association: projection matrices and epipolar geometry.

    P: (V, 3, 4) normalized projection matrices; focal: (V, 2) px; E[a][b]: essential matrix
    from camera a to camera b (see :func:`~disguisor.pose3d.cameras.essential_matrix`).
    """

    views: tuple[ViewGeometry, ...]
    index: dict[str, int]
    P: np.ndarray
    focal: np.ndarray
    E: tuple[tuple[np.ndarray, ...], ...]

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.views]

    def threshold_px(self, angle_rad: float) -> np.ndarray:
        """(V,) an angular threshold (radians) in each camera's undistorted pixels (x its mean focal length)."""
        return float(angle_rad) * self.focal.mean(axis=1)


def prepare_rig(calibration: Calibration) -> Rig:
    """Precompute the per-camera and per-pair geometry of a calibration (once per recording)."""
    views = tuple(view_geometry(c) for c in calibration.cameras)
    E = tuple(tuple(essential_matrix(a, b) if a is not b else np.zeros((3, 3)) for b in views) for a in views)
    return Rig(views=views, index={v.name: i for i, v in enumerate(views)},
               P=np.stack([v.P for v in views]), focal=np.stack([v.focal for v in views]), E=E)


@dataclass(frozen=True, eq=False)
class PersonObservation:
    """One person reconstructed at one frame.

    joints: (17, 3) world metres (z up), NaN where not estimated. confidence: (17,) in [0, 1].
    error_px: (17,) RMS reprojection error of the inlier views (NaN where not estimated).
    detections: the supporting 2D detections, at most one per camera. score: association score.
    """

    joints: np.ndarray
    confidence: np.ndarray
    error_px: np.ndarray
    detections: tuple[Detection, ...]
    score: float

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(d.camera for d in self.detections)

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.joints[:, 0])


@dataclass(frozen=True)
class _Candidates:
    """The usable detections of one frame, ordered by camera: normalized joints and weights."""

    dets: tuple[Detection, ...]
    cam: np.ndarray      # (D,) camera index in the rig
    xy: np.ndarray       # (D, J, 2) normalized undistorted coordinates
    w: np.ndarray        # (D, J) joint weights (score, 0 = not detected)


def _candidates(rig: Rig, views: Mapping[str, Sequence[Detection]], params: Pose3DParams) -> _Candidates:
    """Detections that can take part: person score, enough joints scoring ``min_joint_score``
    (joints more than 10% of the image size outside it do not count)."""
    dets: list[Detection] = []
    cams: list[int] = []
    xys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    for name in sorted(views, key=lambda n: rig.index.get(n, -1)):
        if name not in rig.index:
            log.warning("camera %r is not in the calibration; its detections are ignored", name)
            continue
        c = rig.index[name]
        cam = rig.views[c].camera
        dets_c = [d for d in views[name] if d.score >= params.min_person_score]
        if not dets_c:
            continue
        kp = np.stack([d.keypoints for d in dets_c])                 # (n, J, 3)
        # joints a detector extrapolated far outside the image: lens models are not valid there
        mu, mv = _OUTSIDE_MARGIN * cam.width, _OUTSIDE_MARGIN * cam.height
        inside = ((kp[:, :, 0] >= -mu) & (kp[:, :, 0] <= cam.width - 1 + mu)
                  & (kp[:, :, 1] >= -mv) & (kp[:, :, 1] <= cam.height - 1 + mv))
        w = np.where(inside & (kp[:, :, 2] >= params.min_joint_score), kp[:, :, 2], 0.0)
        ok = np.count_nonzero(w > 0, axis=1) >= params.min_detection_joints
        if not ok.any():
            continue
        keep = [d for d, k in zip(dets_c, ok, strict=True) if k]
        xys.append(rig.views[c].normalize(np.where(inside[ok][..., None], kp[ok, :, :2], 0.0)))
        ws.append(w[ok])
        dets.extend(keep)
        cams.extend([c] * len(keep))
    if not dets:
        return _Candidates((), np.zeros(0, int), np.zeros((0, NUM_JOINTS, 2)), np.zeros((0, NUM_JOINTS)))
    return _Candidates(tuple(dets), np.asarray(cams), np.concatenate(xys), np.concatenate(ws))


def pair_affinities(rig: Rig, cand: _Candidates, params: Pose3DParams) -> np.ndarray:
    """Symmetric (D, D) affinities in [0, 1] between detections (0: same camera or incompatible)."""
    D = len(cand.dets)
    aff = np.zeros((D, D))
    cams = np.unique(cand.cam)
    f = rig.focal.mean(axis=1)
    for ia, a in enumerate(cams):
        sa = np.flatnonzero(cand.cam == a)
        for b in cams[ia + 1:]:
            sb = np.flatnonzero(cand.cam == b)
            xa, xb = cand.xy[sa][:, None], cand.xy[sb][None, :]          # (na, 1, J, 2), (1, nb, J, 2)
            d = 0.5 * (epipolar_distance_px(rig.E[a][b], xa, xb, rig.focal[b]) / f[b]
                       + epipolar_distance_px(rig.E[b][a], xb, xa, rig.focal[a]) / f[a])   # radians
            cw = np.minimum(cand.w[sa][:, None], cand.w[sb][None, :])   # (na, nb, J)
            total = cw.sum(axis=-1)
            a_ab = (np.sum(cw * np.clip(1.0 - d / params.epipolar_threshold_rad, 0.0, 1.0), axis=-1)
                    / np.maximum(total, 1e-12))
            a_ab[np.count_nonzero(cw > 0, axis=-1) < params.min_common_joints] = 0.0
            aff[np.ix_(sa, sb)] = a_ab
    aff = np.maximum(aff, aff.T)
    aff[aff < params.min_pair_affinity] = 0.0
    return aff


def _gather(cand: _Candidates, groups: Sequence[Sequence[int]], V: int) -> tuple[np.ndarray, np.ndarray]:
    """Observation arrays xy (G, J, V, 2) and w (G, J, V) of detection groups."""
    G = len(groups)
    xy = np.zeros((G, NUM_JOINTS, V, 2))
    w = np.zeros((G, NUM_JOINTS, V))
    hh = np.repeat(np.arange(G), [len(g) for g in groups])
    dd = np.fromiter((d for g in groups for d in g), dtype=int, count=len(hh))
    cc = cand.cam[dd]
    xy[hh, :, cc] = cand.xy[dd]
    w[hh, :, cc] = cand.w[dd]
    return xy, w


def plausible_bodies(points: np.ndarray, min_share: float) -> np.ndarray:
    """(N,) whether skeletons (N, 17, 3) (NaN = missing) have human limb lengths.

    True when at least ``min_share`` of the measurable limbs of :data:`BONE_LENGTH_RANGES_M`
    lie in their range, or when fewer than 3 limbs are measurable.
    """
    length = np.linalg.norm(points[:, _BONES[:, 0]] - points[:, _BONES[:, 1]], axis=-1)   # (N, B)
    measurable = np.isfinite(length)
    ok = measurable & (length >= _BONE_LO) & (length <= _BONE_HI)
    n = measurable.sum(axis=1)
    return (n < 3) | (ok.sum(axis=1) >= min_share * np.maximum(n, 1))


def _evaluate(rig: Rig, cand: _Candidates, hyps: list[tuple[int, ...]],
              params: Pose3DParams) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate hypotheses with all their views and score them.

    Returns (scores (H,), 0 = rejected; points (H, J, 3), NaN where fewer than two views).
    Joints behind a camera have an infinite reprojection error there, so consistency 0.
    """
    V = len(rig.views)
    xy, w = _gather(cand, hyps, V)
    X = triangulate_weighted(rig.P, rig.focal, xy, w)                 # (H, J, 3)
    err = reprojection_errors(rig.P, rig.focal, X, xy)                # (H, J, V)
    measurable = np.count_nonzero(w > 0, axis=-1) >= 2                # (H, J)
    wm = w * measurable[..., None]
    cons_j = np.clip(1.0 - err / rig.threshold_px(params.reprojection_threshold_rad), 0.0, 1.0)
    wsum = wm.sum(axis=1)                                             # (H, V)
    cons = np.sum(wm * cons_j, axis=1) / np.maximum(wsum, 1e-12)      # (H, V)
    member = np.zeros((len(hyps), V), bool)
    hh = np.repeat(np.arange(len(hyps)), [len(h) for h in hyps])
    member[hh, cand.cam[np.fromiter((d for h in hyps for d in h), int, len(hh))]] = True
    cons = np.where(member & (wsum > 0), cons, 0.0)
    min_cons = np.where(member, cons, np.inf).min(axis=1)
    pts = np.where(measurable[..., None], X, np.nan)
    ok = (min_cons >= params.min_view_consistency) & plausible_bodies(pts, params.min_plausible_bones)
    score = cons.sum(axis=1) - 1.0
    return np.where(ok & (score > params.min_hypothesis_score), score, 0.0), pts


def _extensions(rig: Rig, cand: _Candidates, aff: np.ndarray, hyps: list[tuple[int, ...]], points: np.ndarray,
                usable: np.ndarray, params: Pose3DParams) -> list[tuple[int, ...]]:
    """Hypotheses one view larger: a hypothesis plus a detection of another camera.

    The detection's joints must lie where the hypothesis's 3D joints project (same consistency
    measure as :func:`_evaluate`) when they share ``min_common_joints`` of them; when they share
    fewer (partial views, e.g. one camera sees a person's left side and another the right), the
    detection must be epipolar-compatible with one member instead. The grown hypothesis is then
    checked as a whole by :func:`_evaluate`.
    """
    out: list[tuple[int, ...]] = []
    idx = np.flatnonzero(usable)
    if not idx.size:
        return out
    X = points[idx]                                                   # (h, J, 3)
    known = np.isfinite(X[..., 0])
    Xc = project_to_cameras(rig.P, np.nan_to_num(X))                 # (h, J, V, 3)
    front = Xc[..., 2] > 1e-6                                         # (h, J, V)
    proj = Xc[..., :2] / np.where(front, Xc[..., 2], 1.0)[..., None]
    cams_of = [{int(cand.cam[d]) for d in hyps[k]} for k in idx]
    members = np.zeros((len(idx), len(cand.dets)))
    for r, k in enumerate(idx):
        members[r, list(hyps[k])] = 1.0
    paired_all = (members @ (aff > 0)) > 0                            # (h, D): compatible with a member
    tau = rig.threshold_px(params.reprojection_threshold_rad)
    for c in np.unique(cand.cam):
        sc = np.flatnonzero(cand.cam == c)
        e = np.linalg.norm((proj[:, None, :, c] - cand.xy[sc][None]) * rig.focal[c], axis=-1)   # (h, n, J)
        wj = cand.w[sc][None] * (known & front[:, :, c])[:, None, :]
        n = np.count_nonzero(wj > 0, axis=-1)
        a = np.sum(wj * np.clip(1.0 - e / tau[c], 0.0, 1.0), axis=-1) \
            / np.maximum(wj.sum(axis=-1), 1e-12)
        ok = np.where(n >= params.min_common_joints, a >= params.min_view_consistency, paired_all[:, sc])
        for hi, di in zip(*np.nonzero(ok), strict=True):
            if int(c) not in cams_of[hi]:
                out.append(tuple(sorted(hyps[idx[hi]] + (int(sc[di]),))))
    return out


def _hypotheses(rig: Rig, cand: _Candidates, aff: np.ndarray,
                params: Pose3DParams) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """All consistent hypotheses and their scores, grown view by view from compatible pairs."""
    level = [(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(aff > 0)), strict=True)]
    seen = set(level)
    hyps: list[tuple[int, ...]] = []
    scores: list[np.ndarray] = []
    while level:
        sc, pts = _evaluate(rig, cand, level, params)
        hyps.extend(level)
        scores.append(sc)
        if len(hyps) >= MAX_HYPOTHESES:
            log.warning("more than %d association hypotheses at one frame; larger groups are not all "
                        "considered", MAX_HYPOTHESES)
            break
        nxt = []
        for h in _extensions(rig, cand, aff, level, pts, sc > 0, params):
            if h not in seen:
                seen.add(h)
                nxt.append(h)
        level = nxt
    log.debug("%d detections, %d hypotheses", len(cand.dets), len(hyps))
    return hyps, (np.concatenate(scores) if scores else np.zeros(0))


def associate(rig: Rig, views: Mapping[str, Sequence[Detection]],
              params: Pose3DParams | None = None) -> list[tuple[Detection, ...]]:
    """Group one frame's detections into people (at most one detection per camera each)."""
    return [p.detections for p in reconstruct_frame(rig, views, params)]


def _triangulate_groups(rig: Rig, cand: _Candidates, groups: Sequence[Sequence[int]],
                        params: Pose3DParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xy, w = _gather(cand, groups, len(rig.views))
    tri = triangulate_robust(rig.P, rig.focal, xy, w, rig.threshold_px(params.reprojection_threshold_rad),
                             params.full_confidence_views)
    return tri.points, tri.confidence, tri.error_px


def _person_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance (m) of the joints valid in both skeletons (inf when none)."""
    d = np.linalg.norm(a - b, axis=-1)
    d = d[np.isfinite(d)]
    return float(d.mean()) if d.size else float("inf")


def reconstruct_frame(rig: Rig, views: Mapping[str, Sequence[Detection]],
                      params: Pose3DParams | None = None) -> list[PersonObservation]:
    """Associate one frame's detections across cameras and triangulate every person.

    views: camera name -> that camera's detections at this frame. Returns the people found,
    strongest first.
    """
    params = params or Pose3DParams()
    cand = _candidates(rig, views, params)
    D = len(cand.dets)
    if D < 2:
        return []
    aff = pair_affinities(rig, cand, params)
    hyps, scores = _hypotheses(rig, cand, aff, params)
    if not hyps:
        return []
    groups = select_hypotheses(hyps, scores, D, params.exact_packing_max_hypotheses)
    if not groups:
        return []
    score_of = {h: float(s) for h, s in zip(hyps, scores, strict=True)}
    group_scores = [score_of[g] for g in groups]
    points, conf, err = _triangulate_groups(rig, cand, groups, params)
    n_valid = np.isfinite(points[..., 0]).sum(axis=1)
    ok = (n_valid >= params.min_person_joints) & plausible_bodies(points, params.min_plausible_bones)

    # clean-up in 3D, strongest first: merge complementary views of one person, drop duplicates
    people: list[dict] = []
    for g in np.argsort(group_scores)[::-1]:
        if not ok[g]:
            continue
        item = {"group": tuple(groups[g]), "score": group_scores[g], "points": points[g], "conf": conf[g],
                "err": err[g]}
        for other in people:
            if _person_distance(item["points"], other["points"]) >= params.merge_distance_m:
                continue
            cams_a = {int(cand.cam[d]) for d in other["group"]}
            if cams_a.isdisjoint(int(cand.cam[d]) for d in item["group"]):
                merged = tuple(sorted(other["group"] + item["group"]))
                p, c, e = _triangulate_groups(rig, cand, [merged], params)
                if np.isfinite(p[0, :, 0]).sum() >= np.isfinite(other["points"][:, 0]).sum():
                    other.update(group=merged, score=other["score"] + item["score"], points=p[0], conf=c[0],
                                 err=e[0])
            break
        else:
            people.append(item)
    return [PersonObservation(joints=p["points"], confidence=p["conf"], error_px=p["err"],
                              detections=tuple(cand.dets[d] for d in p["group"]), score=p["score"])
            for p in people]
