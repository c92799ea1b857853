"""Attire estimate (mask, cap, tone) and the attire-aware template choice."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from disguisor.render.attire import (
    AttireEstimate,
    AttireEvidence,
    attire_frames,
    choose_by_attire,
    decide,
    face_samples,
)
from disguisor.render.templates import load_templates


def _noisy(rgb, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(np.asarray(rgb, np.float32) + rng.normal(0, 4, (n, 3)), 0, 255).astype(np.float32)


def _evidence(lower, forehead, skull):
    ev = AttireEvidence()
    ev.add({"lower": _noisy(lower, seed=1), "forehead": _noisy(forehead, seed=2), "skull": _noisy(skull, seed=3)}, 0)
    return ev


SKINS = {"light": (214, 172, 146), "medium": (150, 104, 74), "dark": (72, 50, 38)}


@pytest.mark.parametrize("skin", list(SKINS.values()))
def test_mask_and_cap_decided_from_colours(skin):
    blue_mask, white_mask, green_cap, black_hair, brown_hair = (
        (140, 180, 215), (215, 222, 228), (70, 130, 90), (28, 26, 25), (92, 64, 40))
    shade = np.array([0.8, 0.8, 0.8])  # the lower face is in the shadow of the nose: no mask by lightness alone
    for lower, forehead, skull, mask, cap in [
        (blue_mask, skin, green_cap, True, True),
        (white_mask, skin, black_hair, True, False),
        (tuple(np.array(skin) * shade), skin, brown_hair, False, False),
        (skin, skin, green_cap, False, True),
        (skin, skin, skin, False, False),  # a bald head is no cap
    ]:
        est = decide(_evidence(lower, forehead, skull))
        assert (est.mask, est.cap) == (mask, cap), (lower, forehead, skull)
        assert np.abs(np.array(est.skin_rgb) - np.array(skin)).max() < 12
        # the colours of the mask and the cap found (the best-lit quarter: within the noise above the median)
        assert (est.mask_rgb is None) == (not mask) and (est.cap_rgb is None) == (not cap)
        if mask:
            assert np.abs(np.array(est.mask_rgb) - np.array(lower)).max() < 12
        if cap:
            assert np.abs(np.array(est.cap_rgb) - np.array(skull)).max() < 12


def test_too_few_samples_leave_the_decision_open():
    ev = AttireEvidence()
    ev.add({"lower": _noisy((140, 180, 215), n=3), "forehead": _noisy((200, 160, 130), n=3)}, 0)
    est = decide(ev)
    assert est.mask is None and est.cap is None and est.skin_rgb is None


def test_every_attire_has_templates_for_light_to_deep_skin():
    templates = load_templates()
    for mask in (False, True):
        for cap in (False, True):
            tones = [t.info["skin"] for t in templates.values()
                     if t.info["has_mask"] == mask and t.info["has_cap"] == cap]
            assert len(tones) >= 3, (mask, cap)
            lum = sorted(0.299 * r + 0.587 * g + 0.114 * b for r, g, b in tones)
            assert lum[0] < 90 and lum[-1] > 170, (mask, cap, lum)


@pytest.mark.parametrize("mask", [False, True])
@pytest.mark.parametrize("cap", [False, True])
def test_choice_follows_attire_and_tone(mask, cap):
    templates = load_templates()
    light = choose_by_attire(AttireEstimate(mask, cap, (222, 184, 160)), templates, 7)
    deep = choose_by_attire(AttireEstimate(mask, cap, (90, 62, 46)), templates, 7)
    for t in (light, deep):
        assert t.info["has_mask"] == mask and t.info["has_cap"] == cap
    lum = lambda t: float(np.dot(t.info["skin"], [0.299, 0.587, 0.114]))  # noqa: E731
    assert lum(light) > lum(deep) + 60


def test_the_template_wears_the_person_s_mask_and_cap_colours():
    """A person in a dark blue mask and a green cap gets a template with both, drawn in their
    colours (the lower face and the skull of the template image); without ``colours`` the
    template's own (pale) mask. Its skin and features stay the template's."""
    templates = load_templates()
    blue, green = (40, 70, 160), (60, 140, 70)
    est = AttireEstimate(True, True, (160, 112, 78), mask_rgb=blue, cap_rgb=green)
    own = choose_by_attire(est, templates, 5, colours=False)
    worn = choose_by_attire(est, templates, 5)
    assert own.name == worn.name and worn.info["has_mask"] and worn.info["has_cap"]
    h, w = worn.image.shape[:2]
    lower = np.s_[int(0.62 * h):int(0.80 * h), int(0.35 * w):int(0.65 * w)]  # the mask over mouth and chin
    top = np.s_[int(0.02 * h):int(0.15 * h), int(0.30 * w):int(0.70 * w)]    # the cap above the hem
    for region, rgb in ((lower, blue), (top, green)):
        got = np.median(worn.image[region].reshape(-1, 3), axis=0)
        assert np.abs(got - np.array(rgb)).max() < 30, (got, rgb)
        mine = np.median(own.image[region].reshape(-1, 3), axis=0)
        assert np.abs(mine - np.array(rgb)).max() > 60  # the template's own colours differ
    eyes = np.s_[int(0.36 * h):int(0.44 * h), :]
    assert np.abs(worn.image[eyes].astype(int) - own.image[eyes].astype(int)).mean() < 3


def test_no_estimate_falls_back_to_the_stable_choice():
    templates = load_templates()
    a = choose_by_attire(None, templates, 3)
    assert a.name == choose_by_attire(AttireEstimate(None, None, None), templates, 3).name


def test_attire_frames_depend_only_on_the_fits():
    one, two = SimpleNamespace(person_id=1), SimpleNamespace(person_id=2)
    fits = SimpleNamespace(frames={f: [one] + ([two] if f >= 6 else []) for f in range(10)})
    assert attire_frames(fits, list(range(10)), 2) == [0, 1, 6, 7]
    # frames listed in another order (a resumed run renders a subset): same choice
    assert attire_frames(fits, list(range(9, -1, -1)), 2) == [0, 1, 6, 7]


def test_face_samples_see_only_the_front_of_a_face(tmp_path):
    """A flat face with its regions painted in an image: samples come from the right regions, and
    none when the face turns its back or the sensor reads something in front of it."""
    from disguisor.io.calibration import Camera
    from disguisor.refine.surface import FaceSurface, canonical_face_uv

    W, H, f = 200, 200, 400.0
    cam = Camera(name="c", role="workflow", width=W, height=H, K=np.array([[f, 0, 100], [0, f, 100], [0, 0, 1.0]]),
                 dist=np.zeros(5), R=np.eye(3), t=np.zeros(3))
    # face plane 1 m in front of the camera (camera looks along +z), facing the camera, crown up (-y)
    xs, ys = np.meshgrid(np.linspace(-0.1, 0.1, 21), np.linspace(-0.13, 0.13, 27))
    V = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 1.0)], 1)
    tris = []
    for r in range(26):
        for c in range(20):
            i = r * 21 + c
            tris += [[i, i + 21, i + 1], [i + 1, i + 21, i + 22]]
    facing, up = np.array([0, 0, -1.0]), np.array([0, -1.0, 0])
    T = np.array(tris)
    n = np.cross(V[T[:, 1]] - V[T[:, 0]], V[T[:, 2]] - V[T[:, 0]])
    if (n @ facing).mean() < 0:
        T = T[:, ::-1]
    centre = V.mean(0)
    face = FaceSurface(0, V, T, canonical_face_uv(V, centre, facing, up), centre, facing, up)
    img = np.zeros((H, W, 3), np.uint8)
    img[:100] = (200, 160, 130)  # upper half skin
    img[100:] = (140, 180, 215)  # lower half a blue mask
    depth = np.full((H, W), 1.0, np.float32)
    s = face_samples(face, cam, img, depth)
    assert len(s["lower"]) > 20 and len(s["forehead"]) > 20
    assert (s["lower"][:, 2] > 200).all() and (s["forehead"][:, 0] == 200).all()
    back = FaceSurface(0, V, T[:, ::-1], face.uv, centre, -facing, up)
    assert len(face_samples(back, cam, img, depth)["lower"]) == 0
    assert len(face_samples(face, cam, img, np.full((H, W), 0.6, np.float32))["lower"]) == 0


def test_generator_writes_people_json(tmp_path):
    from disguisor.synth.or_scene import people_doc
    from disguisor.synth.people import sample_appearance

    rng = np.random.default_rng(0)
    people = [SimpleNamespace(role=r, look=sample_appearance(rng, r, caps)) for r, caps in
              (("surgeon", True), ("patient", False))]
    doc = json.loads(json.dumps(people_doc(people)))
    assert [p["mask"] for p in doc["people"]] == [True, False]
    assert [p["cap"] for p in doc["people"]] == [True, False]
    assert doc["people"][0]["cap_rgb"] == list(people[0].look.cap)
