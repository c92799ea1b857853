"""Typed readers for fields of JSON input files; each raises :class:`InputError` naming the file
and the field (``annotations[3].bbox``), so every loader reports bad input the same way."""

from __future__ import annotations

import json
import math
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from disguisor.errors import InputError

Id = int | str
MISSING = object()  # "no default": the field is required


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python numbers and lists (recursively)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def show(value: Any) -> str:
    """How a value appears in an error message: ``1.018``, ``'wfc1'``, ``[1, 2]``, never a numpy
    repr such as ``np.float64(1.018)`` (a file's reader sees plain numbers)."""
    return repr(plain(value))


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; a missing file or invalid JSON is an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None


def get_field(entry: Mapping[str, Any], key: str, source: str | Path, where: str, default: Any = MISSING) -> Any:
    """``entry[key]``; a missing required field names ``where.key``."""
    if key not in entry:
        if default is MISSING:
            raise InputError(source, "missing required field", field=f"{where}.{key}" if where else key)
        return default
    return entry[key]


def number(value: Any, source: str | Path, where: str) -> float:
    """A finite number (booleans refused; numpy numbers, as in-memory documents hold them, accepted)."""
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, f"must be a number, not {show(value)}", field=where)
    if not math.isfinite(value):
        raise InputError(source, f"must be a finite number, not {show(value)}", field=where)
    return float(value)


def integer(value: Any, source: str | Path, where: str) -> int:
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(source, f"must be an integer, not {show(value)}", field=where)
    return value


def ident(value: Any, source: str | Path, where: str) -> Id:
    """An id: an integer or a non-empty string."""
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise InputError(source, f"must be an integer or a non-empty string, not {show(value)}", field=where)
    return value


def category_id(value: Any, source: str | Path, where: str) -> Id:
    """A COCO category id: an id (see :func:`ident`), where a string of digits (``"1"``, as some
    tools write it) is read as that integer."""
    value = ident(value, source, where)
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    return value


def name(value: Any, source: str | Path, where: str) -> str:
    """A non-empty string; integers are accepted and read as strings (camera numbers)."""
    value = plain(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise InputError(source, f"must be a non-empty string, not {show(value)}", field=where)
    return value


def entries(data: Mapping[str, Any], key: str, source: str | Path) -> list[Any]:
    """``data[key]``, which must be a list of JSON objects."""
    value = get_field(data, key, source, "")
    if not isinstance(value, list):
        raise InputError(source, "must be a list", field=key)
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise InputError(source, "must be a JSON object", field=f"{key}[{i}]")
    return value


def check_header(data: Any, source: str | Path, file_format: str, version: int | tuple[int, ...],
                 required: tuple[str, ...]) -> None:
    """A stage file's top level (the one check of every versioned stage file: poses3d.json,
    bodies.json, faces.json): a JSON object with ``required`` keys, its ``format`` and a
    ``version`` this reader knows (one, or a tuple of readable versions), and ``units`` of metres
    when present."""
    if not isinstance(data, dict):
        raise InputError(source, "expected a JSON object", field="(top level)")
    for key in ("format", "version", *required):
        if key not in data:
            raise InputError(source, "missing required field", field=key)
    if data["format"] != file_format:
        raise InputError(source, f"expected {file_format!r}, not {show(data['format'])}", field="format")
    readable = version if isinstance(version, tuple) else (version,)
    if isinstance(data["version"], bool) or data["version"] not in readable:
        raise InputError(source, f"unsupported version {show(data['version'])} (this reader knows "
                         f"{', '.join(map(str, readable))})", field="version")
    if "units" in data and data["units"] != "metre":
        raise InputError(source, f"must be 'metre', not {show(data['units'])}", field="units")


@dataclass(frozen=True)
class Annotation:
    """One entry of a COCO-style ``annotations`` list whose common fields are checked: ``id``
    (unique in the file), ``image_id`` (a known image) and ``category_id`` (an integer; a string
    of digits such as ``"1"``, as some tools write it, is read as that integer). where: its field
    path (``annotations[3]``) for messages."""

    entry: Mapping[str, Any]
    where: str
    source: str | Path
    id: Id
    image_id: Id
    category: Id

    def get(self, key: str, default: Any = MISSING) -> Any:
        """The entry's ``key`` (see :func:`get_field`)."""
        return get_field(self.entry, key, self.source, self.where, default)


def annotations(data: Mapping[str, Any], source: str | Path, image_ids: Container[Id]) -> Iterator[Annotation]:
    """The ``annotations`` list of a COCO-style file, entry by entry, with ids unique and image
    ids among ``image_ids``; an :class:`InputError` names the first entry that breaks either."""
    seen: dict[Id, int] = {}
    for i, entry in enumerate(entries(data, "annotations", source)):
        where = f"annotations[{i}]"
        ann_id = ident(get_field(entry, "id", source, where), source, f"{where}.id")
        if ann_id in seen:
            raise InputError(source, f"duplicate annotation id {ann_id!r} (also annotations[{seen[ann_id]}])",
                             field=f"{where}.id")
        seen[ann_id] = i
        image_id = ident(get_field(entry, "image_id", source, where), source, f"{where}.image_id")
        if image_id not in image_ids:
            raise InputError(source, f"unknown image id {image_id!r}", field=f"{where}.image_id")
        category = category_id(get_field(entry, "category_id", source, where), source, f"{where}.category_id")
        yield Annotation(entry, where, source, ann_id, image_id, category)


def image_fields(entry: Mapping[str, Any], source: str | Path, where: str) -> dict[str, Any]:
    """The common fields of an entry of a COCO-style ``images`` list, checked: ``id``,
    ``file_name``, ``width`` and ``height`` (positive pixels), ``camera`` (a name) and ``frame``."""
    image_id = ident(get_field(entry, "id", source, where), source, f"{where}.id")
    file_name = get_field(entry, "file_name", source, where)
    if not isinstance(file_name, str):
        raise InputError(source, f"must be a string, not {show(file_name)}", field=f"{where}.file_name")
    width = integer(get_field(entry, "width", source, where), source, f"{where}.width")
    height = integer(get_field(entry, "height", source, where), source, f"{where}.height")
    if width <= 0 or height <= 0:
        raise InputError(source, f"image size must be positive, not {width}x{height}", field=f"{where}.width")
    camera = name(get_field(entry, "camera", source, where), source, f"{where}.camera")
    frame = integer(get_field(entry, "frame", source, where), source, f"{where}.frame")
    return {"id": image_id, "file_name": file_name, "width": width, "height": height, "camera": camera,
            "frame": frame}
