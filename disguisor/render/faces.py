"""Render face templates onto 3D face surfaces in every view, check visibility, blend.

For one view: every face (disguisor/refine/surface.py FaceSurface, world metres) not turned
further from the camera than ``max_facing_angle_deg`` (default: none is skipped) is rendered,
textured with its person's template, into a window around the faces (offscreen OpenGL through
the calibrated, distorted camera; all faces in one scene, so the nearest face wins per pixel).
A rendered pixel is painted unless the sensor reads a surface clearly in front of the face (a
light, a hand, another person) or the own fitted head hides it and the sensor does not read the
face there (a view from behind); pixels without a reading are painted (privacy first). The
painted region grows by ``dilate_m`` (not onto the background behind the face); the template is
Poisson-blended using only its own gradients (or blurred, pixelated, blackened: ``method``).
A failed blend falls back to pasting the rendered face, then to blackening (no visible face is
ever left unpainted). The reported face box comes from a stricter depth test (see RenderParams).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from disguisor.boxes import mask_bounds, overlapping_groups
from disguisor.errors import InputError
from disguisor.geometry import project_points
from disguisor.io.calibration import Camera
from disguisor.refine.surface import FaceSurface
from disguisor.render.blend import poisson_blend
from disguisor.render.border import blur_turned, border_strip
from disguisor.render.check import boxes_to_fill, changed_share
from disguisor.render.depth import extend_depth, fill_depth_holes, nearest_fill
from disguisor.render.obfuscate import obfuscate
from disguisor.render.params import RenderParams
from disguisor.render.results import RenderedFace, ViewResult, facing_angle_deg  # noqa: F401  (API)
from disguisor.render.soften import extend_smooth, facing_cos, membrane_margin, soften_grazing, too_small
from disguisor.render.templates import Template

log = logging.getLogger(__name__)

METHODS = ("template", "blur", "pixelate", "blacken")
_GL_CLAMP_TO_EDGE = 33071
_NEAR_M = 0.05  # the GL near plane (gl.py): closer vertices are clipped
_NOTHING_RENDERED = "hidden by nearer faces or outside the view"


def vertex_shading(face: FaceSurface, params: RenderParams) -> np.ndarray:
    """(N,) relief shading factor per vertex: Lambert from a light above and in front of the
    face (head frame), so nose, brows and cheeks read as 3D whatever the view."""
    V, F = np.asarray(face.vertices, float), np.asarray(face.triangles)
    fn = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    vn = np.zeros_like(V)
    for k in range(3):
        np.add.at(vn, F[:, k], fn)
    vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)
    light = 0.8 * np.asarray(face.facing, float) + 0.6 * np.asarray(face.up, float)
    light /= np.linalg.norm(light)
    return params.shading_ambient + params.shading_diffuse * np.clip(vn @ light, 0.0, 1.0)


def _box_of(mask: np.ndarray, dx: int, dy: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = mask_bounds(mask)
    return float(x0 + dx), float(y0 + dy), float(x1 - x0), float(y1 - y0)


@dataclass
class DepthTests:
    """Per-pixel results (h, w) bool of the depth tests of one rendered window.

    visible: rendered pixels no sensor reading clearly hides (tolerance ``occluder_margin_m`` +
    noise): what is painted. likely: the stricter test of the reported box
    (``report_occluder_margin_m``; pixels without a reading within ``report_edge_px`` of an
    occluder do not count). behind: pixels whose reading lies more than
    ``ring_background_margin_m`` behind the nearest rendered face (background, where no face
    can be: the dilation ring is not painted there), except within ``ring_background_edge_px``
    of a visible pixel."""

    visible: np.ndarray
    likely: np.ndarray
    behind: np.ndarray


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


class FaceRenderer:
    """Renders faces into the views of one calibration (one OpenGL context for all cameras)."""

    def __init__(self, cameras, params: RenderParams | None = None):
        import pyrender

        from disguisor.render.gl import CameraRenderer

        self._pr = pyrender
        self.params = params if params is not None else RenderParams()
        self.gl = CameraRenderer(cameras)
        self._materials: dict[str, object] = {}

    def close(self) -> None:
        self.gl.close()

    def __enter__(self) -> FaceRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- rendering -------------------------------------------------------------------------------

    def _material(self, template: Template):
        mat = self._materials.get(template.name)
        if mat is None:
            pr = self._pr
            sampler = pr.Sampler(wrapS=_GL_CLAMP_TO_EDGE, wrapT=_GL_CLAMP_TO_EDGE)
            tex = pr.Texture(source=np.ascontiguousarray(template.image), source_channels="RGB", sampler=sampler)
            mat = pr.MetallicRoughnessMaterial(baseColorTexture=tex, metallicFactor=0.0, roughnessFactor=1.0)
            self._materials[template.name] = mat
        return mat

    def _mesh(self, face: FaceSurface, template: Template):
        shade = vertex_shading(face, self.params)
        # pyrender lights in linear space and gamma-encodes (1/2.2) the result; with ambient 1
        # and no lights the output is texture * shade when the vertex colour is shade**2.2
        colors = np.repeat((shade ** 2.2)[:, None], 4, axis=1).astype(np.float32)
        colors[:, 3] = 1.0
        uv = np.asarray(face.uv, np.float32).copy()
        uv[:, 1] = 1.0 - uv[:, 1]  # canonical v counts from the crown (image row 0); GL's t from the bottom
        prim = self._pr.Primitive(positions=np.asarray(face.vertices, np.float32), texcoord_0=uv, color_0=colors,
                                  indices=np.asarray(face.triangles, np.int32), material=self._material(template))
        return self._pr.Mesh([prim])

    def render_faces(self, camera: Camera, faces: list[FaceSurface], templates: dict[int, Template],
                     box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Render ``faces`` together into the image window ``box`` = (x0, y0, x1, y1) px.

        Returns colour (h, w, 3) uint8 RGB, depth (h, w) float32 metres along the optical axis
        (0 = no face) and labels (h, w) int32: index into ``faces`` + 1 of the nearest face, 0 = none."""
        pr = self._pr
        scene = pr.Scene(bg_color=[0, 0, 0, 0], ambient_light=[1.0, 1.0, 1.0])
        nodes = [scene.add(self._mesh(f, templates[f.person_id])) for f in faces]
        # the label pass (no multisampling) covers exactly the pixels whose centre the face covers
        color, depth, labels = self.gl.render_window(scene, camera, box, {n: i + 1 for i, n in enumerate(nodes)},
                                                     rgba=True)
        # antialiased edges are blended with the empty background: undo it (colour / coverage)
        # so that small faces do not get a dark rim
        alpha = color[..., 3].astype(np.float32) / 255.0
        color = np.where(alpha[..., None] > 0.02, color[..., :3] / np.maximum(alpha[..., None], 0.02), 0.0)
        color = np.clip(np.round(color), 0, 255).astype(np.uint8)
        # a pixel belongs to the face when any pass covers it (half covered in the multisampled
        # colour; the one-sample depth and the label pass disagree on edge pixels): give every
        # such pixel a colour, a depth and a label from its nearest neighbours
        covered = (depth > 0) | (labels > 0)
        for values, known in ((color, alpha > 0.02), (depth, depth > 0), (labels, labels > 0)):
            lost = covered & ~known
            if lost.any() and known.any():
                values[lost] = nearest_fill(values, known)[lost]
        return color, depth, labels

    def render_occluders(self, camera: Camera, faces: list[FaceSurface],
                         box: tuple[int, int, int, int]) -> np.ndarray | None:
        """Depth (h, w) float32 metres (0 = nothing) of the faces' own-head occluders
        (FaceSurface.occluder_*) in the window ``box``; None when no face has one."""
        meshes = [self._pr.Mesh([self._pr.Primitive(positions=np.asarray(f.occluder_vertices, np.float32),
                                                    indices=np.asarray(f.occluder_triangles, np.int32))])
                  for f in faces if f.occluder_vertices is not None and f.occluder_triangles is not None]
        if not meshes:
            return None
        scene = self._pr.Scene(bg_color=[0, 0, 0, 0])
        for m in meshes:
            scene.add(m)
        return self.gl.render_window(scene, camera, box, depth_only=True)[1]

    # -- one view --------------------------------------------------------------------------------

    def dilation_px(self, camera: Camera, face: FaceSurface) -> int:
        """Radius (pixels) by which a face's painted region grows in ``camera``:
        ``dilate_m`` at the face's distance, at least ``dilate_px``, at most ``dilate_max_px``."""
        p = self.params
        z = float(camera.world_to_camera(np.asarray(face.centre, float)[None])[0, 2])
        metric = p.dilate_m * float(max(camera.K[0, 0], camera.K[1, 1])) / max(z, _NEAR_M)
        return int(min(max(p.dilate_px, round(metric)), p.dilate_max_px))

    def _window(self, camera: Camera, face: FaceSurface) -> tuple[int, int, int, int] | None:
        """Image box (x0, y0, x1, y1) of the projected face plus margins, or None when outside."""
        p = camera.world_to_camera(np.asarray(face.vertices, float))
        front = p[:, 2] > _NEAR_M
        if not front.any():
            return None
        m = self.params.crop_margin_px + self.dilation_px(camera, face) + 2
        if not front.all():  # the face crosses the near plane: render the whole image
            return 0, 0, camera.width, camera.height
        uv = project_points(p, camera.K, camera.dist)
        uv = uv[np.isfinite(uv).all(axis=1)]
        if len(uv) == 0:
            return None
        x0, y0 = int(np.floor(uv[:, 0].min())) - m, int(np.floor(uv[:, 1].min())) - m
        x1, y1 = int(np.ceil(uv[:, 0].max())) + m + 1, int(np.ceil(uv[:, 1].max())) + m + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, camera.width), min(y1, camera.height)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def depth_tests(self, depth_rendered: np.ndarray, depth_sensor: np.ndarray | None) -> DepthTests:
        """The per-pixel tests of a rendered window against the sensor depth (both (h, w)
        metres, 0 = nothing / no reading; ``depth_sensor`` None = no depth), see DepthTests."""
        p = self.params
        rendered = depth_rendered > 0
        if depth_sensor is None:
            return DepthTests(rendered, rendered, np.zeros_like(rendered))
        raw = np.nan_to_num(depth_sensor.astype(np.float32), nan=0.0)
        s = fill_depth_holes(raw, p.depth_fill_px, p.depth_fill_min_share)
        # the occluder tests run on the whole window, against the face depth extended outward:
        # the opening must see an occluder's full shape, not the slivers of it that the face's
        # outline cuts off (those would be kept as visible)
        ref = extend_depth(depth_rendered)

        def occluders(margin_m: float | None) -> np.ndarray:
            occ = (s > 0) & (s < ref - p.occluder_tolerance_m(ref, margin_m))
            k = p.occluder_open_px
            if k > 1 and occ.any():
                occ = cv2.morphologyEx(occ.astype(np.uint8), cv2.MORPH_OPEN, np.ones((k, k), np.uint8)).astype(bool)
            return occ

        strict = occluders(p.report_occluder_margin_m)
        # a pixel without a reading next to an occluder is painted, but is no evidence of the
        # face: depth edges drop readings along an occluder's outline
        r = p.report_edge_px
        near = cv2.dilate(strict.astype(np.uint8), _disk(r)).astype(bool) if r > 0 else strict
        visible = rendered & ~occluders(None)
        behind = (s > 0) & (s > ref + p.ring_background_margin_m) if rendered.any() else np.zeros_like(rendered)
        if p.ring_background_edge_px > 0:  # the sensor's silhouette lies a pixel or two inside the image's
            behind &= ~cv2.dilate(visible.astype(np.uint8), _disk(p.ring_background_edge_px)).astype(bool)
        return DepthTests(visible=visible, likely=rendered & ~strict & ((raw > 0) | ~near), behind=behind)

    def anonymize_view(self, image: np.ndarray, depth_m: np.ndarray | None, camera: Camera,
                       faces: list[FaceSurface], templates: dict[int, Template], method: str = "template",
                       ) -> ViewResult:
        """Paint every visible face of ``faces`` into ``image`` (H, W, 3) uint8 RGB of ``camera``.

        depth_m: (H, W) sensor depth in metres registered to the image (0 or NaN = no reading),
        or None (no depth: every rendered pixel is painted). templates: person_id -> Template
        (needed for method "template"). method: template | blur | pixelate | blacken.
        A face with ``as_fitted`` (a second start moved it) has that placement painted too, with
        its template, on the pixels the faces leave; it adds to ``mask`` only, never to ``faces``.
        The input image is not modified."""
        p = self.params
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(None, f"expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}", field="image")
        if image.shape[:2] != (camera.height, camera.width):
            raise InputError(None, f"image is {image.shape[1]}x{image.shape[0]}, camera {camera.name} is "
                             f"{camera.width}x{camera.height}", field="image")
        if depth_m is not None and depth_m.shape != image.shape[:2]:
            raise InputError(None, f"depth {depth_m.shape} does not match image {image.shape[:2]}", field="depth")
        if method not in METHODS:
            raise InputError(None, f"unknown method {method!r}; one of {', '.join(METHODS)}", field="method")
        out = image.copy()
        result = ViewResult(out, [], [], mask=np.zeros(image.shape[:2], bool))
        todo: list[tuple[FaceSurface, tuple[int, int, int, int], float]] = []
        for face in faces:
            angle = facing_angle_deg(face, camera)
            if angle > p.max_facing_angle_deg:
                result.skipped.append((face.person_id, f"turned away ({angle:.0f} deg)"))
                continue
            if method == "template" and face.person_id not in templates:
                result.notes.append(f"person {face.person_id}: no template; blackened")
            win = self._window(camera, face)
            if win is None:
                result.skipped.append((face.person_id, "outside the view"))
                continue
            todo.append((face, win, angle))
        if not todo:
            self._paint_as_fitted(out, depth_m, camera, faces, templates, method, result)
            return result
        tpl = dict(templates)
        for f, _, _ in todo:
            if f.person_id not in tpl:  # painted grey here, then blackened (reported in notes)
                tpl[f.person_id] = Template("_grey", np.full((8, 8, 3), 128, np.uint8))
        for group in overlapping_groups(todo, lambda item: item[1]):
            self._paint_group(out, depth_m, camera, group, tpl, set(templates), method, result)
        self._paint_borders(out, camera, faces, result)
        blur_turned(out, depth_m, camera, faces, result, self.dilation_px, self.params)
        self._paint_as_fitted(out, depth_m, camera, faces, templates, method, result)
        return result

    def _paint_as_fitted(self, out: np.ndarray, depth_m: np.ndarray | None, camera: Camera,
                         faces: list[FaceSurface], templates: dict[int, Template], method: str,
                         result: ViewResult) -> None:
        """Paint the as-fitted placement of the faces a second start moved, on the pixels not
        painted yet: neither placement is confirmed by the depth, and the second start must not
        uncover what the fit's face hid."""
        extra = [f.as_fitted for f in faces if f.as_fitted is not None]
        if not extra:
            return
        more = self.anonymize_view(out, depth_m, camera, extra, templates, method)
        new = more.mask & ~result.mask
        out[new] = more.image[new]
        result.mask |= new

    def _paint_borders(self, out: np.ndarray, camera: Camera, faces: list[FaceSurface],
                       result: ViewResult) -> None:
        """Blur the privacy margin of faces that rendered nothing because they lie just outside
        the image (:mod:`disguisor.render.border`); painted faces with ``border`` set (blend "blur")."""
        unpainted = {pid for pid, why in result.skipped if why in ("outside the view", _NOTHING_RENDERED)}
        for face in (f for f in faces if f.person_id in unpainted):
            angle = facing_angle_deg(face, camera)
            box = border_strip(camera, face, self.dilation_px(camera, face)) if angle <= 90 else None
            if box is None:
                continue
            (x0, y0, x1, y1), mask = box, np.zeros(out.shape[:2], bool)
            mask[y0:y1, x0:x1] = True
            out[:] = obfuscate(out, mask, "blur", self.params.obfuscation)
            result.mask |= mask
            xywh = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
            result.faces.append(RenderedFace(person_id=face.person_id, bbox=xywh, full_bbox=xywh, painted_bbox=xywh,
                                             painted_pixels=int(mask.sum()), visible_fraction=0.0,
                                             no_depth_fraction=1.0, facing_angle_deg=round(angle, 2), blend="blur",
                                             border=True))
            result.skipped = [(pid, why) for pid, why in result.skipped if pid != face.person_id]

    def _paint_group(self, out: np.ndarray, depth_m: np.ndarray | None, camera: Camera,
                     group: list[tuple[FaceSurface, tuple[int, int, int, int], float]], templates: dict[int, Template],
                     with_template: set[int], method: str, result: ViewResult) -> None:
        """Render, test and paint a group of faces whose windows overlap (they may occlude each
        other), in the union of their windows; writes into ``out`` and ``result``."""
        p = self.params
        x0, y0 = min(w[0] for _, w, _ in group), min(w[1] for _, w, _ in group)
        x1, y1 = max(w[2] for _, w, _ in group), max(w[3] for _, w, _ in group)
        color, depth_r, labels = self.render_faces(camera, [f for f, _, _ in group], templates, (x0, y0, x1, y1))
        sensor = None if depth_m is None else depth_m[y0:y1, x0:x1]
        tests = self.depth_tests(depth_r, sensor)
        visible, likely, behind = tests.visible, tests.likely, tests.behind
        own_head = np.zeros_like(visible)
        head_depth = None
        need_head = p.ring_head_px is not None and method == "template"
        turned = p.self_occlusion_margin_m is not None and any(a >= p.self_occlusion_min_angle_deg for _, _, a in group)
        if need_head or turned:
            head_depth = self.render_occluders(camera, [f for f, _, _ in group], (x0, y0, x1, y1))
        if turned and head_depth is not None:
            own_head = (depth_r > 0) & (head_depth > 0) & (head_depth < depth_r - p.self_occlusion_margin_m)
            if sensor is not None and p.self_occlusion_sensor_m is not None:
                # the sensor reads the face's own surface there: the fitted head is turned wrong
                own_head &= ~(np.abs(np.nan_to_num(sensor, nan=0.0) - depth_r) <= p.self_occlusion_sensor_m)
            visible &= ~own_head
            likely &= ~own_head
        head_region = None
        if need_head and head_depth is not None:  # faces without a head mesh keep the whole ring
            head_region = (depth_r > 0) | (head_depth > 0)
            if p.ring_head_px > 0:
                head_region = cv2.dilate(np.asarray(head_region, np.uint8), _disk(p.ring_head_px)).astype(bool)
        no_reading = np.ones_like(visible) if sensor is None else ~(np.nan_to_num(sensor, nan=0.0) > 0)
        paint = np.zeros(visible.shape, bool)
        per_face: list[tuple[int, np.ndarray]] = []
        for i, (face, _, angle) in enumerate(group):
            rendered_i = labels == i + 1
            n_rendered = int(rendered_i.sum())
            if n_rendered == 0:
                # a face seen from behind renders nothing (only the backs of its triangles face
                # the camera)
                why = f"turned away ({angle:.0f} deg)" if angle > 90 else _NOTHING_RENDERED
                result.skipped.append((face.person_id, why))
                continue
            if n_rendered < p.min_rendered_px:
                result.skipped.append((face.person_id, f"too small ({n_rendered} px)"))
                continue
            vis_i = rendered_i & visible
            n_vis = int(vis_i.sum())
            if n_vis == 0:
                why = ("hidden by its own head" if (rendered_i & ~own_head).sum() == 0
                       else "hidden by an occluder (sensor depth)")
                result.skipped.append((face.person_id, why))
                continue
            radius = self.dilation_px(camera, face)
            grown = cv2.dilate(vis_i.astype(np.uint8), _disk(radius)).astype(bool) if radius else vis_i
            if p.close_px > 0:
                # one compact region rather than fragments around occluder specks: fewer
                # boundary pixels of clashing colours for the blend (and nothing left between)
                grown = cv2.morphologyEx(grown.astype(np.uint8), cv2.MORPH_CLOSE, _disk(p.close_px)).astype(bool)
            grown &= vis_i | ~behind
            if head_region is not None and face.occluder_vertices is not None:
                # the ring stays on the estimated head (face, skull, ears, jaw): not onto the neck,
                # shoulders or the background beside the face
                grown &= vis_i | head_region
            paint |= grown
            missing_template = method == "template" and face.person_id not in with_template
            likely_i = rendered_i & likely
            if not likely_i.any():
                likely_i = vis_i
            per_face.append((len(result.faces), grown, mask_bounds(likely_i)))
            result.faces.append(RenderedFace(
                person_id=face.person_id, bbox=_box_of(likely_i, x0, y0), full_bbox=_box_of(rendered_i, x0, y0),
                painted_bbox=_box_of(grown, x0, y0), painted_pixels=int(grown.sum()),
                visible_fraction=round(n_vis / n_rendered, 4),
                no_depth_fraction=round(float((vis_i & no_reading).sum()) / n_vis, 4),
                facing_angle_deg=round(angle, 2), blend="blacken-fallback" if missing_template else method))
        if not paint.any():
            return
        if method == "template":
            crop = out[y0:y1, x0:x1]
            before = crop.copy()
            color = self._smoothed(camera, group, color, depth_r, x0, y0)
            source = self._margin(color, before, depth_r > 0, paint)
            boxes = [box for k, _, box in per_face if box is not None and result.faces[k].blend != "blacken-fallback"]
            best = None  # (least changed share over the faces, blended crop, how)
            for regularization in p.blend_regularization_steps():
                blended, how = self._blend(before, source, depth_r > 0, paint, result.notes, regularization)
                trial = before.copy()
                trial[paint] = blended[paint]
                least = min((changed_share(before, trial, b, p.check_grey_levels) for b in boxes), default=1.0)
                if best is None or least > best[0]:
                    best = (least, trial, how)
                # too little of a face's own box changed: blend again, closer to the template's colours
                if how != "poisson" or least >= p.check_min_share:
                    break
            if p.check_fill_box and best[0] < p.check_min_share:
                best, paint = self._fill_boxes(before, color, depth_r > 0, paint, boxes, best, result.notes)
            crop[:], how = best[1], best[2]
            for k, grown, _ in per_face:
                if result.faces[k].blend == "blacken-fallback":
                    crop[grown] = 0
                else:
                    result.faces[k].blend = how
        else:
            # on a window with the blur kernel's margin: same result as on the whole image
            m = p.obfuscation.blur_kernel_px | 1
            wx0, wy0 = max(x0 - m, 0), max(y0 - m, 0)
            wx1, wy1 = min(x1 + m, out.shape[1]), min(y1 + m, out.shape[0])
            window = np.zeros((wy1 - wy0, wx1 - wx0), bool)
            for _, grown, _ in per_face:
                # one face at a time so pixelation cells follow each face's own box
                window[:] = False
                window[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0] = grown
                out[wy0:wy1, wx0:wx1] = obfuscate(out[wy0:wy1, wx0:wx1], window, method, p.obfuscation)
        result.mask[y0:y1, x0:x1] |= paint

    def _smoothed(self, camera: Camera, group, color: np.ndarray, depth_r: np.ndarray, x0: int, y0: int) -> np.ndarray:
        """The rendered colours softened where the surface is seen edge-on and carried smoothly
        over the margin (:mod:`disguisor.render.soften`), at the nearest face's scale; never raises."""
        try:
            return self._soften(camera, group, color, depth_r, x0, y0)
        except Exception as exc:  # noqa: BLE001 - a face must never stay unpainted
            log.warning("softening the rendered faces failed (%s: %s); painted as drawn", type(exc).__name__, exc)
            return color

    def _margin(self, color: np.ndarray, before: np.ndarray, rendered: np.ndarray, paint: np.ndarray) -> np.ndarray:
        """The blend's source with the margin as a membrane (``margin_fill``; faces of at least
        ``soften_min_px``, as the softening); never raises."""
        if self.params.margin_fill != "membrane" or too_small(rendered, self.params.soften_min_px):
            return color
        try:
            return membrane_margin(color, before, rendered, paint)
        except Exception as exc:  # noqa: BLE001 - a face must never stay unpainted
            log.warning("the membrane margin failed (%s: %s); face colours carried over", type(exc).__name__, exc)
            return color

    def _soften(self, camera: Camera, group, color: np.ndarray, depth_r: np.ndarray, x0: int, y0: int) -> np.ndarray:
        p = self.params
        rendered = depth_r > 0
        if too_small(rendered, p.soften_min_px):
            return extend_smooth(color, rendered, 0.0)  # too small to show fragments: as drawn
        z = min(float(camera.world_to_camera(np.asarray(f.centre, float)[None])[0, 2]) for f, _, _ in group)
        px_per_m = float(max(camera.K[0, 0], camera.K[1, 1])) / max(z, _NEAR_M)
        if p.graze_cos_hi > 0:
            cos = facing_cos(depth_r, camera.K, x0, y0)
            color = soften_grazing(color, rendered, cos, p.graze_cos_lo, p.graze_cos_hi, p.graze_sigma_m * px_per_m)
        return extend_smooth(color, rendered, p.margin_sigma_m * px_per_m)

    def _fill_boxes(self, before, color, rendered, paint, boxes, best, notes) -> tuple[tuple, np.ndarray]:
        """Blend again at the strongest regularization with the boxes left too little changed painted
        whole (check.boxes_to_fill); the better of ``best`` and that blend, with its paint mask."""
        p = self.params
        fill = boxes_to_fill(before, best[1], paint, boxes, p.check_min_share, p.check_grey_levels)
        blended, how = self._blend(before, color, rendered, fill, notes, p.blend_regularization_max)
        trial = before.copy()
        trial[fill] = blended[fill]
        least = min(changed_share(before, trial, b, p.check_grey_levels) for b in boxes)
        return ((least, trial, how), fill) if least > best[0] else (best, paint)

    def _blend(self, crop: np.ndarray, color: np.ndarray, rendered: np.ndarray, paint: np.ndarray,
               notes: list[str], regularization: float) -> tuple[np.ndarray, str]:
        """Blend the rendered faces into ``crop`` on ``paint``; never raises."""
        p = self.params
        try:
            # ``color`` is already carried over the margin (_smoothed): the blend's source is
            # defined on and around the painted region
            source = color
            if p.blend == "paste":
                return source, "paste"
            return poisson_blend(crop, source, paint, mode=p.blend, regularization=regularization), p.blend
        except Exception as exc:  # noqa: BLE001 - a face must never stay unpainted
            log.warning("face blending failed (%s: %s); pasting the rendered face instead", type(exc).__name__, exc)
            notes.append(f"blend failed ({type(exc).__name__}: {exc}); pasted")
            try:
                out = crop.copy()
                out[rendered] = color[rendered]
                out[paint & ~rendered] = 0
                return out, "paste"
            except Exception as exc2:  # noqa: BLE001
                notes.append(f"paste failed ({type(exc2).__name__}: {exc2}); blackened")
                return np.zeros_like(crop), "blacken-fallback"
