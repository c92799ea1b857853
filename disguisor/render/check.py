"""The render stage's own check that a painted face changed its pixels.

A Poisson blend takes its low frequencies from the boundary: on a smooth face, or a masked face
replaced by a template with a mask of about the same colour, most pixels of the face's box can
end up within a few grey levels of the original, which no privacy evaluation counts as hidden
(``disguisor eval --original --anonymized``: a box is hidden when at least half of its pixels
changed by more than 6 grey levels). The renderer measures the same thing on its own face boxes
and, where too little changed, blends again with a stronger pull towards the template's colours.
"""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma of RGB, as OpenCV's RGB2GRAY
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def box_of_mask(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) pixel bounds (exclusive ends) of the True pixels of ``mask`` (H, W); None
    when it is empty."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def changed_share(before: np.ndarray, after: np.ndarray, box: tuple[int, int, int, int], grey_levels: float) -> float:
    """Share of the pixels of ``box`` (x0, y0, x1, y1) whose luma moved by more than
    ``grey_levels`` between ``before`` and ``after`` ((H, W, 3) uint8 RGB, same size)."""
    x0, y0, x1, y1 = box
    a = before[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    b = after[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    if a.size == 0:
        return 1.0
    return float((np.abs(np.round(a) - np.round(b)) > grey_levels).mean())
