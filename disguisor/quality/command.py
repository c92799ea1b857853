"""``disguisor quality``: image quality and identity leakage of anonymized faces.

For every ground-truth face box (``annotations.json`` of the recording), the box is cut from the
original colour image and from the anonymized one (``ANON/<camera>/<frame>.jpg``, as written by
``run`` and ``baseline``) and both are resized to ``crop_px`` squared. Reported (means over faces):

- SSIM (higher = closer to the original);
- with ``--weights-dir``: LPIPS (if the LPIPS linear file is there), DPS spatial / mean / sort and
  their sums, and a Fréchet distance of backbone features (see :mod:`disguisor.quality.deep`);
  lower = closer to the original;
- identity leakage (see :mod:`disguisor.quality.identity`): lower = better privacy;
- identity leakage by each recognizer (dlib ResNet, MobileFaceNet) at its calibrated threshold,
  the face located by SCRFD in the original, and the Fréchet distance of each recognizer's
  embeddings of the originals and the anonymized faces (non-standard; see
  :mod:`disguisor.quality.recognizer_leak`); needs the SCRFD model (``make install``), otherwise
  reported as not measured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from disguisor.errors import InputError
from disguisor.evaluate import load_ground_truth
from disguisor.evaluate.pixels import image_pair
from disguisor.io.atomic import atomic_write_text
from disguisor.io.recording import open_recording
from disguisor.quality.identity import IdentityModel, IdentitySummary, face_identity, summarize_identity
from disguisor.quality.params import QualityParams
from disguisor.quality.recognizer_leak import RecognizerLeak, RecognizerSummary, summarize
from disguisor.quality.ssim import ssim


@dataclass
class QualityReport:
    """Means over the evaluated faces; ``deep`` maps metric name -> mean (empty without weights);
    ``fid``: Fréchet distance (None without weights or with < 2 faces) on ``fid_features``
    (InceptionV3 pool3, or the backbone's pooled features); ``per_face``: one record per face
    (camera, frame, person, box, metrics)."""

    faces: int
    skipped_small: int
    ssim: float | None
    deep: dict[str, float]
    fid: float | None
    backbone: str | None
    identity: IdentitySummary | None
    fid_features: str | None = None
    per_face: list[dict[str, Any]] = field(default_factory=list)
    recognizers: dict[str, RecognizerSummary] = field(default_factory=dict)
    recognizers_note: str | None = None


def face_crop(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """The pixels of ``box`` (x0, y0, x1, y1, integer px) resized to size x size."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if min(x1 - x0, y1 - y0) > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def measure_quality(original: str | Path, anonymized: str | Path, gt: str | Path,
                    weights_dir: str | Path | None = None, backbone: str | None = None, identity: bool = True,
                    params: QualityParams = QualityParams(),
                    progress: Callable[[int], None] | None = None) -> QualityReport:
    """Compare anonymized faces with the originals (see the module docstring)."""
    original, anonymized = Path(original), Path(anonymized)
    if not anonymized.is_dir():
        raise InputError(anonymized, "anonymized output folder not found", field="--anonymized")
    truth = load_ground_truth(gt)
    rec = open_recording(original)
    deep = None
    if weights_dir is not None:
        from disguisor.quality.deep import load_deep_metrics

        deep = load_deep_metrics(weights_dir, backbone)
    id_model = IdentityModel(params) if identity else None
    leak_model, leak_note = None, None
    if identity:
        try:
            leak_model = RecognizerLeak(params=params)
        except InputError as exc:  # SCRFD is installed by `make install` only (non-commercial weights)
            leak_note = f"recognizer leakage not measured: {exc}"

    faces_by_image: dict[Any, list] = {}
    for face in truth.faces:
        faces_by_image.setdefault(face.image_id, []).append(face)
    crops_o, crops_a, records, outcomes, pairs = [], [], [], [], []
    skipped = 0
    done = 0
    for image_id, faces in faces_by_image.items():
        info = truth.images[image_id]
        _, before, after = image_pair(rec, info, Path(anonymized), gt, original)
        img_o, img_a = np.ascontiguousarray(before[..., ::-1]), np.ascontiguousarray(after[..., ::-1])
        h, w = img_o.shape[:2]
        for face in faces:
            x, y, bw, bh = face.bbox
            x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
            x1, y1 = min(int(np.ceil(x + bw)), w), min(int(np.ceil(y + bh)), h)
            if min(x1 - x0, y1 - y0) < params.min_face_px:
                skipped += 1
                continue
            co = face_crop(img_o, (x0, y0, x1, y1), params.crop_px)
            ca = face_crop(img_a, (x0, y0, x1, y1), params.crop_px)
            crops_o.append(co)
            crops_a.append(ca)
            rec_face: dict[str, Any] = {"camera": info.camera, "frame": info.frame, "person_id": face.person_id,
                                        "bbox": [round(float(v), 2) for v in face.bbox], "ssim": ssim(co, ca, params)}
            if id_model is not None:
                outcome = face_identity(id_model, img_o, img_a, face.bbox)
                outcomes.append(outcome)
                rec_face["identity"] = asdict(outcome)
            if leak_model is not None:
                pairs.append(leak_model.embeddings(img_o, img_a, face.bbox))
                rec_face["recognizers"] = leak_model.distances(pairs[-1])
            records.append(rec_face)
            done += 1
            if progress is not None:
                progress(done)

    deep_means: dict[str, float] = {}
    fid_value = None
    if deep is not None and records:
        from disguisor.quality.deep import fid, pair_distances

        a, b = np.stack(crops_o), np.stack(crops_a)
        dists = pair_distances(deep, a, b) if deep.backbone is not None else {}
        for name, values in dists.items():
            deep_means[name] = float(values.mean())
            for rec_face, v in zip(records, values, strict=True):
                rec_face[name] = float(v)
        if len(records) >= 2:
            fid_value = fid(deep, a, b)
    return QualityReport(
        faces=len(records), skipped_small=skipped,
        ssim=float(np.mean([r["ssim"] for r in records])) if records else None,
        deep=deep_means, fid=fid_value,
        backbone=None if deep is None or deep.backbone is None else deep.backbone.kind,
        fid_features=None if deep is None else deep.fid_features,
        identity=summarize_identity(outcomes, params.identity_threshold) if id_model is not None else None,
        per_face=records,
        recognizers=summarize([r["recognizers"] for r in records], pairs=pairs) if leak_model is not None else {},
        recognizers_note=leak_note)


def report_rows(report: QualityReport) -> list[tuple[str, str]]:
    """(metric, value) rows for printing."""

    def fmt(v: float | None, digits: int = 4) -> str:
        return "n/a" if v is None else f"{v:.{digits}f}"

    rows = [("faces evaluated", str(report.faces)), ("faces skipped (too small)", str(report.skipped_small)),
            ("SSIM (higher = closer)", fmt(report.ssim))]
    for name, value in report.deep.items():
        rows.append((f"{name.upper().replace('_', ' ')} ({report.backbone}, lower = closer)", fmt(value)))
    if report.fid_features is not None:
        rows.append((f"FID on {report.fid_features} (lower = closer)", fmt(report.fid, 2)))
    ident = report.identity
    if ident is not None:
        rows += [("identity: originals found by dlib", f"{ident.originals_found} of {ident.faces}"),
                 ("identity: originals not embeddable", f"{ident.not_embeddable} of {ident.faces}"),
                 ("identity: leak, detected (lower = better)", fmt(ident.leak_detected, 3)),
                 ("identity: leak, forced at the box (lower = better)", fmt(ident.leak_forced, 3)),
                 ("identity: anonymized still detected", fmt(ident.anonymized_detected, 3)),
                 ("identity: mean distance, forced", fmt(ident.mean_distance_forced, 3)),
                 ("identity: threshold", f"{ident.threshold:g}")]
    for name, r in report.recognizers.items():
        rows += [(f"{name}: faces embeddable (SCRFD found the original)", f"{r.embeddable} of {r.faces}"),
                 (f"{name}: leak at threshold {r.threshold:g} (lower = better)", fmt(r.leak, 3)),
                 (f"{name}: mean distance", fmt(r.mean_distance, 3)),
                 (f"{name}: Fréchet distance of the embeddings (non-standard; of distributions)", fmt(r.frechet, 3))]
    if report.recognizers_note:
        rows.append(("recognizers", report.recognizers_note))
    return rows


def write_report(report: QualityReport, path: str | Path, **sources: str | Path | None) -> None:
    data = {"sources": {k: None if v is None else str(v) for k, v in sources.items()}, **asdict(report)}
    atomic_write_text(Path(path), json.dumps(data, indent=1) + "\n")
