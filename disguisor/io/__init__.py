"""Reading and writing recordings: calibration, frames, Azure Kinect import, atomic output."""

from disguisor.io.calibration import Calibration, Camera, load_calibration, save_calibration
from disguisor.io.recording import Recording, View, open_recording

__all__ = ["Calibration", "Camera", "Recording", "View", "load_calibration", "open_recording",
           "save_calibration"]
