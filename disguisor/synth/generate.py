"""Write synthetic recordings in the project's format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from disguisor.geometry import pixel_rays
from disguisor.io.atomic import staged_output_dir
from disguisor.io.writer import RecordingWriter
from disguisor.synth.primitives import composite, moving_boxes, raycast_boxes, static_room_boxes
from disguisor.synth.rig import default_rig

# Depth noise of a time-of-flight sensor: standard deviation (m) = a + b * z^2 (z in metres).
DEPTH_NOISE_A_M = 0.0008
DEPTH_NOISE_B_PER_M = 0.0012


def add_depth_noise(depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise growing with distance; readings stay 0 where there were none."""
    sigma = DEPTH_NOISE_A_M + DEPTH_NOISE_B_PER_M * depth.astype(np.float64) ** 2
    noisy = depth + rng.standard_normal(depth.shape) * sigma
    return np.where(depth > 0, noisy, 0.0).astype(np.float32)


def write_box_room(out: str | Path, frames: int = 10, n_cameras: int = 4, size: tuple[int, int] = (1280, 720),
                   seed: int = 0, depth_noise: bool = True, overwrite: bool = False,
                   progress: Callable[[int], None] | None = None) -> Path:
    """A box-shaped operating room (floor, walls, table, equipment, a moving column) seen by the
    default rig. Same arguments, same bytes. Returns the recording folder."""
    calib = default_rig(size[0], size[1], n_cameras)
    rng = np.random.default_rng(seed)
    rays = {c.name: pixel_rays(c.K, c.dist, c.width, c.height) for c in calib.cameras}
    with staged_output_dir(Path(out), overwrite=overwrite) as stage:
        writer = RecordingWriter(stage, calib)
        # The room does not move: render it once per camera, then add the moving parts per frame.
        room = {c.name: raycast_boxes(c, static_room_boxes(), rays[c.name]) for c in calib.cameras}
        for frame in range(frames):
            movers = moving_boxes(frame, frames)
            for cam in calib.cameras:
                color, depth = composite([room[cam.name], raycast_boxes(cam, movers, rays[cam.name])])
                if depth_noise:
                    depth = add_depth_noise(depth, rng)
                writer.write_view(cam, frame, color, depth)
            if progress:
                progress(frame + 1)
    return Path(out)
