"""Classical obfuscations of an image region: blur, pixelate, blacken (the paper's baselines).

All functions take an RGB uint8 image (H, W, 3) and a boolean mask (H, W) of the pixels to
hide, and return a new image; pixels outside the mask are unchanged. The paper's settings are
the defaults: a 61x61 Gaussian blur and pixelation of each face to 8x8 cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from disguisor.boxes import mask_bounds

ObfuscationMethod = Literal["blur", "pixelate", "blacken"]


@dataclass(frozen=True)
class ObfuscationParams:
    """blur_kernel_px: side of the Gaussian kernel (odd; sigma follows OpenCV's rule for it).
    pixelate_cells: a hidden region's bounding box is divided into this many cells per side,
    each filled with its mean colour (8 = the paper's 8x8 pixelization)."""

    blur_kernel_px: int = 61
    pixelate_cells: int = 8


def _check(image: np.ndarray, mask: np.ndarray) -> None:
    if image.ndim != 3 or image.dtype != np.uint8 or mask.shape != image.shape[:2]:
        raise ValueError(f"expected uint8 (H, W, 3) image and (H, W) mask, got {image.shape} {image.dtype} "
                         f"and {mask.shape}")


def blur_region(image: np.ndarray, mask: np.ndarray, kernel_px: int = 61) -> np.ndarray:
    """Gaussian blur (kernel_px x kernel_px) inside ``mask``. The blur is computed on a crop
    around the region (plus a kernel's margin) so its cost does not grow with the image."""
    _check(image, mask)
    out = image.copy()
    box = mask_bounds(mask)
    if box is None:
        return out
    k = kernel_px | 1
    h, w = mask.shape
    x0, y0 = max(box[0] - k, 0), max(box[1] - k, 0)
    x1, y1 = min(box[2] + k, w), min(box[3] + k, h)
    blurred = cv2.GaussianBlur(image[y0:y1, x0:x1], (k, k), 0, borderType=cv2.BORDER_REFLECT)
    m = mask[y0:y1, x0:x1]
    out[y0:y1, x0:x1][m] = blurred[m]
    return out


def pixelate_region(image: np.ndarray, mask: np.ndarray, cells: int = 8) -> np.ndarray:
    """Replace the region by a cells x cells mosaic of its bounding box (mean colour per cell,
    over the masked pixels of that cell)."""
    _check(image, mask)
    out = image.copy()
    box = mask_bounds(mask)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    xs = np.linspace(x0, x1, cells + 1).round().astype(int)
    ys = np.linspace(y0, y1, cells + 1).round().astype(int)
    for r in range(cells):
        for c in range(cells):
            m = mask[ys[r]:ys[r + 1], xs[c]:xs[c + 1]]
            if not m.any():
                continue
            block = out[ys[r]:ys[r + 1], xs[c]:xs[c + 1]]
            block[m] = image[ys[r]:ys[r + 1], xs[c]:xs[c + 1]][m].mean(axis=0).round().astype(np.uint8)
    return out


def blacken_region(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Set the region to black."""
    _check(image, mask)
    out = image.copy()
    out[mask] = 0
    return out


def obfuscate(image: np.ndarray, mask: np.ndarray, method: ObfuscationMethod,
              params: ObfuscationParams = ObfuscationParams()) -> np.ndarray:
    """Apply one of the classical obfuscations to the masked pixels."""
    if method == "blur":
        return blur_region(image, mask, params.blur_kernel_px)
    if method == "pixelate":
        return pixelate_region(image, mask, params.pixelate_cells)
    if method == "blacken":
        return blacken_region(image, mask)
    raise ValueError(f"unknown obfuscation method {method!r}")


def box_mask(shape: tuple[int, int], boxes_xywh: np.ndarray) -> np.ndarray:
    """Boolean (H, W) mask of the union of pixel boxes [x, y, w, h] (clipped to the image)."""
    h, w = shape
    mask = np.zeros((h, w), bool)
    for x, y, bw, bh in np.asarray(boxes_xywh, float).reshape(-1, 4):
        x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
        x1, y1 = min(int(np.ceil(x + bw)), w), min(int(np.ceil(y + bh)), h)
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] = True
    return mask
