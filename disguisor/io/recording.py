"""A recording on disk (format version 1) with lazy, validated frame access.

Layout::

    recording/
      calibration.json                 # see disguisor.io.calibration
      <camera>/color/<frame>.jpg|png   # 8-bit colour, the camera's width x height
      <camera>/depth/<frame>.png       # uint16, registered to the colour image, 0 = no reading

``<frame>`` is the integer frame number, zero-padded to 6 digits (``000042.jpg``). Opening a
recording only lists file names; images are decoded when asked for, so memory does not grow
with the recording's length.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from disguisor.config import FRAME_NUMBER_DIGITS, RecordingParams
from disguisor.errors import InputError
from disguisor.io.calibration import Calibration, Camera, load_calibration

log = logging.getLogger(__name__)

COLOR_EXTENSIONS = (".jpg", ".jpeg", ".png")
DEPTH_EXTENSION = ".png"


def frame_file_name(frame: int, extension: str) -> str:
    """``42, '.jpg'`` -> ``'000042.jpg'``."""
    return f"{frame:0{FRAME_NUMBER_DIGITS}d}{extension}"


@dataclass
class View:
    """One camera's images at one frame.

    color: (H, W, 3) uint8, BGR. depth: (H, W) float32 metres along the optical axis, registered
    to ``color``, 0 where the sensor gave no reading.
    """

    camera: Camera
    frame: int
    color: np.ndarray
    depth: np.ndarray


def _index_frames(folder: Path, extensions: Sequence[str]) -> dict[int, Path]:
    frames: dict[int, Path] = {}
    if not folder.is_dir():
        return frames
    for path in folder.iterdir():
        if path.suffix.lower() not in extensions or path.name.startswith("."):
            continue
        try:
            number = int(path.stem)
        except ValueError:
            raise InputError(path, "frame file names must be integer frame numbers, e.g. 000042"
                             + path.suffix) from None
        if number in frames:
            raise InputError(path, f"frame {number} appears twice ({frames[number].name})")
        frames[number] = path
    return frames


@dataclass
class Recording:
    """An opened, validated recording. Create with :func:`open_recording`.

    frames: sorted frame numbers that will be processed (per the missing-frame policy).
    missing: camera name -> frame numbers that other cameras have but this one lacks.
    """

    root: Path
    calibration: Calibration
    frames: list[int]
    missing: dict[str, list[int]]
    _color_files: dict[str, dict[int, Path]] = field(repr=False)
    _depth_files: dict[str, dict[int, Path]] = field(repr=False)

    @property
    def cameras(self) -> tuple[Camera, ...]:
        return self.calibration.cameras

    def cameras_at(self, frame: int) -> list[Camera]:
        """Cameras that have colour and depth for ``frame``."""
        return [c for c in self.cameras
                if frame in self._color_files[c.name] and frame in self._depth_files[c.name]]

    def color_path(self, camera: str, frame: int) -> Path:
        return self._color_files[camera][frame]

    def depth_path(self, camera: str, frame: int) -> Path:
        return self._depth_files[camera][frame]

    def read_color(self, camera: Camera, frame: int) -> np.ndarray:
        """Colour image (H, W, 3) uint8 BGR, checked against the calibrated size."""
        path = self.color_path(camera.name, frame)
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise InputError(path, "cannot decode image (corrupt or not an image)")
        if image.dtype != np.uint8:
            raise InputError(path, f"colour images must be 8-bit, got {image.dtype}")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        _check_size(path, image, camera)
        return image

    def read_depth(self, camera: Camera, frame: int) -> np.ndarray:
        """Depth (H, W) float32 in metres, 0 = no reading; checked to be 16-bit and the right size."""
        path = self.depth_path(camera.name, frame)
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise InputError(path, "cannot decode depth image (corrupt or not a PNG)")
        if raw.dtype != np.uint16 or raw.ndim != 2:
            channels = 1 if raw.ndim == 2 else raw.shape[2]
            raise InputError(path, f"depth must be a single-channel 16-bit PNG, got {channels} channel(s) "
                             f"of {raw.dtype}")
        _check_size(path, raw, camera)
        depth = raw.astype(np.float32) * np.float32(camera.depth_scale)
        if camera.depth_range is not None:
            lo, hi = camera.depth_range
            depth[(depth < lo) | (depth > hi)] = 0.0
        return depth

    def view(self, camera: Camera, frame: int) -> View:
        return View(camera=camera, frame=frame, color=self.read_color(camera, frame),
                    depth=self.read_depth(camera, frame))

    def views(self, frame: int) -> list[View]:
        """All available views of one frame, read from disk now."""
        return [self.view(c, frame) for c in self.cameras_at(frame)]

    def iter_frames(self) -> Iterator[tuple[int, list[View]]]:
        """(frame, views) for each frame in order; only one frame is in memory at a time."""
        for frame in self.frames:
            yield frame, self.views(frame)


def _check_size(path: Path, image: np.ndarray, camera: Camera) -> None:
    h, w = image.shape[:2]
    if (w, h) != (camera.width, camera.height):
        raise InputError(path, f"image is {w}x{h} but calibration.json says camera {camera.name!r} "
                         f"is {camera.width}x{camera.height}", field="width/height")


def open_recording(root: str | Path, params: RecordingParams = RecordingParams(),
                   check_images: bool = True) -> Recording:
    """Open and validate a recording folder.

    Checks: calibration.json valid; every camera has colour and depth folders; frame numbers
    match across cameras (or are handled per ``params.missing_frames``); each colour frame has
    its depth frame; with ``check_images`` the first frame of each camera is decoded to check
    image sizes and the depth format. Raises :class:`InputError` naming the file and field.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "recording folder not found")
    calibration = load_calibration(root / "calibration.json")
    color_files: dict[str, dict[int, Path]] = {}
    depth_files: dict[str, dict[int, Path]] = {}
    for cam in calibration.cameras:
        color_dir, depth_dir = root / cam.name / "color", root / cam.name / "depth"
        for folder in (color_dir, depth_dir):
            if not folder.is_dir():
                raise InputError(folder, f"folder missing for camera {cam.name!r} listed in calibration.json")
        color = _index_frames(color_dir, COLOR_EXTENSIONS)
        depth = _index_frames(depth_dir, (DEPTH_EXTENSION,))
        if not color:
            raise InputError(color_dir, "no colour frames (expected files like 000000.jpg)")
        no_depth = sorted(set(color) - set(depth))
        if no_depth:
            raise InputError(color_dir / frame_file_name(no_depth[0], ".png"),
                             f"{len(no_depth)} colour frame(s) have no depth frame in {depth_dir}, first: "
                             f"frame {no_depth[0]}")
        color_files[cam.name], depth_files[cam.name] = color, depth

    all_frames = set().union(*(set(f) for f in color_files.values()))
    missing = {name: sorted(all_frames - set(files)) for name, files in color_files.items()}
    missing = {k: v for k, v in missing.items() if v}
    if missing:
        summary = "; ".join(f"{name}: {len(v)} missing (first {v[0]})" for name, v in missing.items())
        policy = params.missing_frames
        if policy == "error":
            name, frames = next(iter(missing.items()))
            raise InputError(root / name / "color", f"frame numbers differ across cameras ({summary}); "
                             "policy 'error'", field=f"frame {frames[0]}")
        log.warning("frame numbers differ across cameras (%s); policy %r", summary, policy)
    if params.missing_frames == "drop":
        frames = sorted(set.intersection(*(set(f) for f in color_files.values())))
    else:
        frames = sorted(all_frames)

    recording = Recording(root=root, calibration=calibration, frames=frames, missing=missing,
                          _color_files=color_files, _depth_files=depth_files)
    if check_images:
        for cam in calibration.cameras:
            first = min(color_files[cam.name])
            recording.read_color(cam, first)
            recording.read_depth(cam, first)
    return recording
