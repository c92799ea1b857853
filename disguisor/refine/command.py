"""``disguisor refine``: body fits + the recording's depth -> refined faces (``faces.json`` + ``.npz``).

The same work ``disguisor run`` does frame by frame before rendering, as a stage of its own:
for every frame, pose the fitted bodies, collect the depth points around each head from every
view, register each head rigidly (guarded), and extract its face surface. Given the 3D poses the
fits were made from (``poses3d.json``), a refused head fitted far from its 3D head joints is
placed from them (``refine.reorient_min_deg``, ``reorient_min_shift_m``), as in ``disguisor run``;
faces.json keeps the fit's face beside it (``as_fitted``), which the render stage paints too.
A refused head is first started from the same person's head confirmed in a nearby frame
(``refine.nearby_frames``, :mod:`disguisor.refine.carry`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from disguisor.body.bodies_io import load_bodies
from disguisor.body.model import load_body_model
from disguisor.body.params import FitParams
from disguisor.errors import InputError
from disguisor.fusion import RayCache
from disguisor.io.recording import open_recording
from disguisor.pose3d.poses import load_poses3d
from disguisor.refine.faces_io import save_faces
from disguisor.refine.frame import NearbyHeads, joints_by_person, refine_frame
from disguisor.refine.params import DEFAULT_REFINE_PARAMS, RefineParams


def refine_command(recording: str | Path, bodies_path: str | Path, out_path: str | Path,
                   fit: FitParams = FitParams(), params: RefineParams = DEFAULT_REFINE_PARAMS,
                   progress: Callable[[int], None] | None = None, poses_path: str | Path | None = None) -> int:
    """Write ``out_path`` (faces.json) and ``<stem>.npz``; returns the number of faces. The
    body model is ``fit.model`` (the one the fits were made with); ``poses_path``: the 3D poses
    (poses3d.json) whose head joints give a second start (None: the fits only). A refused head
    is also started from the same person's head confirmed in a nearby frame
    (``params.nearby_frames``), as in ``disguisor run``.

    Raises :class:`InputError` for bad inputs (nothing written then).
    """
    out_path = Path(out_path)
    if out_path.is_dir() or out_path.suffix != ".json":
        raise InputError(out_path, "give a file name ending in .json, such as faces.json", field="--out")
    rec = open_recording(recording)
    model = load_body_model(fit.model, fit.smpl_dir)
    fits = load_bodies(bodies_path, model)
    poses = {f.frame: f for f in load_poses3d(poses_path).frames} if poses_path is not None else {}
    rays = RayCache()
    frames = {}
    nearby = NearbyHeads(model, fits, rec.frames, rec.depth_views, rays, params)
    for k, frame in enumerate(rec.frames):
        joints = joints_by_person(poses[frame].people) if frame in poses else None
        posed, refined = refine_frame(model, fits, frame, rec.depth_views(frame), rays, params, joints,
                                      nearby.lookup(frame))
        nearby.record(frame, posed, [reg for _, reg in refined])
        frames[frame] = refined
        if progress is not None:
            progress(k + 1)
    save_faces(out_path, frames)
    return sum(len(v) for v in frames.values())
