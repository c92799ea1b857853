"""Output files of ``disguisor run`` besides the images: image ids, detections.json, per-frame records.

Image ids. ``detections.json`` refers to images by ``image_id``. When the recording has an
``annotations.json`` (ground truth, e.g. from ``disguisor synth``), its ids are used, matched
by camera and frame; otherwise ``image_id = frame * number_of_cameras + camera_index + 1``
(camera_index: position in calibration.json), the rule ``disguisor synth`` also follows.
``out/images.json`` lists every image (COCO ``images`` entries with camera and frame), so the
detections are self-describing.

Per-frame records (``out/stages/frames/<frame>.json``) are written after the frame's images;
a frame with a record whose cache key matches is done and skipped on resume.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from disguisor.io.atomic import atomic_write_text
from disguisor.io.recording import Recording, frame_file_name

log = logging.getLogger(__name__)


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


def output_image_path(out: Path, camera: str, frame: int) -> Path:
    return out / camera / frame_file_name(frame, ".jpg")


def frame_record_path(out: Path, frame: int) -> Path:
    return out / "stages" / "frames" / frame_file_name(frame, ".json")


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def read_frame_record(out: Path, frame: int) -> dict[str, Any] | None:
    path = frame_record_path(out, frame)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
