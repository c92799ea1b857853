"""SMPL backend on a generated file in SMPL's exact format: loading through smplx, the COCO-17
regressor and face region built by geometry, bad files, and a fit of known poses."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from disguisor.body.fit import fit_bodies, posed_people
from disguisor.body.model import load_body_model
from disguisor.body.smpl_model import SmplBodyModel
from disguisor.errors import InputError
from disguisor.pose3d.poses import FramePoses, Person3D, Poses3D
from tests.smpl_fixture import make_smpl_file

MOVED = ("left_hip", "right_hip", "left_knee", "right_knee", "left_shoulder", "right_shoulder", "left_elbow",
         "right_elbow", "spine1", "neck", "head")


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("smpl")
    anny_kp = make_smpl_file(load_body_model("anny"), d / "SMPL_NEUTRAL.pkl")
    return d, anny_kp


@pytest.fixture(scope="module")
def smpl(smpl_dir):
    return load_body_model("smpl", smpl_dir[0])


def test_loads_with_smpl_shapes(smpl):
    assert smpl.name == "smpl" and smpl.rest_vertices.shape == (6890, 3)
    assert smpl.faces.shape[1] == 3 and smpl.faces.max() < 6890
    assert smpl.shape_names == tuple(f"beta{i}" for i in range(10))
    assert smpl.regressor.shape == (17, 6890) and np.allclose(smpl.regressor.sum(1), 1)


def test_regressor_and_regions_by_geometry(smpl, smpl_dir):
    """SMPL axes: y up, facing +z, +x the body's left. The geometric nose/eyes/ears land within
    2.5 cm of Anny's learned COCO points on the same surface; left stays left."""
    _, anny_kp = smpl_dir
    kp = smpl.regressor @ smpl.v_template
    assert np.linalg.norm(kp[:5] - anny_kp[:5], axis=1).max() < 0.025
    assert np.linalg.norm(kp[5:] - anny_kp[5:], axis=1).max() < 0.04
    assert kp[0, 2] > kp[3, 2] + 0.05 and kp[0, 2] > kp[4, 2] + 0.05  # nose ahead of the ears
    for left, right in ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)):
        assert kp[left, 0] > 0.01 > -0.01 > kp[right, 0]
    face = smpl.v_template[smpl.face_vertices]
    head = smpl.v_template[smpl.head_vertices]
    assert set(smpl.face_vertices) <= set(smpl.head_vertices)
    assert face[:, 2].min() > (kp[3, 2] + kp[4, 2]) / 2  # in front of the ears
    assert kp[4, 0] < face[:, 0].min() and face[:, 0].max() < kp[3, 0]  # between them
    assert head[:, 1].max() > face[:, 1].max() + 0.02  # the crown is not face
    assert smpl.rest_facing[2] > 0.95 and smpl.rest_up[1] > 0.95


def test_bad_files_raise_input_errors(smpl_dir, tmp_path):
    d, _ = smpl_dir
    with pytest.raises(InputError, match="no SMPL model file"):
        SmplBodyModel.load(tmp_path)
    with pytest.raises(InputError, match="--smpl-dir"):
        load_body_model("smpl", None)
    data = pickle.loads((d / "SMPL_NEUTRAL.pkl").read_bytes())
    del data["J_regressor"]
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps(data))
    with pytest.raises(InputError, match="J_regressor") as err:
        SmplBodyModel.load(tmp_path)
    assert "SMPL_NEUTRAL.pkl" in str(err.value)
    data = pickle.loads((d / "SMPL_NEUTRAL.pkl").read_bytes())
    data["v_template"] = data["v_template"][:6000]
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps(data))
    with pytest.raises(InputError, match="v_template.*expected shape 6890x3"):
        SmplBodyModel.load(tmp_path)
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="not a readable SMPL pickle"):
        SmplBodyModel.load(tmp_path)


def test_smpl_fit_recovers_known_poses(smpl):
    """Keypoints of SMPL bodies posed through smplx (known betas, rotations, translations), 2 mm
    noise and two joints missing: the fit finds the joints and the face again.

    The poses are independent random draws, not a motion, so the person-frames are 10 frame
    numbers apart: the fit's temporal terms (weighted by 1 / gap^2) then barely tie them. At
    consecutive frame numbers they would pull each pose towards its unrelated neighbours (that is
    what made this test fail before: ~18 mm on the seen joints, 46 mm on the face)."""
    rng = np.random.default_rng(5)
    J = len(smpl.fit_bones)
    betas = np.array([0.5, -0.4, 0.3, 0, 0.2, 0, 0, 0, 0, 0])
    to_world = Rotation.from_euler("x", 90, degrees=True)  # SMPL y up -> world z up
    truth, frames = [], []
    for f in range(5):
        aa = rng.normal(0, 0.25, (J, 3)) * np.isin(smpl.fit_bones, MOVED)[:, None]
        rot = Rotation.from_rotvec(aa).as_matrix()
        rot[0] = (Rotation.from_euler("z", 30 + 10 * f, degrees=True) * to_world).as_matrix()
        t = np.array([0.1 * f, 0.5, 1.0])
        verts, kp, _ = smpl.posed_vertices(betas, rot, t)
        truth.append((verts, kp))
        joints = kp + rng.normal(0, 0.002, kp.shape)
        conf = np.ones(17)
        gone = rng.choice(17, 2, replace=False)
        joints[gone], conf[gone] = np.nan, 0
        frames.append(FramePoses(10 * f, (Person3D(1, joints, conf),)))
    fits = fit_bodies(Poses3D(tuple(frames)), smpl)
    seen, face = [], []
    for f, (verts, kp) in enumerate(truth):
        (body,) = posed_people(smpl, fits, 10 * f)
        used = np.isfinite(frames[f].people[0].joints[:, 0])
        seen.append(np.linalg.norm(body.keypoints - kp, axis=1)[used])
        face.append(np.linalg.norm(body.vertices[smpl.face_vertices].mean(0) - verts[smpl.face_vertices].mean(0)))
    # a missing wrist or ankle under random rotations is not recoverable: judge the seen joints.
    assert np.mean(np.concatenate(seen)) < 0.006 and max(face) < 0.008
