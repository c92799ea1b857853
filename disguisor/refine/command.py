"""``disguisor refine``: body fits + the recording's depth -> refined faces (``faces.json`` + ``.npz``).

The same work ``disguisor run`` does frame by frame before rendering, as a stage of its own:
for every frame, pose the fitted bodies, collect the depth points around each head from every
view, register each head rigidly (guarded), and extract its face surface.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from disguisor.errors import InputError
from disguisor.refine.params import DEFAULT_REFINE_PARAMS, RefineParams


def refine_command(recording: str | Path, bodies_path: str | Path, out_path: str | Path, model_name: str = "anny",
                   smpl_dir: Path | None = None, params: RefineParams = DEFAULT_REFINE_PARAMS,
                   progress: Callable[[int], None] | None = None) -> int:
    """Write ``out_path`` (faces.json) and ``<stem>.npz``; returns the number of faces.

    Raises :class:`InputError` for bad inputs (nothing written then).
    """
    from disguisor.body.fit import load_bodies, posed_people
    from disguisor.body.model import load_body_model
    from disguisor.fusion import RayCache
    from disguisor.io.recording import open_recording
    from disguisor.refine.face import refine_faces
    from disguisor.refine.faces_io import save_faces
    from disguisor.refine.points import head_cloud

    out_path = Path(out_path)
    if out_path.is_dir() or out_path.suffix != ".json":
        raise InputError(out_path, "give a file name ending in .json, such as faces.json", field="--out")
    rec = open_recording(recording)
    model = load_body_model(model_name, smpl_dir)
    fits = load_bodies(bodies_path, model)
    rays = RayCache()
    frames = {}
    for k, frame in enumerate(rec.frames):
        bodies = posed_people(model, fits, frame)
        if bodies:
            views = {c.name: (c, rec.read_depth(c, frame)) for c in rec.cameras_at(frame)}
            cloud = head_cloud(views, rays, bodies, model.head_vertices, params)
            frames[frame] = refine_faces(bodies, model, cloud, params)
        else:
            frames[frame] = []
        if progress is not None:
            progress(k + 1)
    save_faces(out_path, frames)
    return sum(len(v) for v in frames.values())
