"""``disguisor fit``: poses3d.json -> bodies.json (and optional meshes); a thin adapter over
:func:`disguisor.body.fit.fit_bodies`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from disguisor.body.bodies_io import BodyFits, save_bodies
from disguisor.body.fit import fit_bodies, posed_people
from disguisor.body.model import BodyModel, load_body_model
from disguisor.body.params import FitParams
from disguisor.errors import InputError
from disguisor.io.atomic import atomic_write_bytes, staged_output_dir
from disguisor.pose3d.poses import load_poses3d


def write_meshes(model: BodyModel, fits: BodyFits, out_dir: Path) -> int:
    """One binary PLY per person-frame, ``<frame>_<id>.ply`` (world metres), written as a whole
    folder (replaced atomically). Returns the number of meshes."""
    import trimesh

    count = 0
    with staged_output_dir(out_dir, overwrite=True) as stage:
        for n in fits.frame_numbers:
            for body in posed_people(model, fits, n):
                mesh = trimesh.Trimesh(body.vertices, model.faces, process=False)
                atomic_write_bytes(stage / f"{n:06d}_{body.person_id}.ply", mesh.export(file_type="ply"))
                count += 1
    return count


def fit_command(recording_or_calibration: str | Path | None, poses_path: str | Path, out_path: str | Path,
                params: FitParams = FitParams(), meshes_dir: Path | None = None,
                progress: Callable[[int], None] | None = None) -> BodyFits:
    """Read ``poses3d.json``, fit the body model, write ``bodies.json`` (and meshes) atomically.

    recording_or_calibration is only checked to exist (poses are already in world metres).
    Raises :class:`InputError` for bad inputs; nothing is written then.
    """
    out_path = Path(out_path)
    if out_path.is_dir():
        raise InputError(out_path, "is a folder; give a file name such as bodies.json", field="--out")
    if recording_or_calibration is not None and not Path(recording_or_calibration).exists():
        raise InputError(recording_or_calibration, "not found", field="RECORDING")
    if meshes_dir is not None and Path(meshes_dir).exists() and not Path(meshes_dir).is_dir():
        raise InputError(meshes_dir, "exists and is not a folder", field="--meshes")
    poses = load_poses3d(poses_path)
    model = load_body_model(params.model, params.smpl_dir)
    fits = fit_bodies(poses, model, params, progress)
    save_bodies(out_path, fits)
    if meshes_dir is not None:
        write_meshes(model, fits, Path(meshes_dir))
    return fits
