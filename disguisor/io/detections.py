"""``detections.json`` and ``images.json``: the one owner of the files every anonymizing command
writes (``run``, ``baseline``, the hybrid mode) and ``eval`` reads.

- ``detections.json``: COCO results, a list of ``{image_id, category_id: 1, bbox [x, y, w, h]
  px, score, person_id?, camera, frame, source, painted_bbox?}`` (:func:`face_detection`);
- ``images.json``: ``{"images": [COCO image entries with camera, frame, role], "categories":
  [{"id": 1, "name": "face"}]}``.

Image ids. When the recording has an ``annotations.json`` (ground truth, e.g. from
``disguisor synth``), its ids are used, matched by camera and frame; otherwise
``image_id = frame * number_of_cameras + camera_index + 1`` (camera_index: position in
calibration.json), the rule ``disguisor synth`` also follows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from disguisor.io.atomic import atomic_write_text
from disguisor.io.recording import Recording, frame_file_name

log = logging.getLogger(__name__)

FACE_CATEGORY = {"id": 1, "name": "face"}


def image_ids(recording: Recording) -> dict[tuple[str, int], int | str]:
    """(camera name, frame) -> image id for every image of the recording."""
    names = [c.name for c in recording.cameras]
    ids: dict[tuple[str, int], int | str] = {
        (name, frame): frame * len(names) + i + 1 for frame in recording.frames for i, name in enumerate(names)}
    gt = recording.root / "annotations.json"
    if gt.is_file():
        try:
            images = json.loads(gt.read_text())["images"]
            from_gt = {(str(im["camera"]), int(im["frame"])): im["id"] for im in images}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: not used for image ids (%s); using the default numbering", gt, exc)
        else:
            ids.update({k: v for k, v in from_gt.items() if k in ids})
    return ids


def images_document(recording: Recording, ids: dict[tuple[str, int], int | str]) -> list[dict[str, Any]]:
    """COCO ``images`` entries of the anonymized output (file names relative to the output folder)."""
    out = []
    for frame in recording.frames:
        for cam in recording.cameras_at(frame):
            out.append({"id": ids[cam.name, frame], "file_name": f"{cam.name}/{frame_file_name(frame, '.jpg')}",
                        "width": cam.width, "height": cam.height, "camera": cam.name, "frame": frame,
                        "role": cam.role})
    return out


def _box(values: Iterable[float]) -> list[float]:
    return [round(float(v), 2) for v in values]


def face_detection(image_id: int | str, bbox: Iterable[float], camera: str, frame: int, source: str,
                   score: float = 1.0, person_id: int | None = None,
                   painted_bbox: Iterable[float] | None = None) -> dict[str, Any]:
    """One ``detections.json`` entry: a face hidden in one image.

    Args:
        bbox: ``[x, y, w, h]`` pixels, the best estimate of the visible face.
        source: what found it: ``3d``, ``head-sphere``, ``2d-head``, ``depth-head``, ``2d-turned``,
            ``2d-lifted`` (a face found in 2D in another view, lifted with its depth), ``border``,
            ``2d:<detector>``.
        painted_bbox: ``[x, y, w, h]`` of the pixels actually changed (3D faces).
    """
    entry: dict[str, Any] = {"image_id": image_id, "category_id": FACE_CATEGORY["id"], "bbox": _box(bbox)}
    if painted_bbox is not None:
        entry["painted_bbox"] = _box(painted_bbox)
    entry["score"] = round(float(score), 4)
    if person_id is not None:
        entry["person_id"] = int(person_id)
    entry.update(camera=camera, frame=int(frame), source=source)
    return entry


def write_detections(out: Path, detections: list[dict[str, Any]], recording: Recording,
                     ids: dict[tuple[str, int], int | str]) -> None:
    """Write ``out/detections.json`` and ``out/images.json`` atomically."""
    atomic_write_text(out / "detections.json", json.dumps(detections, indent=1) + "\n")
    document = {"images": images_document(recording, ids), "categories": [FACE_CATEGORY]}
    atomic_write_text(out / "images.json", json.dumps(document, indent=1) + "\n")
