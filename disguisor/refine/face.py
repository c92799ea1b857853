"""Face extraction: the face surface of a (refined) head as a :class:`FaceSurface`.

World metres, +z up. The facing and up directions of a face are the body model's rest-pose
directions (``rest_facing``: out of the face, ``rest_up``: towards the crown) rotated by the posed
head's rotation and then by the refinement's rotation; UVs are canonical face UVs
(:func:`disguisor.refine.surface.canonical_face_uv`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Protocol

import numpy as np

from disguisor.refine.carry import ConfirmedHead, carried_start, confirmed_centre, confirmed_rotation, matched_start
from disguisor.refine.lying import body_starts, torso_rise_deg
from disguisor.refine.params import DEFAULT_REFINE_PARAMS, RefineParams
from disguisor.refine.register import (
    HeadRegistration,
    crop_box,
    far_move_fitness,
    in_box,
    refine_head,
    rotation_angle_deg,
    vertex_normals,
    voxel_points,
)
from disguisor.refine.reorient import HEAD_POINTS, head_turn
from disguisor.refine.surface import FaceSurface, canonical_face_uv, head_frame


class BodyModelLike(Protocol):
    """What refine needs of a body model (disguisor.body.model.BodyModel has these).

    faces: (F, 3) triangles of the full mesh; face_vertices / head_vertices: vertex indices of
    the face and head regions; rest_facing / rest_up: (3,) unit directions at the rest pose."""

    faces: np.ndarray
    face_vertices: np.ndarray
    head_vertices: np.ndarray
    rest_facing: np.ndarray
    rest_up: np.ndarray


class PosedBodyLike(Protocol):
    """What refine needs of a fitted body: person_id, vertices (V, 3) world metres, and
    head_rotation (3, 3) the head's rotation from the rest pose (world axes). A body that also
    has ``keypoints`` (17, 3), its COCO-17 keypoints in world metres, can be turned to the 3D
    head joints (``refine_faces(head_joints=...)``)."""

    person_id: int
    vertices: np.ndarray
    head_rotation: np.ndarray


def face_triangles(faces: np.ndarray, face_vertex_idx: np.ndarray) -> np.ndarray:
    """Triangles (M, 3) of a full mesh (full-mesh indices) whose three vertices are face vertices."""
    inside = np.zeros(int(max(faces.max(), face_vertex_idx.max())) + 1, bool)
    inside[face_vertex_idx] = True
    return faces[inside[faces].all(axis=1)]


def head_occluder_triangles(faces: np.ndarray, face_vertex_idx: np.ndarray, head_vertex_idx: np.ndarray) -> np.ndarray:
    """Triangles (L, 3) of a full mesh (full-mesh indices) in the head but not in the face: the
    skull, ears and jaw underside that can hide the face (FaceSurface.occluder_*)."""
    n = int(max(faces.max(), face_vertex_idx.max(), head_vertex_idx.max())) + 1
    in_face, in_head = np.zeros(n, bool), np.zeros(n, bool)
    in_face[face_vertex_idx] = True
    in_head[head_vertex_idx] = True
    return faces[in_head[faces].all(axis=1) & ~in_face[faces].all(axis=1)]


def submesh(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The vertices (K, 3) float64 that ``triangles`` (full-mesh indices) use, and the triangles
    re-indexed into them (int32); (None, None) for no triangles."""
    if len(triangles) == 0:
        return None, None
    used, local = np.unique(np.asarray(triangles, np.int64), return_inverse=True)
    return np.asarray(vertices, np.float64)[used], local.reshape(-1, 3).astype(np.int32)


def extract_face(person_id: int, vertices: np.ndarray, face_vertex_idx: np.ndarray, face_triangles: np.ndarray,
                 facing: np.ndarray, up: np.ndarray, refined: bool = False, note: str = "",
                 occluder_triangles: np.ndarray | None = None) -> FaceSurface:
    """The face of one posed (and refined) body.

    vertices: (V, 3) the whole body, world metres. face_vertex_idx: (N,) indices of the face
    vertices. face_triangles: (M, 3) triangles in full-mesh indices, all within the face.
    facing / up: (3,) world directions (normalised here; up is made orthogonal to facing).
    occluder_triangles: (L, 3) full-mesh triangles of the rest of the head
    (:func:`head_occluder_triangles`), kept as the face's occluder; None: no occluder.
    Raises ValueError for a triangle that leaves the face or parallel facing and up.
    """
    idx = np.asarray(face_vertex_idx, np.int64)
    tri = np.asarray(face_triangles, np.int64)
    remap = np.full(len(vertices), -1, np.int64)
    remap[idx] = np.arange(len(idx))
    local = remap[tri]
    if np.any(local < 0):
        raise ValueError("face_triangles use vertices outside face_vertex_idx")
    verts = np.asarray(vertices, np.float64)[idx]
    frame = head_frame(facing, up)  # columns x (left), y (up), z (facing), orthonormal
    f, u = frame[:, 2], frame[:, 1]
    centre = verts.mean(axis=0)
    uv = canonical_face_uv(verts, centre, f, u)
    occ_v, occ_t = submesh(vertices, occluder_triangles) if occluder_triangles is not None else (None, None)
    return FaceSurface(int(person_id), verts, local.astype(np.int32), uv, centre, f, u, bool(refined), note,
                       occ_v, occ_t)


def _registered(head: np.ndarray, normals: np.ndarray, pts: np.ndarray, ctx: np.ndarray, weights: np.ndarray,
                fitted: np.ndarray | None, joints: tuple[np.ndarray, np.ndarray] | None,
                params: RefineParams, head_rotation: np.ndarray | None = None,
                carried: Callable[[], Iterable[ConfirmedHead]] | None = None,
                lying_from: Callable[[RefineParams], tuple[np.ndarray, HeadRegistration] | None] | None = None,
                rest_facing: np.ndarray | None = None) -> HeadRegistration:
    """The registration of one head (N, 3) from the fit. When it is refused, first the same
    person's heads confirmed in nearby frames (``carried()``, nearest first; needs the fitted
    ``head_rotation`` (3, 3)) are tried as starts (:mod:`disguisor.refine.carry`): the first
    registration from one that passes the guard places the head. Otherwise, when the fitted head is turned
    more than ``params.reorient_min_deg`` from its 3D head joints (``joints``: (17, 3) world metres
    and (17,) confidences; ``fitted``: the fit's (17, 3) keypoints), or its head points lie more
    than ``params.reorient_min_shift_m`` from theirs (then it is moved onto them too), the head is
    placed from the head turned to them instead: registered from there when that registration
    passes the guard, else as turned. A lying body (torso below ``params.reorient_min_torso_deg``)
    gets no such turn; it is placed from the best registration ``lying_from(params)`` accepts
    (start, registration from there: the head moved beyond its shoulders, :mod:`disguisor.refine.lying`)
    when there is one. A lying body (torso below ``params.far_moves_min_torso_deg``)
    is not held to the far-move test; a correction that test would refuse is kept but not
    confirmed (``params.far_moves_lying_confirmed`` False), unless it fits the depth worse than
    ``params.lying_min_fitness`` and a start beyond the shoulders lands better. Either way it stays not confirmed
    (``accepted`` False): a second start that fits the depth less well than a confirmed head can
    still land a few cm off,
    so the run's safety spheres stay on it, and the caller keeps the face as fitted (the refused
    registration's identity transform) to be painted too (``FaceSurface.as_fitted``). A standing
    head's registration from the fit that the nearby confirmed heads contradict is not confirmed
    either (:func:`_agreeing`)."""
    rise = torso_rise_deg(fitted)
    first = params
    lying = bool(params.far_moves) and rise is not None and rise < params.far_moves_min_torso_deg
    if lying:
        first = replace(params, far_moves=())  # lying: no nape for the registration to slide onto
    reg = refine_head(head, pts, first, normals=normals, context_vertices=ctx, vertex_weights=weights)
    pivot = head.mean(axis=0)

    def register_from(start: np.ndarray) -> HeadRegistration:
        # the head moved by ``start`` first; the result's transform applies after ``start``
        R = start[:3, :3]
        return refine_head(head @ R.T + start[:3, 3], pts, params, normals=normals @ R.T, context_vertices=ctx,
                           vertex_weights=weights)

    if reg.accepted:
        if not lying:
            return _agreeing(reg, head_rotation, rest_facing, pivot, carried, register_from, params)
        need = far_move_fitness(reg.translation_m, params)
        if need is None or reg.fitness_after >= need[1] or params.far_moves_lying_confirmed:
            return reg
        # kept (a lying head's far corrections mostly place it better) but not confirmed: the
        # same move of a head standing would be refused, so its safety spheres stay
        kept = replace(reg, accepted=False, disputes=False,
                       reason=f"lying head moved {reg.translation_m * 100:.1f} cm with fitness "
                              f"{reg.fitness_after:.2f} < {need[1]:.2f}: kept, not confirmed")
        if reg.fitness_after >= params.lying_min_fitness or lying_from is None:
            return kept
        # fitting this poorly 6 of 8 were 62-460 mm off on seeds 64-73: a start beyond the shoulders
        # that lands better places it instead
        found = lying_from(first)
        if found is None or found[1].fitness_after <= reg.fitness_after:
            return kept
        start, other = found
        return replace(kept, transform=other.transform @ start,
                       reason=f"{kept.reason}; registered from beyond its shoulders (fitness "
                              f"{other.fitness_after:.2f}{_also(other.reason)}; lying, not confirmed)")
    for prior in (carried() if carried is not None and head_rotation is not None else ()):
        start = carried_start(prior, head_rotation, pivot)
        other = register_from(start)
        if other.accepted:
            # not confirmed either: the neighbour's correction may not fit this frame's fit
            return replace(reg, transform=other.transform @ start, disputes=False,
                           reason=f"{reg.reason}; registered from its head confirmed in frame {prior.frame} "
                                  f"(not confirmed)")
    if rise is not None and rise < params.reorient_min_torso_deg:
        # lying: joints triangulated from above swap the nose and the ears; the torso says where
        # the head must be
        found = None if lying_from is None else lying_from(first)
        if found is None:
            return reg
        start, other = found
        return replace(reg, transform=other.transform @ start, disputes=False,
                       reason=f"{reg.reason}; registered from beyond its shoulders (fitness "
                              f"{other.fitness_after:.2f}{_also(other.reason)}; lying, not confirmed)")
    if joints is None or fitted is None or params.reorient_min_deg is None:
        return reg
    turn = head_turn(np.asarray(fitted, np.float64)[:HEAD_POINTS], joints[0][:HEAD_POINTS],
                     joints[1][:HEAD_POINTS], pivot, min_shift_m=params.reorient_min_shift_m)
    if turn is None:
        return reg
    R = turn[:3, :3]
    shifted = not np.allclose(turn[:3, 3], pivot - R @ pivot)  # moved too, not only turned about the pivot
    if rotation_angle_deg(R) < params.reorient_min_deg and not shifted:
        return reg
    other = register_from(turn)
    how = "registered from" if other.accepted else "turned to"
    # the second registration passing the guard answers the depth's dispute; a bare turn does not
    moved = ", moved onto them" if shifted else ""
    return replace(reg, transform=(other.transform if other.accepted else np.eye(4)) @ turn,
                   reason=f"{reg.reason}; {how} the 3D head joints{moved} (not confirmed)", disputes=not other.accepted)


def _agreeing(reg: HeadRegistration, head_rotation: np.ndarray | None, rest_facing: np.ndarray | None,
              pivot: np.ndarray, carried: Callable[[], Iterable[ConfirmedHead]] | None,
              register_from: Callable[[np.ndarray], HeadRegistration], params: RefineParams) -> HeadRegistration:
    """``reg``, a head's registration from the fit that the guard accepted, checked against the
    same person's heads confirmed in nearby frames (``carried()``, nearest first): when more of
    them face more than ``params.nearby_facing_deg`` (``params.nearby_wide_facing_deg`` for a wide
    turn, beyond ``params.max_rotation_deg``) away from the registered face (its facing:
    the registered rotation times the fitted ``head_rotation`` (3, 3) times the model's
    ``rest_facing`` (3,)) than within it, the registration found the back or side of the head
    (heads do not turn that far between nearby frames). The head is then registered again from
    the nearest contradicting head's own rotation (:func:`~disguisor.refine.carry.matched_start`,
    turned about ``pivot`` (3,), the fitted head's centroid, world metres) and placed there when
    that passes the guard; either way it is not confirmed (safety spheres), and the placement
    contradicted stays painted too (``contradicted``)."""
    wide = reg.rotation_deg > params.max_rotation_deg
    limit = params.nearby_wide_facing_deg if wide else params.nearby_facing_deg
    if (limit is None or carried is None or head_rotation is None or rest_facing is None
            or reg.rotation_deg < params.nearby_facing_min_turn_deg):
        return reg
    facing = reg.transform[:3, :3] @ np.asarray(head_rotation, np.float64) @ np.asarray(rest_facing, np.float64)
    priors = list(carried())
    angles = [_angle_deg(facing, confirmed_rotation(p) @ rest_facing) for p in priors]
    against = [(p, a) for p, a in zip(priors, angles, strict=True) if a > limit]
    if not against or 2 * len(against) <= len(priors):
        return reg
    prior, angle = against[0]
    start = matched_start(prior, head_rotation, pivot)
    other = register_from(start)
    why = f"faces {angle:.0f} deg from its head confirmed in frame {prior.frame}"
    if other.accepted:
        return replace(reg, transform=other.transform @ start, accepted=False, disputes=False,
                       contradicted=reg.transform, reason=f"{why}; registered from that head's turn (not confirmed)")
    return replace(reg, accepted=False, disputes=False, contradicted=reg.transform, transform=np.eye(4),
                   reason=f"{why} (not confirmed)")


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two (3,) directions, degrees."""
    cos = float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _remembered(nearby: Callable[[int], Iterable[ConfirmedHead]], person_id: int,
                seen: list[ConfirmedHead]) -> Iterator[ConfirmedHead]:
    """``nearby(person_id)`` as its heads are drawn, each appended to ``seen`` (nearest first)."""
    for h in nearby(person_id):
        seen.append(h)
        yield h


def _also(note: str) -> str:
    return f", {note}" if note else ""


def _register_moved(start: np.ndarray, head: np.ndarray, normals: np.ndarray, weights: np.ndarray,
                    cloud_points: np.ndarray, context: Sequence[np.ndarray], params: RefineParams) -> HeadRegistration:
    """The registration of ``head`` (N, 3) moved by ``start`` (4, 4) first, against the cloud and
    the context vertices (arrays of (K, 3), world metres) around where it was moved; its
    transform applies after ``start``."""
    R = start[:3, :3]
    moved = head @ R.T + start[:3, 3]
    lo, hi = crop_box(moved, params)
    ctx = voxel_points(np.concatenate([in_box(c, lo, hi) for c in context]), params.voxel_m)
    return refine_head(moved, in_box(cloud_points, lo, hi), params, normals=normals @ R.T, context_vertices=ctx,
                       vertex_weights=weights)


def _lying_registration(starts: Callable[[], Sequence[np.ndarray]], head: np.ndarray, normals: np.ndarray,
                        weights: np.ndarray, cloud_points: np.ndarray, context: Callable[[], Sequence[np.ndarray]],
                        other_heads: np.ndarray, params: RefineParams) -> tuple[np.ndarray, HeadRegistration] | None:
    """Of the registrations from ``starts()`` (the head moved beyond the shoulders,
    :func:`disguisor.refine.lying.body_starts`, then :func:`_register_moved`; ``context()`` the
    context vertices) that the guard accepts with a fitness of at least
    ``params.lying_min_fitness`` and that leave the head's centroid farther than
    ``params.lying_other_head_m`` from every one of ``other_heads`` (K, 3) (the other fitted
    heads' centroids, world metres), the one with the highest fitness, with its start; None when
    there is none. One that turns the head further than ``params.lying_max_turn_deg`` keeps the
    start's turn: only its move of the head's centre is taken."""
    best, ctx = None, None
    pivot = head.mean(axis=0)
    for start in starts():
        ctx = context() if ctx is None else ctx
        reg = _register_moved(start, head, normals, weights, cloud_points, ctx, params)
        if (not reg.accepted or reg.fitness_after < params.lying_min_fitness
                or (best is not None and reg.fitness_after <= best[1].fitness_after)):
            continue
        T = reg.transform @ start
        centre = T[:3, :3] @ pivot + T[:3, 3]
        # a second skeleton of someone whose head the fit found (a lying patient is often seen
        # twice, once left-right mirrored): not that head again
        if len(other_heads) and np.min(np.linalg.norm(other_heads - centre, axis=1)) < params.lying_other_head_m:
            continue
        best = (start, reg)
    if best is not None and params.lying_max_turn_deg is not None and best[1].rotation_deg > params.lying_max_turn_deg:
        # the back of a lying head is round: a large turn rolls the face onto its side, while
        # the move of the head's centre is well found; keep the start's turn, take the move
        start, reg = best
        centre = start[:3, :3] @ pivot + start[:3, 3]
        moved = np.eye(4)
        moved[:3, 3] = reg.transform[:3, :3] @ centre + reg.transform[:3, 3] - centre
        best = (start, replace(reg, transform=moved, reason=f"its turn of {reg.rotation_deg:.0f} deg not taken"))
    return best


def refine_faces(bodies: Sequence[PosedBodyLike], model: BodyModelLike, cloud_points: np.ndarray,
                 params: RefineParams = DEFAULT_REFINE_PARAMS,
                 head_joints: Mapping[int, tuple[np.ndarray, np.ndarray]] | None = None,
                 nearby: Callable[[int], Iterable[ConfirmedHead]] | None = None,
                 ) -> list[tuple[FaceSurface, HeadRegistration]]:
    """Refine every body's head against the frame's fused cloud and extract its face.

    cloud_points: (M, 3) world metres. The rest of the body near the head (neck, shoulders,
    hands) and the other people's bodies are passed as context, so cloud points they explain do
    not pull the head. A rejected registration leaves the face as fitted, with the reason in
    ``note``. head_joints: person id -> the frame's 3D joints (17, 3) world metres (NaN where
    unknown) and their confidences (17,): a refused head fitted far from them is placed from
    them (:func:`_registered`). nearby: person id -> that person's heads confirmed in nearby
    frames, nearest first, asked only for a refused head (:mod:`disguisor.refine.carry`).
    Returns (face, registration) per body, in the order given.
    """
    faces = np.asarray(model.faces, np.int64)
    face_idx = np.asarray(model.face_vertices, np.int64)
    head_idx = np.asarray(model.head_vertices, np.int64)
    tris = face_triangles(faces, face_idx)
    occluder = head_occluder_triangles(faces, face_idx, head_idx)
    not_head = np.ones(len(bodies[0].vertices) if bodies else 0, bool)
    not_head[head_idx] = False
    # the triangles around head vertices are all their normals need (the body has 27k)
    near_head = faces[(~not_head[faces]).any(axis=1)] if bodies else faces
    pts = whole = np.asarray(cloud_points)
    if bodies and len(pts):
        # one pass over the whole cloud: keep what lies in any head's crop box
        boxes = [crop_box(np.asarray(b.vertices)[head_idx], params) for b in bodies]
        lo, hi = np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)
        pts = in_box(pts, lo, hi)
    head_weights = np.where(np.isin(head_idx, face_idx), params.face_weight, 1.0)
    all_v = [np.asarray(b.vertices, np.float64) for b in bodies]
    body_lo, body_hi = [v.min(axis=0) for v in all_v], [v.max(axis=0) for v in all_v]
    head_centres = np.array([v[head_idx].mean(axis=0) for v in all_v]).reshape(-1, 3)
    out = []
    for i, body in enumerate(bodies):
        V = np.asarray(body.vertices, np.float64)
        head = V[head_idx]
        lo, hi = crop_box(head, params)
        others = [in_box(V[not_head], lo, hi)] + [in_box(all_v[j], lo, hi) for j in range(len(bodies))
                                                  if j != i and np.all(body_lo[j] <= hi) and np.all(body_hi[j] >= lo)]
        # context only labels cloud points as "not head": a 1 cm sampling of it is enough
        ctx = voxel_points(np.concatenate(others), params.voxel_m)
        normals = vertex_normals(V, near_head)[head_idx]
        joints = None if head_joints is None else head_joints.get(int(body.person_id))
        fitted = getattr(body, "keypoints", None)  # bodies without keypoints get the fit's start only
        R_head = np.asarray(body.head_rotation, np.float64)
        seen: list[ConfirmedHead] = []  # the nearby heads the refused registration asked for
        carried = None if nearby is None else partial(_remembered, nearby, int(body.person_id), seen)
        def context(V=V, i=i):
            return [V[not_head]] + [all_v[j] for j in range(len(bodies)) if j != i]
        others = np.delete(head_centres, i, axis=0)
        lying = partial(_lying_registration, partial(body_starts, body, model, params), head, normals, head_weights,
                        whole, context, others)
        reg = _registered(head, normals, pts, ctx, head_weights, fitted, joints, params, R_head, carried, lying,
                          np.asarray(model.rest_facing, np.float64))
        facing = R_head @ np.asarray(model.rest_facing, np.float64)
        up = R_head @ np.asarray(model.rest_up, np.float64)
        T = reg.transform
        moved = V @ T[:3, :3].T + T[:3, 3]
        face = extract_face(body.person_id, moved, face_idx, tris, T[:3, :3] @ facing, T[:3, :3] @ up,
                            reg.accepted, reg.reason, occluder)
        if reg.disputes and not reg.accepted:
            face = replace(face, disputed=True)
        if not reg.accepted and seen:
            face = replace(face, nearby_head=confirmed_centre(seen[0]))
        if reg.contradicted is not None:
            # which of two placements is right is not known: the one the nearby heads contradict
            # is painted as well
            C = reg.contradicted
            other = extract_face(body.person_id, V @ C[:3, :3].T + C[:3, 3], face_idx, tris, C[:3, :3] @ facing,
                                 C[:3, :3] @ up, False, reg.reason, occluder)
            face = replace(face, as_fitted=other)
        elif not reg.accepted and not np.allclose(T, np.eye(4)):
            # a second start moved the head: the face where the fit put it is painted as well
            face = replace(face, as_fitted=extract_face(body.person_id, V, face_idx, tris, facing, up, False,
                                                        reg.reason, occluder))
        out.append((face, reg))
    return out
