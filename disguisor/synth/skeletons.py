"""Simulated people and 2D keypoint detections with exact 3D ground truth (tests, benchmarks).

- :func:`skeleton`: a COCO-17 skeleton of a standing adult from a few body parameters
  (height, position, body and head orientation, walking phase, arm pose), using average adult
  proportions of body height.
- :func:`simulate_people`: several people walking on smooth random paths in the operating room
  of :mod:`disguisor.synth.rig` (5.5 x 6.75 m, origin on the floor at the room centre, z up),
  clear of the operating table, turning their heads: (F, P, 17, 3) world metres.
- :func:`simulate_detections`: what a 2D keypoint detector would report in every camera:
  projection with lens distortion (:func:`disguisor.geometry.project_points`), Gaussian pixel
  noise, missed joints, missed people, people hidden from chosen cameras, optional occlusion by
  other bodies, and false detections (phantom people seen by one camera only). Returns a
  :class:`~disguisor.pose2d.keypoints_io.Keypoints2D` with ground-truth ``person_id`` set.

Everything is driven by a ``numpy.random.Generator``: the same seed gives the same data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from disguisor.geometry import project_points
from disguisor.io.calibration import Calibration
from disguisor.pose2d.keypoints_io import NUM_JOINTS, Detection, KeypointImage, Keypoints2D
from disguisor.synth.rig import ROOM_SIZE_M

# Operating table footprint (half sizes in x and y, metres) with the clearance people keep.
TABLE_HALF_SIZE_M = (0.275, 1.0)
TABLE_CLEARANCE_M = 0.3


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _limb(angle_forward: float, angle_side: float) -> np.ndarray:
    """Unit vector pointing down, swung forward (+x) and sideways (+y) by the angles (rad)."""
    v = np.array([np.sin(angle_forward), np.sin(angle_side), -np.cos(angle_forward) * np.cos(angle_side)])
    return v / np.linalg.norm(v)


def skeleton(height: float, position: Sequence[float] = (0.0, 0.0), body_yaw: float = 0.0,
             head_yaw: float = 0.0, head_pitch: float = 0.0, walk_phase: float = 0.0,
             walk_amplitude: float = 0.0, arm_forward: float = 0.0, elbow_flex: float = 0.2) -> np.ndarray:
    """A standing person's COCO-17 joints (17, 3) in world metres.

    height: body height (m). position: (x, y) of the feet on the floor (z = 0). body_yaw: facing
    direction (rad, 0 = +x, counter-clockwise). head_yaw / head_pitch: head turn relative to the
    body (rad; positive pitch looks down). walk_phase / walk_amplitude: gait phase (rad) and
    hip swing (rad). arm_forward: both upper arms raised forward (rad), elbow_flex: forearms bent
    further forward (rad).
    """
    H = float(height)
    s = H / 1.75
    j = np.zeros((NUM_JOINTS, 3))
    # body frame: x forward, y left, z up; feet at the origin
    head = np.array([0.0, 0.0, H - 0.115 * s])
    R_head = _rot_z(head_yaw) @ _rot_y(head_pitch)
    face = np.array([[0.100, 0.0, -0.030], [0.085, 0.032, 0.0], [0.085, -0.032, 0.0],
                     [-0.005, 0.075, -0.010], [-0.005, -0.075, -0.010]]) * s
    j[0:5] = head + face @ R_head.T
    shoulder_z, hip_z = 0.818 * H, 0.52 * H
    j[5], j[6] = [0.0, 0.18 * s, shoulder_z], [0.0, -0.18 * s, shoulder_z]
    j[11], j[12] = [0.0, 0.09 * s, hip_z], [0.0, -0.09 * s, hip_z]
    upper, fore, thigh, shin = 0.186 * H, 0.146 * H, 0.245 * H, 0.235 * H
    swing = walk_amplitude * np.sin(walk_phase)
    for side, sign, shoulder, hip in ((0, 1.0, 5, 11), (1, -1.0, 6, 12)):
        arm_swing = -0.6 * sign * swing
        elbow = j[shoulder] + upper * _limb(arm_forward + arm_swing, sign * 0.08)
        wrist = elbow + fore * _limb(arm_forward + arm_swing + elbow_flex, sign * 0.04)
        leg_swing = sign * swing
        knee_flex = 0.8 * walk_amplitude * max(0.0, np.sin(walk_phase + sign * np.pi / 2 + np.pi / 2))
        knee = j[hip] + thigh * _limb(leg_swing, sign * 0.02)
        ankle = knee + shin * _limb(leg_swing - knee_flex, sign * 0.02)
        j[7 + side], j[9 + side], j[13 + side], j[15 + side] = elbow, wrist, knee, ankle
    return j @ _rot_z(body_yaw).T + np.array([position[0], position[1], 0.0])


def _clear_of_table(xy: np.ndarray) -> bool:
    hx, hy = TABLE_HALF_SIZE_M
    c = TABLE_CLEARANCE_M
    return not (abs(xy[0]) < hx + c and abs(xy[1]) < hy + c)


def _inside_room(xy: np.ndarray, margin: float) -> bool:
    return abs(xy[0]) <= ROOM_SIZE_M[0] / 2 - margin and abs(xy[1]) <= ROOM_SIZE_M[1] / 2 - margin


def random_positions(n: int, rng: np.random.Generator, center: Sequence[float] | None = None,
                     radius: float | None = None, min_separation: float = 0.5,
                     room_margin: float = 0.5) -> np.ndarray:
    """(n, 2) floor positions: in the room, clear of the table, at least ``min_separation`` apart.

    With ``center`` and ``radius`` all positions lie within that disc (a crowd).
    """
    for _ in range(200):
        out: list[np.ndarray] = []
        for _ in range(2000):
            if center is not None:
                r = (radius or 1.0) * np.sqrt(rng.uniform())
                a = rng.uniform(0, 2 * np.pi)
                xy = np.asarray(center, float) + r * np.array([np.cos(a), np.sin(a)])
            else:
                xy = rng.uniform([-ROOM_SIZE_M[0] / 2, -ROOM_SIZE_M[1] / 2], [ROOM_SIZE_M[0] / 2, ROOM_SIZE_M[1] / 2])
            if not (_inside_room(xy, room_margin) and _clear_of_table(xy)):
                continue
            if all(np.linalg.norm(xy - o) >= min_separation for o in out):
                out.append(xy)
                if len(out) == n:
                    return np.stack(out)
    raise ValueError(f"could not place {n} people {min_separation} m apart")


@dataclass(frozen=True)
class PersonMotion:
    """One simulated person over F frames: parameters of :func:`skeleton` per frame."""

    height: float
    position: np.ndarray      # (F, 2)
    body_yaw: np.ndarray      # (F,)
    head_yaw: np.ndarray      # (F,)
    head_pitch: np.ndarray    # (F,)
    walk_phase: np.ndarray    # (F,)
    walk_amplitude: np.ndarray  # (F,)
    arm_forward: float = 0.0

    def joints(self) -> np.ndarray:
        """(F, 17, 3) world metres."""
        return np.stack([skeleton(self.height, self.position[f], self.body_yaw[f], self.head_yaw[f],
                                  self.head_pitch[f], self.walk_phase[f], self.walk_amplitude[f], self.arm_forward)
                         for f in range(len(self.position))])


def random_motion(start: np.ndarray, n_frames: int, rng: np.random.Generator, max_speed: float = 0.04,
                  wander_m: float = 0.8, head_turn_rad: float = 0.8) -> PersonMotion:
    """A person walking on a smooth random path from ``start`` and turning the head.

    max_speed: peak walking speed (m per frame). wander_m: how far the path strays from the
    start. head_turn_rad: amplitude of the head's turning (yaw) relative to the body.
    """
    t = np.arange(n_frames, dtype=float)
    pos = np.tile(np.asarray(start, float), (n_frames, 1))
    for _ in range(2):
        w = rng.uniform(0.02, 0.08)
        amp = min(wander_m / 2, max_speed / (2 * w))
        pos += amp * np.stack([np.sin(w * t + rng.uniform(0, 6.3)),
                               np.cos(w * rng.uniform(0.7, 1.3) * t + rng.uniform(0, 6.3))], axis=1)
    pos -= pos[0] - np.asarray(start, float)
    hx, hy = ROOM_SIZE_M[0] / 2 - 0.3, ROOM_SIZE_M[1] / 2 - 0.3
    pos = np.clip(pos, [-hx, -hy], [hx, hy])
    vel = np.gradient(pos, axis=0) if n_frames > 1 else np.zeros_like(pos)
    speed = np.linalg.norm(vel, axis=1)
    # the body turns towards the walking direction at most 0.1 rad per frame
    yaw = np.empty(n_frames)
    yaw[0] = np.arctan2(vel[0, 1], vel[0, 0]) if speed[0] > 0.004 else rng.uniform(-np.pi, np.pi)
    for k in range(1, n_frames):
        target = np.arctan2(vel[k, 1], vel[k, 0]) if speed[k] > 0.004 else yaw[k - 1]
        delta = (target - yaw[k - 1] + np.pi) % (2 * np.pi) - np.pi
        yaw[k] = yaw[k - 1] + np.clip(delta, -0.1, 0.1)
    head_w = rng.uniform(0.05, 0.2)
    head_yaw = head_turn_rad * np.sin(head_w * t + rng.uniform(0, 6.3))
    head_pitch = rng.uniform(0.0, 0.35) + 0.1 * np.sin(rng.uniform(0.05, 0.15) * t)
    phase = np.cumsum(speed) / 0.7 * np.pi
    amp = np.clip(speed * 12.0, 0.0, 0.4)
    return PersonMotion(height=float(rng.uniform(1.5, 1.95)), position=pos, body_yaw=yaw, head_yaw=head_yaw,
                        head_pitch=head_pitch, walk_phase=phase, walk_amplitude=amp,
                        arm_forward=float(rng.uniform(0.0, 0.6)))


def simulate_people(n_people: int, n_frames: int, rng: np.random.Generator, center: Sequence[float] | None = None,
                    radius: float | None = None, max_speed: float = 0.04, min_separation: float = 0.5,
                    head_turn_rad: float = 0.8) -> np.ndarray:
    """Joints (F, P, 17, 3), world metres, of people walking in the room (see the module docstring)."""
    starts = random_positions(n_people, rng, center, radius, min_separation)
    wander = 0.8 if center is None else 0.15
    return np.stack([random_motion(s, n_frames, rng, max_speed, wander, head_turn_rad).joints() for s in starts],
                    axis=1)


@dataclass(frozen=True)
class SimulatedDetections:
    """keypoints: the simulated ``keypoints2d.json``. views: (F, P) number of cameras where each
    person was detected; observable: (F, P) detected by at least two cameras."""

    keypoints: Keypoints2D
    views: np.ndarray

    @property
    def observable(self) -> np.ndarray:
        return self.views >= 2


def _occluded(cam_center: np.ndarray, joints: np.ndarray, owner: np.ndarray, axes: np.ndarray,
              radius: float) -> np.ndarray:
    """(N,) whether the sight line camera -> joint passes through another person's body cylinder.

    joints: (N, 3); owner: (N,) person index; axes: (P, 3) body axis (x, y, top z) of each person.
    """
    s = np.linspace(0.05, 1.0, 24)[None, :, None]
    ray = cam_center + s * (joints[:, None, :] - cam_center)                  # (N, S, 3)
    stop = np.linalg.norm(joints - cam_center, axis=1) - 0.25                  # ignore the last 25 cm
    along = s[..., 0] * np.linalg.norm(joints - cam_center, axis=1)[:, None]   # (N, S)
    hit = np.zeros(len(joints), bool)
    for p, (x, y, top) in enumerate(axes):
        d = np.hypot(ray[..., 0] - x, ray[..., 1] - y)
        inside = (d < radius) & (ray[..., 2] > 0.0) & (ray[..., 2] < top) & (along < stop[:, None])
        hit |= inside.any(axis=1) & (owner != p)
    return hit


def simulate_detections(calibration: Calibration, joints: np.ndarray, rng: np.random.Generator,
                        noise_px: float = 2.0, joint_miss_rate: float = 0.05, person_miss_rate: float = 0.0,
                        false_per_view: float = 0.0, hidden: Mapping[int, Sequence[str]] | None = None,
                        false_detections: Sequence[tuple[int, str]] = (), occlusion: bool = False,
                        frames: Sequence[int] | None = None, min_visible_joints: int = 5,
                        body_radius_m: float = 0.15) -> SimulatedDetections:
    """2D detections of people ``joints`` (F, P, 17, 3) (NaN: person absent) in every camera.

    noise_px: Gaussian noise (pixels, per coordinate). joint_miss_rate: share of visible joints
    not detected. person_miss_rate: share of (person, view) detections missed entirely.
    hidden: person index -> cameras that never detect that person. false_per_view: mean number
    of false detections per image (Poisson); false_detections: extra false detections at
    (frame index, camera). occlusion: joints behind another person's body (a vertical cylinder
    of ``body_radius_m``) are not detected. A person is detected in a view when at least
    ``min_visible_joints`` joints are visible there. Joint scores are uniform in [0.5, 1],
    person scores in [0.6, 1]; false detections score 0.3-0.9 and have no person_id.
    """
    joints = np.asarray(joints, dtype=np.float64)
    F, P = joints.shape[:2]
    frames = list(range(F)) if frames is None else list(frames)
    hidden = {int(k): set(v) for k, v in (hidden or {}).items()}
    extra = {}
    for fi, cam in false_detections:
        extra[(fi, cam)] = extra.get((fi, cam), 0) + 1
    images: dict[int, KeypointImage] = {}
    dets: list[Detection] = []
    views = np.zeros((F, P), int)

    def add(image: KeypointImage, kp: np.ndarray, score: float, person: int | None) -> None:
        vis = kp[:, 2] > 0
        x0, y0 = kp[vis, 0].min(), kp[vis, 1].min()
        x1, y1 = kp[vis, 0].max(), kp[vis, 1].max()
        m = 0.1 * max(x1 - x0, y1 - y0)
        x0, y0 = max(0.0, x0 - m), max(0.0, y0 - m)
        bbox = (float(x0), float(y0), float(min(image.width, x1 + m) - x0), float(min(image.height, y1 + m) - y0))
        dets.append(Detection(id=len(dets) + 1, image_id=image.id, camera=image.camera, frame=image.frame,
                              keypoints=kp, score=score, bbox=bbox, person_id=person, index=len(dets)))

    def detect(cam, pts: np.ndarray, visible: np.ndarray) -> np.ndarray:
        uv = project_points(cam.world_to_camera(pts), cam.K, cam.dist) + rng.normal(0.0, noise_px, (len(pts), 2))
        kp = np.zeros((len(pts), 3))
        kp[visible, :2] = uv[visible]
        kp[visible, 2] = rng.uniform(0.5, 1.0, int(visible.sum()))
        return kp

    def in_image(cam, pts: np.ndarray) -> np.ndarray:
        pc = cam.world_to_camera(pts)
        uv = project_points(pc, cam.K, cam.dist)
        return ((pc[:, 2] > 0.2) & np.isfinite(uv[:, 0]) & (uv[:, 0] >= 0) & (uv[:, 0] <= cam.width - 1)
                & (uv[:, 1] >= 0) & (uv[:, 1] <= cam.height - 1))

    for fi, frame in enumerate(frames):
        present = np.all(np.isfinite(joints[fi]), axis=(1, 2))
        axes = np.array([[*np.mean(joints[fi, p, [5, 6, 11, 12], :2], axis=0), np.max(joints[fi, p, :, 2]) + 0.1]
                         for p in range(P) if present[p]]).reshape(-1, 3)
        owners_present = np.flatnonzero(present)
        for cam in calibration.cameras:
            image = KeypointImage(id=len(images) + 1, file_name=f"{cam.name}/color/{frame:06d}.jpg",
                                  width=cam.width, height=cam.height, camera=cam.name, frame=int(frame))
            images[image.id] = image
            if owners_present.size:
                pts = joints[fi, owners_present].reshape(-1, 3)
                vis_all = in_image(cam, pts)
                if occlusion:
                    owner = np.repeat(np.arange(len(owners_present)), NUM_JOINTS)
                    vis_all &= ~_occluded(cam.t, pts, owner, axes, body_radius_m)
                vis_all = vis_all.reshape(len(owners_present), NUM_JOINTS)
            for k, p in enumerate(owners_present):
                if cam.name in hidden.get(int(p), ()) or rng.uniform() < person_miss_rate:
                    continue
                vis = vis_all[k] & (rng.uniform(size=NUM_JOINTS) >= joint_miss_rate)
                if vis.sum() < min_visible_joints:
                    continue
                add(image, detect(cam, joints[fi, p], vis), float(rng.uniform(0.6, 1.0)), int(p))
                views[fi, p] += 1
            n_false = rng.poisson(false_per_view) if false_per_view > 0 else 0
            for _ in range(n_false + extra.get((fi, cam.name), 0)):
                for _ in range(100):
                    xy = rng.uniform([-2.5, -3.1], [2.5, 3.1])
                    phantom = skeleton(rng.uniform(1.5, 1.95), xy, rng.uniform(-np.pi, np.pi),
                                       rng.uniform(-0.8, 0.8), arm_forward=rng.uniform(0, 0.6))
                    vis = in_image(cam, phantom) & (rng.uniform(size=NUM_JOINTS) >= joint_miss_rate)
                    if vis.sum() >= 10:
                        add(image, detect(cam, phantom, vis), float(rng.uniform(0.3, 0.9)), None)
                        break
    kp = Keypoints2D(images=images, detections=tuple(dets),
                     info={"description": "simulated COCO-17 detections (disguisor.synth.skeletons)",
                           "noise_px": noise_px, "joint_miss_rate": joint_miss_rate,
                           "person_miss_rate": person_miss_rate})
    return SimulatedDetections(keypoints=kp, views=views)
