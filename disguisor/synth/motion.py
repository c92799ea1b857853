"""Plausible motion of OR staff and the patient, as a few posture values per person per frame.

A person's state is where they stand, where they face and how they hold torso and head; the
body-model adapter turns it into joint rotations. Staff have roles that drive their paths:
the surgeon and assistant stand at the table's sides and bend over the patient, the
anaesthetist stays at the head end, the nurse and the circulator walk between the trolley,
the cabinet and the table. The patient lies on the table. Heads turn all the time.

World frame: metres, z up, the table along the y axis centred at the origin (see room.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WALK_SPEED_M_S = 0.9


@dataclass(frozen=True)
class PersonState:
    """Posture of one person at one frame.

    position: (x, y) of the pelvis projected on the floor (m); heading: direction the body faces,
    radians from +x towards +y; lying: on the back on the table (patient); torso_bend: forward
    bend (rad); head_yaw / head_pitch: head turn left(+)/right(-) and down(+) relative to the
    torso (rad); walk_phase: gait cycle phase (rad), walk_amount: 0 standing .. 1 walking;
    arms_forward: 0 relaxed .. 1 hands forward over the table.
    """

    position: tuple[float, float]
    heading: float
    lying: bool = False
    torso_bend: float = 0.0
    head_yaw: float = 0.0
    head_pitch: float = 0.0
    walk_phase: float = 0.0
    walk_amount: float = 0.0
    arms_forward: float = 0.0


@dataclass(frozen=True)
class Role:
    name: str
    anchor: tuple[float, float]       # where the role works (m)
    waypoints: tuple[tuple[float, float], ...] = ()  # visited in turn by walking roles


ROLES = {
    "surgeon": Role("surgeon", (0.62, 0.05)),
    "assistant": Role("assistant", (-0.62, -0.25)),
    "anaesthetist": Role("anaesthetist", (0.0, 1.35)),
    "nurse": Role("nurse", (0.95, -0.55), ((1.05, 0.35), (0.85, -0.7), (0.45, -1.35))),
    "circulator": Role("circulator", (-1.3, -1.2), ((-1.4, -2.2), (-1.0, 0.6), (1.2, -1.8), (-0.9, -1.4))),
    "second_assistant": Role("second_assistant", (-0.6, 0.55)),
}


def _smooth_noise(rng: np.random.Generator, n: int, period_frames: float, amplitude: float) -> np.ndarray:
    """Smooth random signal: a sum of a few sines with random phases (deterministic per rng)."""
    t = np.arange(n, dtype=float)
    out = np.zeros(n)
    for k in (1.0, 2.3, 3.7):
        out += np.sin(2 * np.pi * t * k / period_frames + rng.uniform(0, 2 * np.pi)) / k
    return amplitude * out / 1.6


def _facing(frm: np.ndarray, to: np.ndarray) -> float:
    d = np.asarray(to, float) - np.asarray(frm, float)
    return float(np.arctan2(d[1], d[0]))


def _walk_path(role: Role, n: int, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions (n, 2) and walking amount (n,) along the role's waypoints, pausing at each."""
    points = [np.asarray(role.anchor, float)] + [np.asarray(p, float) for p in role.waypoints]
    pos = np.zeros((n, 2))
    moving = np.zeros(n)
    current, target_idx, wait = points[0].copy(), 1 % len(points), rng.integers(0, int(2 * fps) + 1)
    step = WALK_SPEED_M_S / fps
    for i in range(n):
        if wait > 0:
            wait -= 1
        else:
            target = points[target_idx]
            d = target - current
            dist = np.linalg.norm(d)
            if dist <= step:
                current = target.copy()
                target_idx = (target_idx + 1) % len(points)
                wait = int(rng.uniform(1.0, 3.0) * fps)
            else:
                current = current + d / dist * step
                moving[i] = 1.0
        pos[i] = current
    return pos, moving


def role_motion(role_name: str, n_frames: int, fps: float, rng: np.random.Generator) -> list[PersonState]:
    """States of one person over the recording."""
    if role_name == "patient":
        yaw = _smooth_noise(rng, n_frames, 6 * fps, 0.25)
        return [PersonState(position=(0.0, -0.1), heading=np.pi / 2, lying=True, head_yaw=float(y))
                for y in yaw]
    role = ROLES[role_name]
    table_centre = np.array([0.0, 0.0])
    head_yaw = _smooth_noise(rng, n_frames, rng.uniform(2.5, 5.0) * fps, 0.9)
    head_pitch = 0.15 + _smooth_noise(rng, n_frames, rng.uniform(3, 6) * fps, 0.25)
    if role.waypoints:
        pos, moving = _walk_path(role, n_frames, fps, rng)
        states = []
        phase = 0.0
        heading = _facing(pos[0], table_centre)
        for i in range(n_frames):
            if i > 0 and moving[i]:
                heading = _facing(pos[i - 1], pos[i])
                phase += 2 * np.pi * 1.8 / fps * 0.55  # ~1 gait cycle per 1.1 m
            elif not moving[i]:
                heading = heading + 0.15 * np.angle(np.exp(1j * (_facing(pos[i], table_centre) - heading)))
            states.append(PersonState(position=tuple(pos[i]), heading=float(heading),
                                      head_yaw=float(head_yaw[i] * (0.5 if moving[i] else 1.0)),
                                      head_pitch=float(head_pitch[i] * 0.5), walk_phase=phase,
                                      walk_amount=float(moving[i])))
        return states
    # working at the table: sway a little, bend over the patient now and then
    anchor = np.asarray(role.anchor, float)
    heading0 = _facing(anchor, np.array([0.0, anchor[1]]) if abs(anchor[0]) > 0.3 else table_centre)
    sway = np.stack([_smooth_noise(rng, n_frames, 7 * fps, 0.06), _smooth_noise(rng, n_frames, 9 * fps, 0.08)], 1)
    bend = np.clip(0.35 + _smooth_noise(rng, n_frames, rng.uniform(4, 8) * fps, 0.45), 0.0, 0.75)
    turn = _smooth_noise(rng, n_frames, 10 * fps, 0.3)
    return [PersonState(position=tuple(anchor + sway[i]), heading=float(heading0 + turn[i]),
                        torso_bend=float(bend[i]), head_yaw=float(head_yaw[i]),
                        head_pitch=float(head_pitch[i] + 0.3 * bend[i]), arms_forward=float(min(1.0, 0.3 + bend[i])))
            for i in range(n_frames)]
