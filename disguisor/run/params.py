"""Settings of ``disguisor run`` (the stage modules keep their own parameter dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

OnError = Literal["blur", "withhold"]
Method = Literal["template", "blur", "pixelate", "blacken"]

STAGES = ("keypoints", "pose3d", "fit", "render")


@dataclass(frozen=True)
class FailClosedParams:
    """How a view is hidden when its frame could not be anonymized, and the fallback for a
    person found in 3D whose face surface could not be made.

    full_blur_width_px: a failed view is shrunk to this width (area averaging), enlarged back
      and blurred: no face survives at any size. head_radius_m: radius of the sphere around the
      head joints that is blurred for a person without a face surface (metres).

    A person detected in 2D whom no 3D person explains (seen by one camera only, at the edge of
    the room, or missed by the association) still has their head blurred in that view:
    head_keypoint_score: the score a head keypoint (nose, eyes, ears) needs to count; a
    detection needs two. explained_px / explained_share: a detection is explained by a 3D
    person when the median distance between its keypoints and that person's projected joints
    is below the larger of explained_px and explained_share x the detection's size (pixels).
    head_disk_scale / min_head_radius_px: the blurred disk around the head keypoints' centre
    has a radius of head_disk_scale x their largest spread (at least that many pixels; twice
    that spread when no ear is seen, since eyes and nose span only the middle of the face).
    """

    full_blur_width_px: int = 24
    head_radius_m: float = 0.16
    head_keypoint_score: float = 0.3
    explained_px: float = 20.0
    explained_share: float = 0.15
    head_disk_scale: float = 1.0
    min_head_radius_px: int = 10


@dataclass(frozen=True)
class RunParams:
    """Options of one run (all but the paths are part of the stages' cache keys).

    keypoints_file: precomputed 2D keypoints (COCO keypoint format) instead of a detector.
    detector: 2D pose detector when no keypoints file is given. model / smpl_dir: body model.
    method: how faces are replaced. template: fixed template name for everyone (None: one per
    person, stable). also_2d: a 2D face detector whose faces are also hidden (hybrid mode).
    on_error: what a view of a failed frame becomes. video: also write one MP4 per camera.
    jpeg_quality: of the output images. from_stage: rerun this stage and all after it.
    """

    keypoints_file: Path | None = None
    detector: str = "blazepose"
    pose_model: Path | None = None
    model: str = "anny"
    smpl_dir: Path | None = None
    method: Method = "template"
    template: str | None = None
    also_2d: str | None = None
    also_2d_weights: Path | None = None
    on_error: OnError = "blur"
    video: bool = False
    jpeg_quality: int = 95
    from_stage: str | None = None
    fail_closed: FailClosedParams = FailClosedParams()
    render: Any = None  # disguisor.render.params.RenderParams; None = its defaults
