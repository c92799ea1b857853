"""Face templates, face rendering with depth visibility, Poisson blending (disguisor/render/)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from disguisor.errors import InputError
from disguisor.geometry import look_at, project_points
from disguisor.io.calibration import Camera
from disguisor.refine.surface import FaceSurface, canonical_face_uv
from disguisor.render.blend import poisson_blend
from disguisor.render.params import RenderParams
from disguisor.render.template_drawing import TEMPLATE_SPECS, draw_template
from disguisor.render.templates import DEFAULT_FOLDER, Template, load_templates
from disguisor.render.variation import choose_template

W, H = 320, 240
FACE_Z = 1.6


def make_camera(dist=None, eye=(0.0, -1.0, FACE_Z), width=W, height=H, f=300.0, name="pinhole") -> Camera:
    K = np.array([[f, 0, width / 2 - 0.5], [0, f, height / 2 - 0.5], [0, 0, 1.0]])
    eye = np.asarray(eye, float)
    return Camera(name, "workflow", width, height, K, np.zeros(5) if dist is None else np.asarray(dist, float),
                  look_at(eye, np.array([0.0, 0.0, FACE_Z])), eye)


def quad_face(person_id=1, centre=(0.0, 0.0, FACE_Z), facing=(0.0, -1.0, 0.0), size=(0.2, 0.26), n=21):
    """A flat grid face of size (w, h) metres at ``centre`` facing ``facing`` (up = +z)."""
    centre, facing = np.asarray(centre, float), np.asarray(facing, float)
    up = np.array([0.0, 0.0, 1.0])
    x = np.cross(up, facing)  # the person's left
    a, b = np.meshgrid(np.linspace(-size[0] / 2, size[0] / 2, n), np.linspace(-size[1] / 2, size[1] / 2, n))
    V = centre + a.ravel()[:, None] * x + b.ravel()[:, None] * up
    tris = []
    for r in range(n - 1):
        for c in range(n - 1):
            i = r * n + c
            tris += [[i, i + 1, i + n + 1], [i, i + n + 1, i + n]]
    T = np.array(tris)
    normal = np.cross(V[T[0, 1]] - V[T[0, 0]], V[T[0, 2]] - V[T[0, 0]])
    if np.dot(normal, facing) < 0:
        T = T[:, ::-1].copy()
    return FaceSurface(person_id, V, T, canonical_face_uv(V, centre, facing, up), centre, facing, up)


def quadrant_template(name="q") -> Template:
    """Four flat colours: top-left red, top-right green, bottom-left blue, bottom-right yellow."""
    img = np.zeros((416, 320, 3), np.uint8)
    img[:208, :160], img[:208, 160:], img[208:, :160], img[208:, 160:] = (220, 30, 30), (30, 200, 30), (
        30, 30, 220), (220, 220, 30)
    return Template(name, img)


def textured_image(seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(rng.integers(40, 216, (H, W, 3), dtype=np.uint8))


def project(cam: Camera, pts) -> np.ndarray:
    return project_points(cam.world_to_camera(np.asarray(pts, float)), cam.K, cam.dist)


@pytest.fixture(scope="module")
def renderer():
    from disguisor.render.faces import FaceRenderer

    cams = [make_camera(), make_camera(dist=[-0.25, 0.08, 0.001, -0.001, 0.0], name="distorted")]
    r = FaceRenderer(cams, RenderParams(blend="paste"))
    yield r
    r.close()


# ---------------------------------------------------------------------------------------------
# Templates


def test_templates_load_with_documented_properties():
    templates = load_templates()
    doc = json.loads((DEFAULT_FOLDER / "templates.json").read_text())
    assert set(templates) == {s.name for s in TEMPLATE_SPECS} == {e["name"] for e in doc["templates"]}
    assert "Apache-2.0" in doc["licence"]
    for spec in TEMPLATE_SPECS:
        t = templates[spec.name]
        assert t.image.shape == (416, 320, 3) and t.image.dtype == np.uint8
        # the committed PNG is what the script draws (rebuildable, deterministic)
        assert np.array_equal(t.image, draw_template(spec))
        cheek = t.image[int(0.27 * 416) - 5:int(0.27 * 416) + 5, 160 - 6:160 + 6]  # mid-forehead
        chin = t.image[int(0.70 * 416) - 6:int(0.70 * 416) + 6, 160 - 6:160 + 6].reshape(-1, 3).mean(0)
        forehead = t.image[int(0.08 * 416) - 6:int(0.08 * 416) + 6, 160 - 6:160 + 6].reshape(-1, 3).mean(0)
        assert np.abs(cheek.reshape(-1, 3).mean(0) - spec.skin).max() < 40, spec.name
        lower = spec.mask if spec.mask is not None else spec.skin
        assert np.abs(chin - lower).max() < 45, spec.name
        if spec.cap is not None:
            assert np.abs(forehead - spec.cap).max() < 50, spec.name
        # eyes: a dark pupil at the documented eye positions
        for u in (0.35, 0.65):
            eye = t.image[int(0.408 * 416) - 2:int(0.408 * 416) + 3, int(u * 320) - 2:int(u * 320) + 3]
            assert eye.mean() < 60, spec.name
    looks = {(s.skin, s.mask, s.cap) for s in TEMPLATE_SPECS}
    assert len(looks) == len(TEMPLATE_SPECS)
    assert sum(s.mask is not None for s in TEMPLATE_SPECS) >= 3 and sum(s.cap is not None for s in TEMPLATE_SPECS) >= 2
    # not the synthetic people's skin tones
    from disguisor.synth.people import SKIN_TONES_RGB

    assert not {s.skin for s in TEMPLATE_SPECS} & set(SKIN_TONES_RGB)


def test_load_templates_bad_folder(tmp_path: Path):
    with pytest.raises(InputError, match="templates.json"):
        load_templates(tmp_path)
    (tmp_path / "templates.json").write_text(json.dumps({"templates": [{"name": "a", "file": "a.png"}]}))
    with pytest.raises(InputError, match="a.png"):
        load_templates(tmp_path)


def test_choose_template_stable_per_person():
    templates = load_templates()
    reordered = dict(reversed(list(templates.items())))
    picks = [choose_template(i, templates).name for i in range(40)]
    assert picks == [choose_template(i, reordered).name for i in range(40)]
    assert picks == [choose_template(i, templates, seed=0).name for i in range(40)]
    assert len(set(picks)) >= 5  # spread over the templates
    assert [choose_template(i, templates, seed=1).name for i in range(40)] != picks
    assert all(choose_template(i, templates, fixed="olive").name == "olive" for i in range(5))
    with pytest.raises(InputError, match="unknown template"):
        choose_template(0, templates, fixed="nobody")


# ---------------------------------------------------------------------------------------------
# Blending


def test_poisson_blend_known_answers():
    rng = np.random.default_rng(1)
    target = rng.integers(60, 190, (60, 80, 3), dtype=np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[10:40, 20:50] = True
    mask[45:60, 70:80] = True  # a second part, touching two image borders
    mask[5, 5] = True  # a single pixel
    # a source equal to the target plus a constant has the target's gradients: result = target
    source = (target.astype(int) + 40).clip(0, 255).astype(np.uint8)
    source[target > 215] = target[target > 215] + 40  # (no clipping happens in this range)
    out = poisson_blend(target, source, mask)
    assert np.abs(out.astype(int) - target).max() <= 1
    # a flat source takes the (constant) boundary value: result = that constant
    flat_target = np.full((50, 50, 3), 77, np.uint8)
    m = np.zeros((50, 50), bool)
    m[10:30, 5:45] = True
    out = poisson_blend(flat_target, np.full_like(flat_target, 200), m)
    assert np.abs(out.astype(int) - 77).max() <= 1
    # the source's detail survives on the target's level: a bump that vanishes at the boundary
    yy, xx = np.mgrid[0:50, 0:50]
    bump = 80 * np.exp(-((xx - 25) ** 2 + (yy - 20) ** 2) / (2 * 3.0 ** 2))
    source = np.repeat((100 + bump)[..., None], 3, axis=2).round().astype(np.uint8)
    out = poisson_blend(flat_target, source, m).astype(int)
    assert np.abs(out[m] - (77 + np.repeat(bump[..., None], 3, axis=2)[m])).max() <= 2
    # outside the mask nothing changes
    assert np.array_equal(out[~m], flat_target[~m])
    # coarse solve for very large regions gives the same answer on the offset source
    big_t = rng.integers(60, 190, (200, 300, 3), dtype=np.uint8)
    big_m = np.zeros((200, 300), bool)
    big_m[20:180, 30:270] = True
    out = poisson_blend(big_t, big_t + 30, big_m, max_unknowns=5000)
    assert np.abs(out.astype(int) - big_t).max() <= 2


# ---------------------------------------------------------------------------------------------
# Rendering on known geometry


@pytest.mark.parametrize("cam_index", [0, 1])
def test_render_box_and_texture_orientation(renderer, cam_index):
    cam = renderer.gl.cameras[cam_index]
    face = quad_face()
    res = renderer.anonymize_view(textured_image(), None, cam, [face], {1: quadrant_template()})
    assert len(res.faces) == 1 and not res.skipped
    rf = res.faces[0]
    # the box of the rendered pixels is the projected quad (dense edge samples, distortion included)
    t = np.linspace(-1, 1, 41)
    zero = np.zeros_like(t)
    edge = np.concatenate([np.stack([t * 0.1, zero, FACE_Z + s * 0.13 + zero], 1) for s in (-1, 1)]
                          + [np.stack([s * 0.1 + zero, zero, FACE_Z + t * 0.13], 1) for s in (-1, 1)])
    uv = project(cam, edge)
    expected = (uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max())
    got = (rf.bbox[0], rf.bbox[1], rf.bbox[0] + rf.bbox[2] - 1, rf.bbox[1] + rf.bbox[3] - 1)
    # (edge pixels: rasterized at pixel centres, then a nearest-pixel remap through the lens: < 1.5 px)
    assert np.abs(np.array(got) - np.array(expected)).max() <= (1.0 if cam_index == 0 else 1.5)
    assert rf.visible_fraction == 1.0 and rf.no_depth_fraction == 1.0
    # texture orientation: the person's left (+x here) and crown land on the template's top-left
    for (x, z), rgb in {(0.05, 0.065): (220, 30, 30), (-0.05, 0.065): (30, 200, 30),
                        (0.05, -0.065): (30, 30, 220), (-0.05, -0.065): (220, 220, 30)}.items():
        px = np.round(project(cam, [[x, 0.0, FACE_Z + z]])[0]).astype(int)
        # relief shading of a flat face lit from front-above: 0.72 + 0.34 * 0.8 = 0.992
        assert np.abs(res.image[px[1], px[0]].astype(int) - np.array(rgb) * 0.992).max() <= 6


def _painted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(axis=2)


def test_occluder_in_front_is_not_painted(renderer):
    cam = renderer.gl.cameras[0]
    face = quad_face()
    img = textured_image(2)
    depth = np.full((H, W), 1.0, np.float32)  # the real face, at the estimate's depth
    occluder = np.zeros((H, W), bool)
    occluder[:, :W // 2] = True  # an OR light 40 cm in front of the left half of the image
    depth[occluder] = 0.6
    res = renderer.anonymize_view(img, depth, cam, [face], {1: quadrant_template()})
    changed = _painted(res.image, img)
    # nothing on the occluder beyond the dilation ring, all of the rest of the face painted
    assert not changed[:, :W // 2 - renderer.dilation_px(cam, face) - 1].any()
    full = renderer.anonymize_view(img, None, cam, [face], {1: quadrant_template()})
    face_px = _painted(full.image, img)
    right = face_px.copy()
    right[:, :W // 2] = False
    assert changed[right].mean() > 0.99
    assert 0.4 < res.faces[0].visible_fraction < 0.6
    assert res.faces[0].bbox[0] >= W // 2 and res.faces[0].full_bbox[0] < W // 2 - 20
    # sensor noise specks (isolated pixels) in front of the face punch no holes
    speckled = np.full((H, W), 1.0, np.float32)
    speckled[::7, ::7] = 0.5
    res = renderer.anonymize_view(img, speckled, cam, [face], {1: quadrant_template()})
    assert np.array_equal(_painted(res.image, img), face_px)


def test_face_without_depth_or_behind_reading_is_painted(renderer):
    cam = renderer.gl.cameras[0]
    face = quad_face()
    img = textured_image(3)
    reference = _painted(renderer.anonymize_view(img, None, cam, [face], {1: quadrant_template()}).image, img)
    assert reference.sum() > 2000
    for depth in (np.zeros((H, W), np.float32), np.full((H, W), np.nan, np.float32)):  # no reading / NaN
        res = renderer.anonymize_view(img, depth, cam, [face], {1: quadrant_template()})
        assert np.array_equal(_painted(res.image, img), reference)
        assert res.faces[0].visible_fraction == 1.0
    # the wall behind the estimate: the face is painted (only its dilation ring, on the wall, is not)
    res = renderer.anonymize_view(img, np.full((H, W), 1.5, np.float32), cam, [face], {1: quadrant_template()})
    painted = _painted(res.image, img)
    assert res.faces[0].visible_fraction == 1.0 and res.faces[0].no_depth_fraction == 0.0
    footprint = renderer.render_faces(cam, [face], {1: quadrant_template()}, (0, 0, W, H))[1] > 0
    assert not (painted & ~reference).any() and painted[footprint].mean() > 0.99


def test_turned_away_face_not_painted_grazing_face_painted(renderer):
    cam = renderer.gl.cameras[0]
    img = textured_image(4)
    away = quad_face(facing=(0.0, 1.0, 0.0))
    res = renderer.anonymize_view(img, None, cam, [away], {1: quadrant_template()})
    assert not res.faces and res.skipped[0][0] == 1 and "turned away" in res.skipped[0][1]
    assert not np.array_equal(res.image, img)  # no template, but its footprint blurred (no depth says where)
    from disguisor.render.faces import FaceRenderer

    with FaceRenderer([cam], replace(renderer.params, turned_blur_max_deg=0.0)) as plain:
        res = plain.anonymize_view(img, None, cam, [away], {1: quadrant_template()})
    assert not res.faces and np.array_equal(res.image, img)
    a = np.radians(80)  # 80 degrees from the camera direction: nearly edge-on, still covered
    grazing = quad_face(facing=(np.sin(a), -np.cos(a), 0.0))
    res = renderer.anonymize_view(img, np.full((H, W), 1.0, np.float32), cam, [grazing], {1: quadrant_template()})
    assert len(res.faces) == 1 and res.faces[0].painted_pixels > 200
    assert 75 < res.faces[0].facing_angle_deg < 85


def test_nearest_face_wins(renderer):
    cam = renderer.gl.cameras[0]
    img = textured_image(5)
    near = quad_face(1, centre=(0.03, -0.3, FACE_Z))
    far = quad_face(2, centre=(-0.05, 0.2, FACE_Z))
    blue = Template("blue", np.full((416, 320, 3), (20, 40, 230), np.uint8))
    orange = Template("orange", np.full((416, 320, 3), (240, 140, 20), np.uint8))
    res = renderer.anonymize_view(img, None, cam, [far, near], {1: blue, 2: orange})
    assert {rf.person_id for rf in res.faces} == {1, 2}
    c = np.round(project(cam, [[0.0, 0.0, FACE_Z]])[0]).astype(int)  # inside both projections
    assert np.abs(res.image[c[1], c[0]].astype(int) - np.array([20, 40, 230]) * 0.992).max() <= 10
    # the far face's visible box excludes what the near one covers
    by_id = {rf.person_id: rf for rf in res.faces}
    alone = renderer.anonymize_view(img, None, cam, [far], {2: orange}).faces[0]
    assert by_id[2].painted_pixels < 0.6 * alone.painted_pixels and by_id[1].visible_fraction == 1.0


def test_a_face_moved_by_a_second_start_is_painted_where_the_fit_put_it_too(renderer):
    """Neither placement of a face a second start moved is confirmed: both are painted (the
    moved one first, the fit's on what it leaves), only the moved one is a face of the result;
    the fit's placement is painted even where the moved face is turned away from the view."""
    cam = renderer.gl.cameras[0]
    img = textured_image(7)
    fitted = quad_face(1, centre=(-0.25, 0.0, FACE_Z))
    moved = replace(quad_face(1, centre=(0.25, 0.0, FACE_Z)), as_fitted=fitted)
    tpl = {1: quadrant_template()}
    both = renderer.anonymize_view(img, None, cam, [moved], tpl)
    alone = {name: renderer.anonymize_view(img, None, cam, [f], tpl) for name, f in
             (("moved", replace(moved, as_fitted=None)), ("fitted", fitted))}
    assert [rf.bbox for rf in both.faces] == [rf.bbox for rf in alone["moved"].faces]
    assert np.array_equal(both.mask, alone["moved"].mask | alone["fitted"].mask)
    assert not (alone["moved"].mask & alone["fitted"].mask).any()
    for name in alone:  # each placement painted as it is alone
        m = alone[name].mask
        assert np.array_equal(both.image[m], alone[name].image[m])
    assert np.array_equal(both.image[~both.mask], img[~both.mask])
    away = replace(quad_face(1, centre=(0.25, 0.0, FACE_Z), facing=(0.0, 1.0, 0.0)), as_fitted=fitted)
    res = renderer.anonymize_view(img, None, cam, [away], tpl)  # + the turned face's footprint, blurred
    assert not res.faces and np.array_equal(res.mask & alone["fitted"].mask, alone["fitted"].mask)
    from disguisor.render.faces import FaceRenderer

    with FaceRenderer([cam], replace(renderer.params, turned_blur_max_deg=0.0)) as plain:
        res = plain.anonymize_view(img, None, cam, [away], tpl)
    assert not res.faces and np.array_equal(res.mask, alone["fitted"].mask)


def test_identical_inputs_identical_outputs(renderer):
    from disguisor.render.faces import FaceRenderer

    cam = renderer.gl.cameras[1]
    img, depth = textured_image(6), np.full((H, W), 1.0, np.float32)
    depth[100:140, :150] = 0.5
    faces = [quad_face(1), quad_face(2, centre=(0.3, 0.4, FACE_Z))]
    templates = load_templates()
    tpl = {f.person_id: choose_template(f.person_id, templates) for f in faces}
    with FaceRenderer([cam]) as fresh:
        a = fresh.anonymize_view(img, depth, cam, faces, tpl)
        b = fresh.anonymize_view(img, depth, cam, faces, tpl)
    with FaceRenderer([cam]) as other:
        c = other.anonymize_view(img, depth, cam, faces, tpl)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.image, c.image)
    assert [f.bbox for f in a.faces] == [f.bbox for f in c.faces]
    assert a.faces[0].blend == "poisson" and not a.notes
    assert not np.array_equal(a.image, img)


@pytest.mark.parametrize("method", ["blur", "pixelate", "blacken", "template"])
def test_methods_change_exactly_the_mask(renderer, method):
    cam = renderer.gl.cameras[0]
    img = textured_image(7)
    depth = np.full((H, W), 1.0, np.float32)
    depth[:, :140] = 0.6  # occluder over part of the face
    face = quad_face()
    res = renderer.anonymize_view(img, depth, cam, [face], {1: quadrant_template()}, method=method)
    changed = _painted(res.image, img)
    assert res.mask is not None and res.mask.sum() == res.faces[0].painted_pixels
    assert not (changed & ~res.mask).any()
    assert changed[res.mask].mean() > 0.9
    if method == "blacken":
        assert (res.image[res.mask] == 0).all()
    if method == "pixelate":
        assert len(np.unique(res.image[res.mask].reshape(-1, 3), axis=0)) <= 64
    # the painted mask is the visible face grown by the dilation, never over the occluder's interior
    r = renderer.dilation_px(cam, face)
    assert not res.mask[:, :140 - r - 1].any() and res.mask[:, 140 - r].any()
    ys, xs = np.nonzero(res.mask)
    assert res.faces[0].painted_bbox == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def test_blend_failure_falls_back_to_paste_and_border_faces(renderer):
    from disguisor.render.faces import FaceRenderer

    cam = renderer.gl.cameras[0]
    img = textured_image(8)
    with FaceRenderer([cam], RenderParams(blend="no-such-blend")) as broken:
        res = broken.anonymize_view(img, None, cam, [quad_face()], {1: quadrant_template()})
    assert res.faces[0].blend == "paste" and "blend failed" in res.notes[0]
    assert _painted(res.image, img).sum() >= res.faces[0].painted_pixels * 0.95
    # a face cut by the image border (mask touching it) blends without error
    with FaceRenderer([cam]) as r:
        res = r.anonymize_view(img, None, cam, [quad_face(centre=(0.5, 0.0, FACE_Z))], {1: quadrant_template()})
        assert res.faces and res.faces[0].blend == "poisson" and not res.notes
        x, _, w, _ = res.faces[0].bbox
        assert x + w == W and res.mask[:, -1].any()
        # no template for a person: blackened, reported, never left unpainted
        res = r.anonymize_view(img, None, cam, [quad_face(person_id=9)], {1: quadrant_template()})
        assert res.faces[0].blend == "blacken-fallback" and (res.image[res.mask] == 0).all() and res.notes


def test_bad_inputs_raise(renderer):
    cam = renderer.gl.cameras[0]
    with pytest.raises(InputError, match="image"):
        renderer.anonymize_view(np.zeros((10, 10, 3), np.uint8), None, cam, [], {})
    with pytest.raises(InputError, match="method"):
        renderer.anonymize_view(textured_image(), None, cam, [], {}, method="smudge")
    assert replace(RenderParams(), dilate_px=0).dilate_px == 0


# ---------------------------------------------------------------------------------------------
# Synthetic recording: the true faces' rendered boxes against the ground-truth boxes


@pytest.fixture(scope="module")
def synth_recording(tmp_path_factory):
    from disguisor.synth.or_scene import generate_or_recording

    out = tmp_path_factory.mktemp("render") / "easy"
    return generate_or_recording(out, "easy", frames=2, size=(640, 360), seed=11)


def _iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_true_faces_match_ground_truth_boxes(synth_recording):
    from disguisor.io.recording import open_recording
    from disguisor.render.faces import FaceRenderer
    from disguisor.synth.truth import true_face_surfaces

    rec = open_recording(synth_recording)
    ann = json.loads((synth_recording / "annotations.json").read_text())
    image_of = {(im["camera"], im["frame"]): im["id"] for im in ann["images"]}
    gt = {(a["image_id"], a["person_id"]): a for a in ann["annotations"]}
    truth = true_face_surfaces(synth_recording)
    templates = load_templates()
    rows, unpainted, extra_px = [], [], []
    with FaceRenderer(rec.cameras) as r:
        for frame, faces in truth.items():
            tpl = {f.person_id: choose_template(f.person_id, templates) for f in faces}
            for cam in rec.cameras:
                img = np.ascontiguousarray(rec.read_color(cam, frame)[..., ::-1])
                res = r.anonymize_view(img, rec.read_depth(cam, frame), cam, faces, tpl)
                iid = image_of[cam.name, frame]
                got = {rf.person_id: rf for rf in res.faces}
                for (i, pid), a in gt.items():
                    if i != iid:
                        continue
                    if pid not in got:
                        unpainted.append((iid, pid))
                        continue
                    g, b, pb = a["bbox"], got[pid].bbox, got[pid].painted_bbox
                    iou = _iou(g, b)
                    # share of the ground-truth box inside the painted box
                    pi = _iou(g, pb)
                    covered = pi * (g[2] * g[3] + pb[2] * pb[3]) / (1 + pi) / (g[2] * g[3])
                    rows.append((iou, covered, g[2] * g[3], a["visible_fraction"]))
                extra_px += [rf.bbox[2] * rf.bbox[3] for pid, rf in got.items() if (iid, pid) not in gt]
    rows = np.array(rows)
    assert len(rows) >= 15
    # every ground-truth face is painted (privacy) and its box is covered by the painted box
    assert not unpainted
    assert np.median(rows[:, 1]) > 0.97 and np.mean(rows[:, 1] > 0.8) >= 0.9
    # boxes agree (measured on seed 11: median IoU 0.92; the low ones are faces of a few pixels
    # or partly hidden by occluders that the depth cannot tell from the face, painted larger)
    assert np.median(rows[:, 0]) > 0.85
    clear = (rows[:, 2] >= 300) & (rows[:, 3] >= 0.6)
    assert clear.sum() >= 5 and rows[clear, 0].min() > 0.7
    # faces painted where the ground truth has none (fewer than 16 visible pixels there) are
    # slivers at the silhouette of a head turned away: the head is within the depth tolerance
    assert all(a <= 500 for a in extra_px), extra_px


def test_replay_detects_mismatch(synth_recording, tmp_path):
    import shutil

    from disguisor.synth.truth import true_face_surfaces

    copy = tmp_path / "rec"
    copy.mkdir()
    for name in ("annotations.json", "gt_poses3d.json"):
        shutil.copy(synth_recording / name, copy / name)
    gt = json.loads((copy / "gt_poses3d.json").read_text())
    gt["frames"][0]["people"][0]["joints"][0][0] += 0.05
    (copy / "gt_poses3d.json").write_text(json.dumps(gt))
    with pytest.raises(InputError, match="differs from the ground truth"):
        true_face_surfaces(copy, frames=[0])


def test_rendered_synth_view_looks_like_a_face(synth_recording):
    """The template lands on the face: painted pixels near the true face centre take the
    template's skin colours (checked before blending, in paste mode)."""
    from disguisor.io.recording import open_recording
    from disguisor.render.faces import FaceRenderer
    from disguisor.synth.truth import true_face_surfaces

    rec = open_recording(synth_recording)
    faces = true_face_surfaces(synth_recording, frames=[0])[0]
    tpl = Template("flat", np.full((416, 320, 3), (10, 250, 10), np.uint8))
    checked = 0
    with FaceRenderer(rec.cameras, RenderParams(blend="paste")) as r:
        for cam in rec.cameras:
            img = np.ascontiguousarray(rec.read_color(cam, 0)[..., ::-1])
            res = r.anonymize_view(img, rec.read_depth(cam, 0), cam, faces, dict.fromkeys(range(9), tpl))
            for rf in res.faces:
                if rf.bbox[2] * rf.bbox[3] < 100:
                    continue
                x, y, w, h = (int(v) for v in rf.bbox)
                box = res.image[y:y + h, x:x + w].reshape(-1, 3).astype(int)
                green = (box[:, 1] > 150) & (box[:, 0] < 60)
                assert green.mean() > 0.3
                checked += 1
    assert checked >= 3
    cv2.setNumThreads(0)


def _with_side_plate(face: FaceSurface, x_m: float, y_span=(-0.12, 0.0), half_z: float = 0.13) -> FaceSurface:
    """``face`` with an occluder: a plate in the plane x = ``x_m`` (world), spanning ``y_span``
    and +-``half_z`` around the face centre, both windings (a crude cheek/ear of the own head)."""
    c = face.centre
    y0, y1 = y_span
    V = np.array([[x_m, y0, c[2] - half_z], [x_m, y1, c[2] - half_z], [x_m, y1, c[2] + half_z],
                  [x_m, y0, c[2] + half_z]])
    T = np.array([[0, 1, 2], [0, 2, 3], [0, 2, 1], [0, 3, 2]])
    return replace(face, occluder_vertices=V, occluder_triangles=T)


def _camera_at_angle(angle_deg: float, distance: float = 1.2) -> Camera:
    """A camera looking at the quad face's centre from ``angle_deg`` off its facing (-y), about +z."""
    a = np.radians(angle_deg)
    eye = np.array([np.sin(a), -np.cos(a), 0.0]) * distance + [0.0, 0.0, FACE_Z]
    return make_camera(eye=eye, name=f"at{angle_deg:.0f}")


def test_own_head_hides_the_face_behind_it():
    from disguisor.render.faces import FaceRenderer

    face = _with_side_plate(quad_face(), 0.1)  # sticks out 12 cm in front of the face's +x edge
    cams = [_camera_at_angle(a) for a in (30, 80)]
    img = textured_image(11)
    tpl = {1: quadrant_template()}
    with FaceRenderer(cams, RenderParams(blend="paste", self_occlusion_margin_m=0.03)) as on, \
            FaceRenderer(cams, RenderParams(blend="paste", self_occlusion_margin_m=None)) as off:
        # seen from the front (< self_occlusion_min_angle_deg): the own head is not tested
        a, b = (r.anonymize_view(img, None, cams[0], [face], tpl) for r in (on, off))
        assert a.mask.sum() == b.mask.sum() > 500
        # near profile: the plate hides the face except the strip within the margin behind it
        a, b = (r.anonymize_view(img, None, cams[1], [face], tpl) for r in (on, off))
        assert not (a.mask & ~b.mask).any()
        assert 0 < a.faces[0].visible_fraction < 0.6 and b.faces[0].visible_fraction == 1.0
        # the reported box shrinks to the strip left visible
        assert a.faces[0].bbox[2] < 0.6 * b.faces[0].bbox[2]
        # a wall of the own head in front of the whole face: hidden, skipped with the reason
        wall = _with_side_plate(quad_face(), 0.16, y_span=(-0.5, 0.5), half_z=0.5)
        a = on.anonymize_view(img, None, cams[1], [wall], tpl)
        assert not a.faces and a.skipped == [(1, "hidden by its own head")]
        assert off.anonymize_view(img, None, cams[1], [wall], tpl).mask.any()
        # the sensor reads the face's own surface where the wall would hide it: the fitted head
        # is turned wrong there, the face is painted; a sensor reading the wall hides it as before
        _, face_depth, _ = on.render_faces(cams[1], [wall], tpl, (0, 0, cams[1].width, cams[1].height))
        assert on.anonymize_view(img, face_depth, cams[1], [wall], tpl).faces
        wall_depth = np.where(face_depth > 0, face_depth - 0.3, 0.0).astype(np.float32)
        assert not on.anonymize_view(img, wall_depth, cams[1], [wall], tpl).faces
        strict = replace(on.params, self_occlusion_sensor_m=None)
        with FaceRenderer(cams, strict) as head_only:
            assert head_only.anonymize_view(img, face_depth, cams[1], [wall], tpl).skipped == [
                (1, "hidden by its own head")]


def test_dilation_follows_distance():
    from disguisor.render.faces import FaceRenderer

    p = replace(RenderParams(), dilate_m=0.02)
    with FaceRenderer([make_camera()], p) as r:
        cam = r.gl.cameras[0]
        near, far = quad_face(centre=(0.0, 0.5, FACE_Z)), quad_face(centre=(0.0, 20.0, FACE_Z))
        # 2 cm at 1.5 m with f = 300 px: 4 px; far away the minimum in pixels holds
        assert r.dilation_px(cam, near) == round(p.dilate_m * 300 / 1.5) == 4
        assert r.dilation_px(cam, far) == p.dilate_px
    with FaceRenderer([make_camera(f=3000.0)], replace(p, dilate_max_px=25)) as r:
        assert r.dilation_px(r.gl.cameras[0], quad_face(centre=(0.0, -0.5, FACE_Z))) == 25


def test_reported_box_is_the_confirmed_face_painting_stays_wide(renderer):
    cam = renderer.gl.cameras[0]
    face = quad_face()
    img = textured_image(12)
    full = renderer.anonymize_view(img, None, cam, [face], {1: quadrant_template()})
    x, y, w, h = full.faces[0].bbox
    depth = np.full((H, W), 1.0, np.float32)  # the real face, at the estimate's depth
    # a hand 4 cm in front of the face's left half: within the painting tolerance (6 cm + noise),
    # beyond the reporting margin (2.5 cm + noise)
    depth[:, : int(x + w / 2)] = 0.96
    res = renderer.anonymize_view(img, depth, cam, [face], {1: quadrant_template()})
    rf = res.faces[0]
    assert rf.painted_bbox[0] <= x and rf.painted_bbox[2] >= w  # all of the face painted
    assert abs(rf.bbox[0] - (x + w / 2)) <= 2 and rf.bbox[2] <= w / 2 + 2  # reported: the right half
    # the hand's outline dropped its readings (a 2 px band of zeros right of it): painted, but
    # no evidence for the reported box
    edge = int(x + w / 2)
    depth[:, edge:edge + 2] = 0.0
    rf = renderer.anonymize_view(img, depth, cam, [face], {1: quadrant_template()}).faces[0]
    assert rf.painted_bbox[0] <= x and abs(rf.bbox[0] - (edge + 2)) <= 2
    # no readings on the bottom half, far from any occluder: still evidence of nothing against
    # the face, so the reported box keeps it
    depth = np.full((H, W), 1.0, np.float32)
    depth[int(y + h / 2):] = 0.0
    rf = renderer.anonymize_view(img, depth, cam, [face], {1: quadrant_template()}).faces[0]
    assert rf.painted_bbox[3] >= h and abs(rf.bbox[3] - h) <= 1
    # nothing confirmed anywhere (no readings at all): the box of the painted face
    res = renderer.anonymize_view(img, np.zeros((H, W), np.float32), cam, [face], {1: quadrant_template()})
    assert res.faces[0].bbox == full.faces[0].bbox


def test_dilation_ring_stays_off_the_background(renderer):
    cam = renderer.gl.cameras[0]
    face = quad_face()
    tpl = {1: quadrant_template()}
    img = textured_image(13)
    _, depth_r, _ = renderer.render_faces(cam, [face], tpl, (0, 0, W, H))
    footprint = depth_r > 0
    r = renderer.dilation_px(cam, face)
    # the wall 1.5 m behind the face: the real face cannot be there, the ring is painted only
    # within the edge band (the sensor's silhouette may lie a pixel or two inside the face's)
    wall = np.where(footprint, depth_r, depth_r.max() + 1.5).astype(np.float32)
    res = renderer.anonymize_view(img, wall, cam, [face], tpl)
    band = renderer.params.ring_background_edge_px
    assert 0 < band < r
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    edge = cv2.dilate(footprint.astype(np.uint8), disk).astype(bool)
    assert res.mask[edge].all() and not (res.mask & ~edge).any()
    from disguisor.render.faces import FaceRenderer
    with FaceRenderer([cam], replace(renderer.params, ring_background_edge_px=0)) as no_band:
        res0 = no_band.anonymize_view(img, wall, cam, [face], tpl)
    grown1 = cv2.dilate(footprint.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert res0.mask[footprint].all() and not (res0.mask & ~grown1).any()
    # no readings around the face (or a surface near its depth): the ring is painted
    holes = np.where(footprint, depth_r, 0.0).astype(np.float32)
    res = renderer.anonymize_view(img, holes, cam, [face], tpl)
    assert (res.mask & ~footprint).sum() > 2 * r * footprint.sum() ** 0.5


def test_painted_region_is_closed_over_thin_gaps():
    from disguisor.render.faces import FaceRenderer

    cam = make_camera()
    face = quad_face()
    img = textured_image(14)
    tpl = {1: quadrant_template()}
    depth = np.full((H, W), 1.0, np.float32)
    depth[:, 152:167] = 0.6  # a 15 px wide pole 40 cm in front of the face: splits it in two
    with FaceRenderer([cam], RenderParams(blend="paste", close_px=0, dilate_m=0.02)) as open_, \
            FaceRenderer([cam], RenderParams(blend="paste", dilate_m=0.02)) as closed:
        a = open_.anonymize_view(img, depth, cam, [face], tpl)
        b = closed.anonymize_view(img, depth, cam, [face], tpl)
    rows = np.nonzero(a.mask.any(axis=1))[0]
    mid = rows[len(rows) // 2]
    # the dilation (6 px here) leaves a 3 px gap, which closing paints over
    assert not a.mask[mid, 159] and b.mask[mid, 159]
    assert not (a.mask & ~b.mask).any() and b.faces[0].bbox == a.faces[0].bbox


def test_face_just_outside_the_image_gets_its_margin_blurred_inside():
    """A face estimated just beyond the image border renders nothing, but its privacy margin
    reaches into the image: that strip is blurred (the real face may show there); a face fully
    inside the image but hidden by a nearer one is no border case."""
    from disguisor.render.faces import FaceRenderer

    cam = make_camera()
    img = textured_image(21)
    # 1 m from the camera, f = 300: the image spans x in [-0.53, 0.53] m; this face spans 0.56-0.76 m
    outside = quad_face(centre=(0.66, 0.0, FACE_Z))
    with FaceRenderer([cam], RenderParams(blend="paste", dilate_m=0.06)) as r:
        res = r.anonymize_view(img, None, cam, [outside], {1: quadrant_template()})
        margin = r.dilation_px(cam, outside)
    assert [f.blend for f in res.faces] == ["blur"] and not res.skipped
    assert res.faces[0].border                                     # painted, not a face in the picture
    x, y, w, h = res.faces[0].bbox
    assert w <= margin and (x == 0 or x + w == W)                  # a strip along one border only
    changed = np.any(res.image != img, axis=2)
    assert changed.any() and not changed[:, W // 4: 3 * W // 4].any()
    far_out = quad_face(centre=(1.5, 0.0, FACE_Z))                 # its margin does not reach the image
    with FaceRenderer([cam], RenderParams(blend="paste", dilate_m=0.06)) as r:
        res = r.anonymize_view(img, None, cam, [far_out], {1: quadrant_template()})
    assert not res.faces and np.array_equal(res.image, img)


def test_a_face_turned_just_beyond_profile_has_its_footprint_blurred(renderer):
    """A face estimated 120 degrees from the camera renders nothing (only the backs of its
    triangles face it), yet an estimate turned 20-40 degrees too far leaves the true face's edge
    in view: the face's projected footprint is blurred on the pixels the sensor reads at the
    head's depth (or not at all), not on the wall behind. By default faces turned up to 180
    degrees are (a 2D head turn that follows the body can place a face 40-70 degrees off);
    beyond ``turned_blur_max_deg`` nothing is."""
    cam = renderer.gl.cameras[0]
    img = textured_image(11)
    tpl = {1: quadrant_template()}
    dist_m = float(np.linalg.norm(cam.t - np.array([0.0, 0.0, FACE_Z])))
    depth = np.full((H, W), dist_m + 1.0, np.float32)  # a wall 1 m behind the face
    a = np.radians(120)
    turned = quad_face(facing=(np.sin(a), -np.cos(a), 0.0))
    uv = project(cam, turned.vertices)
    x0, y0 = np.floor(uv.min(0)).astype(int)
    x1, y1 = np.ceil(uv.max(0)).astype(int)
    depth[y0:y1 + 1, x0:(x0 + x1) // 2] = dist_m - 0.1  # the back of the head, nearer than the face
    depth[y0:y1 + 1, (x0 + x1) // 2:x1 + 1] = 0.0  # no reading
    res = renderer.anonymize_view(img, depth, cam, [turned], tpl)
    assert not res.faces and "turned away" in res.skipped[0][1]
    changed = _painted(res.image, img)
    inside = np.zeros((H, W), bool)
    inside[y0 + 2:y1 - 1, x0 + 2:x1 - 1] = True
    assert changed[inside].mean() > 0.9 and np.array_equal(res.mask & inside, inside)
    assert not changed[:, x1 + 20:].any() and not changed[y1 + 20:].any()  # the wall beside
    assert not renderer.anonymize_view(img, np.full((H, W), dist_m + 1.0, np.float32), cam, [turned], tpl).mask.any()
    b = np.radians(150)
    away = quad_face(facing=(np.sin(b), -np.cos(b), 0.0))
    assert RenderParams().turned_blur_max_deg == 180.0
    assert renderer.anonymize_view(img, depth, cam, [away], tpl).mask[inside].mean() > 0.9
    from disguisor.render.faces import FaceRenderer

    with FaceRenderer([cam], replace(renderer.params, turned_blur_max_deg=135.0)) as narrow:
        assert not narrow.anonymize_view(img, depth, cam, [away], tpl).mask.any()
        assert narrow.anonymize_view(img, depth, cam, [turned], tpl).mask[inside].all()
    with FaceRenderer([cam], replace(renderer.params, turned_blur_max_deg=0.0)) as plain:
        assert not plain.anonymize_view(img, depth, cam, [turned], tpl).mask.any()
