"""Pictures for people: a contact sheet of one frame's views with their depth."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from disguisor.io.recording import View

# Depth colour map range (metres): near is blue, far is red, no reading is black.
PREVIEW_DEPTH_RANGE_M = (0.5, 6.0)


def colorize_depth(depth_m: np.ndarray, depth_range: tuple[float, float] = PREVIEW_DEPTH_RANGE_M) -> np.ndarray:
    """Depth (H, W) metres -> BGR image, black where there is no reading."""
    lo, hi = depth_range
    scaled = np.clip((depth_m - lo) / (hi - lo), 0.0, 1.0)
    out = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    out[depth_m <= 0] = 0
    return out


def _label(image: np.ndarray, text: str) -> None:
    cv2.putText(image, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(image, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)


def contact_sheet(views: Sequence[View], tile_width: int = 480, columns: int = 2) -> np.ndarray:
    """One tile per view: colour on the left, depth registered to it on the right, labelled."""
    tiles = []
    for v in views:
        scale = tile_width / v.camera.width
        size = (tile_width, max(1, round(v.camera.height * scale)))
        color = cv2.resize(v.color, size, interpolation=cv2.INTER_AREA)
        depth = cv2.resize(colorize_depth(v.depth), size, interpolation=cv2.INTER_NEAREST)
        _label(color, f"{v.camera.name} ({v.camera.role}) frame {v.frame}")
        _label(depth, "depth registered to colour")
        tiles.append(np.hstack([color, depth]))
    if not tiles:
        raise ValueError("no views to show")
    h = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def before_after_sheet(pairs: Sequence[tuple[str, np.ndarray, np.ndarray]], tile_width: int = 640,
                       boxes: dict[str, list[list[float]]] | None = None) -> np.ndarray:
    """One row per camera: the original view beside the anonymized one (BGR images).

    pairs: (label, original, anonymized). boxes: label -> face boxes [x, y, w, h] (pixels of the
    full image) drawn on the anonymized tile, so a reader sees what was hidden.
    """
    rows = []
    for label, before, after in pairs:
        h, w = before.shape[:2]
        scale = tile_width / w
        size = (tile_width, max(1, round(h * scale)))
        left = cv2.resize(before, size, interpolation=cv2.INTER_AREA)
        right = cv2.resize(after, size, interpolation=cv2.INTER_AREA)
        for x, y, bw, bh in (boxes or {}).get(label, []):
            p0 = (round(x * scale), round(y * scale))
            p1 = (round((x + bw) * scale), round((y + bh) * scale))
            cv2.rectangle(right, p0, p1, (0, 255, 0), 1, cv2.LINE_AA)
        _label(left, f"{label}: original")
        _label(right, f"{label}: anonymized")
        rows.append(np.hstack([left, right]))
    if not rows:
        raise ValueError("nothing to show")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.vstack(rows)
