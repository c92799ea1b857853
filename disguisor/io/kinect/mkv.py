"""Reading an Azure Kinect MKV with PyAV: colour, depth and calibration, captures paired by timestamp."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from disguisor.errors import InputError
from disguisor.io.kinect.calibration import EARTH_GRAVITY, parse_kinect_calibration

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
