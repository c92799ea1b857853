"""Structural similarity (SSIM, Wang, Bovik, Sheikh and Simoncelli 2004) on 8-bit images.

Local means, variances and covariance under a Gaussian window (population statistics); the
score is the mean of the SSIM map over the positions where the window lies fully inside the
image. 1 = identical; lower = less similar.
"""

from __future__ import annotations

import cv2
import numpy as np

from disguisor.quality.params import QualityParams

DATA_RANGE = 255.0


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) or grey (H, W) -> float64 grey (BT.601 luma)."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image.astype(np.float64)
    return image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def ssim_map(a: np.ndarray, b: np.ndarray, params: QualityParams = QualityParams()) -> np.ndarray:
    """The SSIM map of two same-sized grey (H, W) float images in 0-255, valid positions only."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"need two grey images of one size, got {a.shape} and {b.shape}")
    r = params.ssim_radius
    k = cv2.getGaussianKernel(2 * r + 1, params.ssim_sigma, cv2.CV_64F)
    k = k / k.sum()

    def filt(x: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(x, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)[r:-r, r:-r]

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a ** 2
    var_b = filt(b * b) - mu_b ** 2
    cov = filt(a * b) - mu_a * mu_b
    c1 = (params.ssim_k1 * DATA_RANGE) ** 2
    c2 = (params.ssim_k2 * DATA_RANGE) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))


def ssim(a: np.ndarray, b: np.ndarray, params: QualityParams = QualityParams()) -> float:
    """Mean SSIM of two same-sized 8-bit images (RGB images are compared as grey)."""
    ga, gb = to_gray(a), to_gray(b)
    if min(ga.shape) <= 2 * params.ssim_radius:
        raise ValueError(f"images of {ga.shape} are smaller than the SSIM window")
    return float(ssim_map(ga, gb, params).mean())
