"""Offscreen OpenGL rendering through calibrated cameras (synthetic scenes, face replacement)."""
