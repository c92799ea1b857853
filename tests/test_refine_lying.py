"""A lying body's head fitted onto its chest, placed from the head its torso says it has."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from disguisor.refine.face import refine_faces
from disguisor.refine.lying import lying_starts
from disguisor.refine.params import RefineParams
from disguisor.synth.bodies import anny_refine_model
from tests.test_refine import anny, moved, sample_surface  # noqa: F401 - fixture


def test_the_start_of_a_body_at_rest_keeps_its_head_where_it_is(anny):  # noqa: F811
    """The defaults (0.19 m beyond the shoulders, 0.08 m in front) are the body model's own
    head: a body standing at rest is moved by less than 2 cm and not turned."""
    model = anny_refine_model(anny)
    from disguisor.body.anny_model import COCO17_NAMES

    kp = np.stack([anny.rest_keypoints[n] for n in COCO17_NAMES]).astype(np.float64)
    head = np.asarray(anny.rest_vertices, np.float64)[anny.regions["head"]]
    p = RefineParams()
    starts = lying_starts(kp, np.eye(3), model.rest_facing, model.rest_up, head.mean(0), (0.19,), p.lying_forward_m)
    assert len(starts) == 1  # standing: no face to the ceiling (it would lie along the axis)
    T = starts[0]
    np.testing.assert_allclose(T[:3, :3], np.eye(3), atol=0.03)
    assert np.linalg.norm(T[:3, :3] @ head.mean(0) + T[:3, 3] - head.mean(0)) < 0.02


@pytest.fixture(scope="module")
def lying(anny):  # noqa: F811
    """An Anny body lying on its back along +y (head towards +y), face to the ceiling, its head
    fitted 22 cm down onto its chest and turned 35 degrees; the depth of the true body."""
    from disguisor.body.anny_model import rotation

    root = rotation(x_deg=-90.0)
    root[:3, 3] = (0.2, 0.1, 1.0)
    out = anny.forward([{}], [{"root": root}])
    V, kp = out.vertices[0].astype(np.float64), out.keypoints[0].astype(np.float64)
    head = anny.regions["head"]
    centre = V[head].mean(0)
    near = np.linalg.norm(V - centre, axis=1) < 0.5  # head, neck, shoulders and chest
    cloud = sample_surface(V, anny.faces[near[anny.faces].all(axis=1)], 30000, 0.002, seed=7)
    cloud = cloud[cloud[:, 2] > 0.98]  # what the ceiling and side cameras see of a body on a table
    Vp = V.copy()
    Vp[head], T = moved(V[head], centre, [0.0, 35.0, 0.0], [0.0, -0.22, 0.0])
    fitted = kp.copy()
    fitted[:5] = fitted[:5] @ T[:3, :3].T + T[:3, 3]
    model = anny_refine_model(anny)
    body = SimpleNamespace(person_id=2, vertices=Vp, keypoints=fitted, head_rotation=T[:3, :3] @ root[:3, :3])
    return model, cloud, body, V[model.face_vertices].mean(0)


def test_a_lying_head_fitted_onto_the_chest_is_registered_beyond_the_shoulders(lying):
    """The fit's own registration is refused (its head lies on the chest, 22 cm from the
    truth); the registration from the head moved beyond the shoulders places the face within
    1.5 cm of the truth. It stays not confirmed (safety spheres), is listed (not disputed), and
    the fit's face is painted too. Switched off (no distances), the face stays where the fit put
    it."""
    model, cloud, body, truth = lying
    (face, reg), = refine_faces([body], model, cloud, RefineParams())
    assert not reg.accepted and "registered from beyond its shoulders" in face.note
    assert not face.refined and not face.disputed
    assert np.linalg.norm(face.centre - truth) < 0.015
    assert face.facing[2] > 0.9  # to the ceiling
    assert face.as_fitted is not None and np.linalg.norm(face.as_fitted.centre - truth) > 0.15

    (off, reg_off), = refine_faces([body], model, cloud, RefineParams(lying_beyond_m=()))
    assert not reg_off.accepted and "beyond its shoulders" not in off.note
    assert np.linalg.norm(off.centre - truth) > 0.15


def test_a_standing_body_gets_no_start_beyond_its_shoulders(lying):
    """The same head and depth with the torso upright (hips below the shoulders): the start is
    for lying bodies only; the head stays as fitted."""
    model, cloud, body, truth = lying
    kp = body.keypoints.copy()
    kp[11:13] = kp[5:7] - np.array([0.0, 0.0, 0.5])  # hips straight below the shoulders
    standing = SimpleNamespace(**{**vars(body), "keypoints": kp})
    (face, reg), = refine_faces([standing], model, cloud, RefineParams())
    assert "beyond its shoulders" not in face.note


def test_a_second_skeleton_is_not_placed_on_a_head_another_fit_holds(anny, lying):  # noqa: F811
    """A lying patient seen as two skeletons: one fitted with its head where it is, the other
    with its head on the chest. The second is not moved onto the first one's head (the face would
    be drawn twice there); it stays as fitted."""
    model, cloud, body, truth = lying
    from disguisor.body.anny_model import rotation

    root = rotation(x_deg=-90.0)
    root[:3, 3] = (0.2, 0.1, 1.0)
    V = anny.forward([{}], [{"root": root}]).vertices[0].astype(np.float64)
    first = SimpleNamespace(person_id=1, vertices=V, keypoints=body.keypoints, head_rotation=root[:3, :3])
    (f1, r1), (f2, r2) = refine_faces([first, body], model, cloud, RefineParams())
    assert r1.accepted and np.linalg.norm(f1.centre - truth) < 0.01
    assert "beyond its shoulders" not in f2.note and np.linalg.norm(f2.centre - truth) > 0.15


def test_a_start_counts_only_when_the_head_lands_on_the_depth_well(lying):
    """The registrations from beyond the shoulders reach a fitness of about 0.8 on this body:
    with a floor above that (``lying_min_fitness``) none counts and the face stays as fitted."""
    model, cloud, body, truth = lying
    (face, reg), = refine_faces([body], model, cloud, RefineParams(lying_min_fitness=0.95))
    assert "beyond its shoulders" not in face.note and np.linalg.norm(face.centre - truth) > 0.15
    (face, reg), = refine_faces([body], model, cloud, RefineParams(lying_min_fitness=0.7))
    assert "beyond its shoulders (fitness 0." in face.note and np.linalg.norm(face.centre - truth) < 0.015


def test_a_fitness_outside_zero_to_one_is_refused_naming_the_setting():
    from disguisor.errors import InputError
    from disguisor.settings import PipelineConfig, apply_sets

    with pytest.raises(ValueError, match="fitness must lie in"):
        RefineParams(lying_min_fitness=1.5)
    with pytest.raises(InputError, match="refine.lying_min_fitness: a fitness must lie in"):
        apply_sets(PipelineConfig(), ["refine.lying_min_fitness=2"])
    assert apply_sets(PipelineConfig(), ["refine.lying_beyond_m=[]"]).refine.lying_beyond_m == ()


def test_a_lying_head_kept_after_a_poor_far_move_is_registered_beyond_the_shoulders(anny, lying):  # noqa: F811
    """A lying head fitted 13 cm down the chest and turned 20 degrees: its own registration moves
    it 5 cm at a fitness under ``lying_min_fitness`` (kept by the lying exemption, not
    confirmed) and leaves the face centimetres off; the start beyond the shoulders lands better
    (fitness ~0.8) and places the face within 1.5 cm. Without the starts it stays kept."""
    from disguisor.body.anny_model import rotation

    model, cloud, body, truth = lying
    root = rotation(x_deg=-90.0)
    root[:3, 3] = (0.2, 0.1, 1.0)
    out = anny.forward([{}], [{"root": root}])
    V, kp = out.vertices[0].astype(np.float64), out.keypoints[0].astype(np.float64)
    head = anny.regions["head"]
    Vp = V.copy()
    Vp[head], T = moved(V[head], V[head].mean(0), [0.0, 20.0, 0.0], [0.0, -0.13, 0.0])
    fitted = kp.copy()
    fitted[:5] = fitted[:5] @ T[:3, :3].T + T[:3, 3]
    near = SimpleNamespace(person_id=2, vertices=Vp, keypoints=fitted, head_rotation=T[:3, :3] @ root[:3, :3])
    (face, reg), = refine_faces([near], model, cloud, RefineParams())
    assert "kept, not confirmed" in face.note and "registered from beyond its shoulders" in face.note
    assert reg.fitness_after < RefineParams().lying_min_fitness and not face.refined
    assert np.linalg.norm(face.centre - truth) < 0.015
    (kept, _), = refine_faces([near], model, cloud, RefineParams(lying_beyond_m=()))
    assert "kept, not confirmed" in kept.note and "beyond its shoulders" not in kept.note
    assert np.linalg.norm(kept.centre - truth) > 0.02
