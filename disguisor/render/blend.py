"""Poisson image blending (own sparse solver): paste a source's gradients into a target region.

Inside the mask the result f solves the discrete Poisson equation ``laplace(f) = div(v)`` with
f = target on the pixels just outside the mask (Dirichlet boundary). With the source's own
gradients as v ("poisson", like OpenCV's NORMAL_CLONE) the solution is ``f = source + c`` with
c the harmonic membrane that takes the value ``target - source`` on the boundary; that form is
solved here (c is smooth, so very large regions are solved on a coarser grid and upsampled).
"mixed" takes, per pixel pair, the stronger of the source and target gradients (MIXED_CLONE).

Unlike ``cv2.seamlessClone`` this needs no centring of the mask in the image, accepts masks
touching the image border (missing neighbours drop out of the equation: Neumann there), masks
split into several parts, and masks of any size down to one pixel. Pixels outside the mask are
never changed.
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

_DIRS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def _solve(source: np.ndarray, target: np.ndarray, mask: np.ndarray, mixed: bool, reg: float) -> np.ndarray:
    """Solve on a crop. Returns the unknown values (n, C) in np.nonzero(mask) order: the
    membrane c (poisson) or f itself (mixed)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    n = len(ys)
    index = np.full((h, w), -1, np.int64)
    index[ys, xs] = np.arange(n)
    diag = np.full(n, reg)
    rows, cols = [], []
    b = np.zeros((n, source.shape[2]))
    if not mixed:
        diff = target - source
    for dy, dx in _DIRS:
        qy, qx = ys + dy, xs + dx
        inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
        p = np.nonzero(inside)[0]
        qy, qx = qy[p], qx[p]
        diag[p] += 1.0
        q = index[qy, qx]
        interior = q >= 0
        rows.append(p[interior])
        cols.append(q[interior])
        boundary = p[~interior]
        if mixed:
            gs = source[ys[p], xs[p]] - source[qy, qx]
            gt = target[ys[p], xs[p]] - target[qy, qx]
            b[p] += np.where(np.abs(gt) > np.abs(gs), gt, gs)
            b[boundary] += target[qy[~interior], qx[~interior]]
        else:
            b[boundary] += diff[qy[~interior], qx[~interior]]
    if mixed:
        b += reg * source[ys, xs]
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    A = sp.csc_matrix((np.concatenate([diag, -np.ones(len(r))]),
                       (np.concatenate([np.arange(n), r]), np.concatenate([np.arange(n), c]))), shape=(n, n))
    return splu(A).solve(b)


def poisson_blend(target: np.ndarray, source: np.ndarray, mask: np.ndarray, mode: str = "poisson",
                  regularization: float = 1e-7, max_unknowns: int = 60000) -> np.ndarray:
    """Blend ``source`` into ``target`` inside ``mask``.

    target, source: (H, W, 3) uint8 (same size; source must be meaningful inside the mask and on
    the pixels next to it). mask: (H, W) bool. mode: "poisson" (source gradients only) or
    "mixed". Regions larger than ``max_unknowns`` pixels (poisson mode) solve the membrane on a
    grid coarsened by an integer factor. Returns a new uint8 image; outside the mask it equals
    target. Raises ValueError on bad shapes or modes.
    """
    if target.shape != source.shape or target.ndim != 3 or mask.shape != target.shape[:2]:
        raise ValueError(f"shapes differ: target {target.shape}, source {source.shape}, mask {mask.shape}")
    if mode not in ("poisson", "mixed"):
        raise ValueError(f"unknown blend mode {mode!r}")
    out = target.copy()
    box = _bbox(mask)
    if box is None:
        return out
    H, W = mask.shape
    y0, y1, x0, x1 = max(box[0] - 1, 0), min(box[1] + 1, H), max(box[2] - 1, 0), min(box[3] + 1, W)
    m = mask[y0:y1, x0:x1]
    s = source[y0:y1, x0:x1].astype(np.float64)
    t = target[y0:y1, x0:x1].astype(np.float64)
    n = int(m.sum())
    if mode == "mixed":
        f = _solve(s, t, m, True, regularization)
    else:
        k = int(np.ceil(np.sqrt(n / max_unknowns))) if n > max_unknowns else 1
        if k == 1:
            f = s[m] + _solve(s, t, m, False, regularization)
        else:
            # the membrane is smooth: solve it on a k-times coarser grid and upsample
            hh, ww = m.shape
            small = (max(ww // k, 1), max(hh // k, 1))
            ms = cv2.resize(m.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST).astype(bool)
            ss = cv2.resize(s, small, interpolation=cv2.INTER_AREA)
            ts = cv2.resize(t, small, interpolation=cv2.INTER_AREA)
            membrane = np.zeros_like(ss)
            membrane[ms] = _solve(ss, ts, ms, False, regularization)
            # fill outside the coarse mask with the boundary difference so upsampling does not
            # pull the membrane towards 0 at the rim
            membrane[~ms] = (ts - ss)[~ms]
            up = cv2.resize(membrane, (ww, hh), interpolation=cv2.INTER_LINEAR)
            f = s[m] + up[m]
    out[y0:y1, x0:x1][m] = np.clip(np.round(f), 0, 255).astype(np.uint8)
    return out
