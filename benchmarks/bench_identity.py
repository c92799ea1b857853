"""Identity leakage of ``disguisor anonymize-images`` on real photographs, with two recognizers.

Photographs (``benchmarks/photos/``, copied by ``make install``, not in git): the Solvay
conference 1927 photograph, Newton and Gauss (public-domain paintings/photographs; all three from
the PyPI scrfd 0.3.0 source archive), three photographs of one man and one of another from the
face_recognition 1.3.0 source archive's test images, and scikit-image's astronaut (NASA, public
domain). Method: :mod:`disguisor.quality.photo_identity`.

    .venv/bin/python benchmarks/bench_identity.py [--photos benchmarks/photos] [--json bench-output/identity.json]
        [--seeds 0 1 2]

For each recognizer (dlib ResNet, MobileFaceNet): genuine and impostor distances, the
same-person threshold (impostor false-match rate 1%), the share of faces still matched after
anonymization (template auto and one fixed template, each with the per-face variation for every
``--seeds`` value and once without variation; blur 61 px; and a control where every face is
replaced by another real person's face, painted like a template), the mean distance against the
impostor median, how often two different people given the same template match each other, and
the re-identification across photographs (an anonymized face against the other originals of
the same person).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from disguisor.facedet import make_face_detector
from disguisor.images.anonymize import ImageAnonymizer, ImagesParams
from disguisor.quality import photo_identity as pi
from disguisor.quality.recognizers import RECOGNIZERS, make_recognizer
from disguisor.render.variation import VariationParams

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=Path, default=ROOT / "benchmarks" / "photos")
    ap.add_argument("--json", type=Path, default=ROOT / "bench-output" / "identity.json")
    ap.add_argument("--template", default="light", help="the fixed template of the linkability check")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="per-run seeds of the template variation")
    args = ap.parse_args()
    t0 = time.perf_counter()
    images = pi.load_photos(args.photos)
    photos = pi.find_faces(images, make_face_detector("scrfd"))
    print(f"{len(images)} photographs, {len(photos.faces)} faces, "
          f"{len({f.person for f in photos.faces})} people ({time.perf_counter() - t0:.1f} s)")
    fixed = VariationParams(enabled=False)
    variants = {"template-auto, no variation": ImagesParams(template="auto", variation=fixed),
                f"template-{args.template}, no variation": ImagesParams(template=args.template, variation=fixed)}
    for seed in args.seeds:
        variants[f"template-auto, seed {seed}"] = ImagesParams(template="auto", seed=seed)
        variants[f"template-{args.template}, seed {seed}"] = ImagesParams(template=args.template, seed=seed)
    variants["blur"] = ImagesParams(method="blur")
    anonymized = {}
    for name, params in variants.items():
        anonymizer = ImageAnonymizer(params)
        anonymized[name] = {}
        for n, im in images.items():
            anonymizer.reset_track()  # separate photographs, not frames of one video
            anonymized[name][n] = anonymizer(im)[0]
    anonymized["control: another real face"] = pi.swap_control(photos)
    out: dict = {"photos": sorted(images), "faces": len(photos.faces), "recognizers": {}}
    for rname in RECOGNIZERS:
        rec = make_recognizer(rname)
        cal, emb = pi.calibrate(rec, photos)
        entry = {"calibration": cal.summary(), "variants": {}}
        # does the recognizer tell people apart at all? share of impostors closer than each genuine photo pair
        imp = np.array(cal.impostor)
        entry["calibration"]["genuine_photo_pair_impostor_rank"] = [float(np.mean(imp < g)) for g in cal.genuine_photos]
        for vname, anon in anonymized.items():
            lk = pi.leakage(rec, photos, anon, emb, cal)
            emb_a = lk.pop("embeddings")
            link = pi.linkability(rec, photos, emb_a, cal)
            cross = pi.cross_photo_leak(rec, photos, emb_a, emb, cal)
            entry["variants"][vname] = {**lk, "linkability": link, "cross_photo": cross}
        out["recognizers"][rname] = entry
        c = entry["calibration"]
        print(f"\n{rname}: threshold {c['threshold_fmr_1pct']:.3f} (impostor 1%), impostor median "
              f"{c['impostor_median']:.3f} ({c['impostor_pairs']} pairs), genuine mean {c['genuine_mean']:.3f} max "
              f"{c['genuine_max']:.3f} ({c['genuine_pairs']} pairs; photo pairs max {c['genuine_photos_max']:.3f}, "
              f"impostor rank {[round(r, 2) for r in c['genuine_photo_pair_impostor_rank']]})")
        print("| variant | leak | mean distance | above impostor median | Fréchet (non-standard) | "
              "linked (different people) | other photos of the person matched |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for vname, v in entry["variants"].items():
            cp = v["cross_photo"]
            print(f"| {vname} | {v['leak']:.1%} | {v['mean_distance']:.3f} | {v['above_impostor_median']} | "
                  f"{v['frechet']:.3f} | "
                  f"{v['linkability']['matched']:.1%} (impostors {v['linkability']['impostor_matched']:.1%}) | "
                  f"{cp['matched']:.0%} of {cp['pairs']} (min {min(cp['distances']):.3f}) |")
    out["seconds"] = round(time.perf_counter() - t0, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwrote {args.json} ({out['seconds']} s)")


if __name__ == "__main__":
    main()
