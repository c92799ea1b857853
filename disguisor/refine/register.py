"""Rigid registration of a fitted head surface to the fused point cloud.

The body fit places the head from 2D keypoints and a body shape; its surface is typically off by
1-3 cm and 5-10 degrees. :func:`refine_head` moves the head surface rigidly onto the cloud:

1. crop the cloud to the head's box (x ``crop_scale``, + ``crop_margin_m``), then keep only points
   within ``band_m`` of the initial head surface: shoulders, caps' far side, lights and other
   people's arms farther away never take part;
2. voxel-downsample the cloud (``voxel_m``); optionally FilterReg (probreg, point-to-point, the
   authors' coarse step; off by default: on the synthetic benchmark it gained nothing and cost
   20-35x the time) as a starting point, kept only when it lowers the residual;
3. ICP from the data to the model: every cloud point is matched to its nearest model vertex and
   pulled onto that vertex's tangent plane (point-to-plane with the model's exact normals, so
   depth noise averages out instead of bending cloud normals), Tukey-weighted, with a
   correspondence cut-off. The model includes *context* (neck, shoulders, hands, other people
   near the head): cloud points nearest to context are explained by it and ignored, so the head
   cannot slide into the neck or a neighbour's arm; parts of the head no camera saw simply get
   no correspondences. The correction of the head is the inverse of the data's motion;
4. guard: keep the correction only when it is plausible (bounded translation of the head's
   centroid and rotation, enough inliers, residual not worse than before); otherwise the head
   stays as fitted, with the reason.

All points are world metres (+z up). The result is one 4x4 world transform applied as
``x' = R x + t``: any point of the head (face centre, face vertices) moves with the same
transform, so there is no pivot to get wrong; the pivot only matters for *reporting and bounding*
the correction, and is the head's centroid (``translation_m`` is how far the centroid moves).
Deterministic: no random sampling anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from disguisor.refine.params import DEFAULT_REFINE_PARAMS, RefineParams


@dataclass(frozen=True, eq=False)
class HeadRegistration:
    """Result of :func:`refine_head`.

    transform: (4, 4) world transform to apply to the head (identity when not accepted; a refused
      head placed from a second start, :func:`disguisor.refine.face.refine_faces`, carries that).
    candidate: (4, 4) the transform the registration found, accepted or not (for diagnostics).
    accepted: whether ``transform`` is the candidate. reason: why not ("" when accepted).
    fitness_before / fitness_after: share of the cloud points near the head (within ``band_m``)
      that lie within ``inlier_distance_m`` of the head surface (point-to-plane), for the
      fitted head and for the candidate.
    rmse_before / rmse_after: root mean square of the point-to-plane distances of the cloud
      points matched to the head, each capped at ``inlier_distance_m`` (metres).
    translation_m: how far the candidate moves the head's centroid (metres).
    rotation_deg: the candidate's rotation angle (degrees).
    source_points / target_points: head and cloud points used after cropping and downsampling.
    disputes: whether the depth disputes the fitted placement rather than failing to improve it:
      the candidate's correction is beyond the guard, the registration diverged, or too few cloud
      points lie near the head to tell (a refusal for too few inliers or a grown residual does
      not dispute it).
    contradicted: (4, 4) a registration from the fit that the guard accepted but the nearby
      frames' confirmed heads contradicted (:func:`disguisor.refine.face.refine_faces`): its
      placement is painted too; None otherwise.
    """

    transform: np.ndarray
    candidate: np.ndarray
    accepted: bool
    reason: str
    fitness_before: float = 0.0
    fitness_after: float = 0.0
    rmse_before: float = 0.0
    rmse_after: float = 0.0
    translation_m: float = 0.0
    rotation_deg: float = 0.0
    source_points: int = 0
    target_points: int = 0
    disputes: bool = False
    contradicted: np.ndarray | None = None


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(V, 3) unit area-weighted vertex normals of a mesh (counter-clockwise triangles point out)."""
    v = np.asarray(vertices, np.float64)
    tri = np.asarray(triangles, np.int64)
    fn = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, tri[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def voxel_points(points: np.ndarray, voxel_m: float) -> np.ndarray:
    """Mean point per voxel of edge ``voxel_m`` (points (N, 3) metres), in a stable order."""
    p = np.asarray(points, np.float64)
    if len(p) == 0 or voxel_m <= 0:
        return p
    cells = np.floor(p / voxel_m).astype(np.int64)
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    out = np.zeros((len(counts), 3))
    np.add.at(out, inverse, p)
    return out / counts[:, None]


def crop_box(head_vertices: np.ndarray, params: RefineParams = DEFAULT_REFINE_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) corners of the crop box around a head (world metres)."""
    lo, hi = head_vertices.min(axis=0), head_vertices.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * params.crop_scale + params.crop_margin_m
    return centre - half, centre + half


def in_box(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The points (N, 3) inside the axis-aligned box [lo, hi]."""
    pts = np.asarray(points)
    # one axis over the whole cloud, then the other two over the few survivors (5x faster)
    x = pts[:, 0]
    sel = pts[np.flatnonzero((x >= lo[0]) & (x <= hi[0]))]
    return sel[np.all((sel[:, 1:] >= lo[1:]) & (sel[:, 1:] <= hi[1:]), axis=1)]


def crop_cloud(cloud_points: np.ndarray, head_vertices: np.ndarray,
               params: RefineParams = DEFAULT_REFINE_PARAMS) -> np.ndarray:
    """Cloud points (M, 3) inside the head's crop box and within ``band_m`` of the head surface."""
    lo, hi = crop_box(head_vertices, params)
    crop = in_box(cloud_points, lo, hi).astype(np.float64)
    if len(crop) == 0:
        return crop
    d, _ = cKDTree(head_vertices).query(crop, distance_upper_bound=params.band_m)
    return crop[np.isfinite(d)]


def rotation_angle_deg(R: np.ndarray) -> float:
    """Angle of a 3x3 rotation, degrees."""
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0))))


def _apply(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ T[:3, :3].T + T[:3, 3]


def _residual(src: np.ndarray, tree: cKDTree, cap: float) -> tuple[float, float]:
    """(fitness, capped rmse) of source points against the target tree."""
    d, _ = tree.query(src, distance_upper_bound=cap)
    fitness = float(np.isfinite(d).mean())
    d = np.minimum(d, cap)
    return fitness, float(np.sqrt(np.mean(d * d)))


def _filterreg(src: np.ndarray, dst: np.ndarray, params: RefineParams) -> np.ndarray:
    from probreg import filterreg

    res = filterreg.registration_filterreg(src, dst, sigma2=params.filterreg_sigma2, w=params.filterreg_w,
                                           objective_type="pt2pt", maxiter=params.filterreg_maxiter,
                                           tol=params.filterreg_tol, min_sigma2=params.filterreg_min_sigma2)
    T = np.eye(4)
    T[:3, :3] = res.transformation.rot
    T[:3, 3] = res.transformation.t
    return T


def _solve_point_to_plane(p: np.ndarray, q: np.ndarray, n: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Small-angle rigid step (4x4) minimising sum w ((R p + t - q) . n)^2 (Gauss-Newton),
    linearised about the points' centroid (well conditioned, and the step's size is meaningful)."""
    c = p.mean(axis=0)
    pc = p - c
    cross = np.column_stack([pc[:, 1] * n[:, 2] - pc[:, 2] * n[:, 1], pc[:, 2] * n[:, 0] - pc[:, 0] * n[:, 2],
                             pc[:, 0] * n[:, 1] - pc[:, 1] * n[:, 0]])  # np.cross is slow on small arrays
    A = np.concatenate([cross, n], axis=1)
    b = np.einsum("ij,ij->i", q - p, n)
    Aw = A * w[:, None]
    x = np.linalg.solve(Aw.T @ A + 1e-9 * np.eye(6), Aw.T @ b)
    R = Rotation.from_rotvec(x[:3]).as_matrix()
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = c - R @ c + x[3:]
    return T


def _icp_to_model(data: np.ndarray, model: np.ndarray, model_normals: np.ndarray, is_head: np.ndarray,
                  model_weights: np.ndarray, params: RefineParams) -> np.ndarray:
    """Rigid 4x4 moving the cloud points ``data`` onto the model surface (point-to-plane, exact
    model normals, Tukey weights). Points nearest to a non-head model vertex (neck, shoulders)
    are explained by the body and ignored; points beyond icp_max_distance_m are ignored."""
    tree = cKDTree(model)
    T = np.eye(4)
    c = params.tukey_m
    for _ in range(params.icp_max_iterations):
        p = _apply(T, data)
        d, j = tree.query(p, distance_upper_bound=params.icp_max_distance_m)
        keep = np.isfinite(d)
        keep[keep] = is_head[j[keep]]
        if keep.sum() < 6:
            break
        p, q, n = p[keep], model[j[keep]], model_normals[j[keep]]
        r = np.einsum("ij,ij->i", p - q, n)
        w = np.clip(1 - (r / c) ** 2, 0, None) ** 2 * model_weights[j[keep]]
        step = _solve_point_to_plane(p, q, n, w)
        T = step @ T
        centre = p.mean(axis=0)
        if np.linalg.norm(_apply(step, centre[None])[0] - centre) < params.icp_converged_m and \
                rotation_angle_deg(step[:3, :3]) < params.icp_converged_deg:
            break
    return T


def estimate_normals(vertices: np.ndarray, neighbours: int = 12) -> np.ndarray:
    """(N, 3) unit normals of a head-like point set by local PCA, oriented away from its centroid
    (for callers that have the head's vertices but not its triangles)."""
    v = np.asarray(vertices, np.float64)
    k = min(neighbours, len(v))
    _, idx = cKDTree(v).query(v, k=k)
    nb = v[idx] - v[idx].mean(axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(nb, full_matrices=False)
    n = vt[:, 2, :]
    return n * np.where(np.einsum("ij,ij->i", n, v - v.mean(axis=0)) < 0, -1.0, 1.0)[:, None]


def _fit_numbers(data: np.ndarray, model: np.ndarray, normals: np.ndarray, is_head: np.ndarray,
                 tree: cKDTree, params: RefineParams) -> tuple[float, float]:
    """(fitness, capped rmse) of cloud points assigned to the head: share within
    inlier_distance_m of the head surface (point-to-plane), and the RMS of that distance capped
    at inlier_distance_m, over the points whose nearest model vertex is a head vertex."""
    d, j = tree.query(data, distance_upper_bound=params.icp_max_distance_m)
    keep = np.isfinite(d)
    keep[keep] = is_head[j[keep]]
    if not keep.any():
        return 0.0, params.inlier_distance_m
    r = np.abs(np.einsum("ij,ij->i", data[keep] - model[j[keep]], normals[j[keep]]))
    r = np.minimum(r, params.inlier_distance_m)
    # points that fell off the head surface entirely count as outliers too
    n_all = int(np.isfinite(tree.query(data, distance_upper_bound=params.band_m)[0]).sum())
    inliers = int((r < params.inlier_distance_m).sum())
    return inliers / max(n_all, 1), float(np.sqrt(np.mean(r * r)))


def _with_context(head: np.ndarray, normals: np.ndarray, context_vertices: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The registration's model: head vertices (N, 3) followed by the context vertices, their
    normals (zero for context) and which of them are head vertices."""
    if context_vertices is None or not len(context_vertices):
        return head, normals, np.ones(len(head), bool)
    ctx = np.asarray(context_vertices, np.float64)
    return (np.concatenate([head, ctx]), np.concatenate([normals, np.zeros_like(ctx)]),
            np.concatenate([np.ones(len(head), bool), np.zeros(len(ctx), bool)]))


def placement_fit(head_vertices: np.ndarray, cloud_points: np.ndarray, transform: np.ndarray,
                  params: RefineParams = DEFAULT_REFINE_PARAMS, *, normals: np.ndarray | None = None,
                  context_vertices: np.ndarray | None = None) -> tuple[float, float]:
    """(fitness, capped RMS metres) of the head moved by ``transform`` (4x4, world) against the
    cloud points :func:`refine_head` would use for the unmoved head: how well any placement of a
    head, e.g. the true one, fits the depth, measured as the registration's guard measures its own
    result. Context vertices (the rest of the body near the head) stay where they are, while the
    registration's own numbers move the context with the head: with context the two differ a
    little (~0.01 in fitness for a head moved a few cm)."""
    V = np.asarray(head_vertices, np.float64)
    T = np.asarray(transform, np.float64)
    N = estimate_normals(V) if normals is None else np.asarray(normals, np.float64)
    model, N, is_head = _with_context(_apply(T, V), N @ T[:3, :3].T, context_vertices)
    data = voxel_points(crop_cloud(cloud_points, V, params), params.voxel_m)
    return _fit_numbers(data, model, N, is_head, cKDTree(model), params)


def _strictest(value: float, rules) -> tuple[float, float] | None:
    """The (bound, fitness) rule of ``rules`` with the highest fitness among those whose bound ``value`` exceeds."""
    over = [rule for rule in rules if value > rule[0]]
    return max(over, key=lambda rule: rule[1]) if over else None


def far_move_fitness(moved_m: float, params: RefineParams) -> tuple[float, float] | None:
    """The strictest (distance, fitness) of ``params.far_moves`` whose distance ``moved_m`` exceeds."""
    return _strictest(moved_m, params.far_moves)


def far_turn_fitness(angle_deg: float, params: RefineParams) -> tuple[float, float] | None:
    """The strictest (angle, fitness) of ``params.far_turns`` whose angle ``angle_deg`` exceeds."""
    return _strictest(angle_deg, params.far_turns)


def _wide_turn_kept(angle_deg: float, moved_m: float, fitness_after: float, params: RefineParams) -> bool:
    """A turn beyond max_rotation_deg is kept only up to wide_rotation_deg, when the registered
    head fits the depth well and hardly moved: a head slid onto a wrong surface moves or fits
    badly, one turned right from a wrong fit does neither (RefineParams, "Wide turns")."""
    return (angle_deg <= params.wide_rotation_deg and fitness_after >= params.wide_min_fitness
            and moved_m <= params.wide_max_translation_m)


def refine_head(head_vertices: np.ndarray, cloud_points: np.ndarray, params: RefineParams = DEFAULT_REFINE_PARAMS, *,
                normals: np.ndarray | None = None, context_vertices: np.ndarray | None = None,
                vertex_weights: np.ndarray | None = None) -> HeadRegistration:
    """Register a fitted head surface rigidly to the fused cloud (see the module doc).

    head_vertices: (N, 3) world metres, the head of the fitted body. cloud_points: (M, 3) world
    metres, the fused cloud of the frame (whole or already cropped). normals: (N, 3) outward
    unit vertex normals of the head (estimated from the vertices when not given).
    context_vertices: (K, 3) optional other surface points of the body near the head (neck,
    shoulders): cloud points nearer to them than to the head are explained by the body and do
    not pull the head. vertex_weights: (N,) optional weight of the cloud points matched to each
    head vertex (e.g. more on the face, which is what gets rendered).
    """
    V = np.asarray(head_vertices, np.float64)
    if V.ndim != 2 or V.shape[1] != 3 or len(V) < 12:
        raise ValueError(f"head_vertices must be (N>=12, 3), got {V.shape}")
    N = estimate_normals(V) if normals is None else np.asarray(normals, np.float64)
    eye = np.eye(4)
    pivot = V.mean(axis=0)
    model, N, is_head = _with_context(V, N, context_vertices)
    weights = np.ones(len(V)) if vertex_weights is None else np.asarray(vertex_weights, np.float64)
    weights = np.concatenate([weights, np.zeros(len(model) - len(V))])  # context points pull nothing
    data = voxel_points(crop_cloud(cloud_points, V, params), params.voxel_m)
    if len(data) < params.min_target_points:
        return HeadRegistration(eye, eye, False, f"too few cloud points near the head ({len(data)} < "
                                f"{params.min_target_points})", source_points=len(V), target_points=len(data),
                                disputes=True)
    tree = cKDTree(model)
    fit0, rmse0 = _fit_numbers(data, model, N, is_head, tree, params)
    init = eye
    if params.coarse:
        Tc = _filterreg(voxel_points(V, params.filterreg_voxel_m), voxel_points(data, params.filterreg_voxel_m),
                        params)
        if np.all(np.isfinite(Tc)):
            Ti = np.linalg.inv(Tc)
            if _fit_numbers(_apply(Ti, data), model, N, is_head, tree, params)[1] < rmse0:
                init = Ti
    Td = _icp_to_model(_apply(init, data), model, N, is_head, weights, params) @ init
    fit1, rmse1 = _fit_numbers(_apply(Td, data), model, N, is_head, tree, params)
    T = np.linalg.inv(Td)  # the data moved onto the model = the head moved onto the data, inverted
    moved = float(np.linalg.norm(_apply(T, pivot[None])[0] - pivot))
    angle = rotation_angle_deg(T[:3, :3])
    numbers = dict(fitness_before=fit0, fitness_after=fit1, rmse_before=rmse0, rmse_after=rmse1,
                   translation_m=moved, rotation_deg=angle, source_points=len(V), target_points=len(data))
    reason, disputes = "", True
    if not np.all(np.isfinite(T)):
        reason = "registration diverged"
    elif moved > params.max_translation_m:
        reason = f"correction too large: head moved {moved * 100:.1f} cm > {params.max_translation_m * 100:.1f} cm"
    elif angle > params.max_rotation_deg and not _wide_turn_kept(angle, moved, fit1, params):
        reason = f"correction too large: rotated {angle:.1f} deg > {params.max_rotation_deg:.1f} deg"
    elif (need := far_move_fitness(moved, params)) is not None and fit1 < need[1]:
        reason = (f"correction too large for its fit: head moved {moved * 100:.1f} cm > "
                  f"{need[0] * 100:.1f} cm with fitness {fit1:.2f} < {need[1]:.2f}")
    elif (turn := far_turn_fitness(angle, params)) is not None and fit1 < turn[1]:
        reason = (f"correction too large for its fit: rotated {angle:.1f} deg > {turn[0]:.1f} deg "
                  f"with fitness {fit1:.2f} < {turn[1]:.2f}")
    elif fit1 < params.min_fitness:
        reason, disputes = f"too few inliers after registration ({fit1:.2f} < {params.min_fitness:.2f})", False
    elif rmse1 > rmse0:
        reason, disputes = f"residual grew ({rmse0 * 1000:.1f} -> {rmse1 * 1000:.1f} mm)", False
    if reason:
        return HeadRegistration(eye, T, False, reason, **numbers, disputes=disputes)
    return HeadRegistration(T, T, True, "", **numbers)
