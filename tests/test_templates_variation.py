"""Per-person variation of the face templates (disguisor/render/variation.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from disguisor.render.template_drawing import TEMPLATE_SPECS, draw_template
from disguisor.render.templates import EYE_U, EYE_V, MOUTH_V, load_templates
from disguisor.render.variation import (
    EYE_DIST_U,
    GEOMETRY,
    MIN_JACOBIAN,
    Variation,
    VariationParams,
    choose_template,
    displacement,
    draw_variation,
    drawing_spec,
    grid_displacement,
    variation_key,
    vary_template,
)


@pytest.fixture(scope="module")
def templates():
    return load_templates()


def test_default_shapes_draw_the_shipped_templates(templates):
    spec = next(s for s in TEMPLATE_SPECS if s.name == "light")
    assert np.array_equal(draw_template(spec), templates["light"].image)
    assert drawing_spec(templates["light"]) is spec


def test_same_key_same_face_other_key_other_face(templates):
    t = templates["olive_mask"]
    a, b = vary_template(t, (3, 0)), vary_template(t, (3, 0))
    c = vary_template(t, (4, 0))
    assert np.array_equal(a.image, b.image) and a.info == b.info
    assert a.name == t.name and a.info["has_mask"] and a.info["variation"]["key"] == [3, 0]
    diff = np.abs(a.image.astype(int) - c.image.astype(int))
    assert diff.mean() > 3.0  # another person, another face
    off = vary_template(t, (3, 0), VariationParams(enabled=False))
    assert off is t


def test_variation_keeps_the_attire_and_the_tone_class(templates):
    t = templates["light_cap_mask"]
    h, w = t.image.shape[:2]
    mask_px = (slice(int(0.70 * h), int(0.80 * h)), slice(int(0.3 * w), int(0.7 * w)))
    cap_px = (slice(int(0.02 * h), int(0.12 * h)), slice(int(0.2 * w), int(0.8 * w)))
    for k in range(6):
        v = vary_template(t, (k,)).image.astype(float)
        for region in (mask_px, cap_px):
            ref = t.image[region].reshape(-1, 3).mean(0)
            assert np.abs(v[region].reshape(-1, 3).mean(0) - ref).max() < 0.3 * ref.max()


def test_features_move_a_bounded_amount():
    """The largest draw moves no feature by more than a fifth of the eye distance: the features
    stay inside the painted face oval (privacy does not depend on the draw)."""
    p = VariationParams()
    extreme = Variation((0,), **{g: getattr(p, g) for g in GEOMETRY})
    du, dv = grid_displacement(extreme, (416, 320))
    assert np.hypot(du, dv).max() < 0.2 * EYE_DIST_U * 1.6
    # one-to-one: the warp never folds (its Jacobian determinant stays positive), whatever the signs
    rng = np.random.default_rng(0)
    for _ in range(20):
        signs = rng.choice([-1.0, 1.0], len(GEOMETRY))
        var = Variation((0,), **{g: s * getattr(p, g) for g, s in zip(GEOMETRY, signs, strict=True)})
        du, dv = grid_displacement(var, (208, 160))
        det = ((1 + np.gradient(du, 1 / 160, axis=1)) * (1 + np.gradient(dv, 1 / 208, axis=0))
               - np.gradient(du, 1 / 208, axis=0) * np.gradient(dv, 1 / 160, axis=1))
        assert det.min() > MIN_JACOBIAN - 0.05
    for point in ((EYE_U, EYE_V), (0.5, MOUTH_V)):
        pu, pv = displacement(extreme, np.array(point[0]), np.array(point[1]))
        assert np.hypot(pu, pv) > 0.01  # the features do move


def test_draws_stay_in_their_ranges():
    p = VariationParams()
    for k in range(50):
        d = draw_variation((k, 1), p)
        assert abs(d.eye_spread) <= p.eye_spread and abs(d.mouth_width) <= p.mouth_width
        assert all(abs(g) <= p.skin_gain + p.hue_gain for g in d.skin_gain)
    assert draw_variation((5, 1)) == draw_variation((5, 1)) != draw_variation((6, 1))
    assert variation_key("person", 3, 0) == variation_key("person", 3, 0) != variation_key("person", 4, 0)


def test_choose_template_gives_each_person_their_own_face(templates):
    a = choose_template(1, templates, fixed="tan")
    b = choose_template(2, templates, fixed="tan")
    assert a.name == b.name == "tan"
    assert not np.array_equal(a.image, b.image)
    assert np.array_equal(choose_template(1, templates, fixed="tan").image, a.image)
    plain = choose_template(1, templates, fixed="tan", variation=VariationParams(enabled=False))
    assert plain is templates["tan"]


def test_templates_from_another_folder_are_warped_not_redrawn(templates):
    foreign = dataclasses.replace(templates["fair"], info={**templates["fair"].info, "description": "a user's face"})
    assert drawing_spec(foreign) is None
    out = vary_template(foreign, (1,))
    assert "redrawn" not in out.info["variation"]
    assert out.image.shape == foreign.image.shape and not np.array_equal(out.image, foreign.image)
