"""Per-joint temporal filtering of a 3D track: robust outlier gate, gap filling, RTS smoothing.

Why a Rauch-Tung-Striebel smoother: the whole recording is known before faces are rendered, so
the filter may look ahead. A constant-velocity Kalman filter run forward and then smoothed
backward (RTS) is the optimal linear smoother for that model and has *no phase lag*: a fast
head turn is rounded symmetrically instead of being followed late, as a causal filter (a
One-Euro filter, a forward-only Kalman filter) would do. Jitter is reduced by the ratio of the
measurement noise to the acceleration noise (:class:`~disguisor.pose3d.params.TrackingParams`).

Why a median gate for outliers instead of a Kalman innovation gate: a fast head turn moves the
nose by centimetres per frame, far outside any innovation gate tight enough to catch bad
triangulations, and a gate that rejects it makes the filter lag. A wrong triangulation is a
spike of one or two frames; a turn is a sustained move. A running median over 5 frames removes
spikes of up to 2 frames and leaves steps and ramps where they are (Hampel identifier), so the
gate runs before the smoother.

Arrays are (T, J, 3) world metres per track with NaN for missing joints. Samples are the
processed frames; ``times`` gives their frame numbers (default 0, 1, 2, ...), so a recording
that keeps every 3rd frame is filled and smoothed in real time steps, not in samples.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def median_outliers(points: np.ndarray, window: int, sigmas: float, min_m: float) -> np.ndarray:
    """(T, J) True where a joint is further than the gate from the median of its time window.

    The gate is ``max(sigmas x 1.4826 x MAD, min_m)``, with the median absolute deviation of
    the window's distances to its (per-axis) median. Missing samples are ignored.
    """
    T = points.shape[0]
    if window < 3 or T < 3:
        return np.zeros(points.shape[:2], bool)
    h = window // 2
    pad = np.full((h,) + points.shape[1:], np.nan)
    win = sliding_window_view(np.concatenate([pad, points, pad]), 2 * h + 1, axis=0)   # (T, J, 3, W)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(win, axis=-1)                                               # (T, J, 3)
        spread = np.linalg.norm(win - med[..., None], axis=2)                          # (T, J, W)
        mad = np.nanmedian(spread, axis=-1)
        count = np.sum(np.isfinite(win[:, :, 0, :]), axis=-1)
    dist = np.linalg.norm(points - med, axis=-1)
    gate = np.maximum(sigmas * 1.4826 * np.nan_to_num(mad), min_m)
    return np.isfinite(dist) & (count >= 3) & (dist > gate)


def _times(T: int, times: np.ndarray | None) -> np.ndarray:
    t = np.arange(T, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64)
    if t.shape != (T,) or (T > 1 and np.any(np.diff(t) <= 0)):
        raise ValueError("times must be one increasing frame number per sample")
    return t


def fill_gaps(points: np.ndarray, confidence: np.ndarray, max_gap: int, confidence_scale: float,
              times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill missing samples between two known ones at most ``max_gap`` frames apart, per joint.

    Linear in time. times: (T,) frame number of each sample (default 0..T-1); a gap is the
    number of frame numbers strictly between the two known samples, whether or not those
    frames were processed, so samples far apart in time are never bridged. Returns (points,
    confidence, filled mask (T, J)); a filled joint's confidence is ``confidence_scale x`` the
    lower confidence of the two samples around the gap.
    """
    T = points.shape[0]
    t = _times(T, times)
    valid = np.isfinite(points[..., 0])
    idx = np.broadcast_to(np.arange(T)[:, None], valid.shape)
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, idx, T)[::-1], axis=0)[::-1]
    p0 = np.clip(prev, 0, T - 1)
    p1 = np.clip(nxt, 0, T - 1)
    span = t[p1] - t[p0]
    gap = ~valid & (prev >= 0) & (nxt < T) & (span - 1 <= max_gap)
    if not gap.any():
        return points, confidence, gap
    alpha = ((t[idx] - t[p0]) / np.maximum(span, 1e-9))[..., None]
    a = np.take_along_axis(points, p0[..., None], axis=0)
    b = np.take_along_axis(points, p1[..., None], axis=0)
    out = points.copy()
    out[gap] = ((1.0 - alpha) * a + alpha * b)[gap]
    conf = confidence.copy()
    ca = np.take_along_axis(confidence, p0, axis=0)
    cb = np.take_along_axis(confidence, p1, axis=0)
    conf[gap] = (confidence_scale * np.minimum(ca, cb))[gap]
    return out, conf, gap


def rts_smooth(points: np.ndarray, noise_std: np.ndarray, acceleration_noise_m: float,
               initial_velocity_std: float = 0.1, times: np.ndarray | None = None) -> np.ndarray:
    """Constant-velocity Kalman filter + RTS backward pass per joint (axes independent).

    points: (T, J, 3), NaN = missing (a missing sample ends a segment; segments are smoothed
    separately). noise_std: (T, J) measurement standard deviation (m) of each sample.
    acceleration_noise_m: standard deviation of the velocity change per frame (process noise of a
    piecewise-constant acceleration over dt frames: Q = s^2 [[dt^4/4, dt^3/2], [dt^3/2, dt^2]]).
    times: (T,) frame number of each sample (default 0..T-1); velocities are per frame.
    Returns the smoothed points, NaN where the input is NaN.
    """
    T, J = points.shape[:2]
    dts = np.diff(_times(T, times), prepend=0.0)
    valid = np.isfinite(points[..., 0])
    q = float(acceleration_noise_m) ** 2
    r = np.asarray(noise_std, dtype=np.float64) ** 2
    # filtered state and covariance [p00, p01, p11] (shared by the three axes), and predictions
    fp = np.zeros((T, J, 3))
    fv = np.zeros((T, J, 3))
    fP = np.zeros((T, J, 3))
    pp = np.zeros((T, J, 3))
    pv = np.zeros((T, J, 3))
    pP = np.ones((T, J, 3))
    for k in range(T):
        m = valid[k]
        z = points[k]
        start = m & (~valid[k - 1] if k > 0 else True)
        cont = m & ~start
        if k > 0 and cont.any():
            dt = dts[k]
            a, b, d = fP[k - 1, :, 0], fP[k - 1, :, 1], fP[k - 1, :, 2]
            pp[k] = fp[k - 1] + fv[k - 1] * dt
            pv[k] = fv[k - 1]
            pP[k, :, 0] = a + 2 * b * dt + d * dt * dt + q * dt ** 4 / 4
            pP[k, :, 1] = b + d * dt + q * dt ** 3 / 2
            pP[k, :, 2] = d + q * dt * dt
            S = pP[k, :, 0] + r[k]
            k0 = pP[k, :, 0] / S
            k1 = pP[k, :, 1] / S
            y = z - pp[k]
            fp[k] = np.where(cont[:, None], pp[k] + k0[:, None] * y, fp[k])
            fv[k] = np.where(cont[:, None], pv[k] + k1[:, None] * y, fv[k])
            newP = np.stack([(1 - k0) * pP[k, :, 0], (1 - k0) * pP[k, :, 1], pP[k, :, 2] - k1 * pP[k, :, 1]], -1)
            fP[k] = np.where(cont[:, None], newP, fP[k])
        if start.any():
            fp[k][start] = z[start]
            fv[k][start] = 0.0
            fP[k][start] = np.stack([r[k][start], np.zeros(int(start.sum())),
                                     np.full(int(start.sum()), initial_velocity_std ** 2)], -1)
    sp, sv = fp.copy(), fv.copy()
    for k in range(T - 2, -1, -1):
        m = valid[k] & valid[k + 1]
        if not m.any():
            continue
        dt = dts[k + 1]
        a, b, d = fP[k, :, 0], fP[k, :, 1], fP[k, :, 2]
        pa, pb, pd = pP[k + 1, :, 0], pP[k + 1, :, 1], pP[k + 1, :, 2]
        det = np.maximum(pa * pd - pb * pb, 1e-30)
        ia, ib, id_ = pd / det, -pb / det, pa / det
        # C = P F^T Pp^-1 with P F^T = [[a + b dt, b], [b + d dt, d]]
        c00 = (a + b * dt) * ia + b * ib
        c01 = (a + b * dt) * ib + b * id_
        c10 = (b + d * dt) * ia + d * ib
        c11 = (b + d * dt) * ib + d * id_
        dp = sp[k + 1] - pp[k + 1]
        dv = sv[k + 1] - pv[k + 1]
        new_p = fp[k] + c00[:, None] * dp + c01[:, None] * dv
        new_v = fv[k] + c10[:, None] * dp + c11[:, None] * dv
        sp[k] = np.where(m[:, None], new_p, sp[k])
        sv[k] = np.where(m[:, None], new_v, sv[k])
    return np.where(valid[..., None], sp, np.nan)


def clamp_to_measurements(smoothed: np.ndarray, measured: np.ndarray, radius_m: float | np.ndarray) -> np.ndarray:
    """Keep each smoothed joint within ``radius_m`` of its measurement (where there is one).

    The smoother's model (constant velocity, small accelerations) rounds off sudden moves: a
    person who starts walking, or a jump, gets smeared over several frames before and after,
    tens of centimetres off the well-triangulated joints. Smoothing only ever needs to move a
    joint by the measurement noise (millimetres), so a shift beyond a few centimetres means the
    model was wrong there, and the measurement is trusted instead. (T, J, 3) metres, NaN =
    missing; samples without a measurement keep the smoothed value. radius_m: scalar or (T, J).
    """
    shift = smoothed - measured
    dist = np.linalg.norm(shift, axis=-1, keepdims=True)
    radius_m = np.asarray(radius_m, np.float64)
    if radius_m.ndim:
        radius_m = radius_m[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(dist > radius_m, radius_m / dist, 1.0)
    return np.where(np.isfinite(measured[..., :1]), measured + shift * scale, smoothed)
