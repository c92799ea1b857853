"""The recording's ``calibration.json``: cameras, intrinsics, distortion, poses in the world.

Format version 1 is defined by ``schemas/calibration.schema.json`` (also ``calib/`` at the
repository root). :func:`load_calibration` checks the structure against that schema and then
the meaning: rotations orthonormal, intrinsics well formed, names unique. Errors are
:class:`~disguisor.errors.InputError` naming the file and the field, e.g.
``calibration.json: cameras[1].camera_to_world.rotation: not a rotation``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from disguisor.config import ROTATION_TOLERANCE
from disguisor.errors import InputError
from disguisor.geometry import rotation_error
from disguisor.io.atomic import atomic_write_text
from disguisor.io.jsonfields import read_json

CAMERA_ROLES = ("workflow", "surgical")


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated colour camera with depth registered to it.

    K: (3, 3) intrinsics in pixels. dist: OpenCV distortion coefficients.
    R, t: camera-to-world rotation (columns = camera axes in the world) and camera centre in
    world metres, so ``x_world = R @ x_cam + t``.
    depth_scale: metres per unit of the depth PNGs. depth_range: optional valid range (m).
    """

    name: str
    role: str
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    depth_scale: float = 0.001
    depth_range: tuple[float, float] | None = None
    serial: str | None = None

    def world_to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> this camera's frame (N, 3)."""
        return (np.asarray(points_world) - self.t) @ self.R

    def camera_to_world(self, points_cam: np.ndarray) -> np.ndarray:
        """Points in this camera's frame (N, 3) -> world (N, 3)."""
        return np.asarray(points_cam) @ self.R.T + self.t

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "width": int(self.width),
            "height": int(self.height),
            "K": np.asarray(self.K, float).tolist(),
            "distortion": np.asarray(self.dist, float).tolist(),
            "camera_to_world": {"rotation": np.asarray(self.R, float).tolist(),
                                "translation": np.asarray(self.t, float).tolist()},
            "depth_scale": float(self.depth_scale),
        }
        if self.depth_range is not None:
            out["depth_range"] = [float(v) for v in self.depth_range]
        if self.serial:
            out["serial"] = self.serial
        return out


@dataclass(frozen=True)
class Calibration:
    """All cameras of a recording; the world frame is in metres with +z up."""

    cameras: tuple[Camera, ...]
    world_description: str = ""
    source: Path | None = field(default=None, compare=False)

    def camera(self, name: str) -> Camera:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def to_json(self) -> dict[str, Any]:
        world: dict[str, Any] = {"units": "metre", "up": "+z"}
        if self.world_description:
            world["description"] = self.world_description
        return {"format": "disguisor-calibration", "version": 1, "world": world,
                "cameras": [c.to_json() for c in self.cameras]}


@lru_cache(maxsize=1)
def calibration_schema() -> dict[str, Any]:
    """The JSON schema of calibration format version 1."""
    text = resources.files("disguisor.io").joinpath("schemas/calibration.schema.json").read_text()
    return json.loads(text)


def _field_path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def calibration_from_json(data: Any, source: str | Path = "calibration.json") -> Calibration:
    """Validate a parsed calibration document and build a :class:`Calibration`."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(calibration_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        err = errors[0]
        # Report the most specific sub-error of anyOf/oneOf failures.
        while err.context:
            err = min(err.context, key=lambda e: len(e.message))
        raise InputError(source, err.message, field=_field_path(err.absolute_path))

    cameras = []
    seen: set[str] = set()
    for i, cam in enumerate(data["cameras"]):
        where = f"cameras[{i}]"
        if cam["name"] in seen:
            raise InputError(source, f"duplicate camera name {cam['name']!r}", field=f"{where}.name")
        seen.add(cam["name"])
        K = np.asarray(cam["K"], dtype=np.float64)
        if not np.all(np.isfinite(K)):
            raise InputError(source, "contains NaN or infinity", field=f"{where}.K")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or np.any(K[1:, 0] != 0) or K[2, 1] != 0 or K[2, 2] != 1:
            raise InputError(source, "must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0",
                             field=f"{where}.K")
        dist = np.asarray(cam["distortion"], dtype=np.float64)
        if not np.all(np.isfinite(dist)):
            raise InputError(source, "contains NaN or infinity", field=f"{where}.distortion")
        R = np.asarray(cam["camera_to_world"]["rotation"], dtype=np.float64)
        t = np.asarray(cam["camera_to_world"]["translation"], dtype=np.float64)
        if not (np.all(np.isfinite(R)) and np.all(np.isfinite(t))):
            raise InputError(source, "contains NaN or infinity", field=f"{where}.camera_to_world")
        err = rotation_error(R)
        orthonormality = float(np.abs(R.T @ R - np.eye(3)).max())
        if err > ROTATION_TOLERANCE and orthonormality <= ROTATION_TOLERANCE and np.linalg.det(R) < 0:
            raise InputError(source, "not a rotation matrix: mirrored (determinant -1), the camera axes (its "
                             "columns) form a left-handed frame; a rotation has determinant +1",
                             field=f"{where}.camera_to_world.rotation")
        if err > ROTATION_TOLERANCE:
            raise InputError(source, f"not a rotation matrix (orthonormality error {err:.3g}, "
                             f"tolerance {ROTATION_TOLERANCE:g})", field=f"{where}.camera_to_world.rotation")
        depth_range = None
        if "depth_range" in cam:
            lo, hi = cam["depth_range"]
            if not lo < hi:
                raise InputError(source, "must be [min, max] with min < max", field=f"{where}.depth_range")
            depth_range = (float(lo), float(hi))
        cameras.append(Camera(name=cam["name"], role=cam["role"], width=int(cam["width"]),
                              height=int(cam["height"]), K=K, dist=dist, R=R, t=t,
                              depth_scale=float(cam["depth_scale"]), depth_range=depth_range,
                              serial=cam.get("serial")))
    world = data["world"].get("description", "")
    return Calibration(cameras=tuple(cameras), world_description=world, source=Path(source))


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate ``calibration.json``; raises :class:`InputError` on any problem."""
    path = Path(path)
    return calibration_from_json(read_json(path), source=path)


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    """Write ``calibration.json`` atomically (validated on the way out)."""
    data = calibration.to_json()
    calibration_from_json(data, source=path)
    atomic_write_text(Path(path), json.dumps(data, indent=2) + "\n")
