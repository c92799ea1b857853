"""Paths of ``disguisor run``'s output images and per-frame records (``detections.json`` and
``images.json``: :mod:`disguisor.io.detections`).

Per-frame records (``out/stages/frames/<frame>.json``) are written after the frame's images;
a frame with a record whose cache key matches is done and skipped on resume.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from disguisor.io.atomic import atomic_write_text
from disguisor.io.recording import frame_file_name

log = logging.getLogger(__name__)


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
