"""``bodies.json``: the body fits of a recording (one owner of the format).

One JSON object::

    {
      "format": "disguisor-bodies",
      "version": 1,
      "model": "anny",                                   # or "smpl"
      "units": "metre",
      "bones": ["root", "spine05", ...],                 # the model's fitted bones, root first
      "shape_names": ["gender", "age", ...],             # anny phenotypes, or SMPL "beta0".."beta9"
      "people": [{"id": 1, "shape": [0.31, ...]}],       # one shape per track
      "frames": [
        {"frame": 0,
         "people": [
           {"id": 1,
            "rotations": [[ax, ay, az], ...],            # per bone: axis-angle, radians
            "translation": [x, y, z],                    # pelvis displacement, metres
            "joint_error_m": 0.011,                      # mean distance of the fitted joints
            "joints_used": 17}
         ]}
      ]
    }

- ``rotations[0]`` rotates the model's axes into the world (metres, +z up); every other entry
  is a rotation about that bone's head, in the axes of the model's identity pose, composed
  down the chain (Anny's "local-ref" deltas; SMPL's axis-angle body pose). Bones not listed
  keep the identity pose.
- ``translation`` t places the pelvis: the root's transform is x -> R0 (x - h0) + h0 + t, with
  h0 the pelvis joint at the identity pose (the origin for Anny).
- ``frames`` lists every frame of the input ``poses3d.json`` in ascending order (also frames
  without a fit: ``"people": []``); ids are those of poses3d.json, each with one entry in
  ``people``.

:func:`load_bodies` checks all of this and raises :class:`~disguisor.errors.InputError` naming the
entry, e.g. ``bodies.json: frames[3].people[0].rotations: expected 18 [x, y, z] triples``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from disguisor.body.model import BodyModel
from disguisor.errors import InputError
from disguisor.io.atomic import atomic_write_text
from disguisor.io.jsonfields import check_header, read_json

BODIES_FORMAT = "disguisor-bodies"
BODIES_VERSION = 1


@dataclass
class PersonFit:
    """One person at one frame. rotations (J, 3) axis-angle radians (see module doc), translation (3,)
    metres; joint_error_m: mean distance of the model's joints to the used input joints."""

    person_id: int
    rotations: np.ndarray
    translation: np.ndarray
    joint_error_m: float
    joints_used: int


@dataclass
class BodyFits:
    """Fits of a recording: shapes per track, poses per frame (frame number -> people)."""

    model: str
    bones: tuple[str, ...]
    shape_names: tuple[str, ...]
    shapes: dict[int, np.ndarray]
    frames: dict[int, list[PersonFit]] = field(default_factory=dict)

    @property
    def frame_numbers(self) -> list[int]:
        return sorted(self.frames)


def bodies_to_json(fits: BodyFits) -> dict[str, Any]:
    """The JSON document of :class:`BodyFits` (format in the module docstring)."""
    r = lambda a, d: [round(float(v), d) for v in np.ravel(a)]  # noqa: E731
    frames = []
    for n in fits.frame_numbers:
        people = [{"id": int(p.person_id), "rotations": [r(v, 6) for v in p.rotations],
                   "translation": r(p.translation, 5), "joint_error_m": round(float(p.joint_error_m), 5),
                   "joints_used": int(p.joints_used)} for p in sorted(fits.frames[n], key=lambda p: p.person_id)]
        frames.append({"frame": int(n), "people": people})
    return {"format": BODIES_FORMAT, "version": BODIES_VERSION, "model": fits.model, "units": "metre",
            "bones": list(fits.bones), "shape_names": list(fits.shape_names),
            "people": [{"id": int(pid), "shape": r(s, 6)} for pid, s in sorted(fits.shapes.items())],
            "frames": frames}


def _numbers(value: Any, n: int) -> bool:
    return isinstance(value, list) and len(value) == n and all(
        not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v) for v in value)


def bodies_from_json(data: Any, source: str | Path = "bodies.json", model: BodyModel | None = None) -> BodyFits:
    """Validate a parsed ``bodies.json`` (against ``model`` when given) and build :class:`BodyFits`."""
    check_header(data, source, BODIES_FORMAT, BODIES_VERSION,
                 ("model", "units", "bones", "shape_names", "people", "frames"))
    if data["model"] not in ("anny", "smpl"):
        raise InputError(source, f"must be 'anny' or 'smpl', not {data['model']!r}", field="model")
    for key in ("bones", "shape_names"):
        if not isinstance(data[key], list) or not data[key] or not all(isinstance(b, str) for b in data[key]):
            raise InputError(source, "must be a non-empty list of names", field=key)
    if model is not None:
        if data["model"] != model.name:
            raise InputError(source, f"fitted with {data['model']!r}, but the model in use is {model.name!r}",
                             field="model")
        if data["bones"] != list(model.fit_bones):
            raise InputError(source, "do not match the model's fitted bones (made by another version?)", field="bones")
        if data["shape_names"] != list(model.shape_names):
            raise InputError(source, "do not match the model's shape parameters", field="shape_names")
    J, S = len(data["bones"]), len(data["shape_names"])
    if not isinstance(data["people"], list):
        raise InputError(source, "must be a list", field="people")
    shapes: dict[int, np.ndarray] = {}
    for i, p in enumerate(data["people"]):
        where = f"people[{i}]"
        if not isinstance(p, dict) or "id" not in p or "shape" not in p:
            raise InputError(source, "must be an object with 'id' and 'shape'", field=where)
        if isinstance(p["id"], bool) or not isinstance(p["id"], int) or p["id"] <= 0 or p["id"] in shapes:
            raise InputError(source, f"must be a positive integer, unique, not {p['id']!r}", field=f"{where}.id")
        if not _numbers(p["shape"], S):
            raise InputError(source, f"expected {S} finite numbers", field=f"{where}.shape")
        shapes[p["id"]] = np.asarray(p["shape"], float)
    if not isinstance(data["frames"], list):
        raise InputError(source, "must be a list", field="frames")
    frames: dict[int, list[PersonFit]] = {}
    last = None
    for i, fr in enumerate(data["frames"]):
        where = f"frames[{i}]"
        if not isinstance(fr, dict) or "frame" not in fr or not isinstance(fr.get("people"), list):
            raise InputError(source, "must be an object with 'frame' and a 'people' list", field=where)
        n = fr["frame"]
        if isinstance(n, bool) or not isinstance(n, int) or (last is not None and n <= last):
            raise InputError(source, f"must be an integer, ascending without repeats, not {n!r}",
                             field=f"{where}.frame")
        last = n
        people: list[PersonFit] = []
        for k, p in enumerate(fr["people"]):
            pw = f"{where}.people[{k}]"
            if not isinstance(p, dict):
                raise InputError(source, "must be a JSON object", field=pw)
            for key in ("id", "rotations", "translation", "joint_error_m", "joints_used"):
                if key not in p:
                    raise InputError(source, "missing required field", field=f"{pw}.{key}")
            if p["id"] not in shapes:
                raise InputError(source, f"person {p['id']!r} has no entry in 'people'", field=f"{pw}.id")
            if any(q.person_id == p["id"] for q in people):
                raise InputError(source, f"duplicate person id {p['id']}", field=f"{pw}.id")
            rots = p["rotations"]
            if not isinstance(rots, list) or len(rots) != J or not all(_numbers(v, 3) for v in rots):
                raise InputError(source, f"expected {J} [x, y, z] triples", field=f"{pw}.rotations")
            if not _numbers(p["translation"], 3):
                raise InputError(source, "expected [x, y, z]", field=f"{pw}.translation")
            if not _numbers([p["joint_error_m"]], 1) or p["joint_error_m"] < 0:
                raise InputError(source, "must be a number >= 0", field=f"{pw}.joint_error_m")
            if isinstance(p["joints_used"], bool) or not isinstance(p["joints_used"], int):
                raise InputError(source, "must be an integer", field=f"{pw}.joints_used")
            people.append(PersonFit(p["id"], np.asarray(rots, float), np.asarray(p["translation"], float),
                                    float(p["joint_error_m"]), p["joints_used"]))
        frames[n] = people
    return BodyFits(data["model"], tuple(data["bones"]), tuple(data["shape_names"]), shapes, frames)


def save_bodies(path: str | Path, fits: BodyFits) -> None:
    """Write ``bodies.json`` atomically (validated on the way out)."""
    data = bodies_to_json(fits)
    bodies_from_json(data, source=path)
    atomic_write_text(Path(path), json.dumps(data, separators=(",", ":")) + "\n")


def load_bodies(path: str | Path, model: BodyModel | None = None) -> BodyFits:
    """Read and validate ``bodies.json`` (against ``model`` when given); raises InputError."""
    return bodies_from_json(read_json(path), source=path, model=model)
