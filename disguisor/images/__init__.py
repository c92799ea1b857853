"""Anonymizing plain images and videos (no calibration, no depth): ``disguisor anonymize-images``."""

from disguisor.images.anonymize import ImagesParams, anonymize_image, anonymize_paths

__all__ = ["ImagesParams", "anonymize_image", "anonymize_paths"]
