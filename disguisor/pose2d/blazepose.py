"""BlazePose (full model, 33 landmarks) from the MediaPipe wheel, run offline, made multi-person.

BlazePose finds one person per image. Here it runs on crops around person proposals (see
:mod:`disguisor.pose2d.proposals`) and, optionally, on the whole image; after each person found,
the person's segmentation mask is painted grey and the crop is searched again, so a crop that
holds two people yields both. Detections from overlapping crops are merged by OKS NMS.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

from disguisor.errors import InputError
from disguisor.pose2d.detector import Box, PersonPose, make_pose
from disguisor.pose2d.keypoints_io import NUM_JOINTS
from disguisor.pose2d.params import BlazePoseParams

# COCO-17 joint -> BlazePose landmark. BlazePose names sides from the person's point of view, as
# COCO does; eyes are BlazePose's eye centres (2, 5), not the inner/outer corners.
BLAZEPOSE_TO_COCO: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
NUM_BLAZEPOSE_LANDMARKS = 33
_GREY = 128


def blazepose_to_coco(landmarks: np.ndarray) -> np.ndarray:
    """(33, 3) BlazePose landmarks ``x, y, visibility`` (pixels) -> (17, 3) COCO keypoints ``x, y, score``.

    The score is BlazePose's visibility clipped to [0, 1].
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (NUM_BLAZEPOSE_LANDMARKS, 3):
        raise ValueError(f"expected (33, 3) landmarks, got {lm.shape}")
    kp = lm[list(BLAZEPOSE_TO_COCO)].copy()
    kp[:, 2] = np.clip(kp[:, 2], 0.0, 1.0)
    assert kp.shape == (NUM_JOINTS, 3)
    return kp


def square_crop(image: np.ndarray, box: Box, margin: float, max_px: int) -> tuple[np.ndarray, float, float, float]:
    """Square crop around ``box`` grown by ``margin`` of its size per side, padded with grey where it
    leaves the image, scaled to at most ``max_px`` square.

    Returns (crop, x0, y0, scale): image pixel = (x0, y0) + crop pixel / scale.
    """
    bx0, by0, bx1, by1 = box
    w, h = bx1 - bx0, by1 - by0
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = (bx0 + bx1) / 2.0, (by0 + by1) / 2.0
    x0, y0 = cx - side / 2.0, cy - side / 2.0
    size = int(round(min(side, max_px)))
    scale = size / side
    M = np.array([[scale, 0.0, -scale * x0], [0.0, scale, -scale * y0]])
    crop = cv2.warpAffine(image, M, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(_GREY, _GREY, _GREY))
    return crop, x0, y0, scale


class BlazePoseDetector:
    """Multi-person BlazePose: see the module docstring. ``detect(image_rgb, boxes)``."""

    name = "blazepose"

    def __init__(self, params: BlazePoseParams | None = None) -> None:
        self.params = params or BlazePoseParams()
        self._pose = None

    def _solution(self):
        if self._pose is None:
            os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
            from mediapipe.python.solutions import pose as mp_pose

            # 1 is the full model that ships in the wheel; 2 (heavy) must have been installed beside it
            # (checked here: mediapipe would try to download it); 0 (lite) would download
            complexity = self.params.model_complexity
            if complexity == 2:
                from disguisor.assets import model_path

                model_path("pose_landmark_heavy")
            elif complexity != 1:
                raise InputError(None, f"must be 1 (full) or 2 (heavy), not {complexity!r}",
                                 field="blazepose.model_complexity")
            self._pose = mp_pose.Pose(static_image_mode=True, model_complexity=complexity, enable_segmentation=True,
                                      min_detection_confidence=self.params.min_detection)
        return self._pose

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def _search(self, image: np.ndarray, max_people: int) -> list[np.ndarray]:
        """Up to ``max_people`` (33, 3) landmark arrays (pixels of ``image``), masking each one found."""
        p = self.params
        image = np.ascontiguousarray(image)
        h, w = image.shape[:2]
        found: list[np.ndarray] = []
        for k in range(max_people):
            result = self._solution().process(image)
            if result.pose_landmarks is None:
                break
            lm = np.array([[q.x * w - 0.5, q.y * h - 0.5, q.visibility] for q in result.pose_landmarks.landmark])
            found.append(lm)
            if k + 1 < max_people and result.segmentation_mask is not None:
                mask = (result.segmentation_mask > p.mask_threshold).astype(np.uint8)
                if p.mask_dilate_px > 0:
                    mask = cv2.dilate(mask, np.ones((p.mask_dilate_px, p.mask_dilate_px), np.uint8))
                if not mask.any():
                    break
                image = image.copy()
                image[mask > 0] = _GREY
        return found

    def detect(self, image_rgb: np.ndarray, boxes: Sequence[Box] | None = None) -> list[PersonPose]:
        """People in an RGB image (H, W, 3) uint8; searched in each box (pixels, x0, y0, x1, y1) and,
        with ``whole_image`` (or when no boxes are given), in the whole image. Duplicates possible."""
        p = self.params
        h, w = image_rgb.shape[:2]
        raw: list[np.ndarray] = []
        for box in boxes or ():
            crop, x0, y0, scale = square_crop(image_rgb, box, p.crop_margin, p.max_crop_px)
            for lm in self._search(crop, p.people_per_crop):
                lm[:, 0] = x0 + lm[:, 0] / scale
                lm[:, 1] = y0 + lm[:, 1] / scale
                raw.append(lm)
        if p.whole_image or not boxes:
            raw.extend(self._search(image_rgb, p.whole_image_people))
        poses = [make_pose(blazepose_to_coco(lm), p.min_joint_score, p.min_joints, p.min_person_score, w, h)
                 for lm in raw]
        return [q for q in poses if q is not None]
