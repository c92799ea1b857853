"""Boxes, the one helper of the package: conventions, IoU, non-maximum suppression, clipping.

Two conventions, both in pixels of the image as recorded:

- ``xywh``: ``[x, y, width, height]``, (x, y) the top-left corner (COCO; every file the tool
  reads and writes);
- ``xyxy``: ``[x0, y0, x1, y1]``, the corners (detector internals).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """Args: boxes (..., 4) x0, y0, x1, y1. Returns (..., 4) x, y, w, h."""
    b = np.asarray(boxes, np.float64)
    return np.concatenate([b[..., :2], b[..., 2:4] - b[..., :2]], axis=-1)


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Args: boxes (..., 4) x, y, w, h. Returns (..., 4) x0, y0, x1, y1."""
    b = np.asarray(boxes, np.float64)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:4]], axis=-1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``.

    Args:
        a: (N, 4) ``xywh`` boxes. b: (M, 4) ``xywh`` boxes.
    Returns: (N, M) in [0, 1]; boxes without a common area (or both without area) have IoU 0.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax0, ay0, ax1, ay1 = a[:, 0, None], a[:, 1, None], (a[:, 0] + a[:, 2])[:, None], (a[:, 1] + a[:, 3])[:, None]
    bx0, by0, bx1, by1 = b[None, :, 0], b[None, :, 1], (b[:, 0] + b[:, 2])[None], (b[:, 1] + b[:, 3])[None]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0.0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0.0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def iou(a: Iterable[float], b: Iterable[float]) -> float:
    """IoU of two ``xywh`` boxes."""
    return float(box_iou(np.asarray(list(a)), np.asarray(list(b)))[0, 0])


def iou_xyxy(a: Iterable[float], b: Iterable[float]) -> float:
    """IoU of two ``xyxy`` boxes (scalar arithmetic on the corners: no round trip through widths,
    so a detector's box decisions do not move by a rounding)."""
    ax0, ay0, ax1, ay1 = (float(v) for v in a)
    bx0, by0, bx1, by1 = (float(v) for v in b)
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def nms_xywh(boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: (N, 5) rows x, y, w, h, score.
        iou_threshold: a box overlapping a kept one by more than this is dropped.
    Returns: the kept rows (K, 5), best score first.
    """
    boxes = np.asarray(boxes, float).reshape(-1, 5)
    order = np.argsort(-boxes[:, 4], kind="stable")
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        order = rest[box_iou(boxes[i, :4], boxes[rest, :4])[0] <= iou_threshold]
    return boxes[keep]


def clip_xywh(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 4+) ``xywh`` boxes (extra columns kept) clipped to a width x height image; empty ones dropped."""
    out = np.asarray(boxes, float).copy()
    x0, y0 = np.clip(out[:, 0], 0, width), np.clip(out[:, 1], 0, height)
    x1 = np.clip(out[:, 0] + out[:, 2], 0, width)
    y1 = np.clip(out[:, 1] + out[:, 3], 0, height)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = x0, y0, x1 - x0, y1 - y0
    return out[(out[:, 2] > 0) & (out[:, 3] > 0)]


def union_xywh(a: Iterable[float], b: Iterable[float]) -> list[float]:
    """The smallest ``xywh`` box holding both ``xywh`` boxes ``a`` and ``b``."""
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    x0, y0 = min(ax, bx), min(ay, by)
    return [x0, y0, max(ax + aw, bx + bw) - x0, max(ay + ah, by + bh) - y0]


def mostly_inside(box: Iterable[float], others: Iterable[Iterable[float]], min_overlap: float = 0.5) -> bool:
    """Whether at least ``min_overlap`` of ``box``'s area (x, y, w, h px) lies inside one of
    ``others`` (x, y, w, h px each); False for an empty box."""
    x, y, w, h = (float(v) for v in box)
    for cx, cy, cw, ch in others:
        ix = max(0.0, min(x + w, cx + cw) - max(x, cx))
        iy = max(0.0, min(y + h, cy + ch) - max(y, cy))
        if w * h > 0 and ix * iy / (w * h) >= min_overlap:
            return True
    return False


def same_region(box: Iterable[float], others: Iterable[Iterable[float]], min_overlap: float = 0.5) -> bool:
    """Whether ``box`` (x, y, w, h px) lies mostly inside one of ``others`` or one of them mostly
    inside it (:func:`mostly_inside` either way): two reports of one face, however their sizes differ."""
    others = [tuple(o) for o in others]
    return mostly_inside(box, others, min_overlap) or any(mostly_inside(o, [box], min_overlap) for o in others)


def mask_bounds(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``xyxy`` pixel bounds (exclusive ends) of the True pixels of an (H, W) mask; None when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def overlapping_groups(items: Sequence[T], box: Callable[[T], Sequence[float]]) -> list[list[T]]:
    """The items grouped so that items whose ``xyxy`` boxes (``box(item)``) overlap, directly or
    through others, share a group (in their given order within each group): what one group
    covers, no other group touches."""
    groups = [[it] for it in items]
    boxes = [list(box(it)) for it in items]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    groups[i] += groups.pop(j)
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    boxes.pop(j)
                    merged = True
                    break
            if merged:
                break
    return groups
