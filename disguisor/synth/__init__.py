"""Synthetic multi-camera RGB-D recordings with exact ground truth."""
