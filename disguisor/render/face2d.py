"""Face templates on faces found in one image: posed from five 2D landmarks, no 3D.

A 2D face detector with landmarks (SCRFD) gives, per face, the left eye, right eye, nose tip and
left and right mouth corner in image pixels ("left" = smaller x). The template's own positions of
these five points are known from its layout (:mod:`disguisor.render.templates`: eyes at
u = 0.35 / 0.65, v = 0.41; nose tip v = 0.525; mouth corners u = 0.38 / 0.62, v = 0.655), so a
similarity transform (rotation, uniform scale, translation; least squares) maps the template
onto the face. The template image is a mirror view (u grows from the person's left ear), so it
is flipped left-right first to read like a camera image.

The painted region is the face oval of the template (forehead to below the chin, cheek to
cheek), grown by a margin. The template replaces the face there; only the face's median colour
(three numbers: the light and white balance) is taken over, with a feathered edge.

Landmarks are *reliable* (:func:`landmark_check`) when the face is large enough, confidently
detected, near-frontal (the five points fit the template's layout by a similarity transform up
to a small residual, and the nose lies between the eyes) and the posed oval covers the
detector's box; otherwise the caller blurs the box instead (privacy first).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from disguisor.render.blend import poisson_blend
from disguisor.render.obfuscate import blur_region, box_mask
from disguisor.render.templates import EYE_U, EYE_V, MOUTH_V, NOSE_TIP_V, Template

log = logging.getLogger(__name__)

MOUTH_HALF_U = 0.12  # the drawn mouth spans u = 0.5 +- 0.12 (templates._draw_mouth)
# Five landmarks in canonical UV of the *flipped* template (camera view): left eye, right eye,
# nose tip, left mouth corner, right mouth corner (left = smaller u).
CANONICAL_UV = np.array([[EYE_U, EYE_V], [1.0 - EYE_U, EYE_V], [0.5, NOSE_TIP_V],
                         [0.5 - MOUTH_HALF_U, MOUTH_V], [0.5 + MOUTH_HALF_U, MOUTH_V]])


@dataclass(frozen=True)
class Face2DParams:
    """Thresholds of templates on 2D faces (pixels of the image, shares of sizes).

    min_score: detector score below which landmarks are not trusted. min_eye_px: smallest
    distance between the eyes (below it a template has no room for features; blur instead).
    max_residual: largest RMS distance of the five landmarks from the posed template's, as a
    share of the eye distance (large for profiles, occlusions and wrong landmarks).
    max_nose_offset: largest sideways offset of the nose from the eyes' midpoint, as a share of
    the eye distance (a turned head). min_box_cover: share of the detector box's inner part
    (``cover_inset`` trimmed from each side) the posed oval must cover. oval_*: the painted oval
    in template UV (centre, half axes). grow: the painted oval is grown by this share of the eye
    distance on every side (privacy margin). blend: "match" (the template's colours scaled to the
    original face's median colour, pasted with an edge feathered over ``feather`` eye distances,
    inside the grown oval; gains limited to ``gain_range``) or "poisson" (template gradients,
    boundary from the image: seamless, but the boundary's shadows, collars and hair smear across
    the face). blur_kernel_px: Gaussian kernel of the fallback
    blur (61 = the paper's baseline); box_margin: the blurred box grows by this share of its size.
    """

    min_score: float = 0.6
    min_eye_px: float = 10.0
    max_residual: float = 0.16
    max_nose_offset: float = 0.30
    min_box_cover: float = 0.92
    cover_inset: float = 0.12
    oval_centre: tuple[float, float] = (0.5, 0.535)
    oval_axes: tuple[float, float] = (0.385, 0.36)
    grow: float = 0.08
    blur_kernel_px: int = 61
    box_margin: float = 0.10
    blend: str = "match"
    gain_range: tuple[float, float] = (0.4, 1.8)
    feather: float = 0.15
    sharpness_sigmas_px: tuple[float, ...] = (0.5, 0.8, 1.2, 1.6, 2.2, 3.0, 4.0)


def canonical_points(template: Template) -> np.ndarray:
    """(5, 2) landmark positions in pixels of the flipped template image."""
    h, w = template.image.shape[:2]
    return CANONICAL_UV * [w, h]


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity transform (rotation, uniform scale, translation) mapping the
    (N, 2) points ``src`` onto ``dst`` (closed form: centred points, complex-number fit)."""
    s, d = np.asarray(src, float), np.asarray(dst, float)
    ms, md = s.mean(0), d.mean(0)
    zs = (s - ms) @ [1, 1j]
    zd = (d - md) @ [1, 1j]
    a = np.vdot(zs, zd) / max(np.vdot(zs, zs).real, 1e-12)  # scale * exp(i * angle)
    R = np.array([[a.real, -a.imag], [a.imag, a.real]])
    return np.hstack([R, (md - R @ ms)[:, None]])


def _apply(M: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return np.asarray(pts, float) @ M[:, :2].T + M[:, 2]


@dataclass(frozen=True)
class LandmarkCheck:
    """reliable: whether a template may be posed from the landmarks; reason: why not (or "ok");
    transform: 2x3 template pixels -> image pixels; eye_px: eye distance; residual: RMS misfit
    as a share of eye_px; cover: share of the inner detector box under the posed oval."""

    reliable: bool
    reason: str
    transform: np.ndarray
    eye_px: float
    residual: float
    cover: float


def oval_mask(template: Template, params: Face2DParams) -> np.ndarray:
    """(H, W) float32 0/1 face oval in template pixels."""
    h, w = template.image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cu, cv_ = params.oval_centre
    au, av = params.oval_axes
    return ((((xx + 0.5) / w - cu) / au) ** 2 + (((yy + 0.5) / h - cv_) / av) ** 2 <= 1.0).astype(np.float32)


def _posed_oval_polygon(template: Template, M: np.ndarray, params: Face2DParams, eye_px: float) -> np.ndarray:
    """(K, 2) image-pixel outline of the posed, grown oval."""
    h, w = template.image.shape[:2]
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    cu, cv_ = params.oval_centre
    au, av = params.oval_axes
    outline = np.stack([(cu + au * np.cos(t)) * w, (cv_ + av * np.sin(t)) * h], 1)
    pts = _apply(M, outline)
    centre = _apply(M, np.array([[cu * w, cv_ * h]]))[0]
    radial = pts - centre
    radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-9)
    return pts + radial * params.grow * eye_px


def landmark_check(template: Template, box: np.ndarray, landmarks: np.ndarray,
                   params: Face2DParams = Face2DParams()) -> LandmarkCheck:
    """Whether the template can be posed on the face of ``box`` (x, y, w, h, score px) from its
    (5, 2) ``landmarks`` (image px), and the pose (see the module docstring)."""
    lm = np.asarray(landmarks, float).reshape(5, 2)
    M = similarity(canonical_points(template), lm)
    eye_px = float(np.linalg.norm(lm[1] - lm[0]))
    residual = float(np.sqrt(np.mean(np.sum((_apply(M, canonical_points(template)) - lm) ** 2, 1))))
    residual /= max(eye_px, 1e-9)
    x, y, bw, bh = (float(v) for v in box[:4])
    score = float(box[4]) if len(box) > 4 else 1.0
    poly = _posed_oval_polygon(template, M, params, eye_px)
    ix0, iy0 = x + params.cover_inset * bw, y + params.cover_inset * bh
    iw, ih = bw * (1 - 2 * params.cover_inset), bh * (1 - 2 * params.cover_inset)
    gx, gy = np.meshgrid(ix0 + (np.arange(16) + 0.5) * iw / 16, iy0 + (np.arange(16) + 0.5) * ih / 16)
    path = poly.astype(np.float32).reshape(-1, 1, 2)
    inside = [cv2.pointPolygonTest(path, (float(px), float(py)), False) >= 0 for px, py in zip(gx.ravel(), gy.ravel(),
                                                                                                   strict=True)]
    cover = float(np.mean(inside))
    eye_mid = (lm[0] + lm[1]) / 2
    eye_dir = (lm[1] - lm[0]) / max(eye_px, 1e-9)
    nose_offset = abs(float(np.dot(lm[2] - eye_mid, eye_dir))) / max(eye_px, 1e-9)
    reason = "ok"
    if not np.all(np.isfinite(lm)):
        reason = "landmarks missing"
    elif score < params.min_score:
        reason = f"score {score:.2f} < {params.min_score:g}"
    elif eye_px < params.min_eye_px:
        reason = f"face too small (eyes {eye_px:.1f} px apart)"
    elif lm[1, 0] <= lm[0, 0] and abs(lm[1, 0] - lm[0, 0]) > abs(lm[1, 1] - lm[0, 1]):
        reason = "landmarks mirrored"
    elif residual > params.max_residual:
        reason = f"landmarks do not fit a frontal face (residual {residual:.2f})"
    elif nose_offset > params.max_nose_offset:
        reason = f"head turned (nose offset {nose_offset:.2f})"
    elif cover < params.min_box_cover:
        reason = f"template covers {cover:.0%} of the face box"
    return LandmarkCheck(reason == "ok", reason, M, eye_px, residual, cover)


def paint_template(image: np.ndarray, template: Template, check: LandmarkCheck,
                   params: Face2DParams = Face2DParams()) -> tuple[np.ndarray, np.ndarray]:
    """The image (H, W, 3) uint8 RGB with the flipped template posed by ``check.transform`` and
    Poisson-blended inside its grown face oval; and the (H, W) bool mask of changed pixels."""
    H, W = image.shape[:2]
    flipped = Template(template.name, np.ascontiguousarray(template.image[:, ::-1]), template.info)
    poly = _posed_oval_polygon(flipped, check.transform, params, check.eye_px)
    x0, y0 = (int(max(np.floor(v) - 2, 0)) for v in poly.min(0))
    x1, y1 = int(min(np.ceil(poly[:, 0].max()) + 3, W)), int(min(np.ceil(poly[:, 1].max()) + 3, H))
    mask = np.zeros((H, W), bool)
    if x1 <= x0 or y1 <= y0:
        return image.copy(), mask
    win_mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(win_mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    M = check.transform.copy()
    M[:, 2] -= [x0, y0]
    # replicate the template's border so the pixels just outside the oval (the blend's boundary
    # neighbours) are template colours too
    src = cv2.warpAffine(flipped.image, M, (x1 - x0, y1 - y0), flags=cv2.INTER_AREA if check.eye_px < 96
                         else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    crop = image[y0:y1, x0:x1]
    if is_grey(crop):
        # a black-and-white picture gets a grey template (luma of the template, same gradients)
        src = np.repeat(cv2.cvtColor(src, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    m = win_mask.astype(bool)
    src = match_sharpness(src, crop, m, params.sharpness_sigmas_px)
    if params.blend == "poisson":
        try:
            blended = poisson_blend(crop, src, m)
        except (ValueError, RuntimeError, MemoryError) as exc:  # fall back to pasting: the face stays hidden
            log.warning("template blend failed (%s); pasting the template", exc)
            blended = crop.copy()
            blended[m] = src[m]
    else:
        blended = _matched_paste(crop, src, m, check.eye_px, params)
    out = image.copy()
    out[y0:y1, x0:x1] = blended
    mask[y0:y1, x0:x1] = m
    return out, mask


def sharpness(image: np.ndarray, mask: np.ndarray) -> float:
    """Spread of the Laplacian over the spread of grey levels inside ``mask`` (both in grey levels;
    a ratio: the same for a face in bright or dim light, lower for a softer picture)."""
    g = image.astype(np.float32)
    g = g.mean(axis=2) if g.ndim == 3 else g
    # a half-pixel presmoothing: JPEG blocking and sensor noise alone do not read as sharp
    lap = cv2.Laplacian(cv2.GaussianBlur(g, (0, 0), 0.5), cv2.CV_32F)
    return float(lap[mask].std()) / (float(g[mask].std()) + 1e-3)


def match_sharpness(src: np.ndarray, crop: np.ndarray, m: np.ndarray,
                    sigmas_px: tuple[float, ...]) -> np.ndarray:
    """``src`` (the posed template, (h, w, 3) uint8) blurred by the one of ``sigmas_px`` (or none)
    that brings its sharpness inside ``m`` nearest the original ``crop``'s, measured away from
    the oval's edge (whose contrast with the surroundings is not the face's)."""
    inner = cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if inner.sum() < 30 or not sigmas_px:
        return src
    target = sharpness(crop, inner)
    best, best_d = src, abs(sharpness(src, inner) - target)
    for sigma in sigmas_px:
        blurred = cv2.GaussianBlur(src, (0, 0), sigma)
        d = abs(sharpness(blurred, inner) - target)
        if d < best_d:
            best, best_d = blurred, d
    return best


def _matched_paste(crop: np.ndarray, src: np.ndarray, m: np.ndarray, eye_px: float,
                   params: Face2DParams) -> np.ndarray:
    """The template pasted into ``m`` with its colours scaled per channel so that its median
    inside the oval equals the original's (the scene's light and white balance; only three
    numbers of the original face are kept), and a feathered edge that stays inside ``m``."""
    o = np.median(crop[m].reshape(-1, 3).astype(np.float32), axis=0)
    t = np.median(src[m].reshape(-1, 3).astype(np.float32), axis=0)
    gain = np.clip((o + 1.0) / (t + 1.0), params.gain_range[0], params.gain_range[1])
    toned = np.clip(src.astype(np.float32) * gain, 0, 255)
    # alpha: 1 deep inside, falling to 0 at the mask edge over `feather` of the eye distance
    inside = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 3)
    alpha = np.clip(inside / max(params.feather * eye_px, 1.0), 0.0, 1.0)[..., None]
    out = crop.astype(np.float32) * (1 - alpha) + toned * alpha
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def is_grey(image: np.ndarray, tolerance: float = 6.0) -> bool:
    """Whether an RGB image is (nearly) grey: mean channel spread below ``tolerance`` levels."""
    px = image.reshape(-1, 3).astype(np.int16)
    return bool(px.size) and float(np.mean(px.max(1) - px.min(1))) < tolerance


def blur_box(image: np.ndarray, box: np.ndarray,
             params: Face2DParams = Face2DParams()) -> tuple[np.ndarray, np.ndarray]:
    """The image with the detector box (grown by ``box_margin``) blurred, and the mask of it."""
    x, y, w, h = (float(v) for v in box[:4])
    grown = np.array([[x - w * params.box_margin, y - h * params.box_margin, w * (1 + 2 * params.box_margin),
                       h * (1 + 2 * params.box_margin)]])
    mask = box_mask(image.shape[:2], grown)
    return blur_region(image, mask, params.blur_kernel_px), mask
