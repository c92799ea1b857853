"""Tunable defaults of the image-quality and identity-leakage metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QualityParams:
    """crop_px: ground-truth face crops (original and anonymized) are resized to crop_px x crop_px
    before SSIM and the deep metrics. min_face_px: faces whose box is smaller than this on either
    side (after clipping to the image) are skipped and counted.

    SSIM (Wang et al. 2004): Gaussian window of ``ssim_sigma`` px truncated at ``ssim_radius`` px,
    constants K1, K2 on a data range of 255, on the grey-level (BT.601 luma) crops.

    Identity leakage: ``identity_threshold`` is the face-descriptor distance below which two faces
    are the same person: 0.463, dlib's threshold calibrated on real photographs at an impostor
    false-match rate of 1% (``recognizers.THRESHOLDS``; dlib's usual 0.6 matched ~35% of the
    impostor pairs there). The face is embedded from a square window
    around its box, ``identity_context`` box sizes wide, resized to ``identity_window_px`` so
    dlib's detectors (smallest face ~80 px for HOG) see it; ``identity_upsample`` is the HOG
    detector's upsampling there. identity_at_box: when dlib cannot find the original face (masks,
    steep views, small rendered faces), embed it at its ground-truth box (squared) instead of
    counting it as not embeddable. A diagnostic only: dlib's descriptor of a face it cannot
    find is dominated by the surroundings (hair, cap, background), so on the synthetic OR even
    blackened faces "match" at 0.6 by the forced route; leak numbers of such faces mean nothing.
    """

    crop_px: int = 128
    min_face_px: int = 8
    ssim_sigma: float = 1.5
    ssim_radius: int = 5
    ssim_k1: float = 0.01
    ssim_k2: float = 0.03
    identity_threshold: float = 0.463  # = recognizers.THRESHOLDS['dlib'] (checked by a test)
    identity_context: float = 2.0
    identity_window_px: int = 240
    identity_upsample: int = 1
    identity_at_box: bool = False
