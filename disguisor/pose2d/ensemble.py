"""The 2D people finder that combines several offline models in one view.

Person boxes come from the depth proposals (given by the caller) and from CenterNet; MoveNet
MultiPose runs on the whole image (tiled) and on every box's crop with orientation search;
BlazePose can join on the boxes. All readings of one person merge into one pose with per-joint
confidences (:func:`disguisor.pose2d.detector.merge_poses`). Pixels of the full image throughout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from disguisor.pose2d.centernet import CenterNetBoxes
from disguisor.pose2d.detector import Box, PersonPose, box_iou, merge_poses
from disguisor.pose2d.movenet import MoveNetDetector
from disguisor.pose2d.orient import AxisCrop
from disguisor.pose2d.params import KeypointsParams


def add_boxes(given: Sequence[Box], extra: Sequence[Box], iou_same: float) -> list[Box]:
    """``given`` plus each box of ``extra`` that overlaps none of the boxes so far by more than
    ``iou_same`` (IoU)."""
    out = list(given)
    for b in extra:
        if all(box_iou(b, a) <= iou_same for a in out):
            out.append(b)
    return out


class EnsembleDetector:
    """``detect(image_rgb, boxes)``: one pose per person found by any member (see the module doc)."""

    name = "ensemble"
    remembers_views = True  # detect() takes the camera's name (images of a view in frame order)
    looks_along_axes = True  # detect() takes crops along lying proposals' axes

    def __init__(self, params: KeypointsParams | None = None) -> None:
        self.params = params or KeypointsParams()
        self.movenet = MoveNetDetector(self.params.movenet)
        self.centernet = CenterNetBoxes(self.params.centernet) if self.params.ensemble.centernet_boxes else None
        self.blazepose = None
        if self.params.ensemble.blazepose:
            from disguisor.pose2d.blazepose import BlazePoseDetector

            self.blazepose = BlazePoseDetector(self.params.blazepose)

    def close(self) -> None:
        if self.blazepose is not None:
            self.blazepose.close()

    def person_boxes(self, image_rgb: np.ndarray, boxes: Sequence[Box] | None) -> list[Box]:
        """The given boxes plus CenterNet's person boxes that add a new place (pixels)."""
        found = list(boxes or ())
        if self.centernet is not None:
            found = add_boxes(found, self.centernet.boxes(image_rgb)[0], self.params.ensemble.box_iou_same)
        return found

    def detect(self, image_rgb: np.ndarray, boxes: Sequence[Box] | None = None,
               view: str | None = None, lying: Sequence[AxisCrop] = ()) -> list[PersonPose]:
        """``view``, ``lying``: the camera's name and the crops along lying proposals, see
        :meth:`MoveNetDetector.detect`."""
        e = self.params.ensemble
        all_boxes = self.person_boxes(image_rgb, boxes)
        readings = self.movenet.detect(image_rgb, all_boxes, view, lying)
        if self.blazepose is not None:
            readings += self.blazepose.detect(image_rgb, all_boxes)
        return merge_poses(readings, e.oks_threshold, e.box_iou_threshold, e.head_ratio, e.joint_radius)
