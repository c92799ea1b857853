"""Per-image 2D face detectors and classical obfuscations: the baselines disguisor is measured against."""
