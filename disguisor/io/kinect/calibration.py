"""Azure Kinect factory calibration (the MKV attachment ``calibration.json``) scaled to the recorded modes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from disguisor.errors import InputError
from disguisor.geometry import rotation_error

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
