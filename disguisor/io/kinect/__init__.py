"""Azure Kinect MKV import without the Azure Kinect SDK (PyAV decodes the Matroska file).

What a K4A recording holds: a COLOR track (MJPEG, or raw BGRA/NV12/YUY2), a DEPTH track (raw
``b16g``: big-endian uint16 millimetres), IR, IMU samples, and the factory calibration as the
attachment ``calibration.json``. This package

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

from disguisor.io.kinect.calibration import KinectCalibration, KinectLens, parse_kinect_calibration
from disguisor.io.kinect.importer import ImportSummary, gravity_aligned_pose, import_kinect, load_extrinsics
from disguisor.io.kinect.mkv import KinectCapture, KinectRecording
from disguisor.io.kinect.registration import DepthToColor

__all__ = ["DepthToColor", "ImportSummary", "KinectCalibration", "KinectCapture", "KinectLens", "KinectRecording",
           "gravity_aligned_pose", "import_kinect", "load_extrinsics", "parse_kinect_calibration"]
