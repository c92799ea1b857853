"""Head refinement against point clouds and face extraction (disguisor/refine)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from disguisor.errors import InputError
from disguisor.refine.face import extract_face, face_triangles, refine_faces
from disguisor.refine.faces_io import load_faces, save_faces
from disguisor.refine.params import RefineParams
from disguisor.refine.register import placement_fit, refine_head, rotation_angle_deg, vertex_normals
from disguisor.refine.surface import FACE_UV_WIDTH_M
from disguisor.synth.bodies import anny_refine_model, perturb_head, posed, synthetic_bodies


@pytest.fixture(scope="session")
def anny():
    from disguisor.body.anny_model import load_anny

    return load_anny()


@pytest.fixture(scope="session")
def person(anny):
    """A standing Anny body turned to face +x, with its head, neck and shoulder triangles."""
    from disguisor.body.anny_model import rotation

    root = rotation(z_deg=90.0)
    root[:3, 3] = (0.4, -0.3, 1.0)
    V = anny.forward([{}], [{"root": root, "head": rotation(x_deg=10.0, z_deg=15.0)}]).vertices[0].astype(np.float64)
    head = anny.regions["head"]
    centre = V[head].mean(0)
    near = np.linalg.norm(V - centre, axis=1) < 0.35  # head, neck, shoulders
    tris = anny.faces[near[anny.faces].all(axis=1)]
    return V, head, tris


def sample_surface(V: np.ndarray, tris: np.ndarray, n: int, noise_m: float, seed: int) -> np.ndarray:
    """n points uniformly on a mesh (area-weighted), with Gaussian noise (independent of refine's code)."""
    rng = np.random.default_rng(seed)
    a, b, c = V[tris[:, 0]], V[tris[:, 1]], V[tris[:, 2]]
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    k = rng.choice(len(tris), n, p=area / area.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    p = (1 - s)[:, None] * a[k] + (s * (1 - r2))[:, None] * b[k] + (s * r2)[:, None] * c[k]
    return p + rng.normal(scale=noise_m, size=p.shape)


def moved(V: np.ndarray, centre: np.ndarray, rotvec_deg, shift) -> tuple[np.ndarray, np.ndarray]:
    R = Rotation.from_rotvec(np.radians(rotvec_deg)).as_matrix()
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = centre - R @ centre + np.asarray(shift)
    return V @ R.T + T[:3, 3], T


def test_recovers_known_rigid_offset_about_the_right_pivot(anny, person):
    V, head, tris = person
    cloud = sample_surface(V, tris, 20000, 0.002, seed=1)
    c = V[head].mean(0)
    Vp, T = moved(V, c, [4.0, -5.0, 6.0], [0.02, -0.012, 0.01])  # 2.5 cm, 8.8 degrees
    N = vertex_normals(Vp, anny.faces)
    neck = np.setdiff1d(np.unique(tris), head)
    reg = refine_head(Vp[head], cloud, normals=N[head], context_vertices=Vp[neck])
    assert reg.accepted, reg.reason
    # the correction undoes the offset: their composition is the identity
    E = reg.transform @ T
    assert rotation_angle_deg(E[:3, :3]) < 1.0
    back = Vp[head] @ reg.transform[:3, :3].T + reg.transform[:3, 3]
    assert np.abs(back - V[head]).max() < 0.004
    # reported translation is the movement of the head's centroid (the pivot), not |t|
    assert reg.translation_m == pytest.approx(np.linalg.norm(T[:3, :3] @ c + T[:3, 3] - c), abs=0.002)
    assert reg.rotation_deg == pytest.approx(rotation_angle_deg(T[:3, :3]), abs=1.0)
    assert reg.rmse_after < reg.rmse_before and reg.fitness_after > reg.fitness_before
    # the face centre lands on the true face centre (no pivot offset)
    face = anny.regions["face"]
    fc = (Vp[face] @ reg.transform[:3, :3].T + reg.transform[:3, 3]).mean(0)
    assert np.linalg.norm(fc - V[face].mean(0)) < 0.003


def test_placement_fit_scores_any_placement_as_the_guard_does(anny, person):
    V, head, tris = person
    cloud = sample_surface(V, tris, 20000, 0.002, seed=4)
    c = V[head].mean(0)
    Vp, T = moved(V, c, [0.0, 12.0, 0.0], [0.0, 0.0, -0.02])  # the fit: 12 degrees and 2 cm off
    N = vertex_normals(Vp, anny.faces)[head]
    reg = refine_head(Vp[head], cloud, normals=N)
    assert reg.accepted, reg.reason
    # the fitted placement and the registered one score what the registration reported for them
    assert placement_fit(Vp[head], cloud, np.eye(4), normals=N) == pytest.approx((reg.fitness_before, reg.rmse_before))
    assert placement_fit(Vp[head], cloud, reg.transform, normals=N) == pytest.approx(
        (reg.fitness_after, reg.rmse_after), abs=1e-6)
    # the true placement (the inverse of the offset) fits the depth far better than the fitted one
    true_fit, true_rmse = placement_fit(Vp[head], cloud, np.linalg.inv(T), normals=N)
    assert true_fit > reg.fitness_before + 0.04 and true_fit == pytest.approx(reg.fitness_after, abs=0.02)
    assert true_rmse < reg.rmse_before - 0.002
    # a placement 5 cm off fits worse than the truth; so does the fit with the context
    off = np.eye(4)
    off[:3, 3] = [0.05, 0.0, 0.0]
    assert placement_fit(Vp[head], cloud, off @ np.linalg.inv(T), normals=N)[0] < true_fit - 0.2
    # (the neck and shoulders where they truly are: only the head was placed off)
    neck = np.setdiff1d(np.unique(tris), head)

    def with_neck(T4):
        return placement_fit(Vp[head], cloud, T4, normals=N, context_vertices=V[neck])[0]

    assert with_neck(np.linalg.inv(T)) > with_neck(np.eye(4)) + 0.02


def test_clutter_near_the_head_does_not_pull_it(anny, person):
    V, head, tris = person
    rng = np.random.default_rng(3)
    c = V[head].mean(0)
    # another person's forearm 6 cm in front of the face and a lamp plate 10 cm above the crown
    arm = c + [0.16, 0.0, -0.02] + rng.normal(scale=[0.015, 0.08, 0.015], size=(1500, 3))
    top = V[head, 2].max() + 0.10
    lamp = np.column_stack([c[0] + rng.uniform(-0.2, 0.2, 2000), c[1] + rng.uniform(-0.2, 0.2, 2000),
                            np.full(2000, top)])
    cloud = np.concatenate([sample_surface(V, tris, 20000, 0.002, seed=2), arm, lamp])
    Vp, T = moved(V, c, [0.0, 3.0, -6.0], [-0.015, 0.02, -0.01])
    neck = np.setdiff1d(np.unique(tris), head)
    reg = refine_head(Vp[head], cloud, normals=vertex_normals(Vp, anny.faces)[head], context_vertices=Vp[neck])
    assert reg.accepted, reg.reason
    back = Vp[head] @ reg.transform[:3, :3].T + reg.transform[:3, 3]
    assert np.linalg.norm(back.mean(0) - V[head].mean(0)) < 0.004


def test_guard_rejects_bad_registrations(anny, person):
    V, head, tris = person
    c = V[head].mean(0)
    N = vertex_normals(V, anny.faces)[head]
    rng = np.random.default_rng(4)
    # a wall through the face: the head could slide onto it, but nothing of the head fits it
    y, z = np.meshgrid(np.linspace(-0.3, 0.3, 80), np.linspace(-0.3, 0.3, 80))
    wall = np.column_stack([np.full(y.size, c[0] + 0.06), c[1] + y.ravel(), c[2] + z.ravel()])
    reg = refine_head(V[head], wall + rng.normal(scale=0.002, size=wall.shape), normals=N)
    assert not reg.accepted and reg.reason
    np.testing.assert_array_equal(reg.transform, np.eye(4))
    # a refusal for a poor fit or a grown residual does not dispute where the fit put the head
    assert reg.disputes == ("correction too large" in reg.reason or "diverged" in reg.reason)
    # too few points: the depth cannot tell, so it disputes the placement
    few = sample_surface(V, tris, 40, 0.0, seed=5)
    reg = refine_head(V[head], few, normals=N)
    assert not reg.accepted and "too few cloud points" in reg.reason and reg.disputes
    np.testing.assert_array_equal(reg.transform, np.eye(4))
    # the head's own surface 12 cm away: a correction that large is not believed
    far = sample_surface(V, tris, 20000, 0.002, seed=6) + [0.0, 0.0, 0.05]
    reg = refine_head(V[head], far, RefineParams(max_translation_m=0.03), normals=N)
    assert not reg.accepted and "correction too large" in reg.reason and reg.disputes
    assert np.linalg.norm(reg.candidate[:3, 3]) > 0.03  # the candidate is kept for diagnostics
    # a head already where the depth shows it: whatever the guard says, nothing is disputed
    reg = refine_head(V[head], sample_surface(V, tris, 20000, 0.002, seed=7), normals=N)
    assert not reg.disputes and reg.translation_m < 0.01, reg.reason


def test_a_head_fitted_far_off_is_turned_back_when_it_fits_the_depth(anny, person):
    """A head fitted 55 degrees off (beyond max_rotation_deg) that the depth turns back onto its
    own surface is kept (the wide-turn case); without that case, or when the fit stays poor, the
    same correction is refused as too large."""
    V, head, tris = person
    c = V[head].mean(0)
    cloud = sample_surface(V, tris, 20000, 0.002, seed=12)
    Vp, _ = moved(V, c, [0.0, 0.0, 55.0], [0.01, 0.01, 0.0])
    neck = np.setdiff1d(np.unique(tris), head)
    kw = dict(normals=vertex_normals(Vp, anny.faces)[head], context_vertices=Vp[neck])
    reg = refine_head(Vp[head], cloud, **kw)
    assert reg.accepted, reg.reason
    assert 50.0 < reg.rotation_deg < 60.0
    back = Vp[head] @ reg.transform[:3, :3].T + reg.transform[:3, 3]
    assert np.linalg.norm(back - V[head], axis=1).mean() < 0.003
    for params in (RefineParams(wide_rotation_deg=0.0), RefineParams(wide_min_fitness=0.95),
                   RefineParams(wide_max_translation_m=0.001)):
        reg = refine_head(Vp[head], cloud, params, **kw)
        assert not reg.accepted and "correction too large" in reg.reason
        np.testing.assert_array_equal(reg.transform, np.eye(4))


def test_a_far_move_is_kept_only_when_the_head_fits_the_depth_well(anny, person):
    """A correction that moves the head further than a distance of far_moves needs that pair's
    fitness; a shorter one does not; and a refused far move disputes the fitted placement (the
    guard's beyond-bounds case)."""
    V, head, tris = person
    c = V[head].mean(0)
    cloud = sample_surface(V, tris, 20000, 0.002, seed=13)
    neck = np.setdiff1d(np.unique(tris), head)
    for shift, far in (([0.05, 0.0, 0.0], True), ([0.0, 0.025, 0.0], False)):
        Vp, _ = moved(V, c, [0.0, 0.0, 5.0], shift)
        kw = dict(normals=vertex_normals(Vp, anny.faces)[head], context_vertices=Vp[neck])
        reg = refine_head(Vp[head], cloud, **kw)  # the defaults: the head lands on its own surface
        assert reg.accepted, reg.reason
        assert reg.fitness_after >= max(f for _, f in RefineParams().far_moves)
        assert (reg.translation_m > 0.04) == far
        strict = refine_head(Vp[head], cloud, RefineParams(far_moves=((0.04, 0.5), (0.045, 0.99))), **kw)
        if far:
            assert not strict.accepted and "correction too large for its fit" in strict.reason and strict.disputes
            np.testing.assert_array_equal(strict.transform, np.eye(4))
            np.testing.assert_allclose(strict.candidate, reg.candidate)
        else:
            assert strict.accepted, strict.reason
        either_order = RefineParams(far_moves=((0.045, 0.99), (0.04, 0.5)))
        assert refine_head(Vp[head], cloud, either_order, **kw).accepted == (not far)
        assert refine_head(Vp[head], cloud, RefineParams(far_moves=()), **kw).accepted


def test_a_far_turn_is_kept_only_when_the_head_fits_the_depth_well(anny, person):
    """A correction that turns the head further than an angle of far_turns needs that pair's
    fitness (a head turned 40 degrees at fitness 0.55 in a first frame was drawn 155 mm off); a
    smaller turn does not; a refused turn disputes the fitted placement."""
    V, head, tris = person
    c = V[head].mean(0)
    cloud = sample_surface(V, tris, 20000, 0.002, seed=14)
    neck = np.setdiff1d(np.unique(tris), head)
    for turn, far in ((38.0, True), (15.0, False)):
        Vp, _ = moved(V, c, [0.0, 0.0, turn], [0.01, 0.0, 0.0])
        kw = dict(normals=vertex_normals(Vp, anny.faces)[head], context_vertices=Vp[neck])
        reg = refine_head(Vp[head], cloud, **kw)  # the defaults: it lands on its own surface, fitting well
        assert reg.accepted, reg.reason
        assert (reg.rotation_deg > 30.0) == far and reg.fitness_after >= 0.6
        strict = refine_head(Vp[head], cloud, RefineParams(far_turns=((30.0, 0.99),)), **kw)
        if far:
            assert not strict.accepted and "rotated" in strict.reason and strict.disputes
            np.testing.assert_array_equal(strict.transform, np.eye(4))
        else:
            assert strict.accepted, strict.reason
        assert refine_head(Vp[head], cloud, RefineParams(far_turns=()), **kw).accepted
    with pytest.raises(ValueError, match="angle"):
        RefineParams(far_turns=((200.0, 0.5),))


def test_a_lying_body_is_not_held_to_the_far_move_test(anny, person):
    """The far-move test guards against a head looking down slid onto its nape; a lying body (hips
    and shoulders level) has none, so its far correction is kept with a fitness the test would
    refuse, but not confirmed (its safety spheres stay, the fit's face is painted too); the same
    body standing (torso 60 degrees up) or with no torso known is held to it."""
    from types import SimpleNamespace

    V, head, tris = person
    model = anny_refine_model(anny)
    c = V[head].mean(0)
    cloud = sample_surface(V, tris, 20000, 0.002, seed=13)
    Vp = V.copy()
    Vp[head], _ = moved(V[head], c, [0.0, 0.0, 5.0], [0.05, 0.0, 0.0])
    strict = RefineParams(far_moves=((0.04, 0.99),), reorient_min_deg=None)
    assert strict.far_moves_min_torso_deg == RefineParams().far_moves_min_torso_deg == 30.0
    keypoints = np.full((17, 3), np.nan)
    lying = keypoints.copy()
    lying[[5, 6, 11, 12]] = c + np.array([[0.0, 0.2, -0.25], [0.0, -0.2, -0.25], [-0.5, 0.1, -0.3], [-0.5, -0.1, -0.3]])
    standing = keypoints.copy()
    standing[[5, 6, 11, 12]] = c + np.array([[0.0, 0.2, -0.25], [0.0, -0.2, -0.25],
                                             [-0.25, 0.1, -0.7], [-0.25, -0.1, -0.7]])
    truth = V[np.asarray(model.face_vertices)].mean(0)
    results = {}
    for name, kp in (("lying", lying), ("standing", standing), ("unknown", keypoints)):
        body = SimpleNamespace(person_id=3, vertices=Vp, keypoints=kp, head_rotation=np.eye(3))
        results[name] = refine_faces([body], model, cloud, strict)[0]
    face, reg = results["lying"]
    assert not reg.accepted and "kept, not confirmed" in reg.reason and not reg.disputes
    assert reg.translation_m > 0.04 and reg.fitness_after < 0.99
    np.testing.assert_allclose(reg.transform, reg.candidate)
    assert np.linalg.norm(face.centre - truth) < 0.005
    assert not face.refined and not face.disputed and face.as_fitted is not None
    assert np.linalg.norm(face.as_fitted.centre - truth) > 0.04
    # confirmed as any accepted head when asked to
    body = SimpleNamespace(person_id=3, vertices=Vp, keypoints=lying, head_rotation=np.eye(3))
    face, reg = refine_faces([body], model, cloud, replace(strict, far_moves_lying_confirmed=True))[0]
    assert reg.accepted and face.refined and np.linalg.norm(face.centre - truth) < 0.005
    for name in ("standing", "unknown"):
        face, reg = results[name]
        assert not reg.accepted and "correction too large for its fit" in reg.reason and face.disputed
    # with the exemption off (no torso is level enough) the lying body is held to the test too
    off = replace(strict, far_moves_min_torso_deg=-90.0)
    body = SimpleNamespace(person_id=3, vertices=Vp, keypoints=lying, head_rotation=np.eye(3))
    assert not refine_faces([body], model, cloud, off)[0][1].accepted


def head_fitted_off(anny, person, turn_deg: float, shift_m, seed: int, joints_off_m: float):
    """A person whose head the fit left turned by ``turn_deg`` about z and shifted by ``shift_m``
    (3,), with the depth of the true body. Returns the refine model, the cloud (M, 3), the fitted
    vertices, the fit's transform (4, 4), the fitted keypoints (17, 3: nose, eyes and ears known)
    and the triangulated ones (the true points ``joints_off_m`` off on each axis), and the true
    face centre; world metres."""
    V, head, tris = person
    model = anny_refine_model(anny)
    c = V[head].mean(0)
    cloud = sample_surface(V, tris, 20000, 0.002, seed=seed)
    Vp = V.copy()
    Vp[head], T_fit = moved(V[head], c, [0.0, 0.0, turn_deg], shift_m)
    face = np.asarray(model.face_vertices)
    # five points of the head that move with it: the face's front, its sides and the head's sides
    idx = [face[np.argmax(V[face, 0])], face[np.argmax(V[face, 1])], face[np.argmin(V[face, 1])],
           head[np.argmax(V[head, 1])], head[np.argmin(V[head, 1])]]
    keypoints, joints = np.full((17, 3), np.nan), np.full((17, 3), np.nan)
    keypoints[:5], joints[:5] = Vp[idx], V[idx] + joints_off_m
    return model, cloud, Vp, T_fit, keypoints, joints, V[face].mean(0)


def test_a_head_fitted_away_from_its_own_head_joints_is_moved_onto_them(anny, person):
    """A head the fit put 12 cm from its 3D head joints, turned right: its own registration is
    refused as too large a correction; the second start moves it onto the joints (not only
    turns it) and registers it there. Without the shift (reorient_min_shift_m None) nothing turns
    it, and it stays where the fit put it."""
    from types import SimpleNamespace

    model, cloud, Vp, _, keypoints, joints, truth = head_fitted_off(anny, person, 3.0, [0.0, 0.12, 0.0], 22, 0.01)
    body = SimpleNamespace(person_id=5, vertices=Vp, keypoints=keypoints, head_rotation=np.eye(3))
    seen = {5: (joints, np.full(17, 0.7))}
    assert RefineParams().reorient_min_shift_m == 0.05
    (f0, r0), = refine_faces([body], model, cloud, RefineParams(), seen)
    assert not r0.accepted and "correction too large" in r0.reason
    assert "registered from the 3D head joints, moved onto them" in f0.note and not f0.disputed
    assert np.linalg.norm(f0.centre - truth) < 0.005
    assert f0.as_fitted is not None and np.linalg.norm(f0.as_fitted.centre - truth) > 0.1
    (f1, r1), = refine_faces([body], model, cloud, RefineParams(reorient_min_shift_m=None), seen)
    assert "3D head joints" not in f1.note and f1.disputed
    np.testing.assert_array_equal(r1.transform, np.eye(4))


def test_filterreg_coarse_step(anny, person):
    pytest.importorskip("probreg")
    V, head, tris = person
    cloud = sample_surface(V, tris, 20000, 0.002, seed=9)
    c = V[head].mean(0)
    Vp, T = moved(V, c, [2.0, 0.0, -5.0], [0.0, 0.025, 0.0])
    reg = refine_head(Vp[head], cloud, RefineParams(coarse=True), normals=vertex_normals(Vp, anny.faces)[head])
    assert reg.accepted, reg.reason
    back = Vp[head] @ reg.transform[:3, :3].T + reg.transform[:3, 3]
    assert np.linalg.norm(back.mean(0) - V[head].mean(0)) < 0.004


def test_refinement_is_deterministic(anny, person):
    V, head, tris = person
    cloud = sample_surface(V, tris, 8000, 0.003, seed=7)
    Vp, _ = moved(V, V[head].mean(0), [3.0, 3.0, 0.0], [0.01, 0.01, 0.0])
    a = refine_head(Vp[head], cloud)
    b = refine_head(Vp[head], cloud[::-1].copy())  # point order must not matter either
    np.testing.assert_allclose(a.transform, b.transform, atol=1e-9)
    c = refine_head(Vp[head], cloud)
    assert np.array_equal(a.transform, c.transform)


def test_extract_face_geometry(anny, person):
    V, head, _ = person
    face = anny.regions["face"]
    tris = face_triangles(anny.faces, face)
    facing = np.array([1.0, 0.1, -0.05])
    up = np.array([0.1, 0.0, 1.0])
    f = extract_face(7, V, face, tris, facing, up, refined=True)
    assert f.person_id == 7 and f.refined and f.note == ""
    np.testing.assert_allclose(f.centre, V[face].mean(0), atol=1e-12)
    assert abs(np.linalg.norm(f.facing) - 1) < 1e-9 and abs(np.linalg.norm(f.up) - 1) < 1e-9
    assert abs(f.facing @ f.up) < 1e-9
    np.testing.assert_allclose(f.facing, facing / np.linalg.norm(facing))
    # triangles reindexed onto the face's own vertices, same geometry
    np.testing.assert_array_equal(f.vertices[f.triangles], V[tris])
    # uv: a face ~16 cm wide maps inside [0, 1]; the centre maps near (0.5, 0.5); the person's
    # left (x = up x facing) is at small u
    assert f.uv.min() > -0.05 and f.uv.max() < 1.05
    assert np.abs(f.uv.mean(0) - 0.5).max() < 0.1
    left = np.cross(f.up, f.facing)
    k = np.argmax((f.vertices - f.centre) @ left)
    assert f.uv[k, 0] == pytest.approx(0.5 - ((f.vertices[k] - f.centre) @ left) / FACE_UV_WIDTH_M, abs=1e-5)
    with pytest.raises(ValueError):
        extract_face(1, V, face[:100], tris, facing, up)


def _faces(anny, person, n):
    V, _, _ = person
    face = anny.regions["face"]
    tris = face_triangles(anny.faces, face)
    out = []
    for i in range(n):
        f = extract_face(i, V + [0.1 * i, 0, 0], face, tris, np.array([1.0, 0, 0]), np.array([0, 0, 1.0]),
                         refined=i % 2 == 0, note="" if i % 2 == 0 else "residual grew (3.0 -> 4.0 mm)")
        out.append(f)
    return out


def test_faces_file_round_trip(tmp_path, anny, person):
    V, head, tris = person
    cloud = sample_surface(V, tris, 5000, 0.002, seed=8)
    reg = refine_head(V[head], cloud)
    faces = _faces(anny, person, 3)
    path = tmp_path / "faces.json"
    save_faces(path, {0: [(faces[0], reg), (faces[1], None)], 5: [(faces[2], reg)]})
    assert (tmp_path / "faces.npz").exists()
    back = load_faces(path)
    assert sorted(back) == [0, 5]
    for f, (g, _) in zip([faces[0], faces[1], faces[2]], back[0] + back[5], strict=True):
        assert g.person_id == f.person_id and g.refined == f.refined and g.note == f.note
        assert np.abs(g.vertices - f.vertices).max() <= 1.01e-4  # 0.1 mm storage
        np.testing.assert_array_equal(g.triangles, f.triangles)
        np.testing.assert_allclose(g.uv, f.uv, atol=2e-3)
        np.testing.assert_allclose(g.facing, f.facing, atol=1e-6)
        np.testing.assert_allclose(g.centre, g.vertices.mean(0), atol=1e-4)
    assert back[0][1][1] is None
    assert back[0][0][1]["target_points"] == reg.target_points
    assert back[0][0][1]["rmse_after"] == pytest.approx(reg.rmse_after, abs=1e-6)
    index = json.loads(path.read_text())
    assert len(index["topologies"]) == 1  # topology stored once
    assert all(g.as_fitted is None for g, _ in back[0] + back[5])


def test_faces_file_keeps_the_face_as_fitted(tmp_path, anny, person):
    """A face a second start moved keeps the placement of the fit beside it (painted too), and a
    file whose as-fitted face names another person is refused with the entry named."""
    faces = _faces(anny, person, 3)
    two = replace(faces[0], as_fitted=replace(faces[1], person_id=faces[0].person_id), disputed=True,
                  nearby_head=np.array([0.1234, -0.5, 1.61]))
    path = tmp_path / "faces.json"
    save_faces(path, {3: [(two, None), (faces[2], None)]})
    (g, _), (h, _) = load_faces(path)[3]
    assert g.disputed and not h.disputed and not g.as_fitted.disputed
    np.testing.assert_allclose(g.nearby_head, [0.1234, -0.5, 1.61])
    assert h.nearby_head is None
    assert g.as_fitted is not None and g.as_fitted.as_fitted is None
    assert np.abs(g.as_fitted.vertices - faces[1].vertices).max() <= 1.01e-4
    assert np.abs(g.vertices - faces[0].vertices).max() <= 1.01e-4
    index = json.loads(path.read_text())
    index["frames"][0]["people"][0]["as_fitted"]["person_id"] += 1
    path.write_text(json.dumps(index))
    with pytest.raises(InputError, match=r"frames\[0\]\.people\[0\]\.as_fitted"):
        load_faces(path)


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["frames"][0]["people"][1].update(facing=[1.0, 1.0, 0.0]), "frames[0].people[1].facing"),
    (lambda d: d["frames"][0]["people"][0].update(row=99), "frames[0].people[0].row"),
    (lambda d: d["frames"][0]["people"][0].update(up=[1.0, 0.0, 0.0]), "frames[0].people[0].up"),
    (lambda d: d["frames"][1].update(frame=0), "frames[1].frame"),
    (lambda d: d["frames"][0]["people"][0].update(refined="yes"), "frames[0].people[0].refined"),
    (lambda d: d.update(version=9), "version"),
])
def test_faces_file_bad_entries(tmp_path, anny, person, edit, field):
    faces = _faces(anny, person, 2)
    path = tmp_path / "faces.json"
    save_faces(path, {0: [(faces[0], None), (faces[1], None)], 1: [(faces[0], None)]})
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as e:
        load_faces(path)
    assert e.value.field == field and e.value.path == str(path)


def test_faces_file_missing_arrays(tmp_path, anny, person):
    path = tmp_path / "faces.json"
    save_faces(path, {0: [(_faces(anny, person, 1)[0], None)]})
    (tmp_path / "faces.npz").unlink()
    with pytest.raises(InputError, match="faces.npz"):
        load_faces(path)


@pytest.fixture(scope="session")
def synthetic_frame(tmp_path_factory):
    """A 1-frame 640x360 easy recording fused into a world cloud."""
    from disguisor.fusion import fuse_frame
    from disguisor.io.recording import open_recording
    from disguisor.synth.or_scene import generate_or_recording

    rec = generate_or_recording(tmp_path_factory.mktemp("refine") / "easy", "easy", frames=1, size=(640, 360))
    return rec, fuse_frame(open_recording(rec), 0).points


def test_refine_faces_on_a_synthetic_recording(anny, synthetic_frame):
    rec, cloud = synthetic_frame
    model = anny_refine_model(anny)
    truth, gt = synthetic_bodies(rec, 0)
    rng = np.random.default_rng(11)
    fitted = [posed(model, g["id"], perturb_head(truth[g["id"]], model.head_vertices, rng)[0]) for g in gt]
    results = refine_faces(fitted, model, cloud)
    before = [np.linalg.norm(b.vertices[model.face_vertices].mean(0) - g["face_center"])
              for b, g in zip(fitted, gt, strict=True)]
    after = [np.linalg.norm(f.centre - g["face_center"]) for (f, _), g in zip(results, gt, strict=True)]
    assert [f.person_id for f, _ in results] == [g["id"] for g in gt]
    assert sum(r.accepted for _, r in results) >= len(gt) - 1
    assert np.median(after) < 0.6 * np.median(before)
    assert np.median(after) < 0.012
    print("face-centre error before", np.round(before, 4), "after", np.round(after, 4))
    for (f, r), b in zip(results, fitted, strict=True):
        facing = r.transform[:3, :3] @ b.head_rotation @ model.rest_facing
        np.testing.assert_allclose(f.facing, facing, atol=1e-9)
        assert f.refined == r.accepted and f.note == r.reason


def test_faces_file_keeps_the_head_occluder(tmp_path):
    from disguisor.body.anny_model import load_anny
    from disguisor.refine.face import head_occluder_triangles
    from disguisor.refine.faces_io import load_faces, save_faces
    from disguisor.refine.surface import transform_face

    anny = load_anny()
    V = anny.rest_vertices + [0.3, -0.2, 0.0]
    face_idx, head_idx = anny.regions["face"], anny.regions["head"]
    occ = head_occluder_triangles(anny.faces, face_idx, head_idx)
    # the occluder is the head without the face: no triangle of the face, skull vertices only
    assert len(occ) and not np.isin(occ, face_idx).all(axis=1).any() and np.isin(occ, head_idx).all()
    f = extract_face(3, V, face_idx, face_triangles(anny.faces, face_idx), np.array([0.0, -1.0, 0.0]),
                     np.array([0.0, 0.0, 1.0]), occluder_triangles=occ)
    assert f.occluder_vertices is not None and len(f.occluder_vertices) == len(np.unique(occ))
    # the back of the skull lies behind the face (facing -y: larger y)
    assert f.occluder_vertices[:, 1].max() > f.vertices[:, 1].max() + 0.1
    T = np.eye(4)
    T[:3, 3] = [0.01, 0.02, -0.03]
    moved = transform_face(f, T)
    np.testing.assert_allclose(moved.occluder_vertices, f.occluder_vertices + T[:3, 3])
    bare = extract_face(4, V, face_idx, face_triangles(anny.faces, face_idx), np.array([0.0, -1.0, 0.0]),
                        np.array([0.0, 0.0, 1.0]))
    save_faces(tmp_path / "faces.json", {0: [(moved, None), (bare, None)]})
    back = load_faces(tmp_path / "faces.json")[0]
    assert np.abs(back[0][0].occluder_vertices - moved.occluder_vertices).max() <= 0.6e-4
    np.testing.assert_array_equal(back[0][0].occluder_triangles, moved.occluder_triangles)
    assert back[1][0].occluder_vertices is None and back[1][0].occluder_triangles is None
    # a broken occluder array is refused, naming the topology
    index = json.loads((tmp_path / "faces.json").read_text())
    t = [p for p in index["frames"][0]["people"] if p["person_id"] == 3][0]["topology"]
    index["topologies"][t]["occluder_vertices"] += 1
    (tmp_path / "faces.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match=rf"topologies\[{t}\].occluder_vertices"):
        load_faces(tmp_path / "faces.json")


def test_head_turn_recovers_a_rotation_about_the_head_centre():
    from disguisor.refine.reorient import head_turn

    rng = np.random.default_rng(5)
    pts = rng.normal(scale=0.06, size=(5, 3)) + (0.2, 0.1, 1.6)
    pivot = pts.mean(0) + (0.0, 0.0, -0.03)
    turned, T = moved(pts, pivot, [20.0, -30.0, 100.0], [0.0, 0.0, 0.0])
    got = head_turn(pts, turned, np.full(5, 0.8), pivot)
    np.testing.assert_allclose(got, T, atol=1e-9)
    missing_nose = turned.copy()
    missing_nose[0] = np.nan
    assert head_turn(pts, missing_nose, np.full(5, 0.8), pivot) is None
    assert head_turn(pts, turned, np.array([0.8, 0.8, 0.0, 0.0, 0.01]), pivot) is None  # nose and one eye only


def test_a_head_fitted_beyond_any_turn_is_placed_from_its_3d_head_joints(anny, person):
    """A head fitted 120 degrees off: the registration from the fit is refused as too large; from
    the head turned to the 3D head joints it lands on the depth, but stays not confirmed (the
    run's safety spheres stay on it) and keeps the fit's face beside it. Without the joints, with
    the second start off, or on a lying body it stays as fitted; with too few depth points it is
    left turned to the joints."""
    from types import SimpleNamespace

    V, head, _ = person
    c = V[head].mean(0)
    model, cloud, Vp, T_fit, keypoints, joints, truth = head_fitted_off(anny, person, 120.0, [0.01, 0.0, 0.0],
                                                                        21, 0.005)
    body = SimpleNamespace(person_id=7, vertices=Vp, keypoints=keypoints, head_rotation=T_fit[:3, :3])
    seen = {7: (joints, np.full(17, 0.7))}
    on = RefineParams()  # the second start is on by default
    assert on.reorient_min_deg == 30.0
    (f0, r0), = refine_faces([body], model, cloud, on)
    assert not r0.accepted and "correction too large" in r0.reason
    np.testing.assert_array_equal(r0.transform, np.eye(4))
    (f1, r1), = refine_faces([body], model, cloud, on, seen)
    assert not r1.accepted and not f1.refined and "registered from the 3D head joints" in f1.note
    assert r0.disputes and not r1.disputes and not f1.disputed  # the second registration settles it
    assert np.linalg.norm(f1.centre - truth) < 0.004
    # the face where the fit put it comes along, to be painted too
    assert f0.as_fitted is None and f1.as_fitted is not None and not f1.as_fitted.refined
    np.testing.assert_allclose(f1.as_fitted.vertices, f0.vertices)
    # the facing: the fit's own face is turned 120 degrees away, the placed one within a few degrees
    (f4, r4), = refine_faces([SimpleNamespace(person_id=7, vertices=V, keypoints=keypoints, head_rotation=np.eye(3))],
                             model, cloud, on, seen)
    assert np.degrees(np.arccos(np.dot(f0.facing, f4.facing))) > 100.0
    assert np.degrees(np.arccos(np.clip(np.dot(f1.facing, f4.facing), -1, 1))) < 5.0
    (f2, r2), = refine_faces([body], model, cloud, RefineParams(reorient_min_deg=None), seen)  # off
    np.testing.assert_array_equal(r2.transform, np.eye(4))
    assert f2.as_fitted is None and f2.disputed  # left where the depth says the head is not
    # a lying body (hips and shoulders level): its head joints, seen from above, are not trusted
    lying = keypoints.copy()
    lying[[5, 6, 11, 12]] = c + np.array([[0.0, 0.2, -0.25], [0.0, -0.2, -0.25], [-0.5, 0.1, -0.3], [-0.5, -0.1, -0.3]])
    (f5, r5), = refine_faces([SimpleNamespace(person_id=7, vertices=Vp, keypoints=lying, head_rotation=T_fit[:3, :3])],
                             model, cloud, on, seen)
    np.testing.assert_array_equal(r5.transform, np.eye(4))
    assert f5.as_fitted is None and "3D head joints" not in f5.note
    lying[[11, 12], 2] -= 0.4  # the same body sitting up (torso 42 degrees above level): turned
    (f6, _), = refine_faces([SimpleNamespace(person_id=7, vertices=Vp, keypoints=lying, head_rotation=T_fit[:3, :3])],
                            model, cloud, on, seen)
    assert "registered from the 3D head joints" in f6.note and f6.as_fitted is not None
    (f3, r3), = refine_faces([body], model, cloud[:50], on, seen)
    assert not f3.refined and "turned to the 3D head joints" in f3.note and f3.disputed
    assert np.linalg.norm(f3.centre - truth) < 0.02
    # a head the fit's own registration confirms is left to it
    assert r4.accepted and f4.refined and "3D head joints" not in f4.note


def test_a_lying_head_keeps_its_start_turn_when_the_registration_turns_it_far(anny, person):
    """The back of a lying head is round: a registration from beyond the shoulders that turns the
    head further than lying_max_turn_deg keeps the start's turn and takes only the move of the
    head's centre; a smaller turn, or the rule off, is taken whole."""
    from disguisor.refine.face import _lying_registration

    V, head, tris = person
    c = V[head].mean(0)
    neck = np.setdiff1d(np.unique(tris), head)
    assert RefineParams().lying_max_turn_deg == 40.0
    for turn_deg, far in ((44.0, True), (20.0, False)):
        truth, _ = moved(V, c, [turn_deg, 0.0, 0.0], [0.0, 0.0, 0.015])  # rolled about x (the body's axis)
        cloud = sample_surface(truth, tris, 20000, 0.002, seed=41)
        kw = dict(head=V[head], normals=vertex_normals(V, anny.faces)[head], weights=np.ones(len(head)),
                  cloud_points=cloud, context=lambda: [V[neck]], other_heads=np.zeros((0, 3)))
        whole = _lying_registration(lambda: [np.eye(4)], params=RefineParams(lying_max_turn_deg=None), **kw)
        assert whole is not None
        _, reg = whole
        assert abs(reg.rotation_deg - turn_deg) < 5.0 and reg.reason == ""
        kept = _lying_registration(lambda: [np.eye(4)], params=RefineParams(lying_max_turn_deg=30.0), **kw)
        _, reg_kept = kept
        moved_centre = reg.transform[:3, :3] @ c + reg.transform[:3, 3]
        if far:
            np.testing.assert_allclose(reg_kept.transform[:3, :3], np.eye(3))
            np.testing.assert_allclose(reg_kept.transform[:3, 3], moved_centre - c, atol=1e-9)
            assert np.linalg.norm(moved_centre - c - [0.0, 0.0, 0.015]) < 0.005
            assert f"turn of {reg.rotation_deg:.0f} deg not taken" in reg_kept.reason
        else:
            np.testing.assert_allclose(reg_kept.transform, reg.transform)
