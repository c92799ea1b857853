"""The face surface: what the refine stage hands to the render stage.

A :class:`FaceSurface` is one person's face at one frame: a small triangle mesh in world metres
(+z up) with texture coordinates in the *canonical face UV space*, plus the face centre and
facing direction. Every body model (Anny, SMPL) produces the same kind of object, so face
templates (``disguisor/assets/templates/``) are drawn once, in canonical UV space, and fit any model.

Canonical face UV space. The head frame of a face has its origin at the face centre, z along
the facing direction (out of the face), y towards the crown (the model's "up" for the head,
made orthogonal to z), x = y cross z (the person's left). A vertex with head-frame coordinates
(x, y) gets::

    u = 0.5 - x / FACE_UV_WIDTH_M     # u grows from the person's left ear to the right ear...
    v = 0.5 - y / FACE_UV_HEIGHT_M    # ...and v from the crown (0) to the chin (1)

so a template image (row 0 at the top, column 0 at the left) shows the face as a mirror does:
the person's left side on the image's left, forehead at the top. Centre of the image = face
centre. Values outside [0, 1] are clamped by the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACE_UV_WIDTH_M = 0.20   # head-frame x extent mapped onto u in [0, 1]
FACE_UV_HEIGHT_M = 0.26  # head-frame y extent mapped onto v in [0, 1]


@dataclass(frozen=True, eq=False)
class FaceSurface:
    """One person's face at one frame.

    person_id: the track id of poses3d.json. vertices: (N, 3) float world metres. triangles:
    (M, 3) int indices into vertices, counter-clockwise seen from outside (normals point out of
    the face). uv: (N, 2) float canonical face UV (see module doc). centre: (3,) world metres.
    facing: (3,) unit vector out of the face. up: (3,) unit vector towards the crown,
    orthogonal to facing. refined: whether head refinement was accepted for this face;
    note: why not (or "" when refined).
    occluder_vertices / occluder_triangles: (K, 3) world metres and (L, 3) indices, the rest of
    the same head (skull, ears, jaw underside), or None. The render stage uses them to hide the
    parts of the face that the person's own head covers in a view from behind or past profile,
    where the sensor depth alone cannot tell (the back of the head is within the depth
    tolerance of the face at a distance). Moved and stored together with the face.
    as_fitted: the same person's face where the body fit put it, when a second start moved this
    one from there (:mod:`disguisor.refine.reorient`), or where its registration from the fit put
    it when the nearby frames contradicted that (``HeadRegistration.contradicted``), else None.
    The render stage paints it too,
    on the pixels this face leaves, and never lists it: neither placement is confirmed by the
    depth, so a face hidden before the second start stays hidden.
    disputed: the depth disputes this placement (HeadRegistration.disputes: the correction it
    calls for is beyond the guard, or too few points lie near the head to tell) and no second
    registration settled it. The run paints it, with its safety spheres, but does not list it as
    a face seen (``run.report_disputed_faces``).
    nearby_head: (3,) world metres, for a face the depth did not confirm: the centre of the same
    person's head as the depth confirmed it in the nearest frame within ``refine.nearby_frames``
    (the registration's pivot, moved by its accepted correction), else None. The run keeps a
    safety sphere there: a head placed far off in this frame was there a moment ago.
    """

    person_id: int
    vertices: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray
    centre: np.ndarray
    facing: np.ndarray
    up: np.ndarray
    refined: bool = False
    note: str = ""
    occluder_vertices: np.ndarray | None = None
    occluder_triangles: np.ndarray | None = None
    as_fitted: FaceSurface | None = None
    disputed: bool = False
    nearby_head: np.ndarray | None = None


def head_frame(facing: np.ndarray, up_hint: np.ndarray) -> np.ndarray:
    """3x3 rotation whose columns are the head-frame axes (x left, y up, z facing) in world axes.

    facing: (3,) direction out of the face; up_hint: (3,) rough crown direction (made
    orthogonal to facing). Raises ValueError when the two are parallel.
    """
    z = np.asarray(facing, float)
    z = z / np.linalg.norm(z)
    y = np.asarray(up_hint, float) - z * float(np.dot(up_hint, z))
    n = np.linalg.norm(y)
    if n < 1e-6:
        raise ValueError("up_hint is parallel to facing")
    y = y / n
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)


def canonical_face_uv(vertices: np.ndarray, centre: np.ndarray, facing: np.ndarray,
                      up: np.ndarray) -> np.ndarray:
    """(N, 2) canonical face UV of world-metre vertices (N, 3) for a face at ``centre``."""
    local = (np.asarray(vertices, float) - centre) @ head_frame(facing, up)
    u = 0.5 - local[:, 0] / FACE_UV_WIDTH_M
    v = 0.5 - local[:, 1] / FACE_UV_HEIGHT_M
    return np.stack([u, v], axis=1).astype(np.float32)


def transform_face(face: FaceSurface, T: np.ndarray) -> FaceSurface:
    """The face moved by a rigid 4x4 world transform ``T`` (UVs travel with the vertices)."""
    R, t = T[:3, :3], T[:3, 3]
    occ = None if face.occluder_vertices is None else face.occluder_vertices @ R.T + t
    return FaceSurface(face.person_id, face.vertices @ R.T + t, face.triangles, face.uv,
                       face.centre @ R.T + t, face.facing @ R.T, face.up @ R.T, face.refined, face.note,
                       occ, face.occluder_triangles,
                       None if face.as_fitted is None else transform_face(face.as_fitted, T), face.disputed,
                       None if face.nearby_head is None else np.asarray(face.nearby_head, float) @ R.T + t)
