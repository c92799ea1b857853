"""A head the depth confirmed in a nearby frame: a starting point for a head refused in this one.

The registration of a head starts from the body fit. Where the fit puts the head 4-10 cm or tens
of degrees off, the correction the depth asks for is too large for the guard and is refused, and
the face stays where the fit put it. The same person's head is often confirmed by the depth a
frame or two before or after (the fit's error changes from frame to frame). That correction,
expressed in the fitted head's own frame and carried to this frame's fitted head, starts the
registration near the truth: on the people-finder runs of seeds 0 and 17-22, 93 refused heads
were registered from the carried start, 59 of them placed nearer the truth by more than 1 cm and
17 farther (BENCHMARKS.md, "Heads carried from a nearby frame"; RefineParams).

Each frame is refined from its own data plus the first registrations (from the fit) of its
neighbours, never from their carried results, so a frame's result does not depend on the order
or the chunks in which frames are processed, and an error cannot travel along a recording.

World metres, +z up; transforms are 4x4 and apply as ``x' = R x + t``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConfirmedHead:
    """One person's head whose registration from the fit the guard accepted.

    frame: its frame number. head_rotation: (3, 3) the fitted head's rotation from the rest pose
    (world axes). head_centre: (3,) world metres, the centroid of the fitted head's vertices (the
    registration's pivot). correction: (4, 4) the accepted registration (world frame).
    """

    frame: int
    head_rotation: np.ndarray
    head_centre: np.ndarray
    correction: np.ndarray


def confirmed_heads(frame: int, bodies: Sequence, registrations: Sequence, head_vertices: np.ndarray,
                    ) -> dict[int, ConfirmedHead]:
    """person id -> :class:`ConfirmedHead` for every body of ``frame`` whose registration from the
    fit was accepted (also when its nearby frames then contradicted it: ``contradicted``).

    Args:
        bodies: posed bodies (person_id, vertices (V, 3) world metres, head_rotation (3, 3)).
        registrations: their :class:`~disguisor.refine.register.HeadRegistration`, same order.
        head_vertices: (N,) indices of the head vertices in the body mesh.
    """
    out = {}
    for body, reg in zip(bodies, registrations, strict=True):
        # one its own nearby frames contradicted was still accepted from the fit: a frame's
        # confirmed heads must not depend on its neighbours (or on the order frames are done in)
        correction = reg.transform if reg.accepted else reg.contradicted
        if correction is not None:
            centre = np.asarray(body.vertices, np.float64)[np.asarray(head_vertices)].mean(axis=0)
            out[int(body.person_id)] = ConfirmedHead(int(frame), np.asarray(body.head_rotation, np.float64),
                                                     centre, np.asarray(correction, np.float64))
    return out


def carried_start(confirmed: ConfirmedHead, head_rotation: np.ndarray, head_centre: np.ndarray) -> np.ndarray:
    """(4, 4) the confirmed head's correction carried to another frame's fitted head: the same
    turn and shift relative to the fitted head's own axes and centre.

    Args:
        head_rotation: (3, 3) this frame's fitted head rotation (world axes).
        head_centre: (3,) world metres, this frame's fitted head centroid.
    """
    Rg, cg = confirmed.head_rotation, confirmed.head_centre
    C = confirmed.correction
    # the correction in the neighbour's head frame: a turn about its centre and a shift
    turn = Rg.T @ C[:3, :3] @ Rg
    shift = Rg.T @ (C[:3, :3] @ cg + C[:3, 3] - cg)
    Rf, cf = np.asarray(head_rotation, np.float64), np.asarray(head_centre, np.float64)
    R = Rf @ turn @ Rf.T
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = cf + Rf @ shift - R @ cf
    return T


def confirmed_centre(confirmed: ConfirmedHead) -> np.ndarray:
    """(3,) world metres: the confirmed head's centre, its fitted centroid moved by its correction."""
    C = confirmed.correction
    return C[:3, :3] @ confirmed.head_centre + C[:3, 3]


def confirmed_rotation(confirmed: ConfirmedHead) -> np.ndarray:
    """(3, 3) the confirmed head's rotation from the rest pose (world axes): its fitted head's,
    turned by its correction."""
    return confirmed.correction[:3, :3] @ confirmed.head_rotation


def matched_start(confirmed: ConfirmedHead, head_rotation: np.ndarray, head_centre: np.ndarray) -> np.ndarray:
    """(4, 4) the turn of this frame's fitted head about its own centre that gives it the confirmed
    head's world rotation (:func:`confirmed_rotation`): unlike :func:`carried_start`, right even
    when this frame's fit turned the head far from the neighbour's fit.

    Args:
        head_rotation: (3, 3) this frame's fitted head rotation (world axes).
        head_centre: (3,) world metres, this frame's fitted head centroid.
    """
    R = confirmed_rotation(confirmed) @ np.asarray(head_rotation, np.float64).T
    c = np.asarray(head_centre, np.float64)
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = c - R @ c
    return T
