"""Privacy measured from pixels: which ground-truth face boxes were actually changed.

The box metrics (:mod:`disguisor.evaluate.metrics`) trust the boxes a tool reports. This check
does not: it compares the original colour image (``REC/<camera>/color/<frame>.jpg``, read with
:mod:`disguisor.io.recording`) with the anonymized one (``OUT/<camera>/<frame>.jpg`` or ``.png``,
as ``disguisor run`` and ``disguisor baseline`` write them) inside every ground-truth face box.

Rules:

- both images become grey (OpenCV's BT.601 luma, 0-255); a pixel is *changed* when its grey
  values differ by more than ``change_levels`` (default 6). Grey, not colour, because JPEG stores
  colour at half resolution: re-encoding moves chroma by more than luma, and the threshold must
  absorb re-encoding (a copy of the original re-encoded at quality 95 counts as not hidden);
- a box is *hidden* when at least ``hidden_share`` (default 0.5) of its pixels changed. A box's
  pixels are the columns ``floor(x) .. ceil(x + w) - 1`` and rows ``floor(y) .. ceil(y + h) - 1``,
  clipped to the image;
- per view (camera): hidden boxes / boxes. Holistically: a face (one person at one frame, per
  scenario) counts as hidden only when every one of its boxes in the subset is hidden;
- two subsets: boxes with ``visible_fraction >= min_visible_fraction`` (default 0.25; boxes
  without a ``visible_fraction`` belong to it) and all boxes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from disguisor.errors import InputError
from disguisor.evaluate.coco import FaceBox, GroundTruth, ImageInfo
from disguisor.io.calibration import Camera
from disguisor.io.jsonfields import Id
from disguisor.io.recording import Recording, frame_file_name, open_recording
from disguisor.render.check import changed_pixels

DEFAULT_CHANGE_LEVELS = 6.0
DEFAULT_HIDDEN_SHARE = 0.5
DEFAULT_MIN_VISIBLE_FRACTION = 0.25
ANONYMIZED_EXTENSIONS = (".jpg", ".png", ".jpeg")
SUBSETS = ("visible", "all")


@dataclass(frozen=True)
class PixelParams:
    """change_levels: a pixel changed when its grey value moved by more than this (0-255 scale).
    hidden_share: a box is hidden when at least this share of its pixels changed (0-1].
    min_visible_fraction: boxes in the ``visible`` subset have at least this visible fraction."""

    change_levels: float = DEFAULT_CHANGE_LEVELS
    hidden_share: float = DEFAULT_HIDDEN_SHARE
    min_visible_fraction: float = DEFAULT_MIN_VISIBLE_FRACTION


def box_pixels(bbox: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """Integer pixel range ``(x0, y0, x1, y1)`` (end exclusive) of a COCO box ``(x, y, w, h)``
    in an image of ``width`` x ``height`` pixels: every pixel the box touches, clipped."""
    x, y, w, h = bbox
    x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
    x1, y1 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
    return x0, y0, max(x1, x0), max(y1, y0)


def changed_shares(original: np.ndarray, anonymized: np.ndarray, boxes: np.ndarray,
                   change_levels: float = DEFAULT_CHANGE_LEVELS) -> np.ndarray:
    """Share (0-1) of each box's pixels whose grey value differs by more than ``change_levels``.

    original, anonymized: (H, W, 3) uint8 BGR (or (H, W) grey), same size. boxes: (N, 4) COCO
    ``x, y, w, h`` in pixels. A box with no pixel inside the image gets share 0 (nothing of it
    was shown, nothing was hidden; ground truth never holds such boxes).
    """
    if original.shape[:2] != anonymized.shape[:2]:
        raise ValueError(f"images differ in size: {original.shape[:2]} and {anonymized.shape[:2]}")
    changed = changed_pixels(original, anonymized, change_levels)
    h, w = changed.shape
    # summed-area table: each box's changed count in O(1)
    sat = np.zeros((h + 1, w + 1), np.int64)
    sat[1:, 1:] = changed.cumsum(axis=0).cumsum(axis=1)
    out = np.zeros(len(boxes))
    for i, box in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
        x0, y0, x1, y1 = box_pixels(tuple(box), w, h)
        area = (x1 - x0) * (y1 - y0)
        if area > 0:
            out[i] = (sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]) / area
    return out


@dataclass(frozen=True)
class PixelScores:
    """Counts of one group. boxes / hidden: ground-truth boxes and those hidden; faces /
    faces_hidden: faces (person at frame) with a box in the group and those with every box hidden."""

    boxes: int = 0
    hidden: int = 0
    faces: int = 0
    faces_hidden: int = 0

    @property
    def hidden_share(self) -> float | None:
        return self.hidden / self.boxes if self.boxes else None

    @property
    def holistic_hidden_share(self) -> float | None:
        return self.faces_hidden / self.faces if self.faces else None


@dataclass(frozen=True)
class BoxOutcome:
    """One ground-truth box: the share of its pixels that changed and whether that hides it."""

    face: FaceBox
    camera: str
    frame: int
    scenario: str | None
    share: float
    hidden: bool


@dataclass(frozen=True)
class PixelResult:
    """Per subset (``visible``, ``all``): overall scores and scores per camera; every box's outcome."""

    params: PixelParams
    overall: dict[str, PixelScores]
    per_camera: dict[str, dict[str, PixelScores]]
    boxes: tuple[BoxOutcome, ...] = field(repr=False, default=())


def in_subset(face: FaceBox, subset: str, params: PixelParams) -> bool:
    """Whether a box counts in ``subset`` (``all``, or ``visible``: visible fraction at least the
    threshold, or unknown)."""
    if subset == "all" or face.visible_fraction is None:
        return True
    return face.visible_fraction >= params.min_visible_fraction


def score_outcomes(outcomes: list[BoxOutcome], params: PixelParams) -> PixelResult:
    """Group box outcomes into per-camera and overall scores for both subsets (rules in the module
    docstring)."""

    def scores(items: list[BoxOutcome]) -> PixelScores:
        faces: dict[tuple, bool] = {}
        for o in items:
            key = (o.scenario, o.frame, o.face.person_id)
            faces[key] = faces.get(key, True) and o.hidden
        return PixelScores(boxes=len(items), hidden=sum(o.hidden for o in items), faces=len(faces),
                           faces_hidden=sum(faces.values()))

    overall: dict[str, PixelScores] = {}
    per_camera: dict[str, dict[str, PixelScores]] = defaultdict(dict)
    cameras = sorted({o.camera for o in outcomes})
    for subset in SUBSETS:
        chosen = [o for o in outcomes if in_subset(o.face, subset, params)]
        overall[subset] = scores(chosen)
        for cam in cameras:
            per_camera[cam][subset] = scores([o for o in chosen if o.camera == cam])
    return PixelResult(params=params, overall=overall, per_camera=dict(per_camera), boxes=tuple(outcomes))


def anonymized_image_path(folder: Path, camera: str, frame: int) -> Path | None:
    """``folder/<camera>/<frame>.jpg`` (or .png, .jpeg) when it exists, else None."""
    for ext in ANONYMIZED_EXTENSIONS:
        path = folder / camera / frame_file_name(frame, ext)
        if path.is_file():
            return path
    return None


def image_pair(rec: Recording, info: ImageInfo, anonymized: Path, source: str | Path, original: str | Path
               ) -> tuple[Camera, np.ndarray, np.ndarray]:
    """(camera, original BGR image, anonymized BGR image) of one ground-truth image entry; an
    image missing on either side, unreadable or of another size is an :class:`InputError`."""
    try:
        cam = rec.calibration.camera(info.camera)
        rec.color_path(info.camera, info.frame)
    except KeyError:
        raise InputError(source, f"camera {info.camera!r} frame {info.frame} is not in the recording {original}",
                         field=f"images[id={info.id}]") from None
    before = rec.read_color(cam, info.frame)
    path = anonymized_image_path(anonymized, info.camera, info.frame)
    if path is None:
        raise InputError(anonymized / info.camera / frame_file_name(info.frame, ".jpg"),
                         "anonymized image missing (a ground-truth image has no output)", field="--anonymized")
    after = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if after is None:
        raise InputError(path, "cannot decode the anonymized image", field="--anonymized")
    if after.shape[:2] != before.shape[:2]:
        raise InputError(path, f"anonymized image is {after.shape[1]}x{after.shape[0]}, the original "
                               f"{before.shape[1]}x{before.shape[0]}", field="--anonymized")
    return cam, before, after


def measure_pixel_privacy(gt: GroundTruth, original: str | Path, anonymized: str | Path,
                          params: PixelParams = PixelParams(),
                          progress: Callable[[int], None] | None = None) -> PixelResult:
    """Compare every ground-truth face box between the recording ``original`` and the anonymized
    output folder ``anonymized`` (rules in the module docstring). Only images with faces are read.

    Raises :class:`InputError` when the output folder, an anonymized image or a ground-truth
    camera/frame in the recording is missing, or when an anonymized image has another size.
    """
    if not 0.0 < params.hidden_share <= 1.0:
        raise InputError(None, f"hidden share must be in (0, 1], not {params.hidden_share:g}", field="hidden_share")
    if params.change_levels < 0:
        raise InputError(None, f"must be >= 0 grey levels, not {params.change_levels:g}", field="change_levels")
    original, anonymized = Path(original), Path(anonymized)
    if not anonymized.is_dir():
        raise InputError(anonymized, "anonymized output folder not found", field="--anonymized")
    rec = open_recording(original)
    faces_by_image: dict[Id, list[FaceBox]] = defaultdict(list)
    for face in gt.faces:
        faces_by_image[face.image_id].append(face)
    outcomes: list[BoxOutcome] = []
    source = gt.source or "annotations.json"
    for done, (image_id, faces) in enumerate(faces_by_image.items(), start=1):
        info = gt.images[image_id]
        _, before, after = image_pair(rec, info, anonymized, source, original)
        shares = changed_shares(before, after, np.array([f.bbox for f in faces]), params.change_levels)
        for face, share in zip(faces, shares, strict=True):
            outcomes.append(BoxOutcome(face=face, camera=info.camera, frame=info.frame, scenario=info.scenario,
                                       share=float(share), hidden=bool(share >= params.hidden_share)))
        if progress is not None:
            progress(done)
    return score_outcomes(outcomes, params)


def _scores_json(s: PixelScores) -> dict[str, Any]:
    return {"boxes": s.boxes, "hidden": s.hidden, "hidden_share": s.hidden_share, "faces": s.faces,
            "faces_hidden": s.faces_hidden, "holistic_hidden_share": s.holistic_hidden_share}


def pixel_result_to_json(result: PixelResult, original: str | Path | None = None,
                         anonymized: str | Path | None = None) -> dict[str, Any]:
    """JSON-ready dict::

        {"original": "REC", "anonymized": "OUT", "change_levels": 6, "hidden_share": 0.5,
         "min_visible_fraction": 0.25,
         "overall": {"visible": SCORES, "all": SCORES},
         "per_camera": {"wfc1": {"visible": SCORES, "all": SCORES}, ...},
         "not_hidden": [{"camera", "frame", "person_id", "annotation_id", "visible_fraction", "changed_share"}]}

        SCORES = {"boxes", "hidden", "hidden_share", "faces", "faces_hidden", "holistic_hidden_share"}
    """
    p = result.params
    return {
        "original": None if original is None else str(original),
        "anonymized": None if anonymized is None else str(anonymized),
        "change_levels": p.change_levels, "hidden_share": p.hidden_share,
        "min_visible_fraction": p.min_visible_fraction,
        "overall": {k: _scores_json(v) for k, v in result.overall.items()},
        "per_camera": {c: {k: _scores_json(v) for k, v in s.items()} for c, s in result.per_camera.items()},
        "not_hidden": [{"camera": o.camera, "frame": o.frame, "person_id": o.face.person_id,
                        "annotation_id": o.face.id, "visible_fraction": o.face.visible_fraction,
                        "changed_share": round(o.share, 4)} for o in result.boxes if not o.hidden],
    }


def pixel_table(result: PixelResult):
    """A rich table: per subset, overall and per camera, hidden boxes and faces hidden in every view."""
    from rich import box
    from rich.table import Table

    p = result.params
    table = Table(title=f"faces hidden in the pixels (> {p.change_levels:g} grey levels on >= "
                        f"{p.hidden_share:.0%} of the box)", box=box.SIMPLE_HEAD, pad_edge=False,
                  caption=f"visible: boxes with visible fraction >= {p.min_visible_fraction:g}; holistic: faces "
                          "(person at frame) whose every box is hidden")
    for col in ("subset", "camera", "boxes hidden", "holistic"):
        table.add_column(col, justify="left" if col in ("subset", "camera") else "right")

    def fmt(value: float | None, num: int, den: int) -> str:
        return f"{'-' if value is None else f'{value:.3f}'} {num}/{den}"

    for i, subset in enumerate(SUBSETS):
        if i:
            table.add_section()
        rows: Mapping[str, PixelScores] = {"all cameras": result.overall[subset],
                                           **{c: s[subset] for c, s in result.per_camera.items()}}
        for j, (name, s) in enumerate(rows.items()):
            table.add_row(subset if j == 0 else "", name, fmt(s.hidden_share, s.hidden, s.boxes),
                          fmt(s.holistic_hidden_share, s.faces_hidden, s.faces))
    return table
