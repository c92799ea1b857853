"""The renderer's own check that a painted face changed its pixels (disguisor/render/check.py)."""

from __future__ import annotations

import numpy as np
import pytest

from disguisor.boxes import mask_bounds
from disguisor.render.check import changed_share
from disguisor.render.params import RenderParams
from disguisor.render.templates import Template
from tests.test_render_faces import H, W, make_camera, quad_face


def test_changed_share_counts_pixels_moved_beyond_the_grey_levels():
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a.copy()
    b[:, :3] = 107  # +7 grey levels: changed
    b[:, 3:5] = 106  # +6: not changed (must exceed the levels)
    assert changed_share(a, b, (0, 0, 10, 10), 6.0) == pytest.approx(0.3)
    assert changed_share(a, b, (0, 0, 3, 10), 6.0) == 1.0
    assert changed_share(a, b, (5, 0, 10, 10), 6.0) == 0.0
    mask = np.zeros((10, 10), bool)
    mask[2:4, 5:9] = True
    assert mask_bounds(mask) == (5, 2, 9, 4) and mask_bounds(np.zeros((3, 3), bool)) is None


def test_regularization_steps():
    assert RenderParams().blend_regularization_steps() == pytest.approx([0.02, 0.2, 2.0])
    assert RenderParams(check_min_share=0.0).blend_regularization_steps() == [0.02]
    assert RenderParams(blend_regularization=3.0).blend_regularization_steps() == [3.0]


def test_a_blend_that_changes_too_little_is_redone_closer_to_the_template():
    """A flat face on a flat image: a plain Poisson blend takes every colour from the boundary
    and changes nothing; the check blends again until the template's colour shows."""
    from disguisor.render.faces import FaceRenderer

    cam = make_camera()
    image = np.full((H, W, 3), (150, 120, 100), np.uint8)
    depth = np.full((H, W), 2.0, np.float32)
    template = {1: Template("flat", np.full((416, 320, 3), (90, 160, 210), np.uint8))}
    face = quad_face()
    shares = {}
    # the margin as the face's colours carried out (a face under soften_min_px, or margin_fill
    # "colour"): the plain blend then shifts the whole face to the boundary's colour. With the
    # membrane margin the colour passes over inside the margin and the face keeps the template's
    # (the last assertion).
    for name, params in {"checked": RenderParams(blend_regularization=1e-7, margin_fill="colour"),
                         "unchecked": RenderParams(blend_regularization=1e-7, check_min_share=0.0,
                                                   margin_fill="colour"),
                         "membrane": RenderParams(blend_regularization=1e-7, check_min_share=0.0)}.items():
        with FaceRenderer([cam], params) as renderer:
            res = renderer.anonymize_view(image, depth, cam, [face], template)
        x, y, w, h = (int(v) for v in res.faces[0].bbox)
        shares[name] = changed_share(image, res.image, (x, y, x + w, y + h), 6.0)
        assert res.faces[0].blend == "poisson"
    assert shares["unchecked"] < 0.5 <= 0.6 <= shares["checked"]
    assert shares["membrane"] >= 0.9


def test_a_box_the_blend_cannot_change_enough_is_painted_whole():
    """A pole in front of the middle 60% of a face: the depth test leaves it unpainted, so no
    blend changes 60% of the face's box; the box is then painted whole (check_fill_box)."""
    from disguisor.render.faces import FaceRenderer

    cam = make_camera()
    image = np.full((H, W, 3), (150, 120, 100), np.uint8)
    depth = np.full((H, W), 2.0, np.float32)
    image[:, 142:178] = 40  # the face spans x 130-190 (0.2 m at 1 m, f 300 px)
    depth[:, 142:178] = 0.5
    template = {1: Template("flat", np.full((416, 320, 3), (90, 160, 210), np.uint8))}
    shares, painted = {}, {}
    for fill in (False, True):
        params = RenderParams(dilate_m=0.01, check_fill_box=fill)
        with FaceRenderer([cam], params) as renderer:
            res = renderer.anonymize_view(image, depth, cam, [quad_face()], template)
        x, y, w, h = (int(v) for v in res.faces[0].bbox)
        assert w > 50  # the box spans both sides of the pole
        shares[fill] = changed_share(image, res.image, (x, y, x + w, y + h), 6.0)
        painted[fill] = int(res.mask[:, 142:178].sum())
    # without: only the dilation ring (3 px on each side) reaches onto the pole (36 x 78 px)
    assert shares[False] < 0.6 and painted[False] < 600
    assert shares[True] >= 0.9 and painted[True] > 2500
