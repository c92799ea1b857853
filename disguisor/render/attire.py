"""Attire of a tracked person (surgical mask, cap) and skin tone, from the views that see the face.

The face surface (:class:`~disguisor.refine.surface.FaceSurface`) says where each part of the
face is: its vertices carry canonical face UV (v = 0 crown side, 1 chin), and its occluder mesh
is the rest of the head. Projected into a view, three regions are sampled:

- lower face: UV ``LOWER_UV`` (mouth and chin; a surgical mask covers it),
- forehead: UV ``FOREHEAD_UV`` (between the brows and the hairline: the skin reference),
- skull: occluder vertices more than ``SKULL_ABOVE_M`` above the face centre in the head frame
  (hair, or a cap).

A vertex is sampled in a view only when it lies inside the image, its surface normal faces the
camera (cosine >= ``min_cos``) and the sensor depth at its pixel agrees with its depth within
``depth_tol_m`` (nothing in front of it; a pixel without a reading is not used). Colours are
compared in CIELAB (L 0-100, a, b), which separates lightness (shading) from hue:

- mask: the lower face's median colour is far from the forehead's in hue (a, b distance above
  ``mask_ab``) or in lightness (above ``mask_l``), or it is not skin-hued at all;
- cap: the skull's median colour is neither hair-like (dark, greyish, or brown to blond hue) nor
  close to the forehead's (a bald head);
- tone: the median sRGB of the forehead's best-lit quarter of samples;
- the colours of the mask and the cap found, measured the same way on the lower face and the
  skull: the chosen template is drawn in them (a template's own attire colours differ from
  the person's: a white mask over a blue one changes the look, not the identity).

Samples are pooled over views and over the first frames a person is seen (see
:func:`estimate_attire_for_recording`), so the decision is one per person for the whole
recording, the same whichever frames are rendered (resume).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from disguisor.geometry import project_points
from disguisor.io.calibration import Camera
from disguisor.refine.surface import FaceSurface, head_frame
from disguisor.render.templates import Template
from disguisor.render.variation import choose_template, vary_for_person

LOWER_UV = ((0.30, 0.70), (0.62, 0.84))    # (u range, v range) of the mouth and chin
FOREHEAD_UV = ((0.32, 0.68), (0.22, 0.32))  # above the brows (v 0.345), below the hairline
SKULL_ABOVE_M = 0.05  # head-frame height above the face centre (nose level) where hair / a cap is


@dataclass(frozen=True)
class AttireParams:
    """Sampling and decision thresholds (metres; CIELAB units).

    min_cos: a vertex is sampled only when the cosine between its normal and the direction to the
    camera is at least this. depth_tol_m: the sensor must read the vertex's depth within this.
    min_samples: fewer pooled samples of a region leave its decision unknown. frames: samples come
    from the first this-many frames in which the person is seen. mask_ab / mask_l: lower face
    against forehead distances above which it counts as a mask. cap_skin_ab / cap_skin_l: a skull
    this close to the forehead is bare skin (bald), not a cap.
    """

    min_cos: float = 0.25
    depth_tol_m: float = 0.04
    min_samples: int = 12
    frames: int = 5
    mask_ab: float = 11.0
    mask_l: float = 28.0
    cap_skin_ab: float = 7.0
    cap_skin_l: float = 12.0


@dataclass
class AttireEvidence:
    """Pooled colour samples (sRGB 0-255, (N, 3) float32 each) of one person."""

    lower: list[np.ndarray] = field(default_factory=list)
    forehead: list[np.ndarray] = field(default_factory=list)
    skull: list[np.ndarray] = field(default_factory=list)
    views: int = 0
    frames: set = field(default_factory=set)

    def add(self, samples: dict[str, np.ndarray], frame: int) -> None:
        got = False
        for name in ("lower", "forehead", "skull"):
            s = samples.get(name)
            if s is not None and len(s):
                getattr(self, name).append(s)
                got = True
        if got:
            self.views += 1
            self.frames.add(int(frame))


@dataclass(frozen=True)
class AttireEstimate:
    """One person's estimate. mask / cap: True, False or None (not enough samples). skin_rgb:
    forehead median sRGB or None. Distances in CIELAB; counts are pooled samples. mask_rgb /
    cap_rgb: the mask's (lower face) / cap's (skull) sRGB, each the median of its best-lit
    quarter of samples (shading only darkens a cloth's own colour), where a mask / cap is found."""

    mask: bool | None
    cap: bool | None
    skin_rgb: tuple[int, int, int] | None
    lower_vs_forehead_ab: float | None = None
    lower_vs_forehead_l: float | None = None
    skull_lab: tuple[float, float, float] | None = None
    samples: tuple[int, int, int] = (0, 0, 0)
    views: int = 0
    frames: int = 0
    mask_rgb: tuple[int, int, int] | None = None
    cap_rgb: tuple[int, int, int] | None = None

    def as_dict(self) -> dict:
        return {"mask": self.mask, "cap": self.cap, "skin_rgb": None if self.skin_rgb is None else list(self.skin_rgb),
                "lower_vs_forehead_ab": self.lower_vs_forehead_ab, "lower_vs_forehead_l": self.lower_vs_forehead_l,
                "skull_lab": None if self.skull_lab is None else list(self.skull_lab),
                "samples_lower_forehead_skull": list(self.samples), "views": self.views, "frames": self.frames,
                "mask_rgb": None if self.mask_rgb is None else list(self.mask_rgb),
                "cap_rgb": None if self.cap_rgb is None else list(self.cap_rgb)}


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB 0-255 -> (N, 3) CIELAB (L 0-100, a, b), D65."""
    x = np.asarray(rgb, np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(x, cv2.COLOR_RGB2LAB).reshape(-1, 3)


def _vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    V, F = np.asarray(vertices, float), np.asarray(triangles, np.int64)
    fn = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    vn = np.zeros_like(V)
    for k in range(3):
        np.add.at(vn, F[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def _sample(points: np.ndarray, normals: np.ndarray, camera: Camera, image: np.ndarray,
            depth_m: np.ndarray | None, params: AttireParams) -> np.ndarray:
    """sRGB (K, 3) of the ``points`` (N, 3) world metres that ``camera`` sees (module doc)."""
    if len(points) == 0:
        return np.zeros((0, 3), np.float32)
    to_cam = np.asarray(camera.t, float)[None] - points
    cos = np.sum(normals * to_cam, axis=1) / np.maximum(np.linalg.norm(to_cam, axis=1), 1e-9)
    pc = camera.world_to_camera(points)
    keep = (cos >= params.min_cos) & (pc[:, 2] > 0.1)
    if not keep.any():
        return np.zeros((0, 3), np.float32)
    pc = pc[keep]
    uv = project_points(pc, camera.K, camera.dist)
    ok = np.isfinite(uv).all(axis=1)
    H, W = image.shape[:2]
    x = np.round(np.where(ok, uv[:, 0], -1)).astype(np.int64)
    y = np.round(np.where(ok, uv[:, 1], -1)).astype(np.int64)
    ok &= (x >= 0) & (x < W) & (y >= 0) & (y < H)
    x, y, z = x[ok], y[ok], pc[ok, 2]
    if depth_m is not None:
        d = np.nan_to_num(depth_m[y, x].astype(np.float64), nan=0.0)
        seen = (d > 0) & (np.abs(d - z) <= params.depth_tol_m)
        x, y = x[seen], y[seen]
    return image[y, x].astype(np.float32)


def face_samples(face: FaceSurface, camera: Camera, image_rgb: np.ndarray, depth_m: np.ndarray | None,
                 params: AttireParams = AttireParams()) -> dict[str, np.ndarray]:
    """sRGB samples (K, 3) of the lower face, forehead and skull of ``face`` in one view
    (``image_rgb`` (H, W, 3) uint8 RGB, ``depth_m`` (H, W) metres registered to it, 0 = none)."""
    V = np.asarray(face.vertices, float)
    N = _vertex_normals(V, face.triangles)
    uv = np.asarray(face.uv, float)

    def in_box(box):
        (u0, u1), (v0, v1) = box
        return (uv[:, 0] >= u0) & (uv[:, 0] <= u1) & (uv[:, 1] >= v0) & (uv[:, 1] <= v1)

    out = {name: _sample(V[sel], N[sel], camera, image_rgb, depth_m, params)
           for name, sel in (("lower", in_box(LOWER_UV)), ("forehead", in_box(FOREHEAD_UV)))}
    if face.occluder_vertices is not None and face.occluder_triangles is not None:
        head = np.asarray(face.occluder_vertices, float)
        head_n = _vertex_normals(head, face.occluder_triangles)
        local = (head - np.asarray(face.centre, float)) @ head_frame(face.facing, face.up)
        sel = local[:, 1] > SKULL_ABOVE_M
        out["skull"] = _sample(head[sel], head_n[sel], camera, image_rgb, depth_m, params)
    return out


def _hue_deg(lab: np.ndarray) -> float:
    return math.degrees(math.atan2(float(lab[2]), float(lab[1])))


def _hair_like(lab: np.ndarray) -> bool:
    """Whether a CIELAB colour can be hair: dark and not strongly coloured, greyish, or a brown to
    blond hue of moderate chroma."""
    L, a, b = (float(v) for v in lab)
    chroma, hue = math.hypot(a, b), _hue_deg(lab)
    if L < 35 and (chroma < 15 or 20 <= hue <= 100):
        return True
    if chroma < 10 and L < 68:
        return True
    return 20 <= hue <= 95 and chroma < 40 and L < 80


def _skin_hued(lab: np.ndarray) -> bool:
    chroma, hue = math.hypot(float(lab[1]), float(lab[2])), _hue_deg(lab)
    return chroma >= 6 and 10 <= hue <= 90


def _lit_tone(rgb: np.ndarray) -> tuple[int, int, int]:
    """Skin tone (sRGB) of forehead samples: the median of the brightest quarter. Shading only
    darkens the skin's own colour, so its best-lit part is the closest to it (on the synthetic
    scenarios the plain median reads one to two skin types too dark)."""
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    top = rgb[lum >= np.quantile(lum, 0.75)]
    return tuple(int(round(c)) for c in np.median(top, axis=0))


def decide(evidence: AttireEvidence, params: AttireParams = AttireParams()) -> AttireEstimate:
    """The attire estimate from pooled samples (module doc)."""
    pooled = {name: np.concatenate(getattr(evidence, name)) if getattr(evidence, name) else np.zeros((0, 3))
              for name in ("lower", "forehead", "skull")}
    counts = tuple(len(pooled[n]) for n in ("lower", "forehead", "skull"))
    med = {n: (np.median(to_lab(s), axis=0) if len(s) >= params.min_samples else None) for n, s in pooled.items()}
    skin_rgb = _lit_tone(pooled["forehead"]) if med["forehead"] is not None else None
    mask = cap = None
    dab = dl = None
    ref = med["forehead"]
    if med["lower"] is not None:
        low = med["lower"]
        if ref is not None:
            dab = float(np.hypot(*(low[1:] - ref[1:])))
            dl = float(abs(low[0] - ref[0]))
            mask = bool(dab > params.mask_ab or dl > params.mask_l or not _skin_hued(low))
        else:
            mask = not _skin_hued(low)
    skull = med["skull"]
    if skull is not None:
        bald = ref is not None and (float(np.hypot(*(skull[1:] - ref[1:]))) < params.cap_skin_ab
                                    and abs(float(skull[0] - ref[0])) < params.cap_skin_l)
        cap = bool(not bald and not _hair_like(skull))
    return AttireEstimate(mask, cap, skin_rgb, None if dab is None else round(dab, 2),
                          None if dl is None else round(dl, 2),
                          None if skull is None else tuple(round(float(v), 1) for v in skull),
                          counts, evidence.views, len(evidence.frames),
                          _lit_tone(pooled["lower"]) if mask else None, _lit_tone(pooled["skull"]) if cap else None)


def choose_by_attire(estimate: AttireEstimate | None, templates: dict[str, Template], person_id: int,
                     seed: int = 0, variation=None, colours: bool = True) -> Template:
    """The template with the estimated mask and cap (unknown counts as: mask yes for staff is not
    assumed; unknown matches either) and the skin tone nearest in CIELAB to the estimate. Without
    an estimate, the stable per-person choice of :func:`choose_template`. Either way varied for
    the person (:func:`~disguisor.render.templates.vary_for_person`; ``variation`` as there).
    colours: the chosen template's mask and cap are drawn in the person's own (measured) mask and
    cap colours (``estimate.mask_rgb`` / ``cap_rgb``): a blue mask stays blue, a maroon cap maroon."""
    if estimate is None or (estimate.mask is None and estimate.cap is None and estimate.skin_rgb is None):
        return choose_template(person_id, templates, None, seed, variation)
    names = sorted(templates)
    cands = [n for n in names
             if (estimate.mask is None or bool(templates[n].info.get("has_mask")) == estimate.mask)
             and (estimate.cap is None or bool(templates[n].info.get("has_cap")) == estimate.cap)]
    if not cands:  # a combination the set lacks: keep the mask decision (it changes the look most)
        cands = [n for n in names if estimate.mask is None
                 or bool(templates[n].info.get("has_mask")) == estimate.mask] or names
    if estimate.skin_rgb is None:
        pick = np.random.default_rng([int(person_id) & 0xFFFFFFFF, int(seed) & 0xFFFFFFFF]).integers(len(cands))
        return vary_for_person(templates[cands[int(pick)]], person_id, seed, variation)
    tone = to_lab(np.asarray(estimate.skin_rgb, np.float32))[0]
    skins = to_lab(np.array([templates[n].info.get("skin", (180, 140, 110)) for n in cands], np.float32))
    best = templates[cands[int(np.argmin(np.linalg.norm(skins - tone, axis=1)))]]
    return vary_for_person(best, person_id, seed, variation, mask_rgb=estimate.mask_rgb if colours else None,
                           cap_rgb=estimate.cap_rgb if colours else None)


def attire_frames(fits, frames: list[int], per_person: int) -> list[int]:
    """The frames to sample: for every person with a body fit, the first ``per_person`` frames (of
    ``frames``, in order) in which they have one. Depends only on the fits, not on which frames a
    run renders, so a resumed run decides the same."""
    wanted: set[int] = set()
    seen: dict[int, int] = {}
    for f in sorted(frames):
        for p in fits.frames.get(f, []):
            pid = int(p.person_id)
            if seen.get(pid, 0) < per_person:
                seen[pid] = seen.get(pid, 0) + 1
                wanted.add(int(f))
    return sorted(wanted)


def estimate_attire_for_recording(rec, model, fits, rays, refine_params,
                                  params: AttireParams = AttireParams()) -> dict[int, AttireEstimate]:
    """person_id -> attire estimate of a recording, from the faces refined as in ``disguisor run``
    (:func:`~disguisor.refine.frame.refine_frame`) in the frames of :func:`attire_frames`, every
    camera that has the frame. A frame that cannot be read or refined is skipped (the estimate
    only chooses a look; privacy does not depend on it)."""
    from disguisor.refine.frame import refine_frame

    evidence: dict[int, AttireEvidence] = {}
    for f in attire_frames(fits, list(rec.frames), params.frames):
        try:
            cams = rec.cameras_at(f)
            depths = {c.name: rec.read_depth(c, f) for c in cams}
            _, refined = refine_frame(model, fits, f, {c.name: (c, depths[c.name]) for c in cams}, rays,
                                      refine_params)
            if not refined:
                continue
            for cam in cams:
                rgb = np.ascontiguousarray(rec.read_color(cam, f)[..., ::-1])
                for face, _ in refined:
                    samples = face_samples(face, cam, rgb, depths[cam.name], params)
                    evidence.setdefault(int(face.person_id), AttireEvidence()).add(samples, f)
        except Exception:  # noqa: BLE001 - the frame loop reports frame errors; here a frame is just skipped
            continue
    return {pid: decide(ev, params) for pid, ev in sorted(evidence.items())}
