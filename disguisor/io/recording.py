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
import zlib
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


JPEG_SOI, JPEG_EOI = b"\xff\xd8", b"\xff\xd9"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG markers without a length field: TEM, RST0-7, SOI, EOI
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8), 0xD8, 0xD9}
# markers that may stand between the scans of a progressive or multi-scan JPEG: SOF/DHT/DAC, DQT, DNL,
# DRI, EXP, APPn, COM, SOS
_JPEG_BETWEEN_SCANS = {*range(0xC0, 0xD0), 0xDA, 0xDB, 0xDC, 0xDD, 0xDF, *range(0xE0, 0xF0), 0xFE}


def jpeg_problem(data: bytes) -> str | None:
    """What is wrong with a JPEG file's structure (None when it is whole).

    libjpeg decodes a truncated or damaged file with only a warning (the missing part comes out
    grey), so the structure is checked here: start-of-image marker, every header segment inside
    the file, a scan, no invalid marker inside the entropy-coded data, and the end-of-image marker
    FFD9 at the end (zero padding after it is allowed).
    """
    n = len(data)
    if not data.startswith(JPEG_SOI):
        return "not a JPEG (no start-of-image marker FFD8)"
    pos = 2
    while True:  # header segments up to the first scan
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > n:
            return f"truncated at byte {n} in the header (no image data)"
        if data[pos] != 0xFF:
            return f"corrupt header: expected a marker at byte {pos}"
        marker = data[pos + 1]
        if marker in _JPEG_STANDALONE:
            if marker == 0xD9:
                return "corrupt: end-of-image marker before any image data"
            pos += 2
            continue
        if pos + 4 > n:
            return f"truncated at byte {n} in the header (no image data)"
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if end > n:
            return f"truncated at byte {n} inside header segment FF{marker:02X}"
        pos = end
        if marker == 0xDA:
            break
    body = data.rstrip(b"\x00")
    if not body.endswith(JPEG_EOI):
        return f"truncated: the file ({n} bytes) does not end with the end-of-image marker FFD9"
    last = len(body) - 2
    i = data.find(b"\xff", pos)
    while -1 < i < last:
        marker = data[i + 1]
        if marker == 0x00 or marker == 0xFF or 0xD0 <= marker <= 0xD7:
            i = data.find(b"\xff", i + 1)
            continue
        if marker == 0xD9:
            return f"corrupt: end-of-image marker at byte {i} before the end of the file ({n} bytes)"
        if marker not in _JPEG_BETWEEN_SCANS:
            return f"corrupt: invalid marker FF{marker:02X} in the image data at byte {i}"
        end = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if i + 4 > last or end > last:
            return f"truncated inside segment FF{marker:02X} at byte {i}"
        i = data.find(b"\xff", end)
    return None


def png_problem(data: bytes, inflate_check: bool = True) -> str | None:
    """What is wrong with a PNG file's structure (None when it is whole): the signature, every
    chunk inside the file with a matching CRC, an IEND chunk, and (``inflate_check``) a complete
    zlib stream in IDAT. The inflate costs about half a decode; a file that is decoded anyway can
    skip it, since libpng refuses an incomplete stream ("Not enough image data")."""
    if not data.startswith(PNG_SIGNATURE):
        return "not a PNG (bad signature)"
    n, pos = len(data), len(PNG_SIGNATURE)
    inflate = zlib.decompressobj()
    while True:
        if pos + 8 > n:
            return f"truncated at byte {n}: no IEND chunk"
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        name = kind.decode("latin-1")
        if end > n:
            return f"truncated at byte {n} inside chunk {name!r}"
        if zlib.crc32(data[pos + 4:end - 4]) != int.from_bytes(data[end - 4:end], "big"):
            return f"corrupt: CRC mismatch in chunk {name!r} at byte {pos}"
        if kind == b"IDAT" and inflate_check:
            try:
                # the inflated pixels are not kept: bounded memory, only the stream's integrity counts
                chunk = data[pos + 8:end - 4]
                while chunk:
                    inflate.decompress(chunk, 1 << 20)
                    chunk = inflate.unconsumed_tail
            except zlib.error as exc:
                return f"corrupt image data (zlib: {exc})"
        pos = end
        if kind == b"IEND":
            break
    if not inflate_check:
        return None
    try:
        inflate.flush()  # output held back by the size limit above
    except zlib.error as exc:
        return f"corrupt image data (zlib: {exc})"
    if not inflate.eof:
        return "truncated image data: the zlib stream in IDAT is incomplete"
    return None


def image_file_problem(path: Path, data: bytes, decoded: bool = False) -> str | None:
    """The structural check of a colour or depth frame file by its extension (see
    :func:`jpeg_problem` and :func:`png_problem`); ``decoded``: the file was decoded successfully."""
    if path.suffix.lower() in (".jpg", ".jpeg"):
        return jpeg_problem(data)
    if path.suffix.lower() == ".png":
        return png_problem(data, inflate_check=not decoded)
    return None


def _read_image(path: Path, what: str) -> np.ndarray:
    """Read and decode an image file; refuse files that are unreadable, do not decode, or are
    truncated or damaged (libjpeg and libpng may decode those with a warning only)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read {what}: {exc.strerror or exc}") from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    problem = image_file_problem(path, data, decoded=image is not None) if data else "empty file"
    if image is None:
        raise InputError(path, f"cannot decode {what}: {problem or 'corrupt or not an image'}")
    if problem is not None:
        raise InputError(path, f"damaged {what}: {problem}")
    return image


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
    _depth_seen: set[str] = field(default_factory=set, repr=False)  # cameras with a depth reading so far

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
        image = _read_image(path, "image")
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
        raw = _read_image(path, "depth image")
        if raw.dtype != np.uint16 or raw.ndim != 2:
            channels = 1 if raw.ndim == 2 else raw.shape[2]
            raise InputError(path, f"depth must be a single-channel 16-bit PNG, got {channels} channel(s) "
                             f"of {raw.dtype}")
        _check_size(path, raw, camera)
        depth = raw.astype(np.float32) * np.float32(camera.depth_scale)
        if camera.depth_range is not None:
            lo, hi = camera.depth_range
            depth[(depth < lo) | (depth > hi)] = 0.0
        if camera.name not in self._depth_seen and depth.any():
            self._depth_seen.add(camera.name)
        return depth

    def cameras_without_depth(self) -> list[str]:
        """Names of the cameras whose depth is empty (no reading) in every frame: a dead or
        unplugged depth sensor. Depth frames already read count; for a camera with no reading yet
        the others are read until one has a reading (so a working camera costs nothing more).
        Frames that cannot be read are skipped here (they fail when processed)."""
        dead = []
        for cam in self.cameras:
            if cam.name in self._depth_seen:
                continue
            for frame in self._depth_files[cam.name]:
                try:
                    self.read_depth(cam, frame)
                except InputError:
                    continue
                if cam.name in self._depth_seen:
                    break
            if cam.name not in self._depth_seen:
                dead.append(cam.name)
        return dead

    def damaged_files(self) -> list[tuple[str, int, Path, str]]:
        """(camera, frame, path, problem) of every colour and depth frame file that cannot be read
        or is truncated or damaged (structure only: :func:`image_file_problem`; nothing decoded)."""
        found = []
        for cam in self.cameras:
            for files in (self._color_files[cam.name], self._depth_files[cam.name]):
                for frame, path in sorted(files.items()):
                    try:
                        data = path.read_bytes()
                    except OSError as exc:
                        found.append((cam.name, frame, path, f"cannot read: {exc.strerror or exc}"))
                        continue
                    problem = image_file_problem(path, data) if data else "empty file"
                    if problem is not None:
                        found.append((cam.name, frame, path, problem))
        return found

    def view(self, camera: Camera, frame: int) -> View:
        return View(camera=camera, frame=frame, color=self.read_color(camera, frame),
                    depth=self.read_depth(camera, frame))

    def depth_views(self, frame: int) -> dict[str, tuple[Camera, np.ndarray]]:
        """camera name -> (camera, depth (H, W) float32 metres) of every camera with ``frame``,
        read from disk now (what refine registers heads to)."""
        return {c.name: (c, self.read_depth(c, frame)) for c in self.cameras_at(frame)}

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
            raise InputError(depth_dir / frame_file_name(no_depth[0], DEPTH_EXTENSION),
                             f"missing: {len(no_depth)} colour frame(s) have no depth frame in {depth_dir}, "
                             f"first: frame {no_depth[0]} ({color[no_depth[0]].name})")
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
