"""The Fréchet distance between two sets of feature vectors: the formula of FID, on any features.

Used on InceptionV3 pool3 features (the standard FID), on a backbone's pooled features
(:mod:`disguisor.quality.deep`) and on face recognizers' embeddings
(:mod:`disguisor.quality.recognizer_leak`; non-standard: not comparable with published FIDs).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg


def frechet_distance(fa: np.ndarray, fb: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of Gaussians fitted to (N, D) features.

    Raises ValueError with fewer than two samples in either set."""
    fa, fb = np.asarray(fa, np.float64), np.asarray(fb, np.float64)
    if len(fa) < 2 or len(fb) < 2:
        raise ValueError("the Fréchet distance needs at least two samples per set")
    mu_a, mu_b = fa.mean(axis=0), fb.mean(axis=0)
    sa, sb = np.atleast_2d(np.cov(fa, rowvar=False)), np.atleast_2d(np.cov(fb, rowvar=False))
    with warnings.catch_warnings():  # singular covariances are expected with few faces
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(sa @ sb)
    if not np.isfinite(root).all():  # singular product: regularise like the reference FID code
        off = np.eye(len(sa)) * 1e-6
        root = scipy.linalg.sqrtm((sa + off) @ (sb + off))
    root = np.real(root)
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * np.trace(root))
    return max(value, 0.0)
