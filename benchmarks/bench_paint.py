"""Where disguisor paints: the share of changed pixels outside the true heads of a synthetic recording.

For every view of an anonymized synthetic recording (``disguisor run REC -o OUT``): *painted*
pixels are those whose grey value moved by more than 6 levels (the rule of ``disguisor eval
--original/--anonymized``, which absorbs JPEG re-encoding); the *true head* is every person's
true head (the face surface and the rest of the head, replayed from the generator:
``disguisor.synth.truth.true_face_surfaces``) rendered with a z-buffer, minus pixels where the
sensor reads a surface more than 5 cm in front of it (an OR light), grown by 1 px (antialiased
edges). Reported: painted pixels outside the true heads / painted pixels (target <= 10%), and the
same for the true *face* surfaces alone (painted beyond the face: cap, hair, neck, background).

    .venv/bin/python benchmarks/bench_paint.py REC OUT [REC OUT ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from disguisor.evaluate.pixels import DEFAULT_CHANGE_LEVELS, anonymized_image_path
from disguisor.io.recording import open_recording
from disguisor.synth.truth import true_face_surfaces

IN_FRONT_M = 0.05


def _grey(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)


def truth_masks(renderer, camera, faces, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(head, face) bool (H, W) masks of the true heads / faces in one view (module doc)."""
    import pyrender

    scene = pyrender.Scene(bg_color=[0, 0, 0, 0])
    labels = {}
    for f in faces:
        labels[scene.add(pyrender.Mesh([pyrender.Primitive(positions=np.asarray(f.vertices, np.float32),
                                                            indices=np.asarray(f.triangles, np.int32))]))] = 1
        if f.occluder_vertices is not None:
            labels[scene.add(pyrender.Mesh([pyrender.Primitive(
                positions=np.asarray(f.occluder_vertices, np.float32),
                indices=np.asarray(f.occluder_triangles, np.int32))]))] = 2
    _, z, lab = renderer.render_window(scene, camera, (0, 0, camera.width, camera.height), labels)
    front = (depth > 0) & (z > 0) & (depth < z - IN_FRONT_M)
    k = np.ones((3, 3), np.uint8)
    head = cv2.dilate(((lab > 0) & ~front).astype(np.uint8), k).astype(bool)
    face = cv2.dilate(((lab == 1) & ~front).astype(np.uint8), k).astype(bool)
    return head, face


def measure(rec_dir: Path, out_dir: Path) -> dict:
    from disguisor.render.gl import CameraRenderer

    rec = open_recording(rec_dir)
    painted = outside_head = outside_face = 0
    truth = true_face_surfaces(rec_dir)
    renderer = CameraRenderer(rec.cameras)
    try:
        for frame, faces in truth.items():
            for cam in rec.cameras_at(frame):
                path = anonymized_image_path(out_dir, cam.name, frame)
                if path is None:
                    continue
                before = rec.read_color(cam, frame)
                after = cv2.imread(str(path), cv2.IMREAD_COLOR)
                changed = np.abs(_grey(before) - _grey(after)) > DEFAULT_CHANGE_LEVELS
                head, face = truth_masks(renderer, cam, faces, rec.read_depth(cam, frame))
                painted += int(changed.sum())
                outside_head += int((changed & ~head).sum())
                outside_face += int((changed & ~face).sum())
    finally:
        renderer.close()
    return {"recording": str(rec_dir), "anonymized": str(out_dir), "painted_px": painted,
            "outside_head": outside_head / max(painted, 1), "outside_face": outside_face / max(painted, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pairs", nargs="+", type=Path, help="REC OUT pairs")
    args = ap.parse_args()
    if len(args.pairs) % 2:
        ap.error("give REC OUT pairs")
    print("| recording | anonymized | painted px | outside the true heads | outside the true faces |")
    print("| --- | --- | --- | --- | --- |")
    for rec, out in zip(args.pairs[::2], args.pairs[1::2], strict=True):
        r = measure(rec, out)
        print(f"| {rec.name} | {out.name} | {r['painted_px']} | {r['outside_head']:.3f} | {r['outside_face']:.3f} |")


if __name__ == "__main__":
    main()
