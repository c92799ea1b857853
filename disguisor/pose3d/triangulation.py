"""Confidence-weighted multi-view triangulation of joints, plain and robust (RANSAC over views).

Inputs are undistorted normalized image coordinates (see :mod:`disguisor.pose3d.cameras`) laid
out as ``xy (..., V, 2)`` with weights ``w (..., V)`` over *all* V cameras of the rig: a view
that does not see a point has weight 0. Everything is batched over the leading axes (people,
joints, hypotheses), so one call triangulates a whole frame.

Linear triangulation (DLT): each view contributes the two rows ``x P3 - P1`` and ``y P3 - P2``
of ``A X = 0``; scaled by ``f / depth`` a row's residual is the reprojection error in pixels, so
the rows are weighted by ``score * f / depth`` (the depth from the previous iterate; the first
iterate uses ``score * f``) and ``X`` solves the 3x3 normal equations of the inhomogeneous
system. Two iterations approximate the reprojection-error minimum well for views 1-6 m away.

Robust triangulation: every pair of observing views gives a candidate point; the candidate with
the most inlier views (reprojection error below the view's threshold) wins, ties broken by the
lowest truncated squared reprojection cost (MSAC) over all observing views (an
exhaustive RANSAC: with at most 6 cameras there are at most 15 pairs). Its inlier views (error
below the threshold) are refitted twice; a joint with fewer than two inlier views is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np


def triangulate_weighted(P: np.ndarray, focal: np.ndarray, xy: np.ndarray, w: np.ndarray,
                         iterations: int = 2) -> np.ndarray:
    """Weighted DLT. P: (V, 3, 4); focal: (V, 2) px; xy: (..., V, 2) normalized; w: (..., V) >= 0.

    Returns points (..., 3) in world metres. Points with fewer than two weighted views (or
    parallel rays) come back finite but meaningless: callers mask them by their view count.
    """
    P = np.asarray(P, dtype=np.float64)
    xy = np.asarray(xy, dtype=np.float64)
    f = np.asarray(focal, dtype=np.float64).mean(axis=-1)             # (V,)
    r = np.concatenate([xy[..., 0:1] * P[:, 2, :] - P[:, 0, :],
                        xy[..., 1:2] * P[:, 2, :] - P[:, 1, :]], axis=-2)   # (..., 2V, 4)
    rT = np.swapaxes(r, -1, -2)
    ww = np.asarray(w, dtype=np.float64) * f
    X = np.zeros(xy.shape[:-2] + (3,))
    eye = np.eye(3)
    for _ in range(max(1, iterations)):
        w2 = ww * ww
        M = (rT * np.concatenate([w2, w2], axis=-1)[..., None, :]) @ r      # (..., 4, 4)
        A = M[..., :3, :3]
        tr = np.trace(A, axis1=-2, axis2=-1)[..., None, None]
        A = A + (1e-12 * tr + 1e-18) * eye
        X = np.linalg.solve(A, -M[..., :3, 3:4])[..., 0]
        depth = X @ P[:, 2, :3].T + P[:, 2, 3]                          # (..., V)
        ww = np.asarray(w, dtype=np.float64) * f / np.maximum(depth, 0.05)
    return X


def project_to_cameras(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    """World points X (..., 3) in every camera's frame: (..., V, 3) (z = depth along the axis)."""
    return (X[..., None, None, :] @ np.swapaxes(P[:, :, :3], -1, -2))[..., 0, :] + P[:, :, 3]


def reprojection_errors(P: np.ndarray, focal: np.ndarray, X: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Reprojection errors (..., V) in undistorted pixels of points X (..., 3) against xy (..., V, 2).

    Points at or behind a camera get an infinite error in that view.
    """
    Xc = project_to_cameras(P, X)                                                    # (..., V, 3)
    z = Xc[..., 2]
    front = z > 1e-6
    proj = Xc[..., :2] / np.where(front, z, 1.0)[..., None]
    err = np.sqrt(np.sum(((proj - xy) * focal) ** 2, axis=-1))
    return np.where(front, err, np.inf)


@dataclass(frozen=True)
class TriangulatedJoints:
    """Result of :func:`triangulate_robust`, leading axes as given (e.g. people, joints).

    points: (..., 3) world metres, NaN where not estimated. confidence: (...,) in [0, 1], 0 where
    not estimated. inliers: (..., V) views used. error_px: (...,) RMS reprojection error of the
    inlier views (NaN where not estimated).
    """

    points: np.ndarray
    confidence: np.ndarray
    inliers: np.ndarray
    error_px: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.points[..., 0])


def triangulate_robust(P: np.ndarray, focal: np.ndarray, xy: np.ndarray, w: np.ndarray,
                       threshold_px: float | np.ndarray, full_confidence_views: int = 3) -> TriangulatedJoints:
    """RANSAC over view pairs + weighted refit (see the module docstring).

    xy: (..., V, 2) normalized coordinates; w: (..., V) joint scores (0 = not observed).
    threshold_px: inlier threshold in pixels, one for all views or (V,) one per view (cameras of
    different focal lengths: an angular threshold times each camera's focal length).
    A point is kept when at least two views agree within their thresholds. Its confidence is
    ``mean inlier score x min(1, inliers / full_confidence_views) x (1 - rms relative error)``,
    where a view's relative error is its reprojection error / its threshold.
    """
    P = np.asarray(P, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    V = P.shape[0]
    obs = w > 0
    lead = w.shape[:-1]
    tau = np.broadcast_to(np.asarray(threshold_px, dtype=np.float64), (V,))
    pairs = list(combinations(range(V), 2))
    if not pairs:
        nan = np.full(lead + (3,), np.nan)
        return TriangulatedJoints(nan, np.zeros(lead), np.zeros(lead + (V,), bool), np.full(lead, np.nan))

    mask = np.zeros((len(pairs), V))
    for k, (a, b) in enumerate(pairs):
        mask[k, [a, b]] = 1.0
    mask = mask.reshape((len(pairs),) + (1,) * len(lead) + (V,))
    wk = w[None] * mask                                              # (K, ..., V)
    Xk = triangulate_weighted(P, focal, xy[None], wk)                # (K, ..., 3)
    rk = reprojection_errors(P, focal, Xk, xy[None]) / tau           # (K, ..., V), in thresholds
    # most inlier views first, then the lowest truncated squared error (MSAC) among those
    n_in = np.sum(obs[None] & (rk < 1.0), axis=-1)
    cost = np.sum(np.where(obs[None], np.minimum(rk * rk, 1.0), 0.0), axis=-1) - n_in * (V + 1)
    usable = np.sum(wk > 0, axis=-1) == 2
    cost = np.where(usable, cost, np.inf)
    best = np.argmin(cost, axis=0)                                   # (...)
    r0 = np.take_along_axis(rk, best[None, ..., None], axis=0)[0]
    inl = obs & (r0 < 1.0)

    for _ in range(2):
        X = triangulate_weighted(P, focal, xy, w * inl)
        inl = obs & (reprojection_errors(P, focal, X, xy) < tau)
    X = triangulate_weighted(P, focal, xy, w * inl)
    e = reprojection_errors(P, focal, X, xy)
    inl = inl & (e < tau)
    n_inl = inl.sum(axis=-1)
    valid = (n_inl >= 2) & np.all(np.isfinite(X), axis=-1)

    n_safe = np.maximum(n_inl, 1)
    rms = np.sqrt(np.sum(np.where(inl, e * e, 0.0), axis=-1) / n_safe)
    rel = np.sqrt(np.sum(np.where(inl, (e / tau) ** 2, 0.0), axis=-1) / n_safe)
    mean_score = np.sum(np.where(inl, w, 0.0), axis=-1) / n_safe
    conf = (mean_score * np.minimum(1.0, n_inl / max(1, full_confidence_views))
            * np.clip(1.0 - rel, 0.0, 1.0))
    points = np.where(valid[..., None], X, np.nan)
    return TriangulatedJoints(points=points, confidence=np.where(valid, np.clip(conf, 0.0, 1.0), 0.0),
                              inliers=inl & valid[..., None], error_px=np.where(valid, rms, np.nan))
