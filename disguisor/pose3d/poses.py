"""``poses3d.json``: tracked 3D skeletons (COCO-17 joints) of every person at every frame.

Format (one JSON object)::

    {
      "format": "disguisor-poses3d",
      "version": 1,
      "joint_names": ["nose", "left_eye", ..., "right_ankle"],     # the 17 COCO joints, in order
      "units": "metre",
      "frames": [
        {"frame": 0,
         "people": [
           {"id": 1,
            "joints": [[x, y, z], ..., null, ...],                   # 17 entries; null = not estimated
            "confidence": [0.93, ..., 0.0, ...]}                    # 17 floats in [0, 1]
         ]}
      ]
    }

- Joints are in the calibration's world frame: metres, +z up (the synthetic rig: origin on the
  floor at the room centre).
- ``frames`` lists every frame of the input keypoints in ascending order, also frames without
  people (``"people": []``). ``id`` is a positive integer, stable over time for one person
  (unique within a frame); ids are not reused.
- ``confidence`` is 0 exactly for the joints that are ``null``. Joints filled in over short
  gaps by interpolation have reduced confidence.

:func:`load_poses3d` checks all of this and raises :class:`~disguisor.errors.InputError` naming
the entry, e.g. ``poses3d.json: frames[4].people[1].joints[16]: expected [x, y, z] or null``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from disguisor.errors import InputError
from disguisor.io.atomic import atomic_write_text
from disguisor.io.jsonfields import check_header, read_json
from disguisor.pose2d.keypoints_io import COCO_KEYPOINTS, NUM_JOINTS

POSES3D_FORMAT = "disguisor-poses3d"
POSES3D_VERSION = 1


@dataclass(frozen=True, eq=False)
class Person3D:
    """One tracked person at one frame.

    joints: (17, 3) world metres, NaN where not estimated. confidence: (17,) in [0, 1].
    """

    id: int
    joints: np.ndarray
    confidence: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.joints[:, 0])


@dataclass(frozen=True)
class FramePoses:
    """Everyone at one frame (any order)."""

    frame: int
    people: tuple[Person3D, ...] = ()

    def person(self, person_id: int) -> Person3D | None:
        for p in self.people:
            if p.id == person_id:
                return p
        return None


@dataclass(frozen=True)
class Poses3D:
    """Tracked 3D poses of a recording: one :class:`FramePoses` per frame, ascending."""

    frames: tuple[FramePoses, ...]
    joint_names: tuple[str, ...] = COCO_KEYPOINTS
    source: Path | None = field(default=None, compare=False)

    @property
    def frame_numbers(self) -> list[int]:
        return [f.frame for f in self.frames]

    @property
    def ids(self) -> list[int]:
        return sorted({p.id for f in self.frames for p in f.people})

    def frame(self, frame: int) -> FramePoses:
        for f in self.frames:
            if f.frame == frame:
                return f
        raise KeyError(frame)

    def track(self, person_id: int) -> np.ndarray:
        """(F, 17, 3) joints of one person over all frames, NaN where absent or not estimated."""
        out = np.full((len(self.frames), NUM_JOINTS, 3), np.nan)
        for k, f in enumerate(self.frames):
            p = f.person(person_id)
            if p is not None:
                out[k] = p.joints
        return out


def poses3d_to_json(poses: Poses3D) -> dict[str, Any]:
    """The JSON document of :class:`Poses3D` (0.1 mm precision; format in the module docstring)."""
    frames = []
    for f in poses.frames:
        people = []
        for p in sorted(f.people, key=lambda p: p.id):
            joints = [None if not np.all(np.isfinite(j)) else [round(float(v), 4) for v in j] for j in p.joints]
            conf = [0.0 if joints[k] is None else round(float(c), 4) for k, c in enumerate(p.confidence)]
            people.append({"id": int(p.id), "joints": joints, "confidence": conf})
        frames.append({"frame": int(f.frame), "people": people})
    return {"format": POSES3D_FORMAT, "version": POSES3D_VERSION, "joint_names": list(poses.joint_names),
            "units": "metre", "frames": frames}


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def poses3d_from_json(data: Any, source: str | Path = "poses3d.json") -> Poses3D:
    """Validate a parsed ``poses3d.json`` and build :class:`Poses3D`."""
    check_header(data, source, POSES3D_FORMAT, POSES3D_VERSION, ("joint_names", "units", "frames"))
    if data["joint_names"] != list(COCO_KEYPOINTS):
        raise InputError(source, "must be the 17 COCO joint names in COCO order", field="joint_names")
    if not isinstance(data["frames"], list):
        raise InputError(source, "must be a list", field="frames")
    frames: list[FramePoses] = []
    last = None
    for i, fr in enumerate(data["frames"]):
        where = f"frames[{i}]"
        if not isinstance(fr, dict) or "frame" not in fr or "people" not in fr:
            raise InputError(source, "must be an object with 'frame' and 'people'", field=where)
        n = fr["frame"]
        if isinstance(n, bool) or not isinstance(n, int):
            raise InputError(source, f"must be an integer, not {n!r}", field=f"{where}.frame")
        if last is not None and n <= last:
            raise InputError(source, f"frames must be in ascending order without repeats ({n} after {last})",
                             field=f"{where}.frame")
        last = n
        if not isinstance(fr["people"], list):
            raise InputError(source, "must be a list", field=f"{where}.people")
        people: list[Person3D] = []
        seen: set[int] = set()
        for k, p in enumerate(fr["people"]):
            pw = f"{where}.people[{k}]"
            if not isinstance(p, dict):
                raise InputError(source, "must be a JSON object", field=pw)
            for key in ("id", "joints", "confidence"):
                if key not in p:
                    raise InputError(source, "missing required field", field=f"{pw}.{key}")
            pid = p["id"]
            if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
                raise InputError(source, f"must be a positive integer, not {pid!r}", field=f"{pw}.id")
            if pid in seen:
                raise InputError(source, f"duplicate person id {pid} in this frame", field=f"{pw}.id")
            seen.add(pid)
            if not isinstance(p["joints"], list) or len(p["joints"]) != NUM_JOINTS:
                raise InputError(source, f"expected {NUM_JOINTS} joints", field=f"{pw}.joints")
            joints = np.full((NUM_JOINTS, 3), np.nan)
            for j, xyz in enumerate(p["joints"]):
                if xyz is None:
                    continue
                if not isinstance(xyz, list) or len(xyz) != 3 or not all(_finite(v) for v in xyz):
                    raise InputError(source, f"expected [x, y, z] (finite numbers) or null, not {xyz!r}",
                                     field=f"{pw}.joints[{j}]")
                joints[j] = xyz
            conf = p["confidence"]
            if not isinstance(conf, list) or len(conf) != NUM_JOINTS:
                raise InputError(source, f"expected {NUM_JOINTS} numbers", field=f"{pw}.confidence")
            for j, c in enumerate(conf):
                if not _finite(c) or not 0.0 <= c <= 1.0:
                    raise InputError(source, f"must be a number between 0 and 1, not {c!r}",
                                     field=f"{pw}.confidence[{j}]")
            people.append(Person3D(id=pid, joints=joints, confidence=np.asarray(conf, dtype=np.float64)))
        frames.append(FramePoses(frame=n, people=tuple(people)))
    return Poses3D(frames=tuple(frames), source=Path(source))


def load_poses3d(path: str | Path) -> Poses3D:
    """Read and validate ``poses3d.json``; raises :class:`InputError` on any problem."""
    return poses3d_from_json(read_json(path), source=path)


def save_poses3d(path: str | Path, poses: Poses3D) -> None:
    """Write ``poses3d.json`` atomically (validated on the way out)."""
    data = poses3d_to_json(poses)
    poses3d_from_json(data, source=path)
    atomic_write_text(Path(path), json.dumps(data, separators=(",", ":")) + "\n")
