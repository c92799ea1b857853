"""The three scenarios of the paper: who is in the room, what they wear, where the lights hang.

- easy: 4 people (3 staff + the patient), masks and scrubs, lights high and aside: few occlusions;
- medium: 6 people (5 staff + the patient), lights at head height over the table, often
  blocking faces in the surgical cameras;
- hard: 4 people with skull caps and gowns, lights placed between the surgical cameras and the
  staff at the table, blocking two views often.
"""

from __future__ import annotations

from dataclasses import dataclass

from disguisor.synth.room import LightSpec


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    roles: tuple[str, ...]
    caps_and_gowns: bool
    lights: tuple[LightSpec, ...]


SCENARIOS = {
    "easy": ScenarioSpec("easy", ("surgeon", "assistant", "nurse", "patient"), False, (
        LightSpec(mount_xy=(1.2, 1.2), head=(1.7, 1.7, 2.45), tilt=0.2),
        LightSpec(mount_xy=(-1.2, -0.6), head=(-1.8, -1.1, 2.5), tilt=-0.2),
    )),
    "medium": ScenarioSpec("medium", ("surgeon", "assistant", "anaesthetist", "nurse", "circulator", "patient"),
                           False, (
        LightSpec(mount_xy=(0.6, 0.6), head=(0.45, 0.3, 2.0), tilt=0.35),
        LightSpec(mount_xy=(-0.6, -0.6), head=(-0.45, -0.45, 2.05), tilt=-0.3),
        LightSpec(mount_xy=(0.2, 1.4), head=(0.15, 0.95, 2.1), tilt=0.2),
    )),
    "hard": ScenarioSpec("hard", ("surgeon", "assistant", "anaesthetist", "patient"), True, (
        LightSpec(mount_xy=(-0.4, 0.8), head=(-0.1, 0.3, 2.15), tilt=0.25),
        LightSpec(mount_xy=(0.5, -0.9), head=(0.15, -0.45, 2.15), tilt=-0.25),
        LightSpec(mount_xy=(1.0, 1.0), head=(0.7, 0.8, 2.1), tilt=0.3),
    )),
}
