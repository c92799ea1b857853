"""Azure Kinect import on generated MKV files (no ../shared needed): colour formats, timestamp
pairing across devices, missing depth, accelerometer levelling."""

import json

import cv2
import numpy as np
import pytest

from disguisor.io.kinect import KinectRecording, import_kinect
from disguisor.io.recording import open_recording

from .k4a_fixture import write_fake_k4a_mkv


def fake_calibration(serial: str = "000111222333") -> dict:
    """A plausible raw Azure Kinect calibration (normalized intrinsics, metres, identity IMU)."""
    def camera(purpose, params, sensor, rt_rot, rt_t, radius):
        return {"Intrinsics": {"ModelParameterCount": 14, "ModelParameters": params,
                               "ModelType": "CALIBRATION_LensDistortionModelBrownConrady"},
                "Purpose": purpose, "MetricRadius": radius, "SensorWidth": sensor[0], "SensorHeight": sensor[1],
                "Rt": {"Rotation": rt_rot, "Translation": rt_t}}
    rot = cv2.Rodrigues(np.array([-0.08, 0.0005, 0.001]))[0].ravel().tolist()
    return {"CalibrationInformation": {
        "Cameras": [
            camera("CALIBRATION_CameraPurposeDepth",
                   [0.51, 0.515, 0.492, 0.492, 0.55, -0.02, -0.003, 0.89, 0.086, -0.014, 0, 0, -7e-5, 2e-5],
                   (1024, 1024), np.eye(3).ravel().tolist(), [0, 0, 0], 1.74),
            camera("CALIBRATION_CameraPurposePhotoVideo",
                   [0.5, 0.507, 0.478, 0.637, 0.33, -2.49, 1.45, 0.21, -2.30, 1.38, 0, 0, -1.3e-4, -1.6e-4],
                   (4096, 3072), rot, [-0.032, -0.0022, 0.0039], 0),
        ],
        "InertialSensors": [{"SensorType": "CALIBRATION_InertialSensorType_Accelerometer",
                             "Rt": {"Rotation": np.eye(3).ravel().tolist(), "Translation": [0, 0, 0]}}],
        "Metadata": {"SerialId": serial}}}


def scene(n: int, seed: int = 0):
    """n colour frames (720p, gradients and shapes) and n depth frames (NFOV, 0.5-3 m)."""
    rng = np.random.default_rng(seed)
    colors, depths = [], []
    for i in range(n):
        img = np.zeros((720, 1280, 3), np.uint8)
        img[..., 0] = np.linspace(0, 255, 1280, dtype=np.uint8)[None]
        img[..., 1] = np.linspace(0, 255, 720, dtype=np.uint8)[:, None]
        img[..., 2] = 60 + 40 * i
        cv2.circle(img, (300 + 80 * i, 360), 90, (30, 200, 240), -1)
        colors.append(cv2.GaussianBlur(img, (5, 5), 0))
        depth = np.full((576, 640), 2000, np.uint16)
        depth[100:300, 200 + 20 * i:400 + 20 * i] = 900
        depth += rng.integers(0, 20, depth.shape, dtype=np.uint16)
        depth[:20] = 0  # no reading
        depths.append(depth)
    return colors, depths


@pytest.mark.parametrize("fmt, max_mean_error", [("MJPG", 2.0), ("BGRA", 0.0), ("NV12", 3.0), ("YUY2", 3.0)])
def test_colour_formats_and_depth_decode(tmp_path, fmt, max_mean_error):
    colors, depths = scene(3)
    ts = [0, 33_333, 66_667]
    path = tmp_path / f"{fmt}.mkv"
    write_fake_k4a_mkv(path, colors, depths, ts, fake_calibration(), color_format=fmt)
    k = KinectRecording(path)
    assert k.color_size == (1280, 720) and k.depth_size == (640, 576)
    caps = list(k.captures(16_000))
    assert [c.timestamp_us for c in caps] == ts
    for cap, color, depth in zip(caps, colors, depths, strict=True):
        np.testing.assert_array_equal(cap.depth_mm, depth)  # depth is lossless, big-endian decoded
        if fmt == "MJPG":
            assert cap.color_bgr is None
            decoded = cv2.imdecode(np.frombuffer(cap.color_jpeg, np.uint8), cv2.IMREAD_COLOR)
        else:
            assert cap.color_jpeg is None
            decoded = cap.color_bgr
        assert np.abs(decoded.astype(int) - color).mean() <= max_mean_error


def test_devices_paired_by_timestamp(tmp_path):
    """Device b misses one capture and has one extra: frames follow device a, b gets a gap."""
    colors, depths = scene(5)
    calib_b = fake_calibration("000999888777")
    write_fake_k4a_mkv(tmp_path / "a.mkv", colors[:4], depths[:4], [0, 33_333, 66_667, 100_000],
                       fake_calibration())
    write_fake_k4a_mkv(tmp_path / "b.mkv", colors[:4], depths[:4], [1_200, 34_000, 101_500, 133_000], calib_b)
    ext = {"cameras": {name: {"role": role, "camera_to_world": {"rotation": np.eye(3).tolist(),
                                                                "translation": [x, 0.0, 2.0]}}
                       for name, role, x in (("a", "workflow", -1.0), ("b", "surgical", 1.0))}}
    (tmp_path / "ext.json").write_text(json.dumps(ext))
    summary = import_kinect([tmp_path / "a.mkv", tmp_path / "b.mkv"], tmp_path / "rec", tmp_path / "ext.json")
    assert summary.frames == 4
    rec = open_recording(tmp_path / "rec")
    assert rec.frames == [0, 1, 2, 3]
    assert rec.missing == {"b": [2]}
    report = json.loads((tmp_path / "rec" / "import.json").read_text())
    assert report["timestamps_us"] == [{"a": 0, "b": 1_200}, {"a": 33_333, "b": 34_000}, {"a": 66_667},
                                       {"a": 100_000, "b": 101_500}]
    # the second device's frame 3 is its third capture (the one at 101.5 ms), i.e. colors[2]
    b3 = rec.read_color(rec.calibration.camera("b"), 3).astype(int)
    assert np.abs(b3 - colors[2]).mean() < 2.0 < np.abs(b3 - colors[3]).mean()
    assert rec.calibration.camera("b").role == "surgical"
    np.testing.assert_allclose(rec.calibration.camera("b").t, [1.0, 0.0, 2.0])


def test_colour_without_depth_gets_no_reading(tmp_path):
    colors, depths = scene(3)
    write_fake_k4a_mkv(tmp_path / "a.mkv", colors, depths, [0, 33_333, 66_667], fake_calibration(),
                       depth_timestamps_us=[0, 33_333, 90_000])  # last depth 23 ms late: unpaired
    summary = import_kinect([tmp_path / "a.mkv"], tmp_path / "rec")
    assert summary.colour_without_depth == {"a": 1}
    rec = open_recording(tmp_path / "rec")
    cam = rec.cameras[0]
    assert rec.read_depth(cam, 2).max() == 0
    assert rec.read_depth(cam, 1).max() > 0


def test_accelerometer_levels_the_world(tmp_path):
    colors, depths = scene(1)
    # the accelerometer (aligned with the depth camera here) reads 'up' along the image's -y
    write_fake_k4a_mkv(tmp_path / "a.mkv", colors, depths, [0], fake_calibration(), imu_accel=[0.0, -9.81, 0.0])
    k = KinectRecording(tmp_path / "a.mkv")
    np.testing.assert_allclose(k.gravity_up_depth, [0, -1, 0], atol=1e-6)
    import_kinect([tmp_path / "a.mkv"], tmp_path / "rec")
    cam = open_recording(tmp_path / "rec").cameras[0]
    up_in_colour = cam.R.T @ np.array([0.0, 0.0, 1.0])
    expected = k.calibration.depth_to_color_R @ np.array([0.0, -1.0, 0.0])
    np.testing.assert_allclose(up_in_colour, expected, atol=1e-9)
    # the world's y axis is the viewing direction flattened onto the floor
    forward = cam.R @ np.array([0.0, 0.0, 1.0])
    assert forward[1] > 0.9 and abs(forward[0]) < 1e-9
