"""Load and validate the evaluation inputs: COCO-style face ground truth and detections.

Ground truth (COCO style, one JSON object)::

    {
      "images": [{"id": 1, "file_name": "wfc1/color/000000.jpg", "width": 1280, "height": 720,
                  "camera": "wfc1", "frame": 0,
                  "scenario": "knee_1",          # optional
                  "role": "workflow"}],          # optional: the camera's role
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [x, y, w, h],
                       "person_id": 3,            # stable over time and views
                       "visible_fraction": 0.6}], # optional, 0-1
      "categories": [{"id": 1, "name": "face"}]   # optional
    }

- ``bbox`` is ``[x, y, width, height]`` in pixels, ``(x, y)`` the top-left corner, in the
  continuous pixel coordinates of COCO (a box covering pixel columns 0..9 is ``[0, ·, 10, ·]``).
- A face gets an annotation in a view when it is at least partly visible there.
- ``id``, ``image_id`` and ``person_id`` may be integers or strings. ``camera`` may be a string
  or an integer (read as a string); ``frame`` is an integer; frames with the same number in
  different cameras are the same moment.
- Only ``category_id`` 1 (face) is evaluated; annotations of other categories are validated
  and then ignored. ``person_id`` is required for faces.

Predictions: the COCO results format, a JSON list of ``{"image_id", "category_id", "bbox",
"score", "person_id", "painted_bbox"}`` (``score`` and ``person_id`` optional: the evaluation
uses neither; ``painted_bbox`` optional: the box of the pixels actually changed when it differs
from the reported face box, as ``disguisor run`` writes; coverage uses it), or an object whose
``"annotations"`` key holds that list. Only category 1 is evaluated.

Checks (each an :class:`~disguisor.errors.InputError` naming the file and the entry, e.g.
``annotations.json: annotations[12].image_id: unknown image id 99``): the file exists and is
JSON; required fields are present and of the right type; image ids and annotation ids are
unique; every annotation and prediction refers to a known image; numbers are finite (no NaN);
a bbox has no negative width or height (a ground-truth box needs a positive area) and lies
inside its image up to :data:`BBOX_TOLERANCE_PX`; every image has a camera and a frame, and no
two images share (scenario, camera, frame); a person has at most one face box per image.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from disguisor.errors import InputError
from disguisor.io.jsonfields import MISSING as _MISSING
from disguisor.io.jsonfields import Id, read_json
from disguisor.io.jsonfields import annotations as _annotations
from disguisor.io.jsonfields import entries as _entries
from disguisor.io.jsonfields import get_field as _get
from disguisor.io.jsonfields import ident as _ident
from disguisor.io.jsonfields import image_fields as _image_fields
from disguisor.io.jsonfields import name as _name
from disguisor.io.jsonfields import number as _number

log = logging.getLogger(__name__)

FACE_CATEGORY_ID = 1

# A box may stick out of its image by this much (pixels) before it is refused.
BBOX_TOLERANCE_PX = 1.0




@dataclass(frozen=True)
class ImageInfo:
    """One annotated image: one camera's view at one frame.

    width, height: image size in pixels. role: the camera's role when the file gives one.
    """

    id: Id
    file_name: str
    width: int
    height: int
    camera: str
    frame: int
    scenario: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class FaceBox:
    """One ground-truth face in one image. bbox: (x, y, width, height) in pixels."""

    id: Id
    image_id: Id
    bbox: tuple[float, float, float, float]
    person_id: Id
    visible_fraction: float | None = None


@dataclass(frozen=True)
class GroundTruth:
    """Validated ground truth: images (by id, in file order) and their face boxes.

    ignored_annotations: annotations of categories other than face (validated, not evaluated).
    """

    images: dict[Id, ImageInfo]
    faces: tuple[FaceBox, ...]
    source: Path | None = field(default=None, compare=False)
    ignored_annotations: int = 0


@dataclass(frozen=True)
class Detection:
    """One predicted face. bbox: (x, y, width, height) in pixels; index: position in the file.
    painted_bbox: the box of the changed pixels when the file gives one (else None)."""

    image_id: Id
    bbox: tuple[float, float, float, float]
    index: int
    score: float | None = None
    person_id: Id | None = None
    painted_bbox: tuple[float, float, float, float] | None = None

    @property
    def covering_bbox(self) -> tuple[float, float, float, float]:
        """What the coverage metric uses: the painted box when known, else the face box."""
        return self.painted_bbox if self.painted_bbox is not None else self.bbox


@dataclass(frozen=True)
class Predictions:
    """Validated face detections (category 1 only).

    ignored: predictions of other categories (validated, not evaluated).
    """

    detections: tuple[Detection, ...]
    source: Path | None = field(default=None, compare=False)
    ignored: int = 0


# --- small typed readers; each raises InputError(source, message, field) -------------------













def _bbox(value: Any, source: str | Path, where: str, image: ImageInfo, need_area: bool) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != 4:
        raise InputError(source, f"must be [x, y, width, height], not {value!r}", field=where)
    x, y, w, h = (_number(v, source, where) for v in value)
    if w < 0 or h < 0:
        raise InputError(source, f"negative width or height in {value!r}", field=where)
    if need_area and (w == 0 or h == 0):
        raise InputError(source, f"zero width or height in {value!r} (such a box can never be matched)",
                         field=where)
    tol = BBOX_TOLERANCE_PX
    if x < -tol or y < -tol or x + w > image.width + tol or y + h > image.height + tol:
        raise InputError(source, f"box {value!r} lies outside its image {image.id!r} "
                         f"({image.width}x{image.height} px, tolerance {tol:g} px)", field=where)
    return x, y, w, h




# --- ground truth ---------------------------------------------------------------------------

def _image(entry: Mapping[str, Any], source: str | Path, where: str) -> ImageInfo:
    scenario = entry.get("scenario")
    scenario = None if scenario is None else _name(scenario, source, f"{where}.scenario")
    role = entry.get("role")
    role = None if role is None else _name(role, source, f"{where}.role")
    return ImageInfo(**_image_fields(entry, source, where), scenario=scenario, role=role)


def ground_truth_from_json(data: Any, source: str | Path = "annotations.json") -> GroundTruth:
    """Validate a parsed ground-truth document (format in the module docstring)."""
    if not isinstance(data, dict):
        raise InputError(source, "expected a JSON object with 'images' and 'annotations'", field="(top level)")

    categories: set[Id] | None = None
    if "categories" in data:
        cats = _entries(data, "categories", source)
        categories = {_ident(_get(c, "id", source, f"categories[{i}]"), source, f"categories[{i}].id")
                      for i, c in enumerate(cats)}

    images: dict[Id, ImageInfo] = {}
    where_image: dict[Id, int] = {}
    moments: dict[tuple[str | None, str, int], int] = {}
    camera_role: dict[tuple[str | None, str], tuple[str, int]] = {}
    for i, entry in enumerate(_entries(data, "images", source)):
        img = _image(entry, source, f"images[{i}]")
        if img.id in images:
            raise InputError(source, f"duplicate image id {img.id!r} (also images[{where_image[img.id]}])",
                             field=f"images[{i}].id")
        key = (img.scenario, img.camera, img.frame)
        if key in moments:
            scen = "" if img.scenario is None else f"scenario {img.scenario!r}, "
            raise InputError(source, f"same {scen}camera {img.camera!r} and frame {img.frame} as "
                             f"images[{moments[key]}]", field=f"images[{i}]")
        if img.role is not None:
            seen = camera_role.setdefault((img.scenario, img.camera), (img.role, i))
            if seen[0] != img.role:
                raise InputError(source, f"camera {img.camera!r} has role {img.role!r} here but {seen[0]!r} "
                                 f"in images[{seen[1]}]", field=f"images[{i}].role")
        images[img.id] = img
        where_image[img.id] = i
        moments[key] = i

    faces: list[FaceBox] = []
    person_in_image: dict[tuple[Id, Id], int] = {}
    ignored = 0
    for i, ann in enumerate(_annotations(data, source, images)):
        where, get, ann_id, image_id, category = ann.where, ann.get, ann.id, ann.image_id, ann.category
        if categories is not None and category not in categories:
            raise InputError(source, f"category {category!r} is not in 'categories'", field=f"{where}.category_id")
        is_face = category == FACE_CATEGORY_ID
        bbox = _bbox(get("bbox"), source, f"{where}.bbox", images[image_id], need_area=is_face)
        if not is_face:
            ignored += 1
            continue
        person = _ident(get("person_id"), source, f"{where}.person_id")
        if (image_id, person) in person_in_image:
            raise InputError(source, f"person {person!r} already has a face box in image {image_id!r} "
                             f"(annotations[{person_in_image[image_id, person]}])", field=f"{where}.person_id")
        person_in_image[image_id, person] = i
        visible = get("visible_fraction", None)
        if visible is not None:
            visible = _number(visible, source, f"{where}.visible_fraction")
            if not 0.0 <= visible <= 1.0:
                raise InputError(source, f"must be between 0 and 1, not {visible!r}",
                                 field=f"{where}.visible_fraction")
        faces.append(FaceBox(id=ann_id, image_id=image_id, bbox=bbox, person_id=person,  # type: ignore[arg-type]
                             visible_fraction=visible))
    return GroundTruth(images=images, faces=tuple(faces), source=Path(source), ignored_annotations=ignored)


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Read and validate a ground-truth file; raises :class:`InputError` on any problem."""
    return ground_truth_from_json(read_json(path), source=path)


# --- predictions ----------------------------------------------------------------------------

def predictions_from_json(data: Any, gt: GroundTruth, source: str | Path = "detections.json") -> Predictions:
    """Validate parsed predictions against the ground truth's images (format in the module docstring)."""
    prefix = ""
    if isinstance(data, dict):
        if "annotations" not in data:
            raise InputError(source, "expected a JSON list of detections or an object with 'annotations'",
                             field="(top level)")
        data, prefix = data["annotations"], "annotations"
    if not isinstance(data, list):
        raise InputError(source, "must be a list of detections", field=prefix or "(top level)")

    detections: list[Detection] = []
    ignored = 0
    for i, entry in enumerate(data):
        where = f"{prefix}[{i}]"
        if not isinstance(entry, dict):
            raise InputError(source, "must be a JSON object", field=where)

        def get(key: str, default: Any = _MISSING, entry: dict = entry, where: str = where) -> Any:
            return _get(entry, key, source, where, default)

        image_id = _ident(get("image_id"), source, f"{where}.image_id")
        if image_id not in gt.images:
            raise InputError(source, f"unknown image id {image_id!r} (not in the ground truth)",
                             field=f"{where}.image_id")
        category = _ident(get("category_id"), source, f"{where}.category_id")
        bbox = _bbox(get("bbox"), source, f"{where}.bbox", gt.images[image_id], need_area=False)
        score = get("score", None)
        score = None if score is None else _number(score, source, f"{where}.score")
        person = get("person_id", None)
        person = None if person is None else _ident(person, source, f"{where}.person_id")
        painted = get("painted_bbox", None)
        painted = None if painted is None else _bbox(painted, source, f"{where}.painted_bbox", gt.images[image_id],
                                                      need_area=False)
        if category != FACE_CATEGORY_ID:
            ignored += 1
            continue
        detections.append(Detection(image_id=image_id, bbox=bbox, index=i, score=score,  # type: ignore[arg-type]
                                    person_id=person, painted_bbox=painted))
    return Predictions(detections=tuple(detections), source=Path(source), ignored=ignored)


def load_predictions(path: str | Path, gt: GroundTruth) -> Predictions:
    """Read and validate a detections file against ``gt``; raises :class:`InputError` on any problem."""
    return predictions_from_json(read_json(path), gt, source=path)


# --- camera roles -----------------------------------------------------------------------------

def load_camera_roles(calibration_path: str | Path, gt: GroundTruth | None = None) -> dict[str, str]:
    """Camera name -> role (``workflow``/``surgical``) from the project's ``calibration.json``.

    With ``gt``, logs a warning naming the ground-truth cameras that the calibration lacks
    (their role stays unknown unless the images name it).
    """
    from disguisor.io.calibration import load_calibration

    roles = {cam.name: cam.role for cam in load_calibration(calibration_path).cameras}
    if gt is not None:
        lacking = sorted({img.camera for img in gt.images.values() if img.role is None} - set(roles))
        if lacking:
            log.warning("%s: camera(s) %s of the ground truth are not in the calibration; their role is "
                        "'unknown'", calibration_path, ", ".join(lacking))
    return roles
