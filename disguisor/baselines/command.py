"""``disguisor baseline``: per-image face detection and classical obfuscation of a recording.

Writes the same files as ``disguisor run`` so that ``eval`` and ``quality`` read both alike::

    out/
      <camera>/<frame>.jpg   every colour image, detected faces blurred / pixelated / blackened
      detections.json        COCO results: {image_id, category_id 1, bbox [x, y, w, h] px, score,
                             camera, frame} per detected face
      images.json            the images the ids refer to (COCO ``images`` entries)
      baseline.json          detector, method, threshold, counts and timings

Image ids follow ``disguisor run`` (:func:`disguisor.io.detections.image_ids`): the recording's
``annotations.json`` ids when present, matched by camera and frame. The folder is built under a
temporary name and moved into place at the end: it is complete or absent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from disguisor.errors import InputError
from disguisor.facedet.detectors import DetectorParams, make_face_detector
from disguisor.io.atomic import atomic_write_text, staged_output_dir, write_image
from disguisor.io.detections import face_detection, image_ids, write_detections
from disguisor.io.recording import frame_file_name, open_recording
from disguisor.render.obfuscate import ObfuscationParams, box_mask, obfuscate

METHODS: tuple[str, ...] = ("blur", "pixelate", "blacken")
ProgressFactory = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]


@dataclass(frozen=True)
class BaselineParams:
    """jpeg_quality: of the written images (same as ``disguisor run``). box_margin: each detected
    box is grown by this share of its size on every side before hiding, since detectors' boxes
    are tight and a visible chin or forehead helps re-identification (0 = the paper's setting)."""

    jpeg_quality: int = 95
    box_margin: float = 0.0
    obfuscation: ObfuscationParams = field(default_factory=ObfuscationParams)
    detector: DetectorParams = field(default_factory=DetectorParams)


@dataclass
class BaselineReport:
    """What a baseline run did. seconds_per_image: detector time only (mean over images)."""

    detector: str
    method: str
    score_threshold: float | None
    images: int
    faces: int
    seconds_per_image: float
    seconds_total: float
    out: str


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def grow_boxes(boxes: np.ndarray, margin: float) -> np.ndarray:
    """x, y, w, h(, ...) boxes grown by ``margin`` of their size on every side."""
    out = np.array(boxes, float).reshape(len(boxes), -1)
    out[:, 0] -= out[:, 2] * margin
    out[:, 1] -= out[:, 3] * margin
    out[:, 2:4] *= 1 + 2 * margin
    return out


def run_baseline(recording: str | Path, out: str | Path, detector: str, method: str,
                 weights: str | Path | None = None, score_threshold: float | None = None,
                 overwrite: bool = False, params: BaselineParams = BaselineParams(),
                 progress: ProgressFactory | None = None) -> BaselineReport:
    """Detect faces in every colour image of ``recording`` and hide them with ``method``; write ``out``."""
    recording, out = Path(recording), Path(out)
    if method not in METHODS:
        raise InputError(None, f"must be one of {', '.join(METHODS)}, not {method!r}", field="--method")
    if score_threshold is not None and not 0.0 <= score_threshold <= 1.0:
        raise InputError(None, f"must be in [0, 1], not {score_threshold:g}", field="--score-threshold")
    if _inside(out, recording) or _inside(recording, out):
        raise InputError(out, "the output folder must lie outside the recording (inputs are never modified)",
                         field="--out")
    rec = open_recording(recording)
    det = make_face_detector(detector, Path(weights) if weights is not None else None, score_threshold,
                             params.detector)
    ids = image_ids(rec)
    total = sum(len(rec.cameras_at(f)) for f in rec.frames)
    t_start = time.perf_counter()
    detect_s = 0.0
    detections: list[dict] = []
    done = 0
    bar = progress(f"{detector} + {method}", total) if progress is not None else nullcontext(lambda _d: None)
    with staged_output_dir(out, overwrite=overwrite) as stage, bar as update:
        for frame, camera, bgr in _images(rec):
            rgb = np.ascontiguousarray(bgr[..., ::-1])
            t0 = time.perf_counter()
            boxes = det.detect(rgb)
            detect_s += time.perf_counter() - t0
            hidden = rgb
            if len(boxes):
                mask = box_mask(rgb.shape[:2], grow_boxes(boxes, params.box_margin)[:, :4])
                hidden = obfuscate(rgb, mask, method, params.obfuscation)  # type: ignore[arg-type]
            write_image(stage / camera / frame_file_name(frame, ".jpg"), np.ascontiguousarray(hidden[..., ::-1]),
                        jpeg_quality=params.jpeg_quality)
            detections += [face_detection(ids[camera, frame], b[:4], camera, frame, f"2d:{det.name}", b[4])
                           for b in boxes]
            done += 1
            update(done)
        seconds = time.perf_counter() - t_start
        report = BaselineReport(detector=det.name, method=method, score_threshold=score_threshold, images=done,
                                faces=len(detections), seconds_per_image=detect_s / max(done, 1),
                                seconds_total=seconds, out=str(out))
        write_detections(stage, detections, rec, ids)
        atomic_write_text(stage / "baseline.json", json.dumps(asdict(report), indent=1) + "\n")
    close = getattr(det, "close", None)
    if close is not None:
        close()
    return report


def _images(rec) -> Iterator[tuple[int, str, np.ndarray]]:
    for frame in rec.frames:
        for cam in rec.cameras_at(frame):
            yield frame, cam.name, rec.read_color(cam, frame)
