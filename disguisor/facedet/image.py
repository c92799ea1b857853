"""Input checks shared by the face detectors."""

from __future__ import annotations

import numpy as np


def check_rgb(image: np.ndarray) -> None:
    """Raise ValueError unless ``image`` is an RGB uint8 (H, W, 3) array."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) image, got {image.shape} {image.dtype}")
