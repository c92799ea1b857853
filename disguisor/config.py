"""Every tunable default of the pipeline, in one place.

Stage functions take these dataclasses as parameters, so a caller (or the CLI) can change a
value without hunting for constants in the code. Units are in the field names or comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Frame files are named by their integer frame number, zero-padded to this many digits.
FRAME_NUMBER_DIGITS = 6

# Metres per unit of the uint16 depth PNGs of a recording (millimetres).
DEFAULT_DEPTH_SCALE_M = 0.001

# A camera rotation counts as orthonormal when max |R^T R - I| and |det R - 1| stay below this.
ROTATION_TOLERANCE = 1e-3

MissingFramePolicy = Literal["error", "drop", "partial"]


@dataclass(frozen=True)
class RecordingParams:
    """How a recording on disk is indexed.

    missing_frames: what to do when a frame number exists for some cameras but not others.
      ``partial`` (default) keeps the frame with the cameras that have it, so every image that
      exists is still processed (nothing is silently left out of anonymization); ``drop`` keeps
      only frames present in every camera; ``error`` refuses the recording.
    """

    missing_frames: MissingFramePolicy = "partial"


@dataclass(frozen=True)
class FusionParams:
    """Depth-to-point-cloud fusion.

    pixel_stride: use every n-th pixel in x and y. At 2, a 1280x720 view at 3 m still samples the
      surface every ~1 cm, the default voxel size, so fusion loses nothing and runs 4x faster.
    voxel_size_m: edge of the voxel grid used to merge the views (0 disables downsampling).
    min_depth_m / max_depth_m: readings outside this range are ignored (sensor limits).
    outlier_neighbors / outlier_std_ratio: statistical outlier removal (0 neighbours disables it).
    """

    pixel_stride: int = 2
    voxel_size_m: float = 0.01
    min_depth_m: float = 0.25
    max_depth_m: float = 6.0
    outlier_neighbors: int = 0
    outlier_std_ratio: float = 2.0


@dataclass(frozen=True)
class KinectImportParams:
    """Azure Kinect MKV import.

    sync_tolerance_ms: colour and depth of one device, and captures of different devices, are
      paired when their timestamps differ by at most this much (Kinect runs at 5/15/30 fps).
    depth_edge_jump_mm: neighbouring depth pixels further apart than this are a discontinuity;
      their footprints are not joined when depth is registered into the colour camera.
    jpeg_quality: quality for colour frames that must be re-encoded (MJPEG is copied unchanged).
    """

    sync_tolerance_ms: float = 16.0
    depth_edge_jump_mm: float = 50.0
    jpeg_quality: int = 95
