"""Body fit with Anny: the reduced rig against Anny's own forward, the COCO regressor's geometry,
recovery of known poses from noisy keypoints with missing joints, bodies.json and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from disguisor.body.anny_model import COCO17_NAMES, rotation
from disguisor.body.bodies_io import BodyFits, bodies_to_json, load_bodies, save_bodies
from disguisor.body.fit import fit_bodies, posed_people
from disguisor.body.model import load_body_model
from disguisor.body.params import FitParams
from disguisor.errors import InputError
from disguisor.pose3d.poses import FramePoses, Person3D, Poses3D, save_poses3d

K = {n: i for i, n in enumerate(COCO17_NAMES)}


@pytest.fixture(scope="module")
def anny():
    return load_body_model("anny")


def _true_bodies(anny, frames: int = 6, seed: int = 0):
    """Two people over a few frames posed through Anny's own forward (not the fit's rig): a walking
    nurse turning their head and a surgeon bending over, with distinct shapes."""
    rng = np.random.default_rng(seed)
    shapes = [dict(gender=1.0, age=0.8, muscle=0.4, weight=0.6, height=0.4, proportions=0.3),
              dict(gender=0.0, age=0.82, muscle=0.6, weight=0.45, height=0.6, proportions=0.4)]
    out = []
    for f in range(frames):
        s = f / max(frames - 1, 1)
        poses = []
        for i in range(2):
            bend = 25 * s if i == 1 else 5.0
            pose = {"spine05": rotation(x_deg=0.45 * bend), "spine04": rotation(x_deg=0.2 * bend),
                    "spine03": rotation(x_deg=0.2 * bend), "spine02": rotation(x_deg=0.15 * bend),
                    "neck01": rotation(x_deg=10 * s), "head": rotation(x_deg=12 * s, z_deg=(35 * s - 10) * (1 - 2 * i)),
                    "upperarm01.L": rotation(x_deg=-40 * s, y_deg=30), "upperarm01.R": rotation(x_deg=-20, y_deg=-30),
                    "lowerarm01.L": rotation(x_deg=-30), "lowerarm01.R": rotation(x_deg=-50 * s),
                    "upperleg01.L": rotation(x_deg=-15 * np.sin(3 * s)), "lowerleg01.L": rotation(x_deg=15)}
            root = rotation(z_deg=60 * i + 20 * s + 90)
            root[:3, 3] = (0.6 * i + 0.1 * s, -0.4 * i, 0.95)
            pose["root"] = root
            poses.append(pose)
        out.append(anny.body.forward(shapes, poses))
    return out, rng


def _poses3d(truth, rng, noise_m=0.003, drop=3) -> Poses3D:
    frames = []
    for f, out in enumerate(truth):
        people = []
        for i in range(2):
            joints = out.keypoints[i].astype(float) + rng.normal(0, noise_m, (17, 3))
            conf = rng.uniform(0.6, 1.0, 17)
            gone = rng.choice(17, drop, replace=False)
            joints[gone], conf[gone] = np.nan, 0.0
            people.append(Person3D(i + 1, joints, conf))
        frames.append(FramePoses(f, tuple(people)))
    return Poses3D(tuple(frames))


@pytest.fixture(scope="module")
def fitted(anny):
    truth, rng = _true_bodies(anny)
    poses = _poses3d(truth, rng)
    return truth, poses, fit_bodies(poses, anny)


def test_reduced_rig_is_annys_own_skinning(anny):
    """The fit's rig (fitted bones posed, the rest merged into them) reproduces Anny's forward exactly."""
    rng = np.random.default_rng(3)
    shape = rng.uniform(0.2, 0.8, 6)
    rots = Rotation.from_rotvec(rng.normal(0, 0.35, (len(anny.fit_bones), 3))).as_matrix()
    t = np.array([1.2, -0.7, 0.9])
    verts, kp, _ = anny.posed_vertices(shape, rots, t)
    pose = {}
    for j, name in enumerate(anny.fit_bones):
        pose[name] = np.eye(4)
        pose[name][:3, :3] = rots[j]
    pose["root"][:3, 3] = t
    ref = anny.body.forward([dict(zip(anny.shape_names, shape, strict=True))], [pose])
    assert np.abs(ref.vertices[0] - verts).max() < 1e-4
    assert np.abs(ref.keypoints[0] - kp).max() < 1e-4


def test_regressed_keypoints_sit_where_they_belong(anny):
    """Rest pose (faces -y, +x is the body's left): nose ahead of the ears, ears either side of the
    head, left joints on +x, hips at the thigh bones, and the head directions orthonormal."""
    V = anny.rest_vertices
    kp = anny.body.rest_keypoints
    bones = anny.body.forward([{}], [{}]).bone_poses[0]
    names = anny.body.bone_names
    assert kp["nose"][1] < kp["left_ear"][1] - 0.05 and kp["nose"][1] < kp["right_ear"][1] - 0.05
    for side, sign in (("left", 1), ("right", -1)):
        for joint in ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            assert sign * kp[f"{side}_{joint}"][0] > 0.02, (side, joint)
        hip_bone = bones[names.index(f"upperleg01.{'L' if side == 'left' else 'R'}"), :3, 3]
        assert np.linalg.norm(kp[f"{side}_hip"] - hip_bone) < 0.06
    head = V[anny.head_vertices]
    assert kp["left_ear"][0] > head[:, 0].max() - 0.03 and kp["right_ear"][0] < head[:, 0].min() + 0.03
    face = V[anny.face_vertices]
    assert anny.rest_facing @ (face.mean(0) - head.mean(0)) > 0.02  # the face is on the front of the head
    assert abs(anny.rest_facing @ anny.rest_up) < 1e-9 and anny.rest_up[2] > 0.9
    assert anny.rest_facing[1] < -0.95


def test_fit_recovers_known_poses(anny, fitted):
    """Noise 3 mm, three joints missing per person-frame: every joint (the missing ones too), the
    face region and the facing direction come back close to the truth."""
    truth, poses, fits = fitted
    assert set(fits.shapes) == {1, 2}
    joint_err, face_err, facing_err = [], [], []
    for f, out in enumerate(truth):
        bodies = {b.person_id: b for b in posed_people(anny, fits, f)}
        assert set(bodies) == {1, 2}
        for i in range(2):
            b = bodies[i + 1]
            joint_err.append(np.linalg.norm(b.keypoints - out.keypoints[i], axis=1))
            face_err.append(np.linalg.norm(b.vertices[anny.face_vertices] - out.vertices[i][anny.face_vertices],
                                           axis=1).mean())
            t = out.keypoints[i]
            true_facing = t[K["nose"]] - (t[K["left_ear"]] + t[K["right_ear"]]) / 2
            true_facing /= np.linalg.norm(true_facing)
            facing = b.head_rotation @ anny.rest_facing
            facing_err.append(np.degrees(np.arccos(np.clip(facing @ true_facing, -1, 1))))
    joint_err = np.array(joint_err)
    assert joint_err.mean() < 0.015 and np.median(joint_err) < 0.012
    assert np.max(face_err) < 0.015
    assert np.max(facing_err) < 8.0
    # reported per person-frame errors are the distances to the joints that were used
    for people in fits.frames.values():
        for p in people:
            assert p.joints_used == 14 and 0 < p.joint_error_m < 0.015


def test_person_frames_with_too_few_joints_get_no_fit(anny):
    joints = np.full((17, 3), np.nan)
    joints[:4] = [[0, 0, 1.6], [0.03, 0, 1.63], [-0.03, 0, 1.63], [0.07, 0.05, 1.6]]
    conf = np.where(np.isfinite(joints[:, 0]), 0.9, 0.0)
    poses = Poses3D((FramePoses(0, (Person3D(5, joints, conf),)), FramePoses(1, ())))
    fits = fit_bodies(poses, anny, FitParams(min_joints=6))
    assert fits.frames == {0: [], 1: []} and posed_people(anny, fits, 0) == []


def test_bodies_json_round_trip_and_errors(anny, fitted, tmp_path):
    _, _, fits = fitted
    path = tmp_path / "bodies.json"
    save_bodies(path, fits)
    back = load_bodies(path, anny)
    assert isinstance(back, BodyFits) and back.frame_numbers == fits.frame_numbers
    a, b = posed_people(anny, fits, 3), posed_people(anny, back, 3)
    assert max(np.abs(x.vertices - y.vertices).max() for x, y in zip(a, b, strict=True)) < 1e-4
    data = bodies_to_json(fits)
    data["frames"][2]["people"][1]["rotations"] = data["frames"][2]["people"][1]["rotations"][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"frames\[2\]\.people\[1\]\.rotations"):
        load_bodies(path)
    data = bodies_to_json(fits)
    data["model"] = "smpl"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="model"):
        load_bodies(path, anny)
    with pytest.raises(InputError, match="not found"):
        load_bodies(tmp_path / "missing.json")


def test_fit_cli_writes_bodies_and_meshes(anny, fitted, tmp_path):
    from typer.testing import CliRunner

    from disguisor.cli import app

    truth, poses, _ = fitted
    small = Poses3D(poses.frames[:2])
    save_poses3d(tmp_path / "poses3d.json", small)
    runner = CliRunner()
    res = runner.invoke(app, ["fit", "--poses", str(tmp_path / "poses3d.json"), "-o", str(tmp_path / "b.json"),
                              "--meshes", str(tmp_path / "meshes")])
    assert res.exit_code == 0, res.output
    fits = load_bodies(tmp_path / "b.json", anny)
    assert sum(len(v) for v in fits.frames.values()) == 4
    import trimesh

    mesh = trimesh.load(tmp_path / "meshes" / "000001_2.ply", process=False)
    assert mesh.vertices.shape == anny.rest_vertices.shape and len(mesh.faces) == len(anny.faces)
    face = anny.face_vertices
    assert np.abs(mesh.vertices[face].mean(0) - truth[1].vertices[1][face].mean(0)).max() < 0.02
    # bad input: one line naming the file or option, exit code 2, nothing written
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "disguisor", "fit", "--poses", str(tmp_path / "nope.json"), "-o",
           str(tmp_path / "c.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "nope.json: file not found" in proc.stderr
    assert not (tmp_path / "c.json").exists()
    res = runner.invoke(app, ["fit", "--poses", str(tmp_path / "poses3d.json"), "--model", "smpl",
                              "-o", str(tmp_path / "c.json")])
    assert isinstance(res.exception, InputError) and "--smpl-dir" in str(res.exception)


def test_rest_facing_is_the_identity_pose_facing(anny):
    """The face renderer takes head_rotation @ rest_facing as the facing: at the identity pose
    (the fit's zero) it must be the ground truth's definition, unit(nose - ears' midpoint), and
    other body shapes may tilt it only slightly (head proportions)."""
    rng = np.random.default_rng(1)
    for shape in [anny.default_shape(), *rng.uniform(0.05, 0.95, (4, 6))]:
        kp = anny.rig(shape).keypoint_weights[..., :3].sum(1)  # every rotation identity, no translation
        facing = kp[K["nose"]] - (kp[K["left_ear"]] + kp[K["right_ear"]]) / 2
        facing /= np.linalg.norm(facing)
        limit = 0.05 if np.allclose(shape, 0.5) else 2.0
        assert np.degrees(np.arccos(np.clip(facing @ anny.rest_facing, -1, 1))) < limit
    assert np.linalg.norm(anny.rest_up) == pytest.approx(1) and abs(anny.rest_up @ anny.rest_facing) < 1e-9
    assert np.cross(anny.rest_facing, anny.rest_up)[0] < -0.9  # facing x up = the body's right (-x)


def test_sudden_motion_does_not_drag_the_fit(anny):
    """A person whose frame 0 lies 27 cm away from frame 1 (a turn and a step in one frame) and
    whose nose and right eye are missing there: the temporal terms relax with the observed
    motion, so frame 0's face stays at its own observations instead of being pulled along."""
    truth, rng = _true_bodies(anny, frames=4)
    offset = np.array([0.27, 0.0, 0.0])
    frames = []
    for f, out in enumerate(truth):
        joints = out.keypoints[0].astype(float) + rng.normal(0, 0.003, (17, 3)) + (offset if f == 0 else 0)
        conf = np.full(17, 0.8)
        if f == 0:
            joints[[K["nose"], K["right_eye"]]] = np.nan
            conf[[K["nose"], K["right_eye"]]] = 0.0
        frames.append(FramePoses(f, (Person3D(1, joints, conf),)))
    poses = Poses3D(tuple(frames))
    true_face = truth[0].vertices[0][anny.face_vertices] + offset

    def face_error(params: FitParams) -> float:
        body = posed_people(anny, fit_bodies(poses, anny, params), 0)[0]
        return float(np.linalg.norm(body.vertices[anny.face_vertices] - true_face, axis=1).mean())

    relaxed, rigid = face_error(FitParams()), face_error(FitParams(smooth_motion_scale_m=1e9))
    assert relaxed < 0.02 and relaxed < 0.7 * rigid


def test_nose_and_eyes_guessed_on_the_back_of_the_head_do_not_turn_the_face_up(anny):
    """A head seen from behind: the 2D detectors put nose and eyes on the back of the skull, so
    the triangulated nose sits at the ears' midpoint and the eyes above it (medium 1280x720 seed
    9). Fitted to them the face turns up to the ceiling; without them (collapsed_face_m) the ears,
    the neck and the pose prior keep it near the truth."""
    truth, rng = _true_bodies(anny, frames=3)
    frames = []
    for f, out in enumerate(truth):
        joints = out.keypoints[0].astype(float) + rng.normal(0, 0.003, (17, 3))
        ears = joints[[K["left_ear"], K["right_ear"]]].mean(0)
        joints[K["nose"]] = ears + [0.0, 0.0, -0.005]
        joints[[K["left_eye"], K["right_eye"]]] = ears + [0.0, 0.0, 0.03]
        frames.append(FramePoses(f, (Person3D(1, joints, np.full(17, 0.8)),)))
    poses = Poses3D(tuple(frames))

    def facing_errors(params: FitParams) -> list[float]:
        fits = fit_bodies(poses, anny, params)
        out = []
        for f, t in enumerate(truth):
            k = t.keypoints[0]
            true_facing = k[K["nose"]] - (k[K["left_ear"]] + k[K["right_ear"]]) / 2
            facing = posed_people(anny, fits, f)[0].head_rotation @ anny.rest_facing
            out.append(np.degrees(np.arccos(np.clip(facing @ true_facing / np.linalg.norm(true_facing), -1, 1))))
        return out

    kept, left_out = facing_errors(FitParams()), facing_errors(FitParams(collapsed_face_m=0.03))
    assert min(kept) > 40.0  # the guesses turn the face away from the truth
    assert max(left_out) < 15.0


def test_head_weight_lets_the_head_joints_turn_the_face(anny):
    """Body joints triangulated far worse than the head's (the shoulders of a gowned surgeon, a
    hip hidden by the table): with ``head_weight`` the nose, eyes and ears, not the body, the
    pose prior and the neighbouring frames, decide which way the fitted face looks."""
    truth, rng = _true_bodies(anny, frames=4, seed=3)
    frames = []
    for f, out in enumerate(truth):
        joints = out.keypoints[0].astype(float)
        joints[5:] += rng.normal(0, 0.04, (12, 3))
        joints[:5] += rng.normal(0, 0.002, (5, 3))
        frames.append(FramePoses(f, (Person3D(1, joints, np.full(17, 0.8)),)))
    poses = Poses3D(tuple(frames))

    def facing_error(params: FitParams) -> float:
        fits = fit_bodies(poses, anny, params)
        errors = []
        for f, t in enumerate(truth):
            k = t.keypoints[0]
            true_facing = k[K["nose"]] - (k[K["left_ear"]] + k[K["right_ear"]]) / 2
            p = posed_people(anny, fits, f)[0].keypoints
            facing = p[K["nose"]] - (p[K["left_ear"]] + p[K["right_ear"]]) / 2
            cos = facing @ true_facing / np.linalg.norm(facing) / np.linalg.norm(true_facing)
            errors.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
        return float(np.mean(errors))

    default, weighted = facing_error(FitParams()), facing_error(FitParams(head_weight=10.0))
    assert weighted < 0.7 * default
