"""Writing a recording in the project's format (used by importers and the synthetic generator)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from disguisor.io.atomic import write_image
from disguisor.io.calibration import Calibration, Camera, save_calibration
from disguisor.io.recording import frame_file_name


def depth_to_uint16(depth_m: np.ndarray, camera: Camera) -> np.ndarray:
    """Depth in metres (0 or non-finite = no reading) -> the uint16 units of ``camera.depth_scale``."""
    units = np.where(np.isfinite(depth_m) & (depth_m > 0), depth_m / camera.depth_scale, 0.0)
    return np.clip(np.round(units), 0, 65535).astype(np.uint16)


class RecordingWriter:
    """Writes calibration.json and per-camera colour/depth frames into ``root`` (which should be a
    staging folder from :func:`disguisor.io.atomic.staged_output_dir`)."""

    def __init__(self, root: Path, calibration: Calibration, color_extension: str = ".jpg",
                 jpeg_quality: int = 95):
        self.root = Path(root)
        self.calibration = calibration
        self.color_extension = color_extension
        self.jpeg_quality = jpeg_quality
        save_calibration(calibration, self.root / "calibration.json")
        for cam in calibration.cameras:
            (self.root / cam.name / "color").mkdir(parents=True, exist_ok=True)
            (self.root / cam.name / "depth").mkdir(parents=True, exist_ok=True)

    def write_view(self, camera: Camera, frame: int, color_bgr: np.ndarray, depth: np.ndarray) -> None:
        """Write one view. ``depth`` is uint16 in the camera's depth units, or float metres."""
        if depth.dtype != np.uint16:
            depth = depth_to_uint16(depth, camera)
        base = self.root / camera.name
        write_image(base / "color" / frame_file_name(frame, self.color_extension), color_bgr, self.jpeg_quality)
        write_image(base / "depth" / frame_file_name(frame, ".png"), depth)
