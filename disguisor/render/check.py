"""The render stage's own check that a painted face changed its pixels.

A Poisson blend takes its low frequencies from the boundary: on a smooth face, or a masked face
replaced by a template with a mask of about the same colour, most pixels of the face's box can
end up within a few grey levels of the original, which no privacy evaluation counts as hidden
(``disguisor eval --original --anonymized``: a box is hidden when at least half of its pixels
changed by more than 6 grey levels). The renderer measures the same thing on its own face boxes
and, where too little changed, blends again with a stronger pull towards the template's colours.
"""

from __future__ import annotations

import cv2
import numpy as np


def changed_pixels(before: np.ndarray, after: np.ndarray, grey_levels: float, bgr: bool = True) -> np.ndarray:
    """(H, W) bool: pixels whose grey value moved by more than ``grey_levels`` between ``before``
    and ``after`` ((H, W, 3) uint8, BGR when ``bgr`` else RGB, or (H, W) grey; same size). The
    one definition of a changed pixel, for the renderer's check and ``disguisor eval``'s."""
    return np.abs(_grey(before, bgr) - _grey(after, bgr)) > grey_levels


def _grey(image: np.ndarray, bgr: bool) -> np.ndarray:
    if image.ndim == 2:
        return image.astype(np.int16)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY).astype(np.int16)


def changed_share(before: np.ndarray, after: np.ndarray, box: tuple[int, int, int, int], grey_levels: float) -> float:
    """Share of the pixels of ``box`` (x0, y0, x1, y1) that changed (:func:`changed_pixels`)
    between ``before`` and ``after`` ((H, W, 3) uint8 RGB, same size)."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return 1.0
    return float(changed_pixels(before[y0:y1, x0:x1], after[y0:y1, x0:x1], grey_levels, bgr=False).mean())


def boxes_to_fill(before: np.ndarray, after: np.ndarray, paint: np.ndarray, boxes: list[tuple[int, int, int, int]],
                  min_share: float, grey_levels: float) -> np.ndarray:
    """``paint`` ((H, W) bool) grown by the whole of every box (x0, y0, x1, y1, pixels of the
    arrays) of which less than ``min_share`` changed between ``before`` and ``after`` ((H, W, 3)
    uint8 RGB). Such a face is partly hidden or seen edge-on: its box holds occluder or background
    pixels that the depth tests keep unpainted, so no blend of the face alone changes enough of it."""
    fill = paint.copy()
    for x0, y0, x1, y1 in boxes:
        if changed_share(before, after, (x0, y0, x1, y1), grey_levels) < min_share:
            fill[y0:y1, x0:x1] = True
    return fill
