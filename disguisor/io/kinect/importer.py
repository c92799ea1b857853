"""``disguisor import kinect``: several Kinect MKVs + extrinsics -> a recording in the project's format."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from disguisor.config import KinectImportParams
from disguisor.errors import InputError
from disguisor.geometry import rotation_error
from disguisor.io.atomic import atomic_write_bytes, atomic_write_text, staged_output_dir, write_image
from disguisor.io.calibration import CAMERA_ROLES, Calibration, Camera
from disguisor.io.jsonfields import read_json
from disguisor.io.kinect.calibration import KINECT_DEPTH_RANGE_M
from disguisor.io.kinect.mkv import KinectCapture, KinectRecording
from disguisor.io.kinect.registration import DepthToColor
from disguisor.io.recording import frame_file_name
from disguisor.io.writer import RecordingWriter

log = logging.getLogger(__name__)


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
    data = read_json(path)
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
