"""Tunable defaults of the 2D keypoint stage (person proposals, detectors, de-duplication)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

    lying: also look for people lying along long, low clusters (all points, no background model,
    in the slab ``lying_z_m``): footprints ``lying_length_m`` long (a patient with the table under
    them and the staff beside them merged in is longer than the lying band's box allows; the
    table alone is longer than the lower bound: on the 42 tuning and fresh recordings the largest
    such cluster was 2.03-2.2 m long in all 210 frames checked, the only other one, 1.4 m, a nurse
    beside a trolley that the crop read as a lying person) and at least ``lying_min_width_m`` wide
    (walls and bars are thinner); their crops reach ``lying_pad_m``
    beyond each end and are turned so the long axis runs upright (see ``MoveNetParams``). Only
    cameras looking down at least ``lying_min_down_deg`` get these crops: on the tuning and fresh
    recordings (seeds 0-6, 42 recordings, frames 0 and 5) the crops found the patient in 73 and 69
    of 84 images of the two ceiling cameras (looking down 57-60 degrees), in 5 of 163 of the workflow
    cameras (18 degrees), whose box crops turned by a quarter already see a lying person.
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
    lying: bool = True
    lying_z_m: tuple[float, float] = (0.5, 1.6)
    lying_length_m: tuple[float, float] = (1.6, 4.0)
    lying_min_width_m: float = 0.3
    lying_pad_m: float = 0.2
    lying_min_down_deg: float = 45.0

    def __post_init__(self) -> None:
        for name in ("lying_z_m", "lying_length_m"):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"needs [low, high] with low < high, not [{float(lo):g}, {float(hi):g}]")


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
    model_complexity: 1 = BlazePose GHUM full (ships in the mediapipe wheel), 2 = heavy (``make
    install`` copies it from npm ``@mediapipe/pose``; ~0.2 s per 720p image instead of ~0.1 s).
    """

    model_complexity: int = 1
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
class MoveNetParams:
    """MoveNet MultiPose Lightning (ONNX, ships in ``disguisor/assets/models``), see
    :mod:`disguisor.pose2d.movenet`. Measured with ``benchmarks/bench_detectors.py`` on synthetic
    recordings (1280x720, 4 cameras, seed 0; BENCHMARKS.md, "2D people finders"): in the ensemble,
    one whole-image tile and orientation search in at most 2 boxes per image found as many people
    (113 of 156) as 2 tiles and a search in every box (111-113), at 6.3 instead of 9.5-15.6 CPU
    seconds per 4-camera frame; crops add 0.09-0.21 recall over the whole image alone (seeds 0-2);
    orientation search +0.01 on seed 0 but -0.01 on seeds 1 and 2 (``rotations = (0.0,)`` saves
    ~1.4 CPU s per frame).

    threads: onnxruntime threads (the keypoint stage's budget is 2 cores); spin_wait: idle threads
    busy-wait (onnxruntime's default) instead of sleeping: a 256 px crop took 63 instead of 30 ms
    (median, 2 threads) on the 2-core machine beside other jobs, the same on free cores; outputs are
    the same either way. whole_image: run on the
    whole image (or its tiles) too; tiles: the image is split into this many side-by-side tiles
    overlapping by ``tile_overlap`` of a tile's width, each resized so its longer side is
    ``whole_long_px`` pixels (MoveNet wants people >= ~60 px tall); whole_rotations: the whole image
    is searched turned by each of these angles (degrees counter-clockwise, multiples of 90).
    crops: run on a square crop (``crop_px`` pixels) around each person box, grown by
    ``crop_margin`` of the box's longer side per side; a box overlapping an earlier one by more than
    ``same_box_iou`` (IoU) is skipped. rotations: counter-clockwise angles (degrees) tried per crop, in this order; the
    next angle is tried only while no person with score >= ``rotate_below`` has its centre in the
    box (orientation search); at most ``max_rotated_crops`` boxes per image get the search (it is the
    costly part: up to 3 model runs per box). skip_found: a box about one person's size (area <= 2x
    the person's joint box) holding exactly one whole-image person with at least this score gets no
    crop (None: every box is cropped). Crops along lying proposals' axes
    (``ProposalParams.lying``, the largest first, at most ``max_lying_crops`` per image) are
    searched with each end up in turn for one person with score >= ``lying_min_score`` whose body
    runs within ``lying_align_deg`` of the axis, skipped where such a person was already found (the
    synthetic recordings have one such crop per ceiling image; the cap bounds furnished rooms).
    Such a person is dropped where their head sits on the head of a person found otherwise in
    the image (within ``lying_other_head_ratio`` x the square root of that person's joint box
    area, as ``EnsembleParams.head_ratio``): staff bending over the patient's head, taken for it.
    On 201 ceiling images (seeds 0-6, frames 0/3/5/8) where the crop found the patient with a
    head, this dropped 17 of the 24 readings whose head was >= 3% of the crop's side off, and 11
    of the 177 good ones (the other ceiling camera mostly has the patient).
    min_person_score: MoveNet's person score below which a pose is
    dropped; min_joint_score: joints below it get score 0; min_joints: fewer detected joints ->
    dropped.

    Per view (the images of one camera in frame order, as ``disguisor run`` gives them): a box
    overlapping by more than ``empty_box_iou`` (IoU) a box in which every rotation found nobody at
    all in that view's last image is skipped (None: never), at most ``empty_recheck`` images in a
    row, then cropped again (a box left unturned stays a candidate: remembering those after an
    upright crop alone lost a person in 3D on hard 640x480 seed 0). With ``rotate_patience`` set,
    after that many images in a row whose orientation search found nobody, a view's search runs
    only in every ``rotate_recheck``-th image (until it finds someone again); None (default): it
    never pauses. Measured (BENCHMARKS.md, "Keypoint stage speed"): a third of the upright crops
    find nobody, mostly furniture boxes of clips too short for a background model; the 180-degree
    turn, tried last, added nobody on the tuning recordings. The defaults cut the crop runs by 12%
    (6 recordings, 1280x720, seeds 0-1: every=1 4988 -> 4372, every=3 2016 -> 1772) and found as
    many person-views (744 -> 745 and 300 -> 301 of 1011). Pausing the search (patience 1) saved
    another ~10% of the crop runs with the same 2D recall, but end to end it lost people at
    640x480 (medium seed 4: 3D recall 0.967 -> 0.850, hidden 0.883 -> 0.817; medium seed 0 hidden
    0.967 -> 0.917): the people a ceiling camera finds only turned decide the 3D association.
    """

    threads: int = 2
    spin_wait: bool = False
    whole_image: bool = True
    tiles: int = 1
    tile_overlap: float = 0.25
    whole_long_px: int = 512
    whole_rotations: tuple[float, ...] = (0.0,)
    crops: bool = True
    same_box_iou: float = 0.6
    crop_px: int = 256
    crop_margin: float = 0.15
    rotations: tuple[float, ...] = (0.0, 90.0, 270.0)
    rotate_below: float = 0.5
    max_rotated_crops: int = 2
    rotate_patience: int | None = None
    rotate_recheck: int = 3
    skip_found: float | None = 0.5
    empty_box_iou: float | None = 0.8
    empty_recheck: int = 3
    max_lying_crops: int = 2
    lying_min_score: float = 0.3
    lying_align_deg: float = 35.0
    lying_other_head_ratio: float = 0.15
    min_person_score: float = 0.2
    min_joint_score: float = 0.2
    min_joints: int = 5


@dataclass(frozen=True)
class CenterNetParams:
    """CenterNet (MobileNetV3, COCO, ONNX in ``disguisor/assets/models``) person boxes, an extra box
    source beside the depth proposals. The image is resized (not letterboxed, as in training) to
    ``input_px`` square. min_score: person score below which a box is dropped; nms_iou: boxes
    overlapping more than this (IoU) keep only the best; max_boxes: at most this many per image;
    min_box_px: boxes shorter or narrower than this (pixels of the full image) are dropped.
    threads: onnxruntime threads; spin_wait: as MoveNet's (off: idle threads sleep).
    """

    threads: int = 2
    input_px: int = 512
    min_score: float = 0.2
    nms_iou: float = 0.5
    max_boxes: int = 12
    min_box_px: float = 24.0
    spin_wait: bool = False


@dataclass(frozen=True)
class EnsembleParams:
    """The ensemble detector (:mod:`disguisor.pose2d.ensemble`): person boxes from the depth
    proposals and from CenterNet (``centernet_boxes``; a CenterNet box overlapping a given box by more
    than ``box_iou_same`` (IoU) adds nothing), MoveNet on the whole image and on oriented crops of
    every box, BlazePose on the boxes too when ``blazepose`` is set. Poses of the same person (OKS >
    ``oks_threshold``, joint boxes IoU > ``box_iou_threshold`` or heads closer than ``head_ratio`` x the
    square root of the box area) merge into one: joints within ``joint_radius`` x that square root of
    the best pose's joint are averaged (weighted by score), each joint's confidence is the highest
    of the members that saw it.
    """

    centernet_boxes: bool = True
    box_iou_same: float = 0.7
    blazepose: bool = False
    oks_threshold: float = 0.3
    box_iou_threshold: float = 0.6
    head_ratio: float = 0.15
    joint_radius: float = 0.1


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
    """All settings of the 2D keypoint stage (``[keypoints]`` of the pipeline configuration).

    detector: the 2D pose detector (see ``disguisor.pose2d.command.DETECTORS``). Default
    ``ensemble`` (MoveNet MultiPose on the whole image and on crops of the depth proposals and
    CenterNet boxes, merged per person): on synthetic OR recordings (seeds 0-2) it finds 0.72-0.78
    of the visible person-views at precision 0.90-0.95, BlazePose 0.62-0.67 at 0.64-0.66
    (BENCHMARKS.md, "2D people finders"). ``file``: read
    ``file`` (COCO keypoint format, from any tool) instead. pose_model: the ONNX model of the
    ``rtmpose`` / ``rtmo`` detectors (supplied by the user). every: run the detectors on every
    ``every``-th frame only (and the last); 3D tracking carries people over the frames between
    (gap filling, then the head refined against each frame's depth).
    """

    detector: str = "ensemble"
    pose_model: Path | None = None
    file: Path | None = None
    every: int = 1
    proposals: ProposalParams = ProposalParams()
    blazepose: BlazePoseParams = BlazePoseParams()
    movenet: MoveNetParams = MoveNetParams()
    centernet: CenterNetParams = CenterNetParams()
    ensemble: EnsembleParams = EnsembleParams()
    onnx: OnnxPoseParams = OnnxPoseParams()
    dedup: DedupParams = DedupParams()

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be >= 1 (1 = every frame), not {self.every}")

