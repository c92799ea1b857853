"""``keypoints2d.json``: COCO-17 person keypoints of every view and frame, COCO style.

Format (one JSON object)::

    {
      "images": [{"id": 1, "file_name": "wfc1/color/000000.jpg", "width": 1280, "height": 720,
                  "camera": "wfc1", "frame": 0}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                       "keypoints": [x1, y1, s1, ..., x17, y17, s17],
                       "score": 0.93,                  # person score, 0-1
                       "bbox": [x, y, w, h],           # optional, pixels
                       "person_id": 3}],               # optional: ground-truth id (simulated files only)
      "categories": [{"id": 1, "name": "person", "keypoints": ["nose", ...], "skeleton": [[16, 14], ...]}],
      "info": {...}                                    # optional, free-form
    }

- One image per (camera, frame); frames with the same number in different cameras are the same
  moment. ``camera`` is a camera name of the recording's ``calibration.json`` (an integer is read
  as a string); ``frame`` an integer.
- ``keypoints``: the 17 COCO joints in the order of :data:`COCO_KEYPOINTS`, each ``x, y, s``:
  ``(x, y)`` in pixels of the *distorted* (as recorded) image with ``(0, 0)`` at the centre of
  the top-left pixel, ``s`` the detector's confidence in [0, 1]; ``s = 0`` means *not detected*
  (its ``x, y`` are ignored; COCO writes ``0, 0``). This differs from COCO ground truth, whose
  third value is a visibility flag 0/1/2; keypoint *results* files use scores, as here.
- ``score``: the person detection's confidence in [0, 1].
- Scores slightly above 1 (up to :data:`SCORE_TOLERANCE`; OpenPose writes e.g. 1.018) are read
  as 1, with one warning per file; larger ones are refused.
- ``category_id`` 1, or the string ``"1"`` as some tools write it.
- ``person_id`` is the ground-truth identity in simulated files; no algorithm reads it.
- ``categories`` is optional; when present it must hold category 1 and, if it lists
  ``keypoints``, exactly the 17 COCO names in order (another layout, e.g. COCO-WholeBody, would
  be misread). Every annotation must be of category 1 (person).

Checks (each an :class:`~disguisor.errors.InputError` naming the file and the entry, e.g.
``keypoints2d.json: annotations[3].keypoints: expected 51 numbers (17 joints x 3), got 48``):
required fields present and of the right type; image and annotation ids unique; one image per
(camera, frame); every annotation refers to a known image; numbers finite (no NaN or infinity);
joint and person scores in [0, 1]; with a calibration, every image's camera exists in it and
the image has that camera's size.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from disguisor.coco import COCO17_NAMES, HEAD_JOINTS, NUM_JOINTS  # noqa: F401  (re-exported)
from disguisor.errors import InputError
from disguisor.io.atomic import atomic_write_text
from disguisor.io.jsonfields import Id, read_json
from disguisor.io.jsonfields import annotations as _annotations
from disguisor.io.jsonfields import category_id as _category_id
from disguisor.io.jsonfields import entries as _entries
from disguisor.io.jsonfields import get_field as _get
from disguisor.io.jsonfields import ident as _ident
from disguisor.io.jsonfields import image_fields as _image_fields
from disguisor.io.jsonfields import number as _number
from disguisor.io.jsonfields import show as _show

if TYPE_CHECKING:
    from disguisor.io.calibration import Calibration

log = logging.getLogger(__name__)

PERSON_CATEGORY_ID = 1
# Scores up to this are clipped to 1 instead of refused: some tools' scores overshoot slightly
# (OpenPose's heat-map peaks, e.g. 1.018); anything larger is not a score in [0, 1].
SCORE_TOLERANCE = 1.1

COCO_KEYPOINTS = COCO17_NAMES
# Indices of the face joints (nose, eyes, ears): what face anonymization cares about most.
# COCO's limb list, 1-based joint numbers as in the COCO files.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)




@dataclass(frozen=True)
class KeypointImage:
    """One view at one frame. width, height: image size in pixels."""

    id: Id
    file_name: str
    width: int
    height: int
    camera: str
    frame: int


@dataclass(frozen=True, eq=False)
class Detection:
    """One detected person in one view.

    keypoints: (17, 3) float64, per joint ``x, y`` in pixels of the distorted image ((0, 0) at
      the centre of the top-left pixel) and the score in [0, 1] (0: joint not detected).
    score: person score in [0, 1]. bbox: optional (x, y, width, height) in pixels.
    person_id: ground-truth identity (simulated files only; never used by the algorithms).
    index: position of the annotation in the file (for messages).
    """

    id: Id
    image_id: Id
    camera: str
    frame: int
    keypoints: np.ndarray
    score: float
    bbox: tuple[float, float, float, float] | None = None
    person_id: Id | None = None
    index: int = -1


@dataclass(frozen=True)
class Keypoints2D:
    """Validated keypoints of all views: images by id (file order) and detections (file order).

    info: the file's free-form ``info`` object, kept for round trips.
    """

    images: dict[Id, KeypointImage]
    detections: tuple[Detection, ...]
    info: dict[str, Any] | None = None
    source: Path | None = field(default=None, compare=False)

    @property
    def frames(self) -> list[int]:
        """Every frame number that has at least one image, ascending."""
        return sorted({img.frame for img in self.images.values()})

    @property
    def cameras(self) -> list[str]:
        """Every camera that has at least one image, in order of first appearance."""
        return list(dict.fromkeys(img.camera for img in self.images.values()))

    def by_frame(self) -> dict[int, dict[str, list[Detection]]]:
        """frame -> camera -> detections, for every image (an image without people: empty list).

        A camera without an image at a frame is absent from that frame's mapping.
        """
        out: dict[int, dict[str, list[Detection]]] = {f: {} for f in self.frames}
        for img in self.images.values():
            out[img.frame][img.camera] = []
        for det in self.detections:
            out[det.frame][det.camera].append(det)
        return out

    def views(self, frame: int) -> dict[str, list[Detection]]:
        """camera -> detections at one frame (cameras with an image at that frame only)."""
        out: dict[str, list[Detection]] = {img.camera: [] for img in self.images.values() if img.frame == frame}
        for det in self.detections:
            if det.frame == frame:
                out[det.camera].append(det)
        return out


# --- small typed readers; each raises InputError(source, message, field) -------------------

class _Clipped:
    """Scores slightly above 1 that were clipped while reading one file (for one warning)."""

    def __init__(self) -> None:
        self.count = 0
        self.largest = 1.0

    def add(self, scores: np.ndarray) -> None:
        over = scores[scores > 1.0]
        if over.size:
            self.count += int(over.size)
            self.largest = max(self.largest, float(over.max()))


def _score(value: Any, source: str | Path, where: str, clipped: _Clipped | None = None) -> float:
    s = _number(value, source, where)
    if not 0.0 <= s <= SCORE_TOLERANCE:
        raise InputError(source, f"score must be between 0 and 1, not {_show(value)}", field=where)
    if s > 1.0 and clipped is not None:
        clipped.add(np.array([s]))
    return min(s, 1.0)


def _keypoints(value: Any, source: str | Path, where: str, clipped: _Clipped | None = None) -> np.ndarray:
    n = 3 * NUM_JOINTS
    if not isinstance(value, list):
        raise InputError(source, f"must be a list of {n} numbers (17 joints x 3)", field=where)
    if len(value) != n:
        raise InputError(source, f"expected {n} numbers (17 joints x 3: x, y, score), got {len(value)}",
                         field=where)
    for k, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating) or not math.isfinite(v):
            joint = COCO_KEYPOINTS[k // 3]
            raise InputError(source, f"joint {k // 3} ({joint}) {'xys'[k % 3]}: must be a finite number, "
                             f"not {_show(v)}", field=where)
    kp = np.asarray(value, dtype=np.float64).reshape(NUM_JOINTS, 3)
    bad = np.flatnonzero((kp[:, 2] < 0.0) | (kp[:, 2] > SCORE_TOLERANCE))
    if bad.size:
        j = int(bad[0])
        raise InputError(source, f"joint {j} ({COCO_KEYPOINTS[j]}): score must be between 0 and 1, "
                         f"not {_show(kp[j, 2])}", field=where)
    if clipped is not None:
        clipped.add(kp[:, 2])
    kp[:, 2] = np.minimum(kp[:, 2], 1.0)
    return kp


def _image(entry: Mapping[str, Any], source: str | Path, where: str) -> KeypointImage:
    return KeypointImage(**_image_fields(entry, source, where))


def _check_categories(data: Mapping[str, Any], source: str | Path) -> None:
    if "categories" not in data:
        return
    cats = _entries(data, "categories", source)
    for i, cat in enumerate(cats):
        if _category_id(_get(cat, "id", source, f"categories[{i}]"), source,
                        f"categories[{i}].id") != PERSON_CATEGORY_ID:
            continue
        names = cat.get("keypoints")
        if names is not None and list(names) != list(COCO_KEYPOINTS):
            raise InputError(source, "keypoint names must be the 17 COCO joints in COCO order "
                             f"({', '.join(COCO_KEYPOINTS)})", field=f"categories[{i}].keypoints")
        return
    raise InputError(source, f"no category with id {PERSON_CATEGORY_ID} (person)", field="categories")


def keypoints_from_json(data: Any, source: str | Path = "keypoints2d.json",
                        calibration: Calibration | None = None) -> Keypoints2D:
    """Validate a parsed ``keypoints2d.json`` (format in the module docstring).

    With ``calibration``, every image's camera must be one of its cameras, with its size.
    """
    if not isinstance(data, dict):
        raise InputError(source, "expected a JSON object with 'images' and 'annotations'", field="(top level)")
    _check_categories(data, source)
    info = data.get("info")
    if info is not None and not isinstance(info, dict):
        raise InputError(source, "must be a JSON object", field="info")

    cams = {c.name: c for c in calibration.cameras} if calibration is not None else None
    images: dict[Id, KeypointImage] = {}
    where_image: dict[Id, int] = {}
    moments: dict[tuple[str, int], int] = {}
    for i, entry in enumerate(_entries(data, "images", source)):
        img = _image(entry, source, f"images[{i}]")
        if img.id in images:
            raise InputError(source, f"duplicate image id {img.id!r} (also images[{where_image[img.id]}])",
                             field=f"images[{i}].id")
        key = (img.camera, img.frame)
        if key in moments:
            raise InputError(source, f"same camera {img.camera!r} and frame {img.frame} as images[{moments[key]}]",
                             field=f"images[{i}]")
        if cams is not None:
            if img.camera not in cams:
                where = f" of {calibration.source}" if calibration is not None and calibration.source else ""
                raise InputError(source, f"camera {img.camera!r} is not in the calibration{where} "
                                 f"(cameras: {', '.join(cams)})", field=f"images[{i}].camera")
            cam = cams[img.camera]
            if (img.width, img.height) != (cam.width, cam.height):
                raise InputError(source, f"image size {img.width}x{img.height} differs from camera "
                                 f"{img.camera!r}'s calibrated {cam.width}x{cam.height}", field=f"images[{i}].width")
        images[img.id] = img
        where_image[img.id] = i
        moments[key] = i

    detections: list[Detection] = []
    clipped = _Clipped()
    for i, ann in enumerate(_annotations(data, source, images)):
        where, get, ann_id, image_id, category = ann.where, ann.get, ann.id, ann.image_id, ann.category
        if category != PERSON_CATEGORY_ID:
            raise InputError(source, f"only category {PERSON_CATEGORY_ID} (person) is supported, not {_show(category)}",
                             field=f"{where}.category_id")
        kp = _keypoints(get("keypoints"), source, f"{where}.keypoints", clipped)
        score = _score(get("score"), source, f"{where}.score", clipped)
        bbox = get("bbox", None)
        if bbox is not None:
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise InputError(source, f"must be [x, y, width, height], not {_show(bbox)}", field=f"{where}.bbox")
            bbox = tuple(_number(v, source, f"{where}.bbox") for v in bbox)
            if bbox[2] < 0 or bbox[3] < 0:
                raise InputError(source, f"negative width or height in {_show(list(bbox))}", field=f"{where}.bbox")
        person = get("person_id", None)
        person = None if person is None else _ident(person, source, f"{where}.person_id")
        img = images[image_id]
        detections.append(Detection(id=ann_id, image_id=image_id, camera=img.camera, frame=img.frame,
                                    keypoints=kp, score=score, bbox=bbox, person_id=person, index=i))
    if clipped.count:
        log.warning("%s: %d score(s) slightly above 1 (up to %s) were read as 1", source, clipped.count,
                    _show(round(clipped.largest, 6)))
    return Keypoints2D(images=images, detections=tuple(detections), info=info, source=Path(source))


def load_keypoints(path: str | Path, calibration: Calibration | None = None) -> Keypoints2D:
    """Read and validate ``keypoints2d.json``; raises :class:`InputError` on any problem."""
    return keypoints_from_json(read_json(path), source=path, calibration=calibration)


def keypoints_to_json(keypoints: Keypoints2D) -> dict[str, Any]:
    """The JSON document of :class:`Keypoints2D` (format in the module docstring)."""
    images = [{"id": img.id, "file_name": img.file_name, "width": int(img.width), "height": int(img.height),
               "camera": img.camera, "frame": int(img.frame)} for img in keypoints.images.values()]
    annotations = []
    for det in keypoints.detections:
        ann: dict[str, Any] = {"id": det.id, "image_id": det.image_id, "category_id": PERSON_CATEGORY_ID,
                               "keypoints": [round(float(v), 3 if k % 3 < 2 else 4)
                                             for k, v in enumerate(np.asarray(det.keypoints).reshape(-1))],
                               "score": round(float(det.score), 4)}
        if det.bbox is not None:
            ann["bbox"] = [round(float(v), 2) for v in det.bbox]
        if det.person_id is not None:
            ann["person_id"] = det.person_id
        annotations.append(ann)
    out: dict[str, Any] = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": PERSON_CATEGORY_ID, "name": "person", "keypoints": list(COCO_KEYPOINTS),
                        "skeleton": [list(b) for b in COCO_SKELETON]}],
    }
    if keypoints.info is not None:
        out["info"] = keypoints.info
    return out


def save_keypoints(path: str | Path, keypoints: Keypoints2D) -> None:
    """Write ``keypoints2d.json`` atomically (validated on the way out)."""
    data = keypoints_to_json(keypoints)
    keypoints_from_json(data, source=path)
    atomic_write_text(Path(path), json.dumps(data, separators=(",", ":")) + "\n")
