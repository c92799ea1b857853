"""The drawing tool of the face templates (run once by developers; the pipeline only loads them).

Every template is drawn from geometric primitives and seeded noise (see
:mod:`disguisor.render.templates` for the layout)::

    python -m disguisor.render.template_drawing [FOLDER]    # default: disguisor/assets/templates
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from disguisor.render.templates import (
    BROW_V,
    DEFAULT_FOLDER,
    EYE_U,
    EYE_V,
    INDEX_FILE,
    MOUTH_V,
    NOSE_TIP_V,
    TEMPLATE_SIZE,
    TemplateSpec,
)

SUPERSAMPLE = 2  # drawn at this multiple, then area-averaged: smooth anti-aliased edges


@dataclass(frozen=True)
class FeatureShape:
    """Shapes of the drawn features, in canonical UV (shares of the template's width u and height
    v). The defaults draw the shipped templates; :mod:`disguisor.render.variation` draws others
    per person.

    brow_inner / brow_outer / brow_peak: distance of a brow's inner end / outer end / highest
    point from the centre line (u). brow_arch: height of the brow's arch (v). brow_tilt: the
    outer end lower than the inner by this (v). brow_spread: scatter of the brow hairs across
    the arc (v). brow_hairs: hairs per point of the arc. eye_half_w: half width of the eye
    opening (u). eye_up / eye_down: opening above / below the eye line (v). eye_tilt: outer
    corner raised by this (v). iris_r: iris radius (u). crease: height of the lid crease above
    the eye line (v). nostril_u: nostril offset from the centre line (u). nostril_w: nostril
    half width (u). mouth_half: half width of the mouth (u). lip_peak: distance of the upper
    lip's peaks from the centre line (u). upper_lip / lower_lip: heights of the lips' curves
    (v). bow: depth of the upper lip's central dip (v).
    """

    brow_inner: float = 0.065
    brow_outer: float = 0.26
    brow_peak: float = 0.16
    brow_arch: float = 0.030
    brow_tilt: float = 0.004
    brow_spread: float = 0.006
    brow_hairs: int = 5
    eye_half_w: float = 0.075
    eye_up: float = 0.020
    eye_down: float = 0.014
    eye_tilt: float = 0.005
    iris_r: float = 0.034
    crease: float = 0.062
    nostril_u: float = 0.05
    nostril_w: float = 0.022
    mouth_half: float = 0.12
    lip_peak: float = 0.10
    upper_lip: float = 0.030
    lower_lip: float = 0.085
    bow: float = 0.008

# Skin tones deliberately differ from the synthetic people's six tones.
TEMPLATE_SPECS: tuple[TemplateSpec, ...] = (
    TemplateSpec("fair", "fair skin, blue-grey eyes, light brown brows", (228, 190, 168), (92, 112, 128),
                 (112, 84, 60), (196, 120, 118), seed=1),
    TemplateSpec("light", "light skin, hazel eyes, dark brown brows", (214, 170, 140), (104, 84, 46),
                 (62, 44, 32), (186, 104, 96), seed=2),
    TemplateSpec("olive", "olive skin, brown eyes, black brows", (190, 146, 106), (74, 48, 26),
                 (34, 26, 22), (166, 92, 80), seed=3),
    TemplateSpec("tan", "tan skin, dark brown eyes, black brows", (160, 112, 78), (52, 34, 20),
                 (28, 22, 18), (140, 76, 66), seed=4),
    TemplateSpec("deep", "deep brown skin, dark eyes, black brows", (104, 70, 50), (40, 26, 16),
                 (20, 16, 14), (96, 56, 50), seed=5),
    TemplateSpec("fair_mask", "fair skin with a pale green surgical mask", (224, 186, 162), (70, 96, 80),
                 (126, 96, 66), (190, 116, 112), mask=(168, 204, 186), seed=6),
    TemplateSpec("olive_mask", "olive skin with a white surgical mask", (184, 140, 100), (60, 40, 24),
                 (30, 24, 20), (160, 90, 78), mask=(226, 230, 228), seed=7),
    TemplateSpec("deep_mask", "deep brown skin with a light blue surgical mask", (96, 64, 46), (36, 24, 14),
                 (18, 14, 12), (90, 52, 46), mask=(172, 200, 214), seed=8),
    TemplateSpec("light_cap_mask", "light skin with a navy cap and a white mask", (208, 164, 136), (84, 66, 40),
                 (70, 50, 34), (182, 100, 92), mask=(222, 228, 230), cap=(44, 58, 96), seed=9),
    TemplateSpec("tan_cap", "tan skin with a patterned maroon cap, no mask", (168, 120, 84), (58, 38, 22),
                 (30, 24, 20), (146, 82, 70), cap=(118, 46, 62), seed=10),
    # attire-aware choice (run.template = auto) needs every combination of mask and cap over the
    # range of tones: caps without masks and masks with caps for light to deep skin
    TemplateSpec("fair_cap", "fair skin with a teal cap, no mask", (226, 188, 164), (88, 108, 122),
                 (120, 90, 64), (194, 118, 114), cap=(52, 122, 128), seed=11),
    TemplateSpec("olive_cap", "olive skin with a slate blue cap, no mask", (188, 144, 104), (70, 46, 24),
                 (32, 26, 20), (164, 90, 78), cap=(70, 92, 140), seed=12),
    TemplateSpec("deep_cap", "deep brown skin with a plum cap, no mask", (100, 68, 48), (38, 26, 16),
                 (20, 16, 14), (94, 54, 48), cap=(104, 58, 104), seed=13),
    TemplateSpec("fair_cap_mask", "fair skin with a light grey cap and a pale blue mask", (222, 184, 160),
                 (80, 100, 116), (118, 90, 62), (190, 116, 110), mask=(176, 204, 222), cap=(196, 198, 204),
                 seed=14),
    TemplateSpec("olive_cap_mask", "olive skin with a green cap and a white mask", (186, 142, 102), (66, 44, 24),
                 (30, 24, 20), (160, 90, 78), mask=(224, 228, 230), cap=(60, 116, 86), seed=15),
    TemplateSpec("tan_cap_mask", "tan skin with a blue cap and a light blue mask", (162, 114, 80), (54, 36, 20),
                 (28, 22, 18), (142, 78, 68), mask=(160, 196, 222), cap=(58, 86, 146), seed=16),
    TemplateSpec("deep_cap_mask", "deep brown skin with a maroon cap and a pale blue mask", (98, 66, 48),
                 (36, 24, 14), (18, 14, 12), (92, 54, 48), mask=(168, 198, 220), cap=(122, 52, 72), seed=17),
    TemplateSpec("light_mask", "light skin with a blue surgical mask", (212, 168, 138), (96, 80, 50),
                 (66, 48, 34), (184, 102, 94), mask=(150, 186, 214), seed=18),
    TemplateSpec("tan_mask", "tan skin with a pale green surgical mask", (164, 116, 82), (56, 36, 20),
                 (28, 22, 18), (144, 80, 68), mask=(170, 206, 188), seed=19),
)



# ----------------------------------------------------------------------------------------------
# Drawing


class _Canvas:
    """Float RGB canvas with helpers that take canonical UV coordinates."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.img = np.zeros((height, width, 3), np.float32)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        self.u, self.v = (xs + 0.5) / width, (ys + 0.5) / height

    def px(self, u: float, v: float) -> tuple[float, float]:
        return u * self.w, v * self.h

    def poly_mask(self, uv: np.ndarray, blur_px: float = 0.0) -> np.ndarray:
        """Soft (0-1) mask of a polygon given in UV, blurred by ``blur_px`` (canvas pixels)."""
        m = np.zeros((self.h, self.w), np.float32)
        pts = np.round(np.asarray(uv) * [self.w, self.h] * 16).astype(np.int32)
        cv2.fillPoly(m, [pts], 1.0, lineType=cv2.LINE_AA, shift=4)
        return _soften(m, blur_px)

    def ellipse(self, cu: float, cv_: float, ru: float, rv: float, angle_deg: float = 0.0) -> np.ndarray:
        """Hard (0-1) mask of an ellipse: centre and radii in UV."""
        x = (self.u - cu) * self.w
        y = (self.v - cv_) * self.h
        a = math.radians(angle_deg)
        xr, yr = x * math.cos(a) + y * math.sin(a), -x * math.sin(a) + y * math.cos(a)
        d = (xr / (ru * self.w)) ** 2 + (yr / (rv * self.h)) ** 2
        return np.clip((1.0 - d) * min(ru * self.w, rv * self.h) * 0.5, 0.0, 1.0)

    def gauss(self, cu: float, cv_: float, su: float, sv: float) -> np.ndarray:
        return np.exp(-0.5 * (((self.u - cu) / su) ** 2 + ((self.v - cv_) / sv) ** 2)).astype(np.float32)

    def blend(self, alpha: np.ndarray, color) -> None:
        a = np.clip(alpha, 0.0, 1.0)[..., None]
        self.img = self.img * (1.0 - a) + a * np.asarray(color, np.float32)

    def scale(self, factor: np.ndarray) -> None:
        self.img = self.img * np.asarray(factor, np.float32)[..., None]


def _soften(mask: np.ndarray, blur_px: float) -> np.ndarray:
    if blur_px <= 0:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), blur_px)


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Smooth zero-mean unit-std noise with features of about ``sigma_px``."""
    n = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma_px)
    return n / max(float(n.std()), 1e-6)


def _mirror(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(1.0 - u, v) for u, v in points]


def _curve(p0, p1, p2, n: int = 24) -> np.ndarray:
    """Quadratic Bezier from p0 to p2 with control p1 (UV)."""
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.asarray(p, float) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def _draw_skin(c: _Canvas, spec: TemplateSpec, rng: np.random.Generator) -> None:
    skin = np.asarray(spec.skin, np.float32)
    c.img[:] = skin
    # low-frequency tone variation and fine pore texture
    c.scale(1.0 + 0.018 * _noise(rng, (c.h, c.w), c.w * 0.08) + 0.018 * _noise(rng, (c.h, c.w), 1.2))
    # form shading of a face seen from the front: darker towards the temples, jaw and under the chin
    side = np.clip((np.abs(c.u - 0.5) - 0.22) / 0.16, 0, 1) ** 1.5
    c.scale(1.0 - 0.22 * side)
    c.scale(1.0 - 0.12 * np.clip((c.v - 0.80) / 0.08, 0, 1))
    # warm cheeks, nose tip and a cooler jaw
    warm = np.array([1.06, 0.96, 0.95], np.float32)
    for cu in (0.30, 0.70):
        g = c.gauss(cu, 0.56, 0.07, 0.06)[..., None]
        c.img = c.img * (1 + (warm - 1) * g)
    c.img = c.img * (1 + (warm - 1) * c.gauss(0.5, NOSE_TIP_V, 0.03, 0.02)[..., None])
    # forehead and cheekbone highlights
    c.scale(1.0 + 0.07 * c.gauss(0.5, 0.25, 0.12, 0.06) + 0.05 * c.gauss(0.32, 0.50, 0.05, 0.03)
            + 0.05 * c.gauss(0.68, 0.50, 0.05, 0.03))


def _draw_hairline(c: _Canvas, spec: TemplateSpec, rng: np.random.Generator) -> None:
    """A soft hairline along the top edge (hidden by a cap when there is one)."""
    edge = 0.17 + 0.025 * np.cos((c.u - 0.5) * math.pi * 2.2) + 0.004 * _noise(rng, (c.h, c.w), 6.0)
    hair = np.clip((edge - c.v) / 0.012, 0, 1)
    strands = 1.0 + 0.12 * _noise(rng, (c.h, c.w), 0.8)
    c.blend(hair, np.asarray(spec.hair, np.float32)[None, None] * strands[..., None])


def _draw_brows(c: _Canvas, spec: TemplateSpec, rng: np.random.Generator, f: FeatureShape) -> None:
    hair = np.asarray(spec.hair, np.float32)
    layer = np.zeros((c.h, c.w), np.float32)
    for sign in (-1, 1):
        u_in, u_out = 0.5 + sign * f.brow_inner, 0.5 + sign * f.brow_outer
        arc = _curve((u_in, BROW_V + 0.008), (0.5 + sign * f.brow_peak, BROW_V - f.brow_arch),
                     (u_out, BROW_V + 0.008 + f.brow_tilt), 40)
        # many short hairs along the arc, thicker towards the inner end
        for i, (u, v) in enumerate(arc):
            t = i / (len(arc) - 1)
            for _ in range(f.brow_hairs):
                du, dv = rng.normal(0, 0.006), rng.normal(0, f.brow_spread * (1.2 - 0.6 * t))
                x0, y0 = c.px(u + du, v + dv)
                ang = math.radians(-20 * sign + rng.normal(0, 12)) + (math.pi if sign < 0 else 0)
                length = c.w * (0.018 + 0.01 * rng.random())
                x1, y1 = x0 + length * math.cos(ang), y0 - length * abs(math.sin(ang)) * 0.4
                cv2.line(layer, (int(x0 * 16), int(y0 * 16)), (int(x1 * 16), int(y1 * 16)), 0.55,
                         max(1, c.w // 320), cv2.LINE_AA, shift=4)
    c.blend(np.minimum(_soften(layer, 0.6), 0.85), hair)


def _draw_eye(c: _Canvas, spec: TemplateSpec, cu: float, rng: np.random.Generator, f: FeatureShape) -> None:
    half_w, open_up, open_down = f.eye_half_w, f.eye_up, f.eye_down
    sign = 1 if cu > 0.5 else -1
    inner, outer = (cu - sign * half_w, EYE_V + 0.002), (cu + sign * half_w, EYE_V + 0.002 - f.eye_tilt)
    top = _curve(inner, (cu - sign * 0.01, EYE_V - 2.3 * open_up), outer)
    bottom = _curve(outer, (cu + sign * 0.01, EYE_V + 2.0 * open_down), inner)
    opening = c.poly_mask(np.vstack([top, bottom]), blur_px=0.6)
    # eye socket shadow and upper-lid crease
    c.scale(1.0 - 0.12 * c.gauss(cu, EYE_V - 0.005, 0.07, 0.03))
    crease = _curve((inner[0], inner[1] - 0.02), (cu, EYE_V - f.crease), (outer[0], outer[1] - 0.024))
    crease_mask = np.zeros((c.h, c.w), np.float32)
    cv2.polylines(crease_mask, [np.round(crease * [c.w * 16, c.h * 16]).astype(np.int32)], False, 1.0,
                  max(1, c.w // 200), cv2.LINE_AA, shift=4)
    c.scale(1.0 - 0.18 * _soften(crease_mask, c.w / 300))
    # sclera (slightly shaded towards the corners), iris with a dark limbal ring, pupil, highlight
    sclera = np.asarray((232, 226, 220), np.float32) * (1.0 - 0.2 * np.clip(np.abs(c.u - cu) / half_w, 0, 1) ** 2)[
        ..., None]
    c.img = c.img * (1 - opening[..., None]) + opening[..., None] * sclera
    r_iris = f.iris_r
    iris = c.ellipse(cu, EYE_V - 0.002, r_iris, r_iris * c.w / c.h)
    radial = np.clip(np.hypot((c.u - cu) * c.w, (c.v - EYE_V + 0.002) * c.h) / (r_iris * c.w), 0, 1)
    iris_rgb = np.asarray(spec.iris, np.float32) * (1.25 - 0.55 * radial[..., None] ** 3)
    iris_rgb *= (1.0 + 0.12 * _noise(rng, (c.h, c.w), 0.7))[..., None]
    a = (iris * opening)[..., None]
    c.img = c.img * (1 - a) + a * iris_rgb
    pupil = c.ellipse(cu, EYE_V - 0.002, 0.013, 0.013 * c.w / c.h) * opening
    c.blend(pupil, (14, 12, 12))
    c.blend(c.ellipse(cu + 0.01, EYE_V - 0.010, 0.006, 0.006 * c.w / c.h) * opening * 0.9, (245, 245, 245))
    # upper lid shadow on the eyeball, lash line, lower lid line
    lid_shadow = opening * np.clip(1 - (c.v - (EYE_V - open_up)) / 0.012, 0, 1)
    c.scale(1.0 - 0.35 * lid_shadow)
    lash = np.zeros((c.h, c.w), np.float32)
    cv2.polylines(lash, [np.round(top * [c.w * 16, c.h * 16]).astype(np.int32)], False, 1.0,
                  max(2, c.w // 110), cv2.LINE_AA, shift=4)
    c.blend(_soften(lash, 0.7) * 0.9, (28, 20, 18))
    low = np.zeros((c.h, c.w), np.float32)
    cv2.polylines(low, [np.round(bottom * [c.w * 16, c.h * 16]).astype(np.int32)], False, 1.0,
                  max(1, c.w // 300), cv2.LINE_AA, shift=4)
    c.scale(1.0 - 0.25 * _soften(low, 0.8))


def _draw_nose(c: _Canvas, f: FeatureShape) -> None:
    # shadows along both sides of the bridge, light on the ridge and tip
    for sign in (-1, 1):
        c.scale(1.0 - 0.10 * c.gauss(0.5 + sign * 0.06, 0.46, 0.018, 0.07))
    c.scale(1.0 + 0.08 * c.gauss(0.5, 0.45, 0.014, 0.08) + 0.07 * c.gauss(0.5, NOSE_TIP_V - 0.01, 0.02, 0.014))
    # nostrils and alar creases
    for sign in (-1, 1):
        c.blend(c.ellipse(0.5 + sign * f.nostril_u, NOSE_TIP_V + 0.022, f.nostril_w, 0.008, angle_deg=sign * 15) * 0.75,
                (58, 36, 32))
        c.scale(1.0 - 0.14 * c.gauss(0.5 + sign * 0.095, NOSE_TIP_V + 0.005, 0.012, 0.025))
    # shadow under the tip
    c.scale(1.0 - 0.12 * c.gauss(0.5, NOSE_TIP_V + 0.03, 0.05, 0.008))


def _draw_mouth(c: _Canvas, spec: TemplateSpec, f: FeatureShape) -> None:
    half = f.mouth_half
    left, right = (0.5 - half, MOUTH_V), (0.5 + half, MOUTH_V)
    dip = MOUTH_V - f.upper_lip + f.bow
    upper = np.vstack([_curve(left, (0.5 - f.lip_peak, MOUTH_V - f.upper_lip), (0.5, dip)),
                       _curve((0.5, dip), (0.5 + f.lip_peak, MOUTH_V - f.upper_lip), right)])
    seam = _curve(right, (0.5, MOUTH_V + 0.006), left)
    lower = _curve(left, (0.5, MOUTH_V + f.lower_lip), right)
    lips = np.asarray(spec.lips, np.float32)
    c.blend(c.poly_mask(np.vstack([upper, seam]), 0.8) * 0.85, lips * 0.9)
    lower_mask = c.poly_mask(np.vstack([seam[::-1], lower[::-1]]), 0.8)
    c.blend(lower_mask * 0.85, lips)
    c.scale(1.0 + 0.10 * c.gauss(0.5, MOUTH_V + 0.022, 0.035, 0.008) * lower_mask)
    line = np.zeros((c.h, c.w), np.float32)
    cv2.polylines(line, [np.round(seam * [c.w * 16, c.h * 16]).astype(np.int32)], False, 1.0,
                  max(1, c.w // 240), cv2.LINE_AA, shift=4)
    c.blend(_soften(line, 0.8) * 0.8, lips * 0.35)
    # philtrum, chin dimple shadow, nasolabial folds
    c.scale(1.0 - 0.06 * c.gauss(0.5, (NOSE_TIP_V + MOUTH_V) / 2, 0.012, 0.03))
    c.scale(1.0 - 0.10 * c.gauss(0.5, MOUTH_V + 0.075, 0.05, 0.012))
    for sign in (-1, 1):
        fold = _curve((0.5 + sign * 0.11, NOSE_TIP_V + 0.01), (0.5 + sign * 0.17, MOUTH_V - 0.03),
                      (0.5 + sign * 0.15, MOUTH_V + 0.03))
        m = np.zeros((c.h, c.w), np.float32)
        cv2.polylines(m, [np.round(fold * [c.w * 16, c.h * 16]).astype(np.int32)], False, 1.0,
                      max(2, c.w // 120), cv2.LINE_AA, shift=4)
        c.scale(1.0 - 0.08 * _soften(m, c.w / 120))


def _draw_mask(c: _Canvas, spec: TemplateSpec, rng: np.random.Generator) -> None:
    """Pleated surgical mask from the nose bridge to under the chin, with ear loops."""
    color = np.asarray(spec.mask, np.float32)
    top_v, bottom_v = 0.465, 0.90
    outline = np.vstack([_curve((0.10, top_v + 0.06), (0.5, top_v - 0.035), (0.90, top_v + 0.06)),
                         [(0.92, 0.72)],
                         _curve((0.92, 0.74), (0.5, bottom_v + 0.08), (0.08, 0.74)),
                         [(0.08, 0.72)]])
    m = c.poly_mask(outline, 0.8)
    cloth = color[None, None] * (1.0 + 0.025 * _noise(rng, (c.h, c.w), 0.7))[..., None]
    # folds: three horizontal pleats, each lit above and shaded below
    shade = np.ones((c.h, c.w), np.float32)
    for pv in (0.56, 0.64, 0.72):
        bend = pv + 0.03 * ((c.u - 0.5) / 0.4) ** 2
        d = (c.v - bend) / 0.012
        shade += 0.07 * np.exp(-0.5 * (d + 1.2) ** 2) - 0.10 * np.exp(-0.5 * (d - 0.8) ** 2)
    # the mask bulges over the nose and is darker where it bends away towards the cheeks
    shade *= 1.0 + 0.06 * c.gauss(0.5, 0.52, 0.06, 0.05)
    shade *= 1.0 - 0.20 * np.clip((np.abs(c.u - 0.5) - 0.25) / 0.17, 0, 1)
    a = m[..., None]
    c.img = c.img * (1 - a) + a * cloth * shade[..., None]
    # stitched binding along the top edge (nose wire) and the ear loops
    rim = np.zeros((c.h, c.w), np.float32)
    cv2.polylines(rim, [np.round(outline[:24] * [c.w * 16, c.h * 16]).astype(np.int32)], False, 1.0,
                  max(2, c.w // 90), cv2.LINE_AA, shift=4)
    c.blend(_soften(rim, 0.7) * 0.5, color * 0.82)
    # a soft shadow of the mask's top edge on the skin just above it
    c.scale(1.0 - 0.15 * np.clip(_soften(m, c.w / 60) - m, 0, 1))
    for sign in (-1, 1):
        loop = _curve((0.5 + sign * 0.42, 0.54), (0.5 + sign * 0.52, 0.56), (0.5 + sign * 0.55, 0.53))
        lm = np.zeros((c.h, c.w), np.float32)
        cv2.polylines(lm, [np.round(loop * [c.w * 16, c.h * 16]).astype(np.int32)], False, 1.0,
                      max(1, c.w // 200), cv2.LINE_AA, shift=4)
        c.blend(_soften(lm, 0.6), (238, 238, 236))


def _draw_cap(c: _Canvas, spec: TemplateSpec, rng: np.random.Generator) -> None:
    """Surgical cap over the top of the forehead with a hem and a seeded dot pattern."""
    color = np.asarray(spec.cap, np.float32)
    hem_v = 0.215 + 0.012 * ((c.u - 0.5) / 0.5) ** 2
    cap = np.clip((hem_v - c.v) / 0.006, 0, 1)
    cloth = color[None, None] * (1.0 + 0.04 * _noise(rng, (c.h, c.w), 0.8))[..., None]
    wrinkles = 1.0 + 0.06 * _noise(rng, (c.h, c.w), c.w / 30)
    a = cap[..., None]
    c.img = c.img * (1 - a) + a * cloth * wrinkles[..., None]
    dots = np.zeros((c.h, c.w), np.float32)
    for _ in range(60):
        u, v = rng.uniform(0, 1), rng.uniform(0, 0.2)
        cv2.circle(dots, (int(u * c.w * 16), int(v * c.h * 16)), int(c.w * 0.012 * 16), 1.0, -1, cv2.LINE_AA, 4)
    c.blend(dots * cap * 0.45, np.minimum(color * 1.8 + 40, 255))
    hem = np.exp(-0.5 * ((c.v - hem_v + 0.008) / 0.005) ** 2)
    c.scale(1.0 - 0.25 * hem)
    # shadow of the hem on the forehead
    c.scale(1.0 - 0.14 * np.clip((c.v - hem_v) / 0.004, 0, 1) * np.exp(-np.maximum(c.v - hem_v, 0) / 0.02))


def draw_template(spec: TemplateSpec, size: tuple[int, int] = TEMPLATE_SIZE, shape: FeatureShape = FeatureShape(),
                  supersample: int = SUPERSAMPLE) -> np.ndarray:
    """(H, W, 3) uint8 RGB template image drawn from ``spec`` with the features ``shape``
    (deterministic; ``supersample``: drawn at this multiple of ``size`` px, then area-averaged)."""
    rng = np.random.default_rng(spec.seed)
    c = _Canvas(size[0] * supersample, size[1] * supersample)
    _draw_skin(c, spec, rng)
    if spec.cap is None:
        _draw_hairline(c, spec, rng)
    _draw_brows(c, spec, rng, shape)
    for cu in (EYE_U, 1.0 - EYE_U):
        _draw_eye(c, spec, cu, rng, shape)
    _draw_nose(c, shape)
    _draw_mouth(c, spec, shape)
    if spec.mask is not None:
        _draw_mask(c, spec, rng)
    if spec.cap is not None:
        _draw_cap(c, spec, rng)
    img = cv2.resize(np.clip(c.img, 0, 255), size, interpolation=cv2.INTER_AREA)
    return np.round(img).astype(np.uint8)


def write_templates(folder: Path, specs: tuple[TemplateSpec, ...] = TEMPLATE_SPECS) -> list[Path]:
    """Draw every template into ``folder`` (PNG per template + templates.json). Returns the PNGs."""
    from disguisor.io.atomic import atomic_write_bytes, atomic_write_text

    folder.mkdir(parents=True, exist_ok=True)
    paths, index = [], []
    for spec in specs:
        img = draw_template(spec)
        ok, png = cv2.imencode(".png", np.ascontiguousarray(img[..., ::-1]))
        if not ok:
            raise RuntimeError(f"could not encode template {spec.name}")
        path = folder / f"{spec.name}.png"
        atomic_write_bytes(path, png.tobytes())
        paths.append(path)
        entry = {k: v for k, v in asdict(spec).items() if k != "seed"}
        index.append({**entry, "file": path.name, "width": img.shape[1], "height": img.shape[0],
                      "has_mask": spec.mask is not None, "has_cap": spec.cap is not None})
    doc = {"format": "disguisor-face-templates", "version": 1, "uv_space": "canonical face UV "
           "(disguisor/refine/surface.py): column = u, row = v, 0.20 x 0.26 m", "origin": "drawn by "
           "disguisor/render/templates.py from primitives and seeded noise; no real person",
           "licence": "project-made, same licence as disguisor (Apache-2.0)", "templates": index}
    atomic_write_text(folder / INDEX_FILE, json.dumps(doc, indent=1) + "\n")
    return paths



def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else DEFAULT_FOLDER
    for p in write_templates(folder):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
