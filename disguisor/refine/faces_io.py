"""The refine stage's output: ``faces.json`` (index) + ``faces.npz`` (vertex arrays).

Why two files: the face of an Anny body has 2661 vertices; as JSON (0.1 mm rounding) 6 people x
100 frames take ~43 MB, as int16 offsets in the npz ~10 MB raw (~7 MB compressed).

``faces.json``::

    {"format": "disguisor-faces", "version": 2, "units": "metre", "arrays": "faces.npz",
     "topologies": [{"id": 0, "vertices": N, "triangles": M,
                     "occluder_vertices": K, "occluder_triangles": L}, ...],
     "frames": [{"frame": 0, "people": [
        {"person_id": 3, "topology": 0, "row": 0,
         "centre": [x, y, z], "facing": [x, y, z], "up": [x, y, z],
         "refined": true, "note": "",
         "registration": {"fitness_before": .., "fitness_after": .., "rmse_before": ..,
                          "rmse_after": .., "translation_m": .., "rotation_deg": ..,
                          "target_points": ..}}, ...]}, ...]}

``faces.npz`` (per topology t): ``triangles_t`` (M, 3) int32 (stored once, counter-clockwise seen
from outside), ``offsets_t`` (K, N, 3) int16: each face's vertices minus its ``centre`` in units
of 0.1 mm (row ``row``), ``uv_t`` (K, N, 2) float16 canonical face UV; when the topology has
an occluder (the rest of the head, FaceSurface.occluder_*; K > 0): ``occluder_triangles_t``
(L, 3) int32 and ``occluder_offsets_t`` (rows, K, 3) int16 in the same units. World metres, +z up;
``centre`` is rounded to 0.1 mm, so vertices are exact to 0.1 mm. ``registration`` is null when
no registration was run. A face that a second start moved (``FaceSurface.as_fitted``) has an
``"as_fitted"`` entry: the same fields as a person's, without ``registration``, for the face
where the body fit put it (or its registration from the fit, when the nearby frames contradicted
it). ``"disputed": true`` marks a face whose placement the depth disputes
(``FaceSurface.disputed``; absent = false); ``"nearby_head"`` [x, y, z] metres the centre of
the person's head confirmed in a nearby frame (``FaceSurface.nearby_head``; absent = none).
The loader checks everything and raises :class:`InputError` naming the entry
(``frames[2].people[1].facing``). Version 1 files (no occluders) are still read.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from disguisor.errors import InputError
from disguisor.io.atomic import atomic_write_bytes, atomic_write_text
from disguisor.io.jsonfields import check_header, read_json
from disguisor.refine.register import HeadRegistration
from disguisor.refine.surface import FaceSurface

FORMAT = "disguisor-faces"
VERSION = 2
READABLE_VERSIONS = (1, 2)
OFFSET_UNIT_M = 1e-4
_REG_FIELDS = ("fitness_before", "fitness_after", "rmse_before", "rmse_after", "translation_m", "rotation_deg",
               "target_points")


def _round(v: np.ndarray, digits: int) -> list[float]:
    return [round(float(x), digits) for x in np.asarray(v, np.float64)]


def save_faces(path: str | Path,
               frames: Mapping[int, Sequence[tuple[FaceSurface, HeadRegistration | None]]]) -> None:
    """Write ``path`` (faces.json) and its arrays beside it (``<stem>.npz``), atomically.

    frames: frame number -> (face, registration or None) per person.
    """
    path = Path(path)
    arrays_path = path.with_suffix(".npz")
    topo_keys: list[bytes] = []
    triangles: list[np.ndarray] = []
    occluder_triangles: list[np.ndarray | None] = []
    rows: list[list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = []
    out_frames = []

    def stored(face: FaceSurface, frame: int) -> dict:
        """Store the face's arrays; its index entry without the registration."""
        tri = np.ascontiguousarray(face.triangles, np.int32)
        has_occ = face.occluder_vertices is not None and face.occluder_triangles is not None
        occ_tri = np.ascontiguousarray(face.occluder_triangles, np.int32) if has_occ else None
        key = (tri.tobytes() + len(face.vertices).to_bytes(8, "little")
               + (occ_tri.tobytes() + len(face.occluder_vertices).to_bytes(8, "little") if has_occ else b""))
        if key not in topo_keys:
            topo_keys.append(key)
            triangles.append(tri)
            occluder_triangles.append(occ_tri)
            rows.append([])
        t = topo_keys.index(key)
        centre = np.round(np.asarray(face.centre, np.float64), 4)
        offsets = np.round((np.asarray(face.vertices, np.float64) - centre) / OFFSET_UNIT_M)
        occ_offsets = (np.round((np.asarray(face.occluder_vertices, np.float64) - centre) / OFFSET_UNIT_M)
                       if has_occ else np.zeros((0, 3)))
        if max(np.abs(offsets).max(initial=0), np.abs(occ_offsets).max(initial=0)) > np.iinfo(np.int16).max:
            raise ValueError(f"face of person {face.person_id} in frame {frame} spans more than 6.5 m")
        rows[t].append((offsets.astype(np.int16), np.asarray(face.uv, np.float16),
                        occ_offsets.astype(np.int16) if has_occ else None))
        entry = {"person_id": int(face.person_id), "topology": t, "row": len(rows[t]) - 1,
                 "centre": _round(centre, 4), "facing": _round(face.facing, 6),
                 "up": _round(face.up, 6), "refined": bool(face.refined), "note": face.note}
        if face.disputed:
            entry["disputed"] = True
        if face.nearby_head is not None:
            entry["nearby_head"] = _round(np.asarray(face.nearby_head, np.float64), 4)
        if face.as_fitted is not None:
            entry["as_fitted"] = stored(face.as_fitted, frame)
        return entry

    for frame in sorted(frames):
        people = []
        for face, reg in frames[frame]:
            people.append({**stored(face, frame), "registration": None if reg is None else {
                k: (int(getattr(reg, k)) if k == "target_points" else round(float(getattr(reg, k)), 6))
                for k in _REG_FIELDS}})
        out_frames.append({"frame": int(frame), "people": people})
    arrays = {}
    for t, tri in enumerate(triangles):
        arrays[f"triangles_{t}"] = tri
        arrays[f"offsets_{t}"] = np.stack([r[0] for r in rows[t]])
        arrays[f"uv_{t}"] = np.stack([r[1] for r in rows[t]])
        if occluder_triangles[t] is not None:
            arrays[f"occluder_triangles_{t}"] = occluder_triangles[t]
            arrays[f"occluder_offsets_{t}"] = np.stack([r[2] for r in rows[t]])
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    index = {"format": FORMAT, "version": VERSION, "units": "metre", "arrays": arrays_path.name,
             "topologies": [{"id": t, "vertices": int(arrays[f"offsets_{t}"].shape[1]), "triangles": len(tri),
                             "occluder_vertices": int(arrays[f"occluder_offsets_{t}"].shape[1])
                             if occluder_triangles[t] is not None else 0,
                             "occluder_triangles": 0 if occluder_triangles[t] is None else len(occluder_triangles[t])}
                            for t, tri in enumerate(triangles)],
             "frames": out_frames}
    # arrays first: the index is what marks the output complete
    atomic_write_bytes(arrays_path, buf.getvalue())
    atomic_write_text(path, json.dumps(index) + "\n")


def _vec(path: Path, entry: dict, key: str, where: str, unit: bool) -> np.ndarray:
    v = entry.get(key)
    if not isinstance(v, list) or len(v) != 3 or not all(isinstance(x, int | float) for x in v):
        raise InputError(path, "must be a list of 3 numbers", field=f"{where}.{key}")
    a = np.asarray(v, np.float64)
    if not np.all(np.isfinite(a)):
        raise InputError(path, "must be finite", field=f"{where}.{key}")
    if unit and abs(np.linalg.norm(a) - 1) > 1e-3:
        raise InputError(path, f"must be a unit vector (length {np.linalg.norm(a):.4f})", field=f"{where}.{key}")
    return a


def _face(path: Path, p: dict, where: str, topo: list) -> FaceSurface:
    """The FaceSurface of one person entry of faces.json (with its ``as_fitted`` face, if any)."""
    if not isinstance(p.get("person_id"), int):
        raise InputError(path, "must be an integer", field=f"{where}.person_id")
    t, row = p.get("topology"), p.get("row")
    if not isinstance(t, int) or not 0 <= t < len(topo):
        raise InputError(path, f"must name one of {len(topo)} topologies", field=f"{where}.topology")
    tri, off, uv, occ_tri, occ_off = topo[t]
    if not isinstance(row, int) or not 0 <= row < len(off):
        raise InputError(path, f"must be a row of topology {t} (0..{len(off) - 1})", field=f"{where}.row")
    centre = _vec(path, p, "centre", where, unit=False)
    facing = _vec(path, p, "facing", where, unit=True)
    up = _vec(path, p, "up", where, unit=True)
    if abs(float(facing @ up)) > 1e-3:
        raise InputError(path, "must be orthogonal to facing", field=f"{where}.up")
    if not isinstance(p.get("refined"), bool):
        raise InputError(path, "must be true or false", field=f"{where}.refined")
    if not isinstance(p.get("note"), str):
        raise InputError(path, "must be a string", field=f"{where}.note")
    if not isinstance(p.get("disputed", False), bool):
        raise InputError(path, "must be true or false", field=f"{where}.disputed")
    nearby = None if p.get("nearby_head") is None else _vec(path, p, "nearby_head", where, unit=False)
    as_fitted = p.get("as_fitted")
    if as_fitted is not None:
        if not isinstance(as_fitted, dict) or as_fitted.get("person_id") != p["person_id"] or "as_fitted" in as_fitted:
            raise InputError(path, "must be null or the same person's face as fitted", field=f"{where}.as_fitted")
        as_fitted = _face(path, as_fitted, f"{where}.as_fitted", topo)
    vertices = centre + off[row].astype(np.float64) * OFFSET_UNIT_M
    occ_v = None if occ_off is None else centre + occ_off[row].astype(np.float64) * OFFSET_UNIT_M
    return FaceSurface(p["person_id"], vertices, tri.astype(np.int32), uv[row].astype(np.float32), centre, facing,
                       up, p["refined"], p["note"], occ_v, None if occ_tri is None else occ_tri.astype(np.int32),
                       as_fitted, p.get("disputed", False), nearby)


def load_faces(path: str | Path) -> dict[int, list[tuple[FaceSurface, dict | None]]]:
    """Read faces.json and its arrays: frame -> (face, registration numbers or None) per person.

    Raises :class:`InputError` naming the file and entry for anything malformed.
    """
    path = Path(path)
    index = read_json(path)
    check_header(index, path, FORMAT, tuple(READABLE_VERSIONS), ("arrays", "topologies"))
    arrays_name = index.get("arrays")
    if not isinstance(arrays_name, str) or "/" in arrays_name or "\\" in arrays_name:
        raise InputError(path, "must be a file name beside the index", field="arrays")
    arrays_path = path.parent / arrays_name
    try:
        with np.load(arrays_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError as e:
        raise InputError(arrays_path, "file not found (written beside faces.json)") from e
    except (ValueError, OSError) as e:
        raise InputError(arrays_path, f"not a readable npz file: {e}") from e
    topologies = index.get("topologies")
    if not isinstance(topologies, list):
        raise InputError(path, "must be a list", field="topologies")
    topo = []
    for t, entry in enumerate(topologies):
        tri, off, uv = (arrays.get(f"{k}_{t}") for k in ("triangles", "offsets", "uv"))
        if tri is None or off is None or uv is None:
            raise InputError(arrays_path, f"arrays of topology {t} missing", field=f"triangles_{t}")
        n = off.shape[1] if off.ndim == 3 else -1
        if (not isinstance(entry, dict) or entry.get("vertices") != n or off.shape[2:] != (3,)
                or uv.shape != off.shape[:2] + (2,) or tri.ndim != 2 or tri.shape[1] != 3
                or (tri.size and (tri.min() < 0 or tri.max() >= n))):
            raise InputError(path, "does not match its arrays", field=f"topologies[{t}]")
        occ_tri, occ_off = arrays.get(f"occluder_triangles_{t}"), arrays.get(f"occluder_offsets_{t}")
        k = entry.get("occluder_vertices", 0)
        if (occ_tri is None) != (occ_off is None) or (occ_off is None) != (k == 0) or (occ_off is not None and (
                occ_off.shape != (off.shape[0], k, 3) or occ_tri.ndim != 2 or occ_tri.shape[1] != 3
                or (occ_tri.size and (occ_tri.min() < 0 or occ_tri.max() >= k)))):
            raise InputError(path, "occluder does not match its arrays", field=f"topologies[{t}].occluder_vertices")
        topo.append((tri, off, uv, occ_tri, occ_off))
    frames = index.get("frames")
    if not isinstance(frames, list):
        raise InputError(path, "must be a list", field="frames")
    out: dict[int, list[tuple[FaceSurface, dict | None]]] = {}
    for fi, fentry in enumerate(frames):
        where_f = f"frames[{fi}]"
        if not isinstance(fentry, dict) or not isinstance(fentry.get("frame"), int) or fentry["frame"] < 0:
            raise InputError(path, "needs a non-negative integer 'frame'", field=where_f)
        if fentry["frame"] in out:
            raise InputError(path, f"frame {fentry['frame']} appears twice", field=f"{where_f}.frame")
        people = fentry.get("people")
        if not isinstance(people, list):
            raise InputError(path, "must be a list", field=f"{where_f}.people")
        faces = []
        for pi, p in enumerate(people):
            where = f"{where_f}.people[{pi}]"
            if not isinstance(p, dict):
                raise InputError(path, "must be an object", field=where)
            face = _face(path, p, where, topo)
            reg = p.get("registration")
            if reg is not None and (not isinstance(reg, dict) or
                                    not all(isinstance(reg.get(k), int | float) for k in _REG_FIELDS)):
                raise InputError(path, f"must be null or an object with {', '.join(_REG_FIELDS)}",
                                 field=f"{where}.registration")
            faces.append((face, reg))
        out[fentry["frame"]] = faces
    return out
