"""Edge-on face surfaces and the privacy margin get smooth colours (disguisor/render/soften.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from disguisor.render.params import RenderParams
from disguisor.render.soften import extend_smooth, facing_cos, soften_grazing
from disguisor.render.templates import Template
from tests.test_render_faces import H, W, make_camera, quad_face

F = 300.0
K = np.array([[F, 0, W / 2 - 0.5], [0, F, H / 2 - 0.5], [0, 0, 1.0]])


def plane_depth(tilt_deg: float, z0: float = 1.5, half_px: int = 40) -> np.ndarray:
    """Rendered depth (H, W) of a plane through (0, 0, z0) turned by ``tilt_deg`` about the
    camera's y axis (0 = facing the camera), cut to a square of ``half_px`` around the centre."""
    t = np.radians(tilt_deg)
    n = np.array([np.sin(t), 0.0, -np.cos(t)])  # towards the camera at 0
    u = (np.arange(W) - K[0, 2]) / F
    v = (np.arange(H) - K[1, 2]) / F
    ray = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((H, W))), -1)
    z = (n @ np.array([0, 0, z0])) / (ray @ n)  # ray * z lies on the plane
    depth = np.zeros((H, W), np.float32)
    cy, cx = H // 2, W // 2
    square = np.s_[cy - half_px:cy + half_px, cx - half_px:cx + half_px]
    depth[square] = z[square]
    return depth


@pytest.mark.parametrize("tilt", [0.0, 45.0, 75.0])
def test_facing_cos_is_the_angle_between_surface_and_ray(tilt):
    depth = plane_depth(tilt)
    cos = facing_cos(depth, K, 0, 0)
    inner = np.zeros_like(depth, bool)
    inner[H // 2 - 30:H // 2 + 30, W // 2 - 30:W // 2 + 30] = True
    # the ray turns by up to ~6 degrees across the square: compare with the centre ray's angle
    assert np.median(cos[inner]) == pytest.approx(np.cos(np.radians(tilt)), abs=0.03)
    # a window elsewhere in the image: the same surface, the same answer
    win = facing_cos(depth[60:180, 100:220], K, 100, 60)
    assert np.allclose(win[30:90, 30:90], cos[90:150, 130:190], atol=1e-4)


def test_edge_on_texture_fades_to_its_low_pass_frontal_texture_stays():
    rng = np.random.default_rng(0)
    color = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    for tilt, changed in ((0.0, False), (80.0, True)):
        depth = plane_depth(tilt)
        rendered = depth > 0
        out = soften_grazing(color, rendered, facing_cos(depth, K, 0, 0), 0.25, 0.65, 4.0)
        assert np.array_equal(out[~rendered], color[~rendered])  # nothing outside the face moves
        inner = rendered.copy()
        inner[:, :W // 2 - 30] = inner[:, W // 2 + 30:] = False
        if changed:  # seen at 80 degrees: the texture's detail is gone, its mean stays
            assert out[inner].std() < 0.3 * color[inner].std()
            assert abs(out[inner].mean() - color[inner].mean()) < 3.0
        else:
            assert np.array_equal(out, color)


def test_margin_carries_smooth_colours_not_streaks():
    # a face whose edge alternates dark and light every 2 px: the nearest-pixel fill repeats the
    # stripes out into the margin, the smooth fill gives their mean
    color = np.zeros((H, W, 3), np.uint8)
    rendered = np.zeros((H, W), bool)
    rendered[60:180, 100:220] = True
    stripes = np.where((np.arange(W) // 2) % 2 == 0, 40, 220).astype(np.uint8)
    color[rendered] = np.broadcast_to(stripes[None, :, None], (H, W, 3))[rendered]
    out = extend_smooth(color, rendered, 6.0)
    assert np.array_equal(out[rendered], color[rendered])
    band = out[45:55, 110:210].astype(float)  # 5-15 px above the face
    assert band.std() < 10.0
    assert abs(band.mean() - 130.0) < 10.0
    nearest = extend_smooth(color, rendered, 0.0)
    assert nearest[45:55, 110:210].std() > 80.0  # the old fill: the stripes go on
    far = out[0:5, 110:210].astype(float)  # beyond the low-pass's reach: still defined, still smooth
    assert far.std() < 10.0


def test_a_face_seen_edge_on_is_painted_without_its_features():
    """End to end: a striped template on a face seen nearly edge-on is painted in one smooth tone
    (without the softening its stripes show); seen from the front its stripes stay."""
    from disguisor.render.faces import FaceRenderer

    img = np.zeros((416, 320, 3), np.uint8)
    img[:, (np.arange(320) // 64) % 2 == 0] = 255  # 5 wide stripes: the face's features
    tpl = Template("stripes", img)
    cam = make_camera()
    image = np.full((H, W, 3), 90, np.uint8)
    # turned just past the angle where only the low-pass is left
    angle = np.radians(np.degrees(np.arccos(RenderParams().graze_cos_lo)) + 1.0)
    turned = (np.sin(angle), -np.cos(angle), 0.0)
    stds = {}
    for graze_cos_hi in (0.0, RenderParams().graze_cos_hi):
        for name, facing in (("front", (0.0, -1.0, 0.0)), ("edge-on", turned)):
            params = RenderParams(blend="paste", dilate_px=0, close_px=0, graze_cos_hi=graze_cos_hi,
                                  margin_fill="colour")  # the margin's own fill is tested below
            with FaceRenderer([cam], params) as r:
                res = r.anonymize_view(image, None, cam, [quad_face(facing=facing)], {1: tpl})
            painted = res.mask & (res.image != image).any(-1)
            assert painted.sum() > 30
            stds[name, graze_cos_hi > 0] = res.image.astype(float).mean(-1)[painted].std()
    assert stds["front", True] > 80.0 and stds["front", False] > 80.0
    assert stds["edge-on", False] > 40.0  # the stripes, squeezed
    assert stds["edge-on", True] < 0.5 * stds["edge-on", False], stds


def test_a_failure_while_softening_still_paints_the_face(monkeypatch):
    import disguisor.render.faces as faces_module

    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(faces_module, "facing_cos", broken)
    cam = make_camera()
    image = np.full((H, W, 3), 90, np.uint8)
    img = np.zeros((416, 320, 3), np.uint8)
    img[:, (np.arange(320) // 64) % 2 == 0] = 255
    with faces_module.FaceRenderer([cam], RenderParams()) as r:
        res = r.anonymize_view(image, None, cam, [quad_face()], {1: Template("stripes", img)})
    assert len(res.faces) == 1
    changed = (np.abs(res.image.astype(int) - image.astype(int)).max(-1) > 6) & res.mask
    assert changed.sum() > 0.5 * res.mask.sum() > 0


def test_the_margin_membrane_passes_smoothly_from_the_face_to_the_picture():
    from disguisor.render.soften import membrane_margin

    # a uniform face (200) in a picture whose left half is dark (20) and right half light (240),
    # with an "eye" (0) in the margin: a face placed a few pixels off
    image = np.full((H, W, 3), 20, np.uint8)
    image[:, W // 2:] = 240
    image[100:104, 95:99] = 0
    rendered = np.zeros((H, W), bool)
    rendered[80:160, 120:200] = True
    paint = np.zeros((H, W), bool)
    paint[60:180, 100:220] = True
    color = extend_smooth(np.where(rendered[..., None], np.uint8(200), image), rendered, 0.0)
    out = membrane_margin(color, image, rendered, paint).astype(float)
    assert np.array_equal(out[rendered], color[rendered])  # the face is not touched
    ring = paint & ~rendered
    assert out[100:104, 95:99].min() > 60  # the eye in the margin is gone
    # next to the face its colour, at the margin's outer edge the picture's on either side
    assert abs(out[120, 119, 0] - 200) < 12
    assert abs(out[120, 101, 0] - 20) < 25 and abs(out[120, 218, 0] - 240) < 25
    # harmonic: no value beyond the range of its boundary, and smooth (no step larger than a few levels)
    assert out[ring].min() >= 20 - 1 and out[ring].max() <= 240 + 1
    assert np.abs(np.diff(out[120, 100:120, 0])).max() < 20
    # just outside the margin the picture's own colours (the blend adds no second correction)
    assert np.array_equal(out[120, 99], image[120, 99].astype(float))
    # the old fill: the face's colour all the way out, a halo over the dark half
    assert abs(color[120, 101, 0] - 200) < 1


def test_the_membrane_margin_leaves_no_halo_and_still_hides_the_face():
    """End to end: a bright face drawn on a dark picture with a 24 px margin. With "colour" the
    margin carries the face's brightness out (a halo), with the membrane it falls off to the
    picture's; the face itself is painted alike, and every pixel of it still changes."""
    from disguisor.render.faces import FaceRenderer

    cam = make_camera()
    image = np.full((H, W, 3), 30, np.uint8)
    tpl = Template("flat", np.full((416, 320, 3), 210, np.uint8))
    res = {}
    for fill in ("colour", "membrane"):
        params = RenderParams(margin_fill=fill, dilate_px=24, dilate_max_px=40, dilate_m=0.0, close_px=0)
        with FaceRenderer([cam], params) as r:
            res[fill] = r.anonymize_view(image, None, cam, [quad_face()], {1: tpl})
    a, b = res["colour"], res["membrane"]
    assert np.array_equal(a.mask, b.mask) and a.mask.sum() > 4000

    def band(k_in: int, k_out: int) -> np.ndarray:  # pixels k_in to k_out px inside the painted edge
        m = a.mask.astype(np.uint8)
        return (cv2.erode(m, np.ones((2 * k_in + 1,) * 2, np.uint8))
                & ~cv2.erode(m, np.ones((2 * k_out + 1,) * 2, np.uint8))).astype(bool)

    margin = band(2, 14)
    assert a.image[margin].mean() > 125  # the halo
    assert b.image[margin].mean() < 95   # falling off to the picture's 30
    face = band(30, 200)
    assert face.sum() > 500
    assert abs(b.image[face].mean() - a.image[face].mean()) < 15
    assert (np.abs(b.image.astype(int) - image.astype(int)).max(-1) > 6)[face].all()
