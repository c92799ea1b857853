"""2D face-detector baselines on the synthetic OR scenarios: recall, holistic recall, time per
image, and image quality + identity leakage of each classical obfuscation.

For each scenario a synthetic recording is generated (cached under --out). Each detector runs
once per recording (``disguisor baseline`` with blur); pixelation and blackening reuse its boxes.
The row ``gt-boxes`` hides the ground-truth boxes themselves: the quality a classical
obfuscation reaches when detection is perfect. Extra methods (disguisor itself, the hybrid) are
added with ``--extra NAME=DIR``: DIR/<scenario>/ (or DIR with ``{scenario}`` in it) must be an
output folder (``<camera>/<frame>.jpg`` + ``detections.json``) of that scenario's recording,
whose paths the script prints.

    .venv/bin/python benchmarks/bench_baselines.py [--frames 2] [--size 1280x720]
        [--detectors centerface blazeface dlib] [--dsfd-weights FILE] [--weights-dir DIR]
        [--extra disguisor=runs/{scenario}]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from disguisor.baselines.command import run_baseline
from disguisor.evaluate import evaluate, load_ground_truth, load_predictions
from disguisor.io.atomic import staged_output_dir, write_image
from disguisor.io.recording import frame_file_name, open_recording
from disguisor.quality.command import measure_quality
from disguisor.quality.params import QualityParams
from disguisor.render.obfuscate import box_mask, obfuscate
from disguisor.synth.or_scene import generate_or_recording

METHODS = ("blur", "pixelate", "blacken")


def hide_boxes(rec_dir: Path, boxes_by_image: dict[tuple[str, int], list], method: str, out: Path) -> None:
    """Write ``out/<camera>/<frame>.jpg`` with the given boxes hidden by ``method``."""
    rec = open_recording(rec_dir)
    with staged_output_dir(out, overwrite=True) as stage:
        for frame in rec.frames:
            for cam in rec.cameras_at(frame):
                rgb = np.ascontiguousarray(rec.read_color(cam, frame)[..., ::-1])
                boxes = boxes_by_image.get((cam.name, frame), [])
                if boxes:
                    rgb = obfuscate(rgb, box_mask(rgb.shape[:2], np.array(boxes)), method)  # type: ignore[arg-type]
                write_image(stage / cam.name / frame_file_name(frame, ".jpg"), np.ascontiguousarray(rgb[..., ::-1]))


def localization(rec: Path, pred: Path) -> dict:
    gt = load_ground_truth(rec / "annotations.json")
    res = evaluate(gt, load_predictions(pred, gt))
    return {"recall": res.overall.recall, "holistic_recall": res.overall.holistic_recall,
            "precision": res.overall.precision, "per_camera": {c: s.recall for c, s in res.per_camera.items()}}


def quality(rec: Path, anon: Path, weights_dir: Path | None, identity: bool, params: QualityParams) -> dict:
    r = measure_quality(rec, anon, rec / "annotations.json", weights_dir=weights_dir, identity=identity,
                        params=params)
    out = {"faces": r.faces, "ssim": r.ssim, **r.deep, "fid": r.fid}
    if r.identity is not None:
        out.update({"id_embeddable": r.identity.embeddable, "id_faces": r.identity.faces,
                    "id_originals_found": r.identity.originals_found,
                    "leak_detected": r.identity.leak_detected, "leak_forced": r.identity.leak_forced,
                    "id_distance_forced": r.identity.mean_distance_forced})
    return out


def _fmt(v, digits: int = 3) -> str:
    return "n/a" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--scenarios", nargs="+", default=["easy", "medium", "hard"])
    ap.add_argument("--detectors", nargs="+", default=["centerface", "blazeface", "dlib"])
    ap.add_argument("--dsfd-weights", type=Path, default=None, help="adds dsfd with these weights")
    ap.add_argument("--weights-dir", type=Path, default=None, help="backbone weights for LPIPS/DPS/FID")
    ap.add_argument("--no-identity", action="store_true", help="skip identity leakage (dlib, slowest part)")
    ap.add_argument("--identity-at-box", action="store_true",
                    help="embed originals dlib cannot find at their ground-truth box (synthetic faces)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--out", type=Path, default=Path("bench-output/baselines"))
    args = ap.parse_args()
    qp = QualityParams(identity_at_box=args.identity_at_box)
    w, h = (int(v) for v in args.size.split("x"))
    detectors = list(args.detectors) + (["dsfd"] if args.dsfd_weights else [])
    extras = dict(e.split("=", 1) for e in args.extra)
    results: list[dict] = []
    for scenario in args.scenarios:
        rec = args.out / f"synth_{scenario}_{w}x{h}_{args.frames}f"
        if not (rec / "annotations.json").exists():
            generate_or_recording(rec, scenario, frames=args.frames, size=(w, h), seed=0, overwrite=True)
        print(f"recording for {scenario}: {rec}", flush=True)
        gt = json.loads((rec / "annotations.json").read_text())
        cam_frame = {im["id"]: (im["camera"], im["frame"]) for im in gt["images"]}
        gt_boxes: dict[tuple[str, int], list] = {}
        for a in gt["annotations"]:
            gt_boxes.setdefault(cam_frame[a["image_id"]], []).append(a["bbox"])
        rows: list[tuple[str, Path, float | None]] = []
        for det in detectors:
            base = args.out / f"{scenario}_{det}_blur"
            t0 = time.perf_counter()
            report = run_baseline(rec, base, det, "blur", weights=args.dsfd_weights if det == "dsfd" else None,
                                  overwrite=True)
            print(f"  {det}: {report.faces} faces in {report.images} images, "
                  f"{1000 * report.seconds_per_image:.0f} ms/image ({time.perf_counter() - t0:.1f} s)", flush=True)
            rows.append((det, base, report.seconds_per_image))
        for name, pattern in extras.items():
            folder = Path(pattern.format(scenario=scenario)) if "{scenario}" in pattern else Path(pattern) / scenario
            if not (folder / "detections.json").is_file():
                raise SystemExit(f"--extra {name}: {folder / 'detections.json'} not found")
            rows.append((name, folder, None))
        for name, folder, sec in rows:
            entry = {"scenario": scenario, "method": name, "seconds_per_image": sec,
                     **localization(rec, folder / "detections.json")}
            if name in extras:
                entry["quality"] = {"own": quality(rec, folder, args.weights_dir, not args.no_identity, qp)}
            else:
                dets = json.loads((folder / "detections.json").read_text())
                boxes: dict[tuple[str, int], list] = {}
                for d in dets:
                    boxes.setdefault((d["camera"], d["frame"]), []).append(d["bbox"])
                entry["quality"] = {}
                for method in METHODS:
                    anon = folder if method == "blur" else args.out / f"{scenario}_{name}_{method}"
                    if method != "blur":
                        hide_boxes(rec, boxes, method, anon)
                    entry["quality"][method] = quality(rec, anon, args.weights_dir, not args.no_identity, qp)
            results.append(entry)
            print(f"  evaluated {name}", flush=True)
        for method in METHODS:
            anon = args.out / f"{scenario}_gt-boxes_{method}"
            hide_boxes(rec, gt_boxes, method, anon)
            results.append({"scenario": scenario, "method": "gt-boxes", "quality": {
                method: quality(rec, anon, args.weights_dir, not args.no_identity, qp)}})
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")

    print("\n| scenario | detector | recall | holistic recall | precision | recall per camera | ms/image |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        if "recall" not in r:
            continue
        cams = ", ".join(f"{c} {_fmt(v, 2)}" for c, v in r["per_camera"].items())
        ms = None if r["seconds_per_image"] is None else 1000 * r["seconds_per_image"]
        print(f"| {r['scenario']} | {r['method']} | {_fmt(r['recall'])} | {_fmt(r['holistic_recall'])} | "
              f"{_fmt(r['precision'])} | {cams} | {_fmt(ms, 0)} |")
    deep_keys = sorted({k for r in results for q in r["quality"].values() for k in q
                        if (k.startswith(("lpips", "dps")) or k == "fid") and q[k] is not None})
    print("\nQuality on ground-truth face crops (SSIM higher = closer to the original; leaks lower = better "
          "privacy; 'embeddable' = originals dlib can embed):\n")
    head = ["scenario", "boxes from", "obfuscation", "faces", "SSIM", *deep_keys, "embeddable", "leak (detected)",
            "leak (forced)", "id distance"]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for r in results:
        for method, q in r["quality"].items():
            vals = [r["scenario"], r["method"], method, q["faces"], _fmt(q["ssim"]),
                    *(_fmt(q.get(k)) for k in deep_keys),
                    f"{q.get('id_embeddable', 'n/a')}/{q.get('id_faces', 'n/a')}", _fmt(q.get("leak_detected")),
                    _fmt(q.get("leak_forced")), _fmt(q.get("id_distance_forced"))]
            print("| " + " | ".join(str(v) for v in vals) + " |")
    print(f"\nwrote {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
