"""RTMPose and RTMO ONNX models (as exported by MMPose / MMDeploy) run with onnxruntime on CPU.
The user supplies the model file (``--pose-model``); nothing is downloaded.

RTMPose (top-down, SimCC): input ``(1, 3, H, W)`` (256 x 192 for the body models), the person box
grown by 1.25 and widened to the input's aspect ratio, warped to the input, RGB normalized with
ImageNet mean/std (0-255 scale); outputs ``simcc_x (1, 17, W * r)`` and ``simcc_y (1, 17, H * r)``
(r = 2 bins per pixel). A joint is at the arg-max bin / r in input pixels; its score is the
smaller of the two maxima.

RTMO (one stage): input ``(1, 3, 640, 640)``, the image letterboxed (top-left aligned, scaled by
``min(640 / h, 640 / w)``, padded with grey 114), raw BGR 0-255; outputs ``dets (1, N, 5)``
(x0, y0, x1, y1, score in input pixels) and ``keypoints (1, N, 17, 3)`` (x, y, score).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from disguisor.errors import InputError
from disguisor.pose2d.detector import Box, PersonPose, box_nms, make_pose
from disguisor.pose2d.keypoints_io import NUM_JOINTS
from disguisor.pose2d.params import OnnxPoseParams


def _session(path: Path):
    import onnxruntime as ort

    if not path.is_file():
        raise InputError(path, "model file not found", field="--pose-model")
    try:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types
        raise InputError(path, f"not a loadable ONNX model ({str(exc).splitlines()[0]})", field="--pose-model") \
            from None


def _input_hw(session, path: Path, default: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = [(i.name, i.shape) for i in inputs]
        raise InputError(path, f"expected one image input (1, 3, H, W), got {shapes}", field="--pose-model")
    shape = inputs[0].shape
    if isinstance(shape[1], int) and shape[1] != 3:
        raise InputError(path, f"expected 3 input channels, got input shape {shape}", field="--pose-model")
    h, w = shape[2], shape[3]
    hw = (h, w) if isinstance(h, int) and isinstance(w, int) else default
    return inputs[0].name, hw


def box_to_center_scale(box: Box, padding: float, aspect_wh: float) -> tuple[np.ndarray, np.ndarray]:
    """Box (x0, y0, x1, y1) -> centre (2,) and size (w, h) grown by ``padding`` and widened or
    heightened to the aspect ratio ``aspect_wh`` = width / height (pixels)."""
    x0, y0, x1, y1 = box
    center = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    w, h = (x1 - x0) * padding, (y1 - y0) * padding
    if w > h * aspect_wh:
        h = w / aspect_wh
    else:
        w = h * aspect_wh
    return center, np.array([w, h])


def crop_affine(center: np.ndarray, size: np.ndarray, out_wh: tuple[int, int]) -> np.ndarray:
    """2x3 affine taking image pixels to the ``out_wh`` crop of the region ``center`` +- ``size`` / 2."""
    sx, sy = out_wh[0] / size[0], out_wh[1] / size[1]
    x0, y0 = center - size / 2.0
    return np.array([[sx, 0.0, -sx * x0], [0.0, sy, -sy * y0]])


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float) -> np.ndarray:
    """SimCC outputs (K, Wb), (K, Hb) -> (K, 3) ``x, y`` in input pixels and score (the smaller maximum)."""
    ix = np.argmax(simcc_x, axis=1)
    iy = np.argmax(simcc_y, axis=1)
    vx = simcc_x[np.arange(len(ix)), ix]
    vy = simcc_y[np.arange(len(iy)), iy]
    score = np.minimum(vx, vy)
    return np.stack([ix / split_ratio, iy / split_ratio, np.clip(score, 0.0, 1.0)], axis=1)


class RTMPoseDetector:
    """Top-down RTMPose: one pose per person box (the whole image when no boxes are given)."""

    name = "rtmpose"

    def __init__(self, model_path: str | Path, params: OnnxPoseParams | None = None) -> None:
        self.path = Path(model_path)
        self.params = params or OnnxPoseParams()
        self.session = _session(self.path)
        self.input_name, (self.in_h, self.in_w) = _input_hw(self.session, self.path, self.params.rtmpose_input_hw)
        outs = {o.name: o.shape for o in self.session.get_outputs()}
        if set(outs) >= {"simcc_x", "simcc_y"}:
            self.output_names = ["simcc_x", "simcc_y"]
        elif len(outs) == 2:
            self.output_names = list(outs)  # unnamed exports: MMDeploy's order is x, then y
        else:
            raise InputError(self.path, f"expected RTMPose outputs simcc_x and simcc_y, got {list(outs)}",
                             field="--pose-model")

    def estimate(self, image_rgb: np.ndarray, box: Box) -> np.ndarray:
        """Raw (17, 3) keypoints (image pixels, score) of the person in ``box``."""
        p = self.params
        center, size = box_to_center_scale(box, p.bbox_padding, self.in_w / self.in_h)
        M = crop_affine(center, size, (self.in_w, self.in_h))
        crop = cv2.warpAffine(image_rgb, M, (self.in_w, self.in_h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        x = (crop.astype(np.float32) - np.float32(p.mean)) / np.float32(p.std)
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        sx, sy = self.session.run(self.output_names, {self.input_name: x})
        if sx.ndim != 3 or sy.ndim != 3 or sx.shape[1] != NUM_JOINTS or sy.shape[1] != NUM_JOINTS:
            raise InputError(self.path, f"expected simcc outputs (1, 17, bins), got {sx.shape} and {sy.shape}",
                             field="--pose-model")
        kp = decode_simcc(sx[0], sy[0], p.simcc_split_ratio)
        # input pixels -> image pixels (inverse of the crop affine)
        kp[:, 0] = kp[:, 0] / M[0, 0] + center[0] - size[0] / 2.0
        kp[:, 1] = kp[:, 1] / M[1, 1] + center[1] - size[1] / 2.0
        return kp

    def detect(self, image_rgb: np.ndarray, boxes: Sequence[Box] | None = None) -> list[PersonPose]:
        p = self.params
        h, w = image_rgb.shape[:2]
        boxes = list(boxes) if boxes else [(0.0, 0.0, w - 1.0, h - 1.0)]
        poses = [make_pose(self.estimate(image_rgb, b), p.min_joint_score, p.min_joints, p.min_person_score, w, h)
                 for b in boxes]
        return [q for q in poses if q is not None]


class RTMODetector:
    """One-stage RTMO: all people of the whole image at once (boxes are ignored)."""

    name = "rtmo"

    def __init__(self, model_path: str | Path, params: OnnxPoseParams | None = None) -> None:
        self.path = Path(model_path)
        self.params = params or OnnxPoseParams()
        self.session = _session(self.path)
        self.input_name, (self.in_h, self.in_w) = _input_hw(self.session, self.path, self.params.rtmo_input_hw)
        outs = [o.name for o in self.session.get_outputs()]
        if set(outs) >= {"dets", "keypoints"}:
            self.output_names = ["dets", "keypoints"]
        elif len(outs) == 2:
            self.output_names = outs
        else:
            raise InputError(self.path, f"expected RTMO outputs dets and keypoints, got {outs}", field="--pose-model")

    def letterbox(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """Image -> (1, 3, H, W) float32 input and the scale ``ratio`` (input px per image px)."""
        h, w = image_bgr.shape[:2]
        ratio = min(self.in_h / h, self.in_w / w)
        nh, nw = int(h * ratio), int(w * ratio)
        canvas = np.full((self.in_h, self.in_w, 3), self.params.rtmo_pad_value, np.uint8)
        canvas[:nh, :nw] = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(canvas.astype(np.float32).transpose(2, 0, 1)[None]), ratio

    def detect(self, image_rgb: np.ndarray, boxes: Sequence[Box] | None = None) -> list[PersonPose]:
        p = self.params
        h, w = image_rgb.shape[:2]
        x, ratio = self.letterbox(np.ascontiguousarray(image_rgb[:, :, ::-1]))  # RTMO was trained on BGR
        dets, kps = self.session.run(self.output_names, {self.input_name: x})
        if dets.ndim != 3 or dets.shape[-1] != 5 or kps.ndim != 4 or kps.shape[2:] != (NUM_JOINTS, 3):
            raise InputError(self.path, f"expected dets (1, N, 5) and keypoints (1, N, 17, 3), got {dets.shape} "
                             f"and {kps.shape}", field="--pose-model")
        dets, kps = dets[0].astype(np.float64), kps[0].astype(np.float64)
        good = dets[:, 4] >= p.rtmo_score
        dets, kps = dets[good], kps[good]
        keep = box_nms(dets[:, :4] / ratio, dets[:, 4], p.rtmo_nms_iou)
        poses = []
        for i in keep:
            kp = kps[i].copy()
            kp[:, :2] /= ratio
            pose = make_pose(kp, p.min_joint_score, p.min_joints, p.min_person_score, w, h)
            if pose is not None:
                poses.append(PersonPose(pose.keypoints, float(dets[i, 4]), pose.box))
        return poses
