"""Choosing people among competing person hypotheses: maximum-weight set packing (each 2D
detection belongs to at most one person), exact by branch and bound for small groups, by a
mixed-integer program otherwise (see :mod:`disguisor.pose3d.association`)."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def _pack_exact(masks: list[int], scores: list[float], n_dets: int, max_nodes: int = 200000) -> list[int] | None:
    """Maximum-weight set packing by branch and bound; None when ``max_nodes`` is exceeded.

    Branches on the first undecided detection: each hypothesis that contains it and avoids every
    decided detection, or leaving it unused. Upper bound: every undecided detection adds the best
    per-member share (score / size) of the hypotheses still open to it; any packing's total is
    the sum of its members' shares, so this never underestimates.
    """
    sizes = [bin(m).count("1") for m in masks]
    by_det = [sorted((k for k in range(len(masks)) if masks[k] >> d & 1), key=lambda k: -scores[k])
              for d in range(n_dets)]
    share = [s / n for s, n in zip(scores, sizes, strict=True)]
    full = (1 << n_dets) - 1
    best_score, best_set = 0.0, []
    chosen: list[int] = []
    nodes = 0

    def bound(decided: int) -> float:
        total = 0.0
        for d in range(n_dets):
            if not decided >> d & 1:
                total += max((share[k] for k in by_det[d] if not masks[k] & decided), default=0.0)
        return total

    def rec(decided: int, cur: float) -> bool:
        nonlocal best_score, best_set, nodes
        nodes += 1
        if nodes > max_nodes:
            return False
        if cur > best_score + 1e-12:
            best_score, best_set = cur, list(chosen)
        free = full & ~decided
        if not free or cur + bound(decided) <= best_score + 1e-12:
            return True
        d = (free & -free).bit_length() - 1
        for k in by_det[d]:
            if not masks[k] & decided:
                chosen.append(k)
                ok = rec(decided | masks[k], cur + scores[k])
                chosen.pop()
                if not ok:
                    return False
        return rec(decided | (1 << d), cur)

    return best_set if rec(0, 0.0) else None


def _pack_milp(masks: list[int], scores: list[float], n_dets: int) -> list[int]:
    """Maximum-weight set packing as an integer linear program (HiGHS)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = len(masks)
    A = np.zeros((n_dets, n))
    for k, m in enumerate(masks):
        for d in range(n_dets):
            if m >> d & 1:
                A[d, k] = 1.0
    res = milp(-np.asarray(scores), constraints=LinearConstraint(A, -np.inf, 1.0), integrality=np.ones(n),
               bounds=Bounds(0.0, 1.0), options={"time_limit": 5.0})
    if res.x is None:  # no solution in time: fall back to the greedy packing by score
        log.warning("set packing did not finish; using the greedy solution for %d hypotheses", n)
        used, out = 0, []
        for k in np.argsort(scores)[::-1]:
            if not masks[k] & used:
                used |= masks[k]
                out.append(int(k))
        return out
    return [k for k in range(n) if res.x[k] > 0.5]


def select_hypotheses(hyps: list[tuple[int, ...]], scores: np.ndarray, n_dets: int,
                      exact_max: int) -> list[tuple[int, ...]]:
    """The set of disjoint hypotheses of maximum total score (see the module docstring)."""
    keep = [k for k in range(len(hyps)) if scores[k] > 0]
    parent = list(range(n_dets))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for k in keep:
        for d in hyps[k][1:]:
            parent[find(d)] = find(hyps[k][0])
    groups: dict[int, list[int]] = {}
    for k in keep:
        groups.setdefault(find(hyps[k][0]), []).append(k)
    chosen: list[tuple[int, ...]] = []
    for ks in groups.values():
        ks.sort(key=lambda k: -scores[k])
        dets = sorted({d for k in ks for d in hyps[k]})
        local = {d: i for i, d in enumerate(dets)}
        masks = [sum(1 << local[d] for d in hyps[k]) for k in ks]
        sc = [float(scores[k]) for k in ks]
        picked = _pack_exact(masks, sc, len(dets)) if len(ks) <= exact_max else None
        if picked is None:
            picked = _pack_milp(masks, sc, len(dets))
        chosen.extend(hyps[ks[i]] for i in picked)
    return chosen
