"""A tiny recording with a real, clearly visible face (scikit-image's public-domain astronaut
photograph, Eileen Collins), for the 2D baselines and the quality metrics.

Two 640x360 cameras, one frame; camera ``c1`` shows the photo at x = 140, camera ``c2`` shows it
mirrored at x = 40 on a darker background. Colour is PNG (lossless) so pixel comparisons are
exact; depth is a flat 2 m. ``annotations.json`` holds one face box per image (set by hand
around the face, which every detector here finds).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from disguisor.io.recording import frame_file_name
from disguisor.io.writer import RecordingWriter
from disguisor.synth.rig import default_rig

SIZE = (640, 360)
PHOTO_PX = 360
# the face in the photo after resizing to 360x360: x, y, w, h pixels
FACE_IN_PHOTO = (122.0, 48.0, 66.0, 74.0)
OFFSETS = {"c1": 140, "c2": 40}
BACKGROUND = {"c1": 200, "c2": 90}


def photo() -> np.ndarray:
    """The astronaut photo, RGB uint8, 360x360."""
    return cv2.resize(data.astronaut(), (PHOTO_PX, PHOTO_PX), interpolation=cv2.INTER_AREA)


def face_box(camera: str) -> list[float]:
    x, y, w, h = FACE_IN_PHOTO
    if camera == "c2":  # mirrored
        x = PHOTO_PX - x - w
    return [x + OFFSETS[camera], y, w, h]


def camera_image(camera: str) -> np.ndarray:
    """The RGB image of ``camera``."""
    img = np.full((SIZE[1], SIZE[0], 3), BACKGROUND[camera], np.uint8)
    p = photo() if camera == "c1" else photo()[:, ::-1]
    img[:, OFFSETS[camera]:OFFSETS[camera] + PHOTO_PX] = p
    return img


def write_face_recording(root: Path) -> Path:
    rig = default_rig(SIZE[0], SIZE[1], n_cameras=2)
    named = zip(rig.cameras, ("c1", "c2"), strict=True)
    calib = replace(rig, cameras=tuple(replace(cam, name=name) for cam, name in named))
    writer = RecordingWriter(root, calib, color_extension=".png")
    images, annotations = [], []
    for i, cam in enumerate(calib.cameras):
        writer.write_view(cam, 0, np.ascontiguousarray(camera_image(cam.name)[..., ::-1]),
                          np.full((SIZE[1], SIZE[0]), 2.0, np.float32))
        images.append({"id": i + 1, "file_name": f"{cam.name}/color/{frame_file_name(0, '.png')}",
                       "width": SIZE[0], "height": SIZE[1], "camera": cam.name, "frame": 0, "role": cam.role})
        annotations.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": face_box(cam.name),
                            "area": face_box(cam.name)[2] * face_box(cam.name)[3], "iscrowd": 0,
                            "person_id": 0})
    (root / "annotations.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                      "categories": [{"id": 1, "name": "face"}]}))
    return root


def iou(a, b) -> float:
    ax0, ay0, aw, ah = a[:4]
    bx0, by0, bw, bh = b[:4]
    iw = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)
