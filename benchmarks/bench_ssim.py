"""SSIM of the replacement against blur 61x61 and pixelation 8x8 on ground-truth face boxes (issue 14, item 6).

Synthetic OR recordings (``disguisor synth``, every scenario, each size): ``disguisor run`` with
the recording's simulated 2D keypoints gives the replacement; blur (61 x 61 Gaussian) and
pixelation (8 x 8 cells) are applied by :mod:`disguisor.render.obfuscate` to each ground-truth
face box of the original (an oracle detector: the most favourable case for them). Real
photographs (``benchmarks/photos``, as bench_identity.py): ``anonymize-images`` with templates
against blur / pixelation of the SCRFD boxes. Each face box is cut from the original and the
anonymized picture, resized to 128 x 128 and compared in grey levels, as ``disguisor quality``
does (:func:`disguisor.quality.command.face_crop`, :func:`disguisor.quality.ssim.ssim`).

    .venv/bin/python benchmarks/bench_ssim.py [--scenarios easy medium hard] [--sizes 1280x720 2048x1536]
        [--frames 3] [--seed 0] [--out bench-output/ssim] [--skip-runs] [--no-photos] [--set SECTION.FIELD=VALUE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from disguisor.evaluate import load_ground_truth
from disguisor.evaluate.pixels import image_pair
from disguisor.io.recording import open_recording
from disguisor.quality.command import face_crop
from disguisor.quality.params import QualityParams
from disguisor.quality.ssim import ssim
from disguisor.render.obfuscate import ObfuscationParams, box_mask, obfuscate
from disguisor.synth.or_scene import generate_or_recording

ROOT = Path(__file__).resolve().parents[1]
CLASSIC = ("blur", "pixelate")


def _box(bbox, w: int, h: int) -> tuple[int, int, int, int] | None:
    x, y, bw, bh = (float(v) for v in bbox[:4])
    x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
    x1, y1 = min(int(np.ceil(x + bw)), w), min(int(np.ceil(y + bh)), h)
    return (x0, y0, x1, y1) if min(x1 - x0, y1 - y0) >= QualityParams().min_face_px else None


def face_scores(original: np.ndarray, replaced: np.ndarray, boxes: list, q: QualityParams = QualityParams()
                ) -> dict[str, list[float]]:
    """SSIM per face box (x, y, w, h px) of the replacement and of each classical method applied
    to that box alone, all against ``original`` (RGB uint8)."""
    h, w = original.shape[:2]
    out: dict[str, list[float]] = {"replacement": [], **{m: [] for m in CLASSIC}}
    for bbox in boxes:
        box = _box(bbox, w, h)
        if box is None:
            continue
        ref = face_crop(original, box, q.crop_px)
        out["replacement"].append(ssim(ref, face_crop(replaced, box, q.crop_px), q))
        mask = box_mask((h, w), np.asarray(bbox[:4], float)[None])
        for m in CLASSIC:
            out[m].append(ssim(ref, face_crop(obfuscate(original, mask, m, ObfuscationParams()), box, q.crop_px), q))
    return out


def synthetic(scenario: str, size: str, args) -> dict:
    w, h = (int(v) for v in size.split("x"))
    rec = args.out / f"{scenario}_{size}_{args.frames}f_s{args.seed}"
    if not (rec / "annotations.json").exists():
        generate_or_recording(rec, scenario, frames=args.frames, size=(w, h), seed=args.seed, overwrite=True)
    out = args.out / f"run_{scenario}_{size}_{args.frames}f_s{args.seed}"
    t0 = time.perf_counter()
    if not args.skip_runs or not out.is_dir():
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "disguisor", "--quiet", "run", str(rec), "-o", str(out), "--keypoints",
               str(rec / "keypoints2d.json"), *[a for s in args.set for a in ("--set", s)]]
        subprocess.run(cmd, check=True)
    truth = load_ground_truth(rec / "annotations.json")
    recording = open_recording(rec)
    faces_by_image: dict = {}
    for face in truth.faces:
        faces_by_image.setdefault(face.image_id, []).append(face.bbox)
    scores: dict[str, list[float]] = {"replacement": [], **{m: [] for m in CLASSIC}}
    for image_id, boxes in faces_by_image.items():
        _, before, after = image_pair(recording, truth.images[image_id], out, rec / "annotations.json", rec)
        s = face_scores(np.ascontiguousarray(before[..., ::-1]), np.ascontiguousarray(after[..., ::-1]), boxes)
        for k, v in s.items():
            scores[k] += v
    return {"scenario": scenario, "size": size, "frames": args.frames, "seed": args.seed,
            "run_seconds": round(time.perf_counter() - t0, 1), **_summary(scores)}


def photographs(args) -> dict:
    from disguisor.facedet import make_face_detector
    from disguisor.images.anonymize import ImageAnonymizer, ImagesParams
    from disguisor.quality import photo_identity as pi

    images = pi.load_photos(args.photos)
    detector = make_face_detector("scrfd")
    anonymizer = ImageAnonymizer(ImagesParams(seed=args.seed))
    scores: dict[str, list[float]] = {"replacement": [], **{m: [] for m in CLASSIC}}
    for image in images.values():
        boxes, _ = detector.detect_landmarks(image)
        anonymizer.reset_track()
        s = face_scores(image, anonymizer(image)[0], [b[:4] for b in boxes])
        for k, v in s.items():
            scores[k] += v
    return {"scenario": "photographs", "size": "various", "photos": sorted(images), "seed": args.seed,
            **_summary(scores)}


def _summary(scores: dict[str, list[float]]) -> dict:
    return {"faces": len(scores["replacement"]),
            "ssim": {k: round(float(np.mean(v)), 4) if v else None for k, v in scores.items()},
            "replacement_above": {m: bool(np.mean(scores["replacement"]) > np.mean(scores[m]))
                                  for m in CLASSIC if scores[m]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--sizes", nargs="+", default=["1280x720", "2048x1536"])
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-output" / "ssim")
    ap.add_argument("--photos", type=Path, default=ROOT / "benchmarks" / "photos")
    ap.add_argument("--skip-runs", action="store_true", help="reuse run outputs already in --out")
    ap.add_argument("--no-photos", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="passed to disguisor run (SECTION.FIELD=VALUE)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rows = [synthetic(sc, size, args) for size in args.sizes for sc in args.scenarios]
    if not args.no_photos:
        rows.append(photographs(args))
    print("| scenario | size | faces | replacement | blur 61x61 | pixelation 8x8 | replacement highest |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        s = r["ssim"]
        print(f"| {r['scenario']} | {r['size']} | {r['faces']} | {s['replacement']:.3f} | {s['blur']:.3f} | "
              f"{s['pixelate']:.3f} | {'yes' if all(r['replacement_above'].values()) else 'no'} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ssim.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {args.out / 'ssim.json'}")


if __name__ == "__main__":
    main()
