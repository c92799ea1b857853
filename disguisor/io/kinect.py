"""Azure Kinect MKV import without the Azure Kinect SDK (PyAV decodes the Matroska file).

What a K4A recording holds: a COLOR track (MJPEG, or raw BGRA/NV12/YUY2), a DEPTH track (raw
``b16g``: big-endian uint16 millimetres), IR, IMU samples, and the factory calibration as the
attachment ``calibration.json``. This module

* parses that calibration: intrinsics are stored normalized by the sensor size, in the order
  cx, cy, fx, fy, k1..k6, codx, cody, p2, p1; they are scaled to the recorded mode's
  resolution and crop exactly as the SDK does and mapped onto OpenCV's rational model
  (k1, k2, p1, p2, k3, k4, k5, k6). Each camera's ``Rt`` maps depth-camera coordinates into that
  camera (translation in metres in the file; the SDK reports it in millimetres);
* registers depth into the colour camera like the SDK's transformation: each depth pixel's
  footprint (its four corners at its depth) is moved into the colour camera, projected with
  distortion and filled there, keeping the nearest surface per colour pixel;
* pairs colour with depth inside a device, and captures across devices, by timestamp;
* writes a recording in the project's format (disguisor.io.recording).
"""

from __future__ import annotations

import json
import logging
import re
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from disguisor.config import KinectImportParams
from disguisor.errors import InputError
from disguisor.geometry import project_points, rotation_error, undistort_pixels
from disguisor.io.atomic import atomic_write_bytes, atomic_write_text, staged_output_dir, write_image
from disguisor.io.calibration import CAMERA_ROLES, Calibration, Camera
from disguisor.io.recording import frame_file_name
from disguisor.io.writer import RecordingWriter

log = logging.getLogger(__name__)

# Mode tables of the SDK (transformation_get_mode_specific_*_camera_calibration):
# output size -> (calibration image size after binning, crop offset), all in pixels.
COLOR_MODES: dict[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]] = {
    (1280, 720): ((1280, 960), (0, 120)),
    (1920, 1080): ((1920, 1440), (0, 180)),
    (2560, 1440): ((2560, 1920), (0, 240)),
    (2048, 1536): ((2048, 1536), (0, 0)),
    (3840, 2160): ((3840, 2880), (0, 360)),
    (4096, 3072): ((4096, 3072), (0, 0)),
}
DEPTH_MODES: dict[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]] = {
    (320, 288): ((512, 512), (96, 90)),      # NFOV 2x2 binned
    (640, 576): ((1024, 1024), (192, 180)),  # NFOV unbinned
    (512, 512): ((512, 512), (0, 0)),        # WFOV 2x2 binned
    (1024, 1024): ((1024, 1024), (0, 0)),    # WFOV unbinned, passive IR
}
# Depth range of the sensor over all modes (metres), from the Azure Kinect hardware specification.
KINECT_DEPTH_RANGE_M = (0.25, 5.46)
EARTH_GRAVITY = 9.81


@dataclass(frozen=True)
class KinectLens:
    """Intrinsics of one Kinect camera at the recorded resolution, OpenCV conventions.

    dist: (k1, k2, p1, p2, k3, k4, k5, k6), OpenCV's rational model.
    metric_radius: radius on the z = 1 plane beyond which the calibration is not valid (0 = unknown).
    """

    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray
    metric_radius: float = 0.0


@dataclass(frozen=True)
class KinectCalibration:
    """Factory calibration of one device for the recorded modes.

    depth_to_color: (R, t) with ``x_color = R @ x_depth + t`` in metres.
    gravity_up_depth: unit "up" vector in the depth camera frame from the accelerometer, if any.
    """

    depth: KinectLens
    color: KinectLens
    depth_to_color_R: np.ndarray
    depth_to_color_t: np.ndarray
    serial: str = ""
    raw: dict = field(default_factory=dict, repr=False)


def _mode_intrinsics(normalized: Sequence[float], binned: tuple[int, int], crop: tuple[int, int],
                     output: tuple[int, int], pixelized: bool = True) -> tuple[float, float, float, float]:
    """Scale (cx, cy, fx, fy) from unit-size, corner-origin values to one mode (see the SDK)."""
    cx, cy, fx, fy = normalized
    cx, cy = cx * binned[0] - crop[0], cy * binned[1] - crop[1]
    fx, fy = fx * binned[0], fy * binned[1]
    if pixelized:  # pixel units, (0, 0) at the centre of the top-left pixel
        return cx - 0.5, cy - 0.5, fx, fy
    return cx / output[0], cy / output[1], fx / output[0], fy / output[1]


def _lens_from_raw(cam: dict, output: tuple[int, int], modes: dict, which: str, source: str) -> KinectLens:
    intr = cam["Intrinsics"]
    p = [float(v) for v in intr["ModelParameters"]]
    model = intr.get("ModelType", "")
    if "BrownConrady" not in model and "Rational6KT" not in model:
        raise InputError(source, f"unsupported lens model {model!r}", field=f"{which}.Intrinsics.ModelType")
    if len(p) < 14:
        raise InputError(source, f"expected 14 model parameters, got {len(p)}",
                         field=f"{which}.Intrinsics.ModelParameters")
    if abs(p[10]) > 1e-9 or abs(p[11]) > 1e-9:
        raise InputError(source, "centre of distortion (codx, cody) is not zero: no OpenCV equivalent",
                         field=f"{which}.Intrinsics.ModelParameters")
    sensor = (int(cam["SensorWidth"]), int(cam["SensorHeight"]))
    normalized = p[0:4]
    if which == "color" and sensor[0] * 9 // 16 == sensor[1]:
        # Legacy 16:9 colour calibration: re-express it for the 4:3 sensor first (as the SDK does).
        normalized = _mode_intrinsics(normalized, (4096, 2304), (0, -384), (4096, 3072), pixelized=False)
    if output not in modes:
        raise InputError(source, f"unknown {which} resolution {output[0]}x{output[1]}", field=f"{which} track")
    binned, crop = modes[output]
    cx, cy, fx, fy = _mode_intrinsics(normalized, binned, crop, output)
    k1, k2, k3, k4, k5, k6 = p[4:10]
    p2, p1 = p[12], p[13]
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    dist = np.array([k1, k2, p1, p2, k3, k4, k5, k6])
    return KinectLens(width=output[0], height=output[1], K=K, dist=dist,
                      metric_radius=float(cam.get("MetricRadius", 0.0) or 0.0))


def parse_kinect_calibration(raw: dict, color_size: tuple[int, int], depth_size: tuple[int, int],
                             source: str = "calibration.json") -> KinectCalibration:
    """Build the mode-specific calibration from the ``calibration.json`` attachment."""
    try:
        info = raw["CalibrationInformation"]
        cams = {c["Purpose"]: c for c in info["Cameras"]}
        depth_raw = cams["CALIBRATION_CameraPurposeDepth"]
        color_raw = cams["CALIBRATION_CameraPurposePhotoVideo"]
    except (KeyError, TypeError) as exc:
        raise InputError(source, f"missing {exc} in the Azure Kinect calibration",
                         field="CalibrationInformation.Cameras") from None
    depth = _lens_from_raw(depth_raw, depth_size, DEPTH_MODES, "depth", source)
    color = _lens_from_raw(color_raw, color_size, COLOR_MODES, "color", source)

    def rt(cam: dict) -> tuple[np.ndarray, np.ndarray]:
        R = np.asarray(cam["Rt"]["Rotation"], float).reshape(3, 3)
        t = np.asarray(cam["Rt"]["Translation"], float).reshape(3)
        return R, t

    # Each Rt maps the reference (depth) frame into that camera; compose target * source^-1.
    Rd, td = rt(depth_raw)
    Rc, tc = rt(color_raw)
    R = Rc @ Rd.T
    t = tc - R @ td
    if np.linalg.norm(t) > 1.0:  # a device baseline is centimetres: values this large are millimetres
        t = t / 1000.0
    if rotation_error(R) > 1e-3:
        raise InputError(source, "depth-to-colour rotation is not a rotation", field="Cameras[].Rt.Rotation")
    serial = str(info.get("Metadata", {}).get("SerialId", ""))
    return KinectCalibration(depth=depth, color=color, depth_to_color_R=R, depth_to_color_t=t,
                             serial=serial, raw=raw)


# ----------------------------------------------------------------------------------------------
# Depth registration into the colour camera


class DepthToColor:
    """Registers depth maps of one device into its colour camera (uint16 mm in, uint16 mm out).

    The per-device work (undistorting the corner grid of the depth image) happens once here.
    """

    def __init__(self, calib: KinectCalibration, edge_jump_mm: float = KinectImportParams.depth_edge_jump_mm):
        self.calib = calib
        self.edge_jump_m = edge_jump_mm / 1000.0
        d, c = calib.depth, calib.color
        u = np.arange(d.width + 1, dtype=np.float64) - 0.5
        v = np.arange(d.height + 1, dtype=np.float64) - 0.5
        uu, vv = np.meshgrid(u, v)
        corners = undistort_pixels(np.stack([uu, vv], -1).reshape(-1, 2), d.K, d.dist)
        self.corner_rays = corners.reshape(d.height + 1, d.width + 1, 2)
        centres = undistort_pixels(np.stack(np.meshgrid(np.arange(d.width), np.arange(d.height)), -1)
                                   .reshape(-1, 2).astype(np.float64), d.K, d.dist)
        self.centre_rays = centres.reshape(d.height, d.width, 2)
        radius = np.linalg.norm(self.centre_rays, axis=-1)
        self.valid_lens = radius <= d.metric_radius if d.metric_radius > 0 else np.ones_like(radius, bool)
        # Rational lens models fold back far outside the image: only project points whose
        # normalized radius lies within the colour image's own (plus a margin).
        img_corners = np.array([[0, 0], [c.width - 1, 0], [0, c.height - 1], [c.width - 1, c.height - 1],
                                [c.width / 2, 0], [0, c.height / 2]], float)
        self.color_max_radius = 1.1 * np.linalg.norm(undistort_pixels(img_corners, c.K, c.dist), axis=1).max()

    def __call__(self, depth_mm: np.ndarray) -> np.ndarray:
        return self.register(depth_mm)

    def _corner_depths(self, depth_m: np.ndarray) -> np.ndarray:
        """Depth at the (H+1, W+1) pixel corners: the mean of the four pixels around a corner when
        they belong to one surface (spread below the edge threshold), else 0 (use the pixel's own).

        Sharing corner depths between neighbours makes footprints tile a surface without cracks.
        """
        pad = np.pad(depth_m, 1)
        quads = np.stack([pad[:-1, :-1], pad[:-1, 1:], pad[1:, :-1], pad[1:, 1:]])
        same_surface = (quads.min(axis=0) > 0) & (np.ptp(quads, axis=0) < self.edge_jump_m)
        return np.where(same_surface, quads.mean(axis=0), 0.0)

    def register(self, depth_mm: np.ndarray) -> np.ndarray:
        """Depth image (Hd, Wd) uint16 mm -> depth in the colour camera (Hc, Wc) uint16 mm, 0 = none."""
        d, c = self.calib.depth, self.calib.color
        if depth_mm.shape != (d.height, d.width):
            raise ValueError(f"depth image is {depth_mm.shape[::-1]}, calibration expects {(d.width, d.height)}")
        rows, cols = np.nonzero((depth_mm > 0) & self.valid_lens)
        z = depth_mm[rows, cols].astype(np.float64) / 1000.0
        R, t = self.calib.depth_to_color_R, self.calib.depth_to_color_t
        # Centre of each depth pixel in the colour frame: its depth there is what we store.
        centre = np.concatenate([self.centre_rays[rows, cols] * z[:, None], z[:, None]], axis=1) @ R.T + t
        keep = centre[:, 2] > 0
        keep &= np.linalg.norm(centre[:, :2] / np.maximum(centre[:, 2:3], 1e-9), axis=1) < self.color_max_radius
        rows, cols, z, centre = rows[keep], cols[keep], z[keep], centre[keep]
        corner_depth = self._corner_depths(depth_mm.astype(np.float64) / 1000.0)
        # The four corners of each pixel's footprint, at the surface's depth there.
        quad = []
        for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
            ray = self.corner_rays[rows + dr, cols + dc]
            zc = corner_depth[rows + dr, cols + dc]
            zc = np.where(zc > 0, zc, z)
            pts = np.concatenate([ray * zc[:, None], zc[:, None]], axis=1) @ R.T + t
            quad.append(project_points(pts, c.K, c.dist))
        quad = np.stack(quad, axis=1)  # (N, 4, 2)
        ok = np.all(np.isfinite(quad), axis=(1, 2))
        lo = np.ceil(quad[ok].min(axis=1) - 1e-9).astype(np.int64)    # first pixel centre inside
        hi = np.ceil(quad[ok].max(axis=1) - 1e-9).astype(np.int64)    # one past the last
        zc = centre[ok, 2]
        span = np.maximum(hi - lo, 1)  # a footprint smaller than a pixel still marks its pixel
        lo = np.where(hi - lo >= 1, lo, np.round(quad[ok].mean(axis=1)).astype(np.int64))
        idx_parts, z_parts = [], []
        for dy in range(int(span[:, 1].max(initial=0))):
            for dx in range(int(span[:, 0].max(initial=0))):
                sel = (dx < span[:, 0]) & (dy < span[:, 1])
                x, y = lo[sel, 0] + dx, lo[sel, 1] + dy
                inside = (x >= 0) & (x < c.width) & (y >= 0) & (y < c.height)
                idx_parts.append(y[inside] * c.width + x[inside])
                z_parts.append(zc[sel][inside])
        out = np.zeros(c.height * c.width, np.uint16)
        if idx_parts:
            idx, zz = np.concatenate(idx_parts), np.concatenate(z_parts)
            order = np.lexsort((zz, idx))          # by pixel, nearest first
            first = np.unique(idx[order], return_index=True)[1]
            nearest = order[first]
            out[idx[nearest]] = np.clip(np.round(zz[nearest] * 1000.0), 1, 65535).astype(np.uint16)
        return out.reshape(c.height, c.width)


# ----------------------------------------------------------------------------------------------
# Reading the MKV


@dataclass
class KinectCapture:
    """One capture of one device. color_jpeg is set when the colour track is MJPEG (copied as is)."""

    timestamp_us: int
    color_bgr: np.ndarray | None
    color_jpeg: bytes | None
    depth_mm: np.ndarray | None


def _open(path: Path):
    import av

    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return av.open(str(path))
    except Exception as exc:  # PyAV raises several error types for unreadable files
        raise InputError(path, f"cannot open as a Matroska/Azure Kinect recording ({exc})") from None


def _find_track(container, kind: str, path: Path):
    for s in container.streams.video:
        md = {k.upper(): v for k, v in s.metadata.items()}
        if f"K4A_{kind}_TRACK" in md or md.get("TITLE", "").upper() == kind:
            return s
    return None


class KinectRecording:
    """An Azure Kinect MKV file: its calibration, modes and captures (read lazily)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        container = _open(self.path)
        try:
            color = _find_track(container, "COLOR", self.path)
            depth = _find_track(container, "DEPTH", self.path)
            if depth is None:
                raise InputError(self.path, "no DEPTH track (depth is needed to locate faces in 3D)",
                                 field="tracks")
            if color is None:
                raise InputError(self.path, "no COLOR track", field="tracks")
            self.color_size = (color.codec_context.width, color.codec_context.height)
            self.depth_size = (depth.codec_context.width, depth.codec_context.height)
            self.color_codec = color.codec_context.name
            self.metadata = dict(container.metadata)
            raw = None
            imu = None
            for s in container.streams:
                if s.type == "attachment" and str(s.metadata.get("filename", s.name)) == "calibration.json":
                    raw = bytes(s.data)
                if s.type == "subtitle" and ("K4A_IMU_TRACK" in s.metadata or s.metadata.get("title") == "IMU"):
                    imu = s
            if raw is None:
                raise InputError(self.path, "no calibration.json attachment", field="attachments")
            try:
                raw_json = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(self.path, f"calibration.json attachment is not JSON ({exc})",
                                 field="attachments/calibration.json") from None
            self.calibration = parse_kinect_calibration(raw_json, self.color_size, self.depth_size,
                                                        source=f"{self.path}:calibration.json")
            self.gravity_up_depth = self._read_gravity(container, imu, raw_json) if imu is not None else None
        finally:
            container.close()

    def _read_gravity(self, container, imu, raw_json) -> np.ndarray | None:
        """Mean accelerometer reading as an "up" unit vector in the depth camera frame."""
        samples = []
        for pkt in container.demux(imu):
            data = bytes(pkt)
            # Each IMU sample: uint64 acc_ts, 3 float32 acc (m/s^2), uint64 gyro_ts, 3 float32 gyro.
            for off in range(0, len(data) - 39, 40):
                samples.append(struct.unpack_from("<Q3f", data, off)[1:])
        if not samples:
            return None
        acc = np.mean(np.asarray(samples, float), axis=0)
        if not 0.8 * EARTH_GRAVITY < np.linalg.norm(acc) < 1.2 * EARTH_GRAVITY:
            return None  # moving device: no reliable gravity
        for sensor in raw_json["CalibrationInformation"].get("InertialSensors", []):
            if "Accelerometer" in sensor.get("SensorType", ""):
                R = np.asarray(sensor["Rt"]["Rotation"], float).reshape(3, 3)
                up = R.T @ acc  # an accelerometer at rest reads the upward specific force
                return up / np.linalg.norm(up)
        return None

    def _frames(self, kind: str) -> Iterator[tuple[int, Any]]:
        container = _open(self.path)
        try:
            stream = _find_track(container, kind, self.path)
            tb = stream.time_base
            for pkt in container.demux(stream):
                if pkt.size == 0 or pkt.pts is None:
                    continue
                ts = int(round(pkt.pts * tb * 1_000_000))
                if kind == "COLOR" and self.color_codec == "mjpeg":
                    yield ts, bytes(pkt)
                    continue
                try:
                    frames = pkt.decode()
                except Exception as exc:
                    raise InputError(self.path, f"cannot decode {kind} frame at {ts} us ({exc})",
                                     field=f"{kind} track") from None
                for f in frames:
                    if kind == "COLOR":
                        yield ts, f.to_ndarray(format="bgr24")
                    else:
                        arr = f.to_ndarray()
                        if arr.dtype != np.uint16:
                            raise InputError(self.path, f"depth track decodes as {arr.dtype}, expected uint16",
                                             field="DEPTH track")
                        yield ts, arr
        finally:
            container.close()

    def captures(self, sync_tolerance_us: int) -> Iterator[KinectCapture]:
        """Colour frames paired with the depth frame closest in time (within the tolerance).

        Colour frames without depth come with ``depth_mm = None``; depth without colour is dropped
        (there is no image to anonymize).
        """
        depth_iter = self._frames("DEPTH")
        pending = next(depth_iter, None)
        for ts, color in self._frames("COLOR"):
            while pending is not None and pending[0] < ts - sync_tolerance_us:
                pending = next(depth_iter, None)
            depth = None
            if pending is not None and abs(pending[0] - ts) <= sync_tolerance_us:
                depth = pending[1]
                pending = next(depth_iter, None)
            if isinstance(color, bytes):
                yield KinectCapture(ts, None, color, depth)
            else:
                yield KinectCapture(ts, color, None, depth)


# ----------------------------------------------------------------------------------------------
# Extrinsics and import


def _camera_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)
    return name if name[:1].isalnum() else f"cam_{name}"


def load_extrinsics(path: str | Path) -> dict[str, dict]:
    """Read an extrinsics file (see README): camera name or serial -> role and pose.

    Format::

        {"cameras": {"<name or serial>": {"role": "workflow"|"surgical",
                                          "frame": "color"|"depth",
                                          "camera_to_world": {"rotation": 3x3, "translation": [x,y,z]}}}}

    ``frame`` says which of the device's cameras the pose belongs to (default ``color``);
    translations are metres, world z up.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    cams = data.get("cameras") if isinstance(data, dict) else None
    if not isinstance(cams, dict) or not cams:
        raise InputError(path, "expected an object of cameras keyed by name or serial", field="cameras")
    out = {}
    for key, entry in cams.items():
        where = f"cameras.{key}"
        try:
            R = np.asarray(entry["camera_to_world"]["rotation"], float)
            t = np.asarray(entry["camera_to_world"]["translation"], float)
        except (KeyError, TypeError, ValueError):
            raise InputError(path, "needs camera_to_world.rotation (3x3) and .translation (3)",
                             field=where) from None
        if R.shape != (3, 3) or t.shape != (3,) or not np.all(np.isfinite(R)) or not np.all(np.isfinite(t)):
            raise InputError(path, "rotation must be 3x3 and translation 3 finite numbers",
                             field=f"{where}.camera_to_world")
        if rotation_error(R) > 1e-3:
            raise InputError(path, "not a rotation matrix", field=f"{where}.camera_to_world.rotation")
        role = entry.get("role", "workflow")
        if role not in CAMERA_ROLES:
            raise InputError(path, f"role must be one of {CAMERA_ROLES}", field=f"{where}.role")
        frame = entry.get("frame", "color")
        if frame not in ("color", "depth"):
            raise InputError(path, "frame must be 'color' or 'depth'", field=f"{where}.frame")
        out[str(key)] = {"role": role, "frame": frame, "R": R, "t": t}
    return out


def gravity_aligned_pose(up_color: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-to-world pose that puts the camera at the origin with world z = ``up_color``.

    World y is the camera's viewing direction projected onto the floor, x completes a right-handed frame.
    """
    z = up_color / np.linalg.norm(up_color)
    forward = np.array([0.0, 0.0, 1.0])
    y = forward - z * (forward @ z)
    if np.linalg.norm(y) < 1e-6:  # looking straight down or up
        y = np.array([0.0, -1.0, 0.0]) - z * (-z[1])
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    world_from_cam = np.stack([x, y, z], axis=0)  # rows: world axes in camera coordinates
    return world_from_cam, np.zeros(3)


@dataclass
class ImportSummary:
    cameras: list[str]
    frames: int
    dropped: dict[str, int]
    colour_without_depth: dict[str, int]
    world: str


def import_kinect(mkv_paths: Sequence[str | Path], out: str | Path, extrinsics: str | Path | None = None,
                  params: KinectImportParams = KinectImportParams(), overwrite: bool = False,
                  max_frames: int | None = None,
                  progress: Callable[[int], None] | None = None) -> ImportSummary:
    """Convert Azure Kinect MKV files (one per device) into a recording folder.

    Frames are numbered 0, 1, ... in the order of the first file's captures; a capture of
    another device is paired when its timestamp is within ``params.sync_tolerance_ms``, and that
    device simply has no file for frames it could not pair (reported in ``import.json``). The
    output folder appears only when the import succeeded.
    """
    paths = [Path(p) for p in mkv_paths]
    if not paths:
        raise InputError(None, "no MKV files given")
    devices = [KinectRecording(p) for p in paths]
    names = [_camera_name(p) for p in paths]
    if len(set(names)) != len(names):
        raise InputError(paths[0], "two input files have the same name; camera names come from file names")

    ext = load_extrinsics(extrinsics) if extrinsics else None
    if ext is None and len(devices) > 1:
        raise InputError(None, "several cameras need --extrinsics (their poses in one world frame)",
                         field="--extrinsics")
    cameras: list[Camera] = []
    world = "extrinsics file" if ext else "camera 0"
    for dev, name in zip(devices, names, strict=True):
        calib = dev.calibration
        if ext is not None:
            entry = ext.get(name) or ext.get(calib.serial)
            if entry is None:
                raise InputError(extrinsics, f"no pose for camera {name!r} (serial {calib.serial})",
                                 field="cameras")
            R, t, role = entry["R"], entry["t"], entry["role"]
            if entry["frame"] == "depth":  # colour-to-world = depth-to-world * colour-to-depth
                Rdc, tdc = calib.depth_to_color_R, calib.depth_to_color_t
                R, t = R @ Rdc.T, t - R @ Rdc.T @ tdc
        elif dev.gravity_up_depth is not None:
            world = "camera at the origin, z up from the accelerometer"
            R, t = gravity_aligned_pose(calib.depth_to_color_R @ dev.gravity_up_depth)
            role = "workflow"
        else:
            world = "the colour camera's frame (no accelerometer data: z is the viewing direction, not up)"
            log.warning("%s: no IMU data; the world frame is the camera frame, not z-up", dev.path)
            R, t, role = np.eye(3), np.zeros(3), "workflow"
        cameras.append(Camera(name=name, role=role, width=calib.color.width, height=calib.color.height,
                              K=calib.color.K, dist=calib.color.dist, R=R, t=t, depth_scale=0.001,
                              depth_range=KINECT_DEPTH_RANGE_M, serial=calib.serial or None))
    calibration = Calibration(cameras=tuple(cameras), world_description=f"Azure Kinect import; world: {world}")

    tol = int(params.sync_tolerance_ms * 1000)
    registrars = [DepthToColor(d.calibration, params.depth_edge_jump_mm) for d in devices]
    streams = [d.captures(tol) for d in devices]
    pending: list[KinectCapture | None] = [next(s, None) for s in streams]
    dropped = {n: 0 for n in names}
    no_depth = {n: 0 for n in names}
    timeline: list[dict[str, int]] = []

    with staged_output_dir(Path(out), overwrite=overwrite) as stage:
        writer = RecordingWriter(stage, calibration, jpeg_quality=params.jpeg_quality)
        frame = 0
        while pending[0] is not None and (max_frames is None or frame < max_frames):
            ref_ts = pending[0].timestamp_us
            matched: dict[int, KinectCapture] = {}
            for i in range(len(devices)):
                while pending[i] is not None and pending[i].timestamp_us < ref_ts - tol:
                    dropped[names[i]] += 1
                    pending[i] = next(streams[i], None)
                if pending[i] is not None and abs(pending[i].timestamp_us - ref_ts) <= tol:
                    matched[i] = pending[i]
                    pending[i] = next(streams[i], None)
            times = {}
            for i, cap in matched.items():
                _write_capture(writer, cameras[i], frame, cap, registrars[i])
                if cap.depth_mm is None:
                    no_depth[names[i]] += 1
                times[names[i]] = cap.timestamp_us
            timeline.append(times)
            frame += 1
            if progress:
                progress(frame)
        if frame == 0:
            raise InputError(paths[0], "no colour frames found", field="COLOR track")
        report = {"sources": {n: str(p.resolve()) for n, p in zip(names, paths, strict=True)},
                  "sync_tolerance_ms": params.sync_tolerance_ms,
                  "frames": frame, "dropped_captures": dropped, "colour_without_depth": no_depth,
                  "timestamps_us": timeline}
        atomic_write_text(stage / "import.json", json.dumps(report, indent=1) + "\n")
    return ImportSummary(cameras=names, frames=frame, dropped=dropped, colour_without_depth=no_depth, world=world)


def _write_capture(writer: RecordingWriter, cam: Camera, frame: int, cap: KinectCapture,
                   registrar: DepthToColor) -> None:
    if cap.depth_mm is not None:
        registered = registrar.register(cap.depth_mm)
    else:  # no depth for this capture: "no reading" everywhere; later stages trust the 3D estimate
        registered = np.zeros((cam.height, cam.width), np.uint16)
    if cap.color_jpeg is not None:  # MJPEG frames are complete JPEG files: copy, do not re-encode
        atomic_write_bytes(writer.root / cam.name / "color" / frame_file_name(frame, ".jpg"), cap.color_jpeg)
        write_image(writer.root / cam.name / "depth" / frame_file_name(frame, ".png"), registered)
    else:
        writer.write_view(cam, frame, cap.color_bgr, registered)
