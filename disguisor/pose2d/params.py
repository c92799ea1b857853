"""Tunable defaults of the 2D keypoint stage (person proposals, detectors, de-duplication)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeightBand:
    """A slab of the world (z up, metres) in which people are clustered on the floor plane.

    z_min, z_max: the slab. max_footprint_m: longest side of a cluster's floor footprint that still
    counts as one person (standing people are narrow columns; a lying patient is long).
    """

    z_min: float
    z_max: float
    max_footprint_m: float


@dataclass(frozen=True)
class ProposalParams:
    """Person proposals from depth: 3D clusters of above-floor points projected into every view.

    target_columns: depth images are subsampled to about this many columns (speed; people stay
    tens of samples wide). cell_m: floor grid cell. min_points_per_cell: cells with fewer points
    (all views together) are noise. bands: slabs clustered separately, their clusters pooled:
    heads and shoulders of standing people (above table height, so people beside the table do not
    merge with it), and a body-height slab for lying or bending people. min_footprint_m: smaller
    clusters are clutter. box_pad_m: margin around a cluster's footprint; the 3D box reaches from
    the floor to ``top_pad_m`` above the cluster's highest point. min_box_px: a projected box
    smaller than this (pixels) is skipped; min_inside: share of the projected box that must lie
    in the image. background_*: optional static background (per-pixel far percentile of depth
    over up to ``background_max_frames`` frames of the recording); used only when the recording
    has at least ``background_min_frames`` frames, because in a short clip people who stand
    still would become background. Points within ``background_margin_m`` of the background are
    dropped.
    """

    target_columns: int = 160
    max_depth_m: float = 8.0
    cell_m: float = 0.05
    min_points_per_cell: int = 2
    bands: tuple[HeightBand, ...] = (HeightBand(1.15, 2.1, 1.0), HeightBand(0.5, 1.6, 2.3))
    min_footprint_m: float = 0.12
    box_pad_m: float = 0.15
    top_pad_m: float = 0.15
    min_box_px: float = 24.0
    min_inside: float = 0.3
    use_background: bool = True
    background_min_frames: int = 30
    background_max_frames: int = 40
    background_percentile: float = 90.0
    background_margin_m: float = 0.15


@dataclass(frozen=True)
class BlazePoseParams:
    """BlazePose (MediaPipe legacy pose solution, full model, offline).

    crop_margin: proposal boxes grow by this share of their size on every side before cropping;
    crops are made square (padded with grey) and scaled so their side is at most ``max_crop_px``.
    people_per_crop: after a person is found in a crop (or the whole image) it is painted over
    with its segmentation mask and the crop is searched again, up to this many people.
    min_detection / min_joint_score: BlazePose's detector threshold and the joint visibility
    below which a joint counts as not detected (score 0). min_joints: fewer detected joints ->
    the person is dropped. whole_image: also search the whole image (people no proposal covers).
    """

    crop_margin: float = 0.2
    max_crop_px: int = 512
    people_per_crop: int = 2
    whole_image_people: int = 3
    whole_image: bool = True
    min_detection: float = 0.4
    min_joint_score: float = 0.3
    min_joints: int = 6
    min_person_score: float = 0.5
    mask_threshold: float = 0.3
    mask_dilate_px: int = 7


@dataclass(frozen=True)
class OnnxPoseParams:
    """RTMPose (top-down, SimCC) and RTMO (one-stage) ONNX models as exported by MMPose/MMDeploy.

    rtmpose_input_hw: used when the model's input size is dynamic. bbox_padding: person boxes grow
    by this factor (MMPose's 1.25). mean/std: RGB normalization of RTMPose inputs (ImageNet, 0-255).
    simcc_split_ratio: SimCC bins per input pixel. rtmo_input_hw / rtmo_pad_value: RTMO letterbox
    (raw BGR 0-255, padded with grey 114). rtmo_score / rtmo_nms_iou: person score threshold and
    box NMS IoU. min_joint_score: joints below it are written with score 0.
    """

    rtmpose_input_hw: tuple[int, int] = (256, 192)
    bbox_padding: float = 1.25
    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    simcc_split_ratio: float = 2.0
    rtmo_input_hw: tuple[int, int] = (640, 640)
    rtmo_pad_value: int = 114
    rtmo_score: float = 0.5
    rtmo_nms_iou: float = 0.45
    min_joint_score: float = 0.3
    min_person_score: float = 0.3
    min_joints: int = 4


@dataclass(frozen=True)
class DedupParams:
    """Detections of one image from overlapping crops: object keypoint similarity (COCO's OKS,
    per-joint COCO sigmas, also left-right mirrored) above ``oks_threshold``, or joint boxes
    overlapping by more than ``box_iou_threshold``, or heads closer than ``head_ratio`` x the
    square root of the joint-box area, means the same person; the higher score wins."""

    oks_threshold: float = 0.3
    box_iou_threshold: float = 0.6
    head_ratio: float = 0.15


@dataclass(frozen=True)
class KeypointsParams:
    """All settings of ``disguisor keypoints``."""

    proposals: ProposalParams = ProposalParams()
    blazepose: BlazePoseParams = BlazePoseParams()
    onnx: OnnxPoseParams = OnnxPoseParams()
    dedup: DedupParams = DedupParams()
