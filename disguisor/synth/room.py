"""The operating room of the synthetic scenes: floor, walls, ceiling, table, equipment, OR lights.

World frame: metres, origin on the floor at the room centre, +z up, the operating table along
the y axis. Every object is a trimesh mesh with a colour; ``dark`` marks surfaces a
time-of-flight sensor reads poorly (black table pads, monitor screens).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh

from disguisor.synth.rig import ROOM_SIZE_M

TABLE_TOP_Z = 0.9          # height of the operating table's pad (m)
TABLE_SIZE = (0.55, 2.0)   # width (x) and length (y) of the pad (m)


@dataclass
class RoomObject:
    """name: readable id; mesh: geometry in world metres; color: RGBA 0-255; dark: poor depth."""

    name: str
    mesh: trimesh.Trimesh
    color: tuple[int, int, int, int]
    dark: bool = False
    kind: str = "furniture"


@dataclass
class LightSpec:
    """An OR light: ceiling mount (x, y) and lamp head centre (x, y, z), metres; head tilt (rad)."""

    mount_xy: tuple[float, float]
    head: tuple[float, float, float]
    tilt: float = 0.3
    radius: float = 0.33


@dataclass
class Room:
    objects: list[RoomObject] = field(default_factory=list)

    def add(self, name, mesh, color, dark=False, kind="furniture") -> None:
        self.objects.append(RoomObject(name, mesh, tuple(int(c) for c in color), dark, kind))


def _box(size, center) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=size)
    m.apply_translation(center)
    return m


def _segment(a, b, radius) -> trimesh.Trimesh:
    """A cylinder from point a to point b (metres)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return trimesh.creation.cylinder(radius=radius, segment=np.stack([a, b]), sections=12)


def _lamp(spec: LightSpec) -> tuple[list[trimesh.Trimesh], trimesh.Trimesh]:
    """Arms and the lamp head of an OR light hanging from the ceiling."""
    ceiling = ROOM_SIZE_M[2]
    mount = np.array([*spec.mount_xy, ceiling])
    hinge = np.array([*spec.mount_xy, ceiling - 0.45])
    head = np.asarray(spec.head, float)
    elbow = head + np.array([0.0, 0.0, 0.35])
    arms = [_segment(mount, hinge, 0.045), _segment(hinge, elbow, 0.035), _segment(elbow, head, 0.03)]
    disc = trimesh.creation.cylinder(radius=spec.radius, height=0.13, sections=32)
    tilt = trimesh.transformations.rotation_matrix(spec.tilt, [1.0, 0.0, 0.0])
    disc.apply_transform(tilt)
    disc.apply_translation(head)
    return arms, disc


def build_room(lights: list[LightSpec]) -> Room:
    """The static room with the given OR lights."""
    sx, sy, sz = ROOM_SIZE_M
    room = Room()
    room.add("floor", _box((sx, sy, 0.02), (0, 0, -0.01)), (158, 170, 160, 255), kind="floor")
    room.add("ceiling", _box((sx, sy, 0.02), (0, 0, sz + 0.01)), (235, 235, 232, 255), kind="wall")
    room.add("wall_north", _box((sx, 0.05, sz), (0, sy / 2 + 0.025, sz / 2)), (176, 196, 200, 255), kind="wall")
    room.add("wall_south", _box((sx, 0.05, sz), (0, -sy / 2 - 0.025, sz / 2)), (176, 196, 200, 255), kind="wall")
    room.add("wall_west", _box((0.05, sy, sz), (-sx / 2 - 0.025, 0, sz / 2)), (190, 205, 200, 255), kind="wall")
    room.add("wall_east", _box((0.05, sy, sz), (sx / 2 + 0.025, 0, sz / 2)), (190, 205, 200, 255), kind="wall")
    # operating table: base, column, pad (black pads read poorly in time-of-flight depth)
    room.add("table_base", _box((0.5, 0.8, 0.1), (0, 0.3, 0.05)), (90, 92, 95, 255))
    room.add("table_column", _box((0.25, 0.3, 0.75), (0, 0.3, 0.45)), (200, 200, 205, 255))
    room.add("table_pad", _box((*TABLE_SIZE, 0.08), (0, 0, TABLE_TOP_Z - 0.04)), (35, 38, 45, 255), dark=True)
    # equipment
    room.add("instrument_trolley", _box((0.8, 0.5, 0.05), (1.3, 0.8, 0.95)), (205, 208, 212, 255))
    room.add("trolley_legs", _box((0.7, 0.4, 0.9), (1.3, 0.8, 0.45)), (120, 125, 130, 255))
    room.add("anesthesia_machine", _box((0.7, 0.6, 1.45), (-1.5, 1.9, 0.725)), (220, 214, 196, 255))
    room.add("monitor_stand", _segment((1.9, 2.2, 0.0), (1.9, 2.2, 1.5), 0.03), (150, 150, 150, 255))
    room.add("monitor", _box((0.6, 0.06, 0.4), (1.9, 2.15, 1.7)), (20, 20, 24, 255), dark=True)
    room.add("cabinet", _box((1.4, 0.45, 2.0), (-1.5, -3.1, 1.0)), (200, 205, 215, 255))
    for i, spec in enumerate(lights):
        arms, head = _lamp(spec)
        for j, arm in enumerate(arms):
            room.add(f"light{i}_arm{j}", arm, (200, 200, 200, 255), kind="light")
        room.add(f"light{i}_head", head, (238, 240, 242, 255), kind="light")
    return room
