"""Per-person variation of a face template: the same template never gives two people one face.

A template alone turns everyone it is given to into the same drawn person: a face recognizer
then matches any two of them to each other (measured with dlib on real photographs: every pair
of different people anonymized with one template matched, against 1% of real impostor pairs;
BENCHMARKS.md). The variation makes each person's copy of the template a different face while
keeping the template's attire, tone class and layout near the canonical one, so the posing of
:mod:`disguisor.render.face2d` and the UV mapping of the 3D renderer still apply.

What varies (deterministically, from a key such as the tracked person's id and the run's seed):

- the drawn features, for the templates drawn by :mod:`disguisor.render.template_drawing`: the
  template is drawn again with other shapes of brows, eyes, nose and lips
  (:class:`~disguisor.render.template_drawing.FeatureShape`), other brow, iris and lip colours
  and another noise seed (about 0.3 s per person with the warp, at the full 320 x 416 px);
- geometry, by a smooth warp of the template image (a sum of Gaussian-weighted displacements,
  no fold-over): eye distance, eye height, eye size, brow height, nose length and width,
  mouth height and width, chin height and face width (scaled down where needed so that the
  warp's Jacobian stays >= :data:`MIN_JACOBIAN`);
- tone: a per-channel gain (skin colour within the template's tone class) and the contrast of
  the drawn features against the skin;
- form: the light and shade of cheekbones, eye sockets, temples, jaw, chin and forehead
  (:func:`form_field`).

All amounts are uniform draws within :class:`VariationParams`; lengths are shares of the
template's eye distance (0.30 of the template width, about 6 cm on a face): a draw moves a
feature by at most about 2 cm of the 0.20 x 0.26 m template face (largest over 200 draws:
eyes 1.7 cm, nose and mouth 2.2 cm), so the features stay inside the painted face oval. The
key decides everything: the same key gives the same face byte for byte.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from disguisor.errors import InputError
from disguisor.render.template_drawing import TEMPLATE_SPECS, FeatureShape, draw_template
from disguisor.render.templates import EYE_U, EYE_V, MOUTH_V, NOSE_TIP_V, Template, TemplateSpec

EYE_DIST_U = 1.0 - 2 * EYE_U  # the template's eye distance in u (0.30)


@dataclass(frozen=True)
class VariationParams:
    """Ranges of the per-person variation (each a half-width: a draw is uniform in +-value).

    Geometry, as shares of the template's eye distance: eye_spread (each eye moved outwards or
    inwards by half of it), eye_height, brow_height, nose_length (tip up or down), nose_width
    (relative), mouth_height, mouth_width (relative), chin_height, face_width (relative, the
    cheeks and jaw), eye_size (relative, magnification of each eye). Tone: skin_gain (relative
    per channel, the same draw for all three plus a smaller per-channel part: ``hue_gain``),
    feature_contrast (relative: the drawn features' difference from the local skin colour),
    form (relative: largest brightness change of the light-and-shade field of
    :func:`form_field`). redraw: draw the features again (templates of the drawing tool only); shape: relative
    half-width of the draws of every :class:`FeatureShape` length (the brow hairs per point:
    +-2); colour: relative half-width of the brow, iris and lip colour draws; supersample: of
    the redrawing (1: four times faster than the shipped templates' 2, slightly harder edges).
    enabled: False returns the template unchanged.
    """

    enabled: bool = True
    redraw: bool = True
    shape: float = 0.6
    colour: float = 0.30
    supersample: int = 1
    eye_spread: float = 0.28
    eye_height: float = 0.16
    brow_height: float = 0.10
    eye_size: float = 0.25
    nose_length: float = 0.2
    nose_width: float = 0.4
    mouth_height: float = 0.24
    mouth_width: float = 0.35
    chin_height: float = 0.24
    face_width: float = 0.16
    skin_gain: float = 0.08
    hue_gain: float = 0.04
    feature_contrast: float = 0.5
    form: float = 0.3


@dataclass(frozen=True)
class Variation:
    """One draw of :class:`VariationParams` (same units); ``key`` is what it was drawn from;
    form_seed: seed of the weights of :func:`form_field`."""

    key: tuple[int, ...]
    eye_spread: float = 0.0
    eye_height: float = 0.0
    brow_height: float = 0.0
    eye_size: float = 0.0
    nose_length: float = 0.0
    nose_width: float = 0.0
    mouth_height: float = 0.0
    mouth_width: float = 0.0
    chin_height: float = 0.0
    face_width: float = 0.0
    skin_gain: tuple[float, float, float] = (0.0, 0.0, 0.0)
    feature_contrast: float = 0.0
    form_seed: int = 0
    form: float = 0.0

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else round(float(v), 4)) for k, v in self.__dict__.items()}


GEOMETRY = ("eye_spread", "eye_height", "brow_height", "eye_size", "nose_length", "nose_width", "mouth_height",
             "mouth_width", "chin_height", "face_width")


def variation_key(*parts: int | str) -> tuple[int, ...]:
    """A key of integers from ids and seeds (strings are hashed with CRC-32, stable across runs)."""
    return tuple(zlib.crc32(p.encode()) if isinstance(p, str) else int(p) & 0xFFFFFFFF for p in parts)


def draw_variation(key: tuple[int, ...], params: VariationParams = VariationParams()) -> Variation:
    """The variation of ``key`` (uniform draws within ``params``; deterministic)."""
    rng = np.random.default_rng([0x7E3A, *key])
    geo = {name: float(rng.uniform(-1, 1)) * getattr(params, name) for name in GEOMETRY}
    common = float(rng.uniform(-1, 1)) * params.skin_gain
    gain = tuple(round(common + float(rng.uniform(-1, 1)) * params.hue_gain, 4) for _ in range(3))
    return Variation(tuple(key), **geo, skin_gain=gain,
                     feature_contrast=float(rng.uniform(-1, 1)) * params.feature_contrast,
                     form_seed=int(rng.integers(1 << 31)), form=params.form)


def _bump(u: np.ndarray, v: np.ndarray, cu: float, cv_: float, su: float, sv: float) -> np.ndarray:
    return np.exp(-0.5 * (((u - cu) / su) ** 2 + ((v - cv_) / sv) ** 2))


def displacement(var: Variation, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(du, dv) in UV at the points (u, v): where each point of the varied template comes from is
    (u - du, v - dv) of the template (small displacements, so evaluated at the output point)."""
    e = EYE_DIST_U
    du = np.zeros_like(u)
    dv = np.zeros_like(v)
    for sign, cu in ((-1, EYE_U), (1, 1.0 - EYE_U)):
        eye = _bump(u, v, cu, EYE_V, 0.075, 0.045)
        region = _bump(u, v, cu, EYE_V - 0.03, 0.10, 0.08)  # the eye with its brow
        du += region * sign * var.eye_spread * e / 2
        dv += region * var.eye_height * e
        du += eye * var.eye_size * (u - cu) * 0.8
        dv += eye * var.eye_size * (v - EYE_V) * 0.8
        dv += _bump(u, v, cu, EYE_V - 0.065, 0.09, 0.045) * var.brow_height * e
    nose = _bump(u, v, 0.5, NOSE_TIP_V, 0.07, 0.06)
    dv += nose * var.nose_length * e
    du += nose * var.nose_width * (u - 0.5) * 0.8
    mouth = _bump(u, v, 0.5, MOUTH_V, 0.15, 0.075)
    dv += mouth * var.mouth_height * e
    du += mouth * var.mouth_width * (u - 0.5) * 0.8
    dv += _bump(u, v, 0.5, 0.85, 0.22, 0.085) * var.chin_height * e
    # cheeks and jaw: a horizontal stretch that fades out towards the eyes' level
    lower = np.clip((v - 0.45) / 0.2, 0.0, 1.0)
    du += var.face_width * (u - 0.5) * lower * 0.8
    return du, dv


# Shading of a face's form: (u, v, sigma u, sigma v) of light-and-shade bumps, mirrored to both
# sides when u != 0.5: eye sockets, cheekbones, cheek hollows, temples, jaw corners, forehead,
# chin, nose bridge, upper lip, brow ridge.
FORM_BUMPS = ((0.35, 0.41, 0.07, 0.04), (0.30, 0.50, 0.06, 0.035), (0.28, 0.63, 0.06, 0.06),
              (0.15, 0.33, 0.06, 0.08), (0.24, 0.80, 0.08, 0.06), (0.5, 0.24, 0.16, 0.07),
              (0.5, 0.83, 0.08, 0.04), (0.5, 0.45, 0.025, 0.07), (0.5, 0.59, 0.06, 0.02),
              (0.36, 0.34, 0.09, 0.025))


def form_field(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) light-and-shade field of another face's form: the :data:`FORM_BUMPS` (left-right
    symmetric) with weights drawn uniformly in +-1 from ``seed``, scaled so that the largest
    magnitude is 1."""
    h, w = shape
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xs + 0.5) / w, (ys + 0.5) / h
    field = np.zeros((h, w), np.float32)
    for cu, cv_, su, sv in FORM_BUMPS:
        g = _bump(u, v, cu, cv_, su, sv)
        if cu != 0.5:
            g = g + _bump(u, v, 1.0 - cu, cv_, su, sv)
        field += float(rng.uniform(-1, 1)) * g
    return field / max(float(np.abs(field).max()), 1e-6)


MIN_JACOBIAN = 0.4  # the warp keeps every area at least this share of its size: no fold, no smear


def grid_displacement(var: Variation, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(du, dv) of :func:`displacement` on the (H, W) template grid, scaled down (by factors of
    0.8) until the warp's Jacobian determinant is at least :data:`MIN_JACOBIAN` everywhere
    (features that move towards each other would otherwise fold the skin between them)."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xs + 0.5) / w, (ys + 0.5) / h
    du, dv = displacement(var, u, v)
    gu_u, gu_v = np.gradient(du, 1.0 / w, axis=1), np.gradient(du, 1.0 / h, axis=0)
    gv_u, gv_v = np.gradient(dv, 1.0 / w, axis=1), np.gradient(dv, 1.0 / h, axis=0)
    k = 1.0
    for _ in range(20):
        det = (1 + k * gu_u) * (1 + k * gv_v) - k * k * gu_v * gv_u
        if float(det.min()) >= MIN_JACOBIAN:
            break
        k *= 0.8
    return du * k, dv * k


def vary_image(image: np.ndarray, var: Variation) -> np.ndarray:
    """The template image (H, W, 3) uint8 RGB in canonical UV, warped and toned by ``var``."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    du, dv = grid_displacement(var, (h, w))
    map_x = (xs - du * w).astype(np.float32)
    map_y = (ys - dv * h).astype(np.float32)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    # feature contrast against the local skin colour (a wide median of the template: the skin)
    skin = cv2.GaussianBlur(cv2.medianBlur(image, 31).astype(np.float32), (0, 0), w / 40)
    skin = cv2.remap(skin, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = skin + (warped - skin) * (1.0 + var.feature_contrast)
    out *= 1.0 + np.asarray(var.skin_gain, np.float32)
    if var.form > 0:
        out *= 1.0 + var.form * form_field(var.form_seed, (h, w))[..., None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# relative spreads that stay smaller than ``VariationParams.shape`` (beyond them the drawing stops
# looking like a face: brows grow into vertical smudges, eyes open into circles)
SHAPE_LIMITS = {"brow_spread": 0.3, "eye_up": 0.35, "eye_down": 0.35, "iris_r": 0.2}

_SPECS = {spec.name: spec for spec in TEMPLATE_SPECS}


def drawing_spec(template: Template) -> TemplateSpec | None:
    """The drawing tool's spec of ``template`` when it is one of the shipped drawings (same name,
    description and skin in its index entry), else None (a template from another folder)."""
    spec = _SPECS.get(template.name)
    info = template.info
    if spec is None or info.get("description") != spec.description or tuple(info.get("skin", ())) != spec.skin:
        return None
    return spec


def redraw_spec(spec: TemplateSpec, key: tuple[int, ...],
                params: VariationParams = VariationParams()) -> tuple[TemplateSpec, FeatureShape]:
    """Another spec (brow, iris and lip colours, noise seed) and feature shapes for ``key``."""
    rng = np.random.default_rng([0x5EED, *key])
    base = FeatureShape()

    def jitter(name, value):
        if isinstance(value, int):
            return int(max(2, value + rng.integers(-2, 3)))
        spread = min(params.shape, SHAPE_LIMITS.get(name, params.shape))
        return float(value * (1.0 + spread * rng.uniform(-1, 1)))

    shape = FeatureShape(**{k: jitter(k, v) for k, v in base.__dict__.items()})

    def colour(rgb, spread):
        c = np.asarray(rgb, float) * (1.0 + spread * rng.uniform(-1, 1)) * (1.0 + 0.3 * spread * rng.uniform(-1, 1, 3))
        return tuple(int(v) for v in np.clip(np.round(c), 0, 255))

    new = TemplateSpec(spec.name, spec.description, spec.skin, colour(spec.iris, params.colour * 1.5),
                       colour(spec.hair, params.colour * 1.5), colour(spec.lips, params.colour * 0.5),
                       spec.mask, spec.cap, int(rng.integers(1 << 31)))
    return new, shape


def _rgb(values) -> tuple[int, int, int]:
    return tuple(int(np.clip(round(float(v)), 0, 255)) for v in values)


def vary_template(template: Template, key: tuple[int, ...], params: VariationParams = VariationParams(),
                  mask_rgb=None, cap_rgb=None) -> Template:
    """A copy of ``template`` varied by the draw of ``key`` (same name; ``info["variation"]`` holds
    the draw). Returns ``template`` itself when ``params.enabled`` is False. mask_rgb / cap_rgb:
    sRGB (3,) the redrawn template's mask / cap take instead of its own, where it has one (only
    templates of the drawing tool are redrawn; None: its own)."""
    if not params.enabled:
        return template
    var = draw_variation(key, params)
    info = {**template.info, "variation": var.as_dict()}
    image = template.image
    spec = drawing_spec(template) if params.redraw else None
    if spec is not None:
        new_spec, shape = redraw_spec(spec, key, params)
        # the person's own mask and cap colours, where the template wears them (attire-aware choice)
        new_spec = dataclasses.replace(
            new_spec, mask=_rgb(mask_rgb) if mask_rgb is not None and spec.mask is not None else spec.mask,
            cap=_rgb(cap_rgb) if cap_rgb is not None and spec.cap is not None else spec.cap)
        h, w = image.shape[:2]
        image = draw_template(new_spec, (w, h), shape, params.supersample)
        info["variation"]["redrawn"] = {"shape": shape.__dict__, "iris": new_spec.iris, "hair": new_spec.hair,
                                        "lips": new_spec.lips, "mask": new_spec.mask, "cap": new_spec.cap,
                                        "seed": new_spec.seed}
    return Template(template.name, vary_image(image, var), info)


def choose_template(person_id: int, templates: dict[str, Template], fixed: str | None = None,
                    seed: int = 0, variation=None) -> Template:
    """The template of a person: ``fixed`` for everyone when given, else a choice that depends
    only on (person_id, seed) and the set of template names (not on dict order or on the run);
    then varied for this person by :func:`disguisor.render.variation.vary_template` with the key
    (person_id, seed), so that two people never get the same face. ``variation``: its
    :class:`~disguisor.render.variation.VariationParams` (None: the defaults; ``enabled=False``:
    the template as drawn)."""
    if fixed is not None:
        if fixed not in templates:
            raise InputError(None, f"unknown template {fixed!r}; available: {', '.join(sorted(templates))}",
                             field="--template")
        return vary_for_person(templates[fixed], person_id, seed, variation)
    names = sorted(templates)
    if not names:
        raise InputError(None, "no face templates loaded", field="templates")
    # a hash of the id (not id % n) so that neighbouring ids do not walk through the list in order
    pick = np.random.default_rng([int(person_id) & 0xFFFFFFFF, int(seed) & 0xFFFFFFFF]).integers(len(names))
    return vary_for_person(templates[names[int(pick)]], person_id, seed, variation)


def vary_for_person(template: Template, person_id: int, seed: int = 0, variation=None, mask_rgb=None,
                    cap_rgb=None) -> Template:
    """``template`` varied for one person (key: person_id, seed; mask_rgb / cap_rgb as in
    :func:`vary_template`); see :func:`choose_template`."""
    return vary_template(template, variation_key("person", person_id, seed), variation or VariationParams(),
                         mask_rgb, cap_rgb)
