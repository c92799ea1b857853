"""Azure Kinect import, checked on the real sample recording (skipped when ../shared is absent)."""

import dataclasses
import json

import av
import cv2
import numpy as np
import pytest

from disguisor.errors import InputError
from disguisor.geometry import undistort_pixels
from disguisor.io.kinect import DepthToColor, KinectRecording, import_kinect, load_extrinsics
from disguisor.io.recording import open_recording


@pytest.fixture(scope="module")
def raw_calibration(kinect_sample) -> dict:
    with av.open(str(kinect_sample)) as container:
        att = next(s for s in container.streams if s.type == "attachment")
        return json.loads(bytes(att.data))


@pytest.fixture(scope="module")
def sample(kinect_sample) -> KinectRecording:
    return KinectRecording(kinect_sample)


@pytest.fixture(scope="module")
def capture(sample):
    return next(sample.captures(16000))


def _raw(raw_calibration, purpose):
    cams = raw_calibration["CalibrationInformation"]["Cameras"]
    return next(c for c in cams if c["Purpose"] == purpose)


def test_calibration_matches_the_attachment(sample, raw_calibration):
    """Numbers read back equal the attachment's, scaled to the recorded modes as the SDK does."""
    cal = sample.calibration
    col = _raw(raw_calibration, "CALIBRATION_CameraPurposePhotoVideo")["Intrinsics"]["ModelParameters"]
    dep = _raw(raw_calibration, "CALIBRATION_CameraPurposeDepth")["Intrinsics"]["ModelParameters"]
    # 720p colour: the 4096x3072 sensor binned to 1280x960, then 120 rows cropped top and bottom
    assert (cal.color.width, cal.color.height) == (1280, 720)
    np.testing.assert_allclose(cal.color.K[0, 0], col[2] * 1280)
    np.testing.assert_allclose(cal.color.K[1, 1], col[3] * 960)
    np.testing.assert_allclose(cal.color.K[0, 2], col[0] * 1280 - 0.5)
    np.testing.assert_allclose(cal.color.K[1, 2], col[1] * 960 - 120 - 0.5)
    # NFOV unbinned depth: 1024x1024 sensor cropped by (192, 180) to 640x576
    assert (cal.depth.width, cal.depth.height) == (640, 576)
    np.testing.assert_allclose(cal.depth.K[0, 0], dep[2] * 1024)
    np.testing.assert_allclose(cal.depth.K[0, 2], dep[0] * 1024 - 192 - 0.5)
    np.testing.assert_allclose(cal.depth.K[1, 2], dep[1] * 1024 - 180 - 0.5)
    # Brown-Conrady (k1..k6, codx, cody, p2, p1) -> OpenCV rational (k1, k2, p1, p2, k3, k4, k5, k6)
    for lens, p in ((cal.color, col), (cal.depth, dep)):
        np.testing.assert_allclose(lens.dist, [p[4], p[5], p[13], p[12], p[6], p[7], p[8], p[9]])
    rt = _raw(raw_calibration, "CALIBRATION_CameraPurposePhotoVideo")["Rt"]
    np.testing.assert_allclose(cal.depth_to_color_R, np.reshape(rt["Rotation"], (3, 3)))
    np.testing.assert_allclose(cal.depth_to_color_t, rt["Translation"])
    # the colour camera sits ~32 mm beside the depth camera on every Azure Kinect
    assert 0.025 < np.linalg.norm(cal.depth_to_color_t) < 0.040


def test_depth_is_millimetres_in_sensor_range(capture):
    d = capture.depth_mm
    assert d.dtype == np.uint16 and d.shape == (576, 640)
    valid = d[d > 0]
    assert valid.size > 0.5 * d.size
    # the sample looks at a mug on a desk and a wall: 0.15-4 m
    assert 150 <= np.percentile(valid, 1) and np.percentile(valid, 99) <= 4000
    assert 1000 < np.median(valid) < 2000


def _foreground_edges(registered: np.ndarray, roi) -> np.ndarray:
    """Pixels on the near side of a depth jump of 15 cm or more, inside roi (y0, y1, x0, x1)."""
    d = registered.astype(float)
    edge = np.zeros(d.shape, bool)
    for axis in (0, 1):
        for shift in (1, -1):
            nb = np.roll(d, shift, axis=axis)
            edge |= (d > 0) & (nb > 0) & (nb - d > 150)
    mask = np.zeros_like(edge)
    y0, y1, x0, x1 = roi
    mask[y0:y1, x0:x1] = True
    return edge & mask


def _best_alignment_shift(edges: np.ndarray, color: np.ndarray) -> tuple[int, int]:
    """The (dx, dy) shift of the depth edges that lands them on the strongest colour gradients."""
    gray = cv2.GaussianBlur(cv2.cvtColor(color, cv2.COLOR_BGR2GRAY).astype(np.float32), (3, 3), 0)
    grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    ys, xs = np.nonzero(edges)
    scores = {(dx, dy): grad[ys + dy, xs + dx].mean() for dy in range(-8, 9) for dx in range(-8, 9)}
    return max(scores, key=scores.get)


MUG = (340, 690, 220, 620)  # rows, columns of the mug and its handle in the colour image


def test_registered_depth_edges_fall_on_colour_edges(sample, capture):
    """The mug's depth silhouette, registered into colour, lies on the mug's colour outline."""
    color = cv2.imdecode(np.frombuffer(capture.color_jpeg, np.uint8), cv2.IMREAD_COLOR)
    edges = _foreground_edges(DepthToColor(sample.calibration).register(capture.depth_mm), MUG)
    assert edges.sum() > 200
    dx, dy = _best_alignment_shift(edges, color)
    # the near-side edge pixel sits half a pixel from the gradient peak: allow 1 px
    assert abs(dx) <= 1 and abs(dy) <= 1, (dx, dy)

    # the measurement is sensitive: a 1 cm error in the extrinsics is clearly detected
    cal = sample.calibration
    wrong = dataclasses.replace(cal, depth_to_color_t=cal.depth_to_color_t + np.array([0.01, 0.0, 0.0]))
    dx, dy = _best_alignment_shift(_foreground_edges(DepthToColor(wrong).register(capture.depth_mm), MUG), color)
    assert abs(dx) >= 4, (dx, dy)


def test_registration_geometry_is_exact_on_a_plane(sample):
    """A plane in the depth camera, registered into colour, is read back on the same plane."""
    cal = sample.calibration
    d = cal.depth
    # plane z = 1.5 m + 0.3 * x (tilted), written as depth along the optical axis per pixel
    grid = np.stack(np.meshgrid(np.arange(d.width), np.arange(d.height)), -1).reshape(-1, 2).astype(float)
    xy = undistort_pixels(grid, d.K, d.dist)
    z = 1.5 / (1.0 - 0.3 * xy[:, 0])
    depth_mm = np.round(z * 1000).astype(np.uint16).reshape(d.height, d.width)
    registered = DepthToColor(cal).register(depth_mm)
    v, u = np.nonzero(registered)
    assert len(u) > 100_000
    zc = registered[v, u] / 1000.0
    rays = undistort_pixels(np.stack([u, v], 1).astype(float), cal.color.K, cal.color.dist)
    pts_color = np.concatenate([rays * zc[:, None], zc[:, None]], axis=1)
    pts_depth = (pts_color - cal.depth_to_color_t) @ cal.depth_to_color_R  # colour -> depth frame
    residual = pts_depth[:, 2] - (1.5 + 0.3 * pts_depth[:, 0])
    # footprints are flat per depth pixel and depth is stored in whole millimetres
    assert np.percentile(np.abs(residual), 99) < 0.004
    assert abs(np.median(residual)) < 0.001


def test_import_writes_a_valid_recording(kinect_sample, capture, tmp_path):
    out = tmp_path / "rec"
    summary = import_kinect([kinect_sample], out)
    assert summary.frames == 1
    rec = open_recording(out)
    cam = rec.cameras[0]
    assert (cam.width, cam.height) == (1280, 720) and cam.name == "azure_kinect_sample"
    # MJPEG frames are copied byte for byte: no re-encoding loss
    assert rec.color_path(cam.name, 0).read_bytes() == capture.color_jpeg
    raw = cv2.imread(str(rec.depth_path(cam.name, 0)), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    valid = raw[raw > 0]
    assert valid.size > 0.4 * raw.size and valid.max() < 5460
    # the world is levelled with the accelerometer: the desk surface in front is horizontal
    up = cam.R.T @ np.array([0.0, 0.0, 1.0])  # world up in camera coordinates
    assert up[1] < -0.9  # roughly the image's upward direction
    assert abs(np.linalg.det(cam.R) - 1) < 1e-6
    report = json.loads((out / "import.json").read_text())
    assert report["frames"] == 1 and report["timestamps_us"][0]["azure_kinect_sample"] == capture.timestamp_us


def test_import_refuses_existing_output_and_leaves_nothing_half_written(kinect_sample, tmp_path):
    out = tmp_path / "rec"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists"):
        import_kinect([kinect_sample], out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    second = tmp_path / "cam2.mkv"
    second.write_bytes(kinect_sample.read_bytes())
    with pytest.raises(InputError, match="--extrinsics"):
        import_kinect([kinect_sample, second], tmp_path / "two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam2.mkv", "rec"]


def test_not_a_kinect_file(tmp_path):
    bad = tmp_path / "broken.mkv"
    bad.write_bytes(b"\x1a\x45\xdf\xa3 garbage")
    with pytest.raises(InputError) as exc:
        KinectRecording(bad)
    assert str(bad) in str(exc.value)
    with pytest.raises(InputError, match="file not found"):
        KinectRecording(tmp_path / "missing.mkv")


def test_extrinsics_file_errors(tmp_path):
    path = tmp_path / "ext.json"
    path.write_text(json.dumps({"cameras": {"a": {"camera_to_world": {"rotation": [[1, 0, 0], [0, 1, 0], [0, 0, 2]],
                                                                        "translation": [0, 0, 0]}}}}))
    with pytest.raises(InputError) as exc:
        load_extrinsics(path)
    assert exc.value.field == "cameras.a.camera_to_world.rotation"
    path.write_text(json.dumps({"cameras": {"a": {"role": "ceiling", "camera_to_world": {
        "rotation": np.eye(3).tolist(), "translation": [0, 0, 1]}}}}))
    with pytest.raises(InputError, match="role"):
        load_extrinsics(path)


def test_two_devices_with_extrinsics_in_colour_and_depth_frames(kinect_sample, sample, tmp_path):
    """The same capture imported as two devices: one pose given for the colour camera, the other
    for the depth camera. Both must end up with the same colour-camera pose."""
    second = tmp_path / "ceiling.mkv"
    second.write_bytes(kinect_sample.read_bytes())
    R1 = cv2.Rodrigues(np.array([0.3, -0.2, 0.1]))[0]
    t1 = np.array([1.0, -2.0, 2.2])
    Rdc, tdc = sample.calibration.depth_to_color_R, sample.calibration.depth_to_color_t
    ext = {"cameras": {
        "azure_kinect_sample": {"role": "workflow", "camera_to_world": {"rotation": R1.tolist(),
                                                                        "translation": t1.tolist()}},
        sample.calibration.serial: {"role": "surgical", "frame": "depth", "camera_to_world": {
            "rotation": (R1 @ Rdc).tolist(), "translation": (R1 @ tdc + t1).tolist()}},
    }}
    # the second file is found by serial: rename its key so only the serial can match it
    (tmp_path / "ext.json").write_text(json.dumps(ext))
    out = tmp_path / "rec"
    import_kinect([kinect_sample, second], out, tmp_path / "ext.json")
    rec = open_recording(out)
    a, b = rec.cameras
    assert (a.role, b.role) == ("workflow", "surgical")
    np.testing.assert_allclose(a.R, R1, atol=1e-9)
    np.testing.assert_allclose(b.R, R1, atol=1e-6)
    np.testing.assert_allclose(b.t, t1, atol=1e-6)
    assert rec.frames == [0] and len(rec.views(0)) == 2
