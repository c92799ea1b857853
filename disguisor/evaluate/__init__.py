"""Face-localization evaluation of the DisguisOR paper (``disguisor eval``).

Ground truth in COCO style with a camera and a frame per image and a person per face box;
predictions in the COCO results format (formats in :mod:`disguisor.evaluate.coco`).
Predictions are matched to ground truth one-to-one per image (Hungarian, IoU >= 0.4) and
scored as recall, precision, F1 and *holistic* recall (a face counts only if it is found in
every view where it has a box), overall and per camera role, camera and scenario (rules in
:mod:`disguisor.evaluate.metrics`; table, JSON and plots in :mod:`disguisor.evaluate.report`).
Beside the boxes, :mod:`disguisor.evaluate.pixels` measures privacy from the pixels: the share of
ground-truth face boxes actually changed between the original and the anonymized images.

>>> gt = load_ground_truth("annotations.json")                      # doctest: +SKIP
>>> result = evaluate(gt, load_predictions("detections.json", gt))  # doctest: +SKIP
>>> result.overall.holistic_recall                                   # doctest: +SKIP
"""

from disguisor.evaluate.coco import (
    Detection,
    FaceBox,
    GroundTruth,
    ImageInfo,
    Predictions,
    ground_truth_from_json,
    load_camera_roles,
    load_ground_truth,
    load_predictions,
    predictions_from_json,
)
from disguisor.evaluate.metrics import (
    DEFAULT_IOU_THRESHOLD,
    EvaluationResult,
    HolisticMiss,
    Match,
    Scores,
    box_iou,
    evaluate,
    iou,
    match_boxes,
)
from disguisor.evaluate.pixels import PixelParams, PixelResult, PixelScores, changed_shares, measure_pixel_privacy

__all__ = [
    "DEFAULT_IOU_THRESHOLD", "Detection", "EvaluationResult", "FaceBox", "GroundTruth", "HolisticMiss",
    "ImageInfo", "Match", "PixelParams", "PixelResult", "PixelScores", "Predictions", "Scores", "box_iou",
    "changed_shares", "measure_pixel_privacy", "evaluate", "ground_truth_from_json", "iou",
    "load_camera_roles", "load_ground_truth", "load_predictions", "match_boxes", "predictions_from_json",
]
