"""One configuration for the whole pipeline: :class:`PipelineConfig`, its sources and its checks.

Every setting of every stage is a field of a frozen dataclass (each stage keeps its own, next to
the code that uses it, with units and the measurement behind each default); ``PipelineConfig``
nests them, one section per stage::

    recording  fusion  keypoints  pose3d  tracking  fit  refine  floor  render  run  quality

Sources, later ones winning: the defaults, a TOML file (``--config FILE``, the layout that
``disguisor config show`` prints), then ``--set section.field=value`` (repeatable; nested
settings by dotted path, e.g. ``keypoints.proposals.cell_m=0.04``). Unknown sections or fields,
values of the wrong type and out-of-range values are refused with one line naming the field.

Checks every value gets: its type (bool, int, float, str, a fixed set of words, a path, a
tuple, ``none`` where the field may be unset); numbers finite; a number whose default is >= 0
must stay >= 0; a field named ``*_share``, ``*_fraction`` or ``*score*`` lies in [0, 1].
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
import types
import typing
from dataclasses import MISSING, asdict, dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from disguisor.body.params import FitParams
from disguisor.config import FusionParams, RecordingParams
from disguisor.errors import InputError
from disguisor.pose2d.floor import FloorParams
from disguisor.pose2d.params import KeypointsParams
from disguisor.pose3d.params import Pose3DParams, TrackingParams
from disguisor.quality.params import QualityParams
from disguisor.refine.params import RefineParams
from disguisor.render.params import RenderParams
from disguisor.run.params import RunParams


@dataclass(frozen=True)
class PipelineConfig:
    """Every setting of the pipeline, one section per stage (see each class for units)."""

    recording: RecordingParams = RecordingParams()
    fusion: FusionParams = FusionParams()
    keypoints: KeypointsParams = KeypointsParams()
    pose3d: Pose3DParams = Pose3DParams()
    tracking: TrackingParams = TrackingParams()
    fit: FitParams = FitParams()
    refine: RefineParams = RefineParams()
    floor: FloorParams = FloorParams()
    render: RenderParams = RenderParams()
    run: RunParams = RunParams()
    quality: QualityParams = QualityParams()


SECTIONS = tuple(f.name for f in fields(PipelineConfig))

# ------------------------------------------------------------------------------------------------
# values


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _text(value: Any) -> str:
    """A value as the user wrote it (plain Python numbers, never numpy reprs)."""
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _coerce(value: Any, kind: Any, where: str, source: str | Path | None) -> Any:
    """``value`` (TOML value or command-line text) as a value of type ``kind``; InputError if it is not."""
    def bad(what: str) -> InputError:
        return InputError(source, f"{_text(value)} is not {what}", field=where)

    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", ""))):
            return None
        errors = []
        for option in options:
            try:
                return _coerce(value, option, where, source)
            except InputError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else bad(" or ".join(_kind_name(o) for o in options)
                                                     + (" or none" if type(None) in args else ""))
    if origin is typing.Literal:
        if value not in args:
            raise InputError(source, f"{_text(value)} is not one of {', '.join(map(str, args))}", field=where)
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise bad("true or false")
    if kind is int:
        if isinstance(value, bool):
            raise bad("an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise bad("an integer")
    if kind is float:
        if isinstance(value, bool):
            raise bad("a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad("a number") from None
        if not math.isfinite(number):
            raise bad("a finite number")
        return number
    if kind is str:
        if not isinstance(value, str):
            raise bad("a text")
        return value
    if kind is Path:
        if not isinstance(value, str | Path) or not str(value):
            raise bad("a path")
        return Path(value)
    if origin is tuple:
        items = value
        if isinstance(value, str):
            text = value.strip()
            try:
                items = json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
            except ValueError:
                raise bad("a list") from None
        if not isinstance(items, list | tuple):
            raise bad("a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]", source) for i, v in enumerate(items))
        if len(items) != len(args):
            raise InputError(source, f"needs {len(args)} values, got {len(items)}", field=where)
        return tuple(_coerce(v, a, f"{where}[{i}]", source) for i, (v, a) in enumerate(zip(items, args, strict=True)))
    if is_dataclass(kind):
        if isinstance(value, kind):
            return value
        if not isinstance(value, dict):
            raise bad(f"a table of {kind.__name__} settings")
        required = [f.name for f in fields(kind) if f.default is MISSING and f.default_factory is MISSING]
        if required:  # a value type such as a height band: every field given
            missing = [n for n in required if n not in value]
            if missing:
                raise InputError(source, f"missing {', '.join(missing)}", field=where)
            hints = _hints(kind)
            unknown = sorted(set(value) - set(hints))
            if unknown:
                raise InputError(source, f"unknown setting(s) {', '.join(unknown)}", field=where)
            return kind(**{k: _coerce(v, hints[k], f"{where}.{k}", source) for k, v in value.items()})
        return _apply_table(kind(), value, where, source)
    if kind is Any:
        return value
    raise InputError(source, f"cannot be set (type {kind})", field=where)


def _kind_name(kind: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a text", Path: "a path"}.get(
        kind, getattr(kind, "__name__", str(kind)))


def _check_range(value: Any, default: Any, name: str, where: str, source: str | Path | None) -> None:
    numbers = value if isinstance(value, tuple) else (value,)
    for v in numbers:
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if isinstance(default, int | float) and not isinstance(default, bool) and default >= 0 and v < 0:
            raise InputError(source, f"must be >= 0, not {_text(v)}", field=where)
        if (name.endswith(("_share", "_fraction")) or "score" in name) and not 0 <= v <= 1:
            raise InputError(source, f"must lie in [0, 1], not {_text(v)}", field=where)


def _set_field(obj: Any, path: list[str], raw: Any, where: str, source: str | Path | None) -> Any:
    """``obj`` (a dataclass) with the field at ``path`` set to ``raw`` (coerced and checked)."""
    names = {f.name for f in fields(obj)}
    name = path[0]
    if name not in names:
        raise InputError(source, f"unknown setting; {type(obj).__name__} has: {', '.join(sorted(names))}",
                         field=where)
    current = getattr(obj, name)
    if len(path) > 1:
        if not is_dataclass(current):
            raise InputError(source, f"{name} is a value, not a section", field=where)
        return replace(obj, **{name: _set_field(current, path[1:], raw, where, source)})
    value = _coerce(raw, _hints(type(obj))[name], where, source)
    _check_range(value, current, name, where, source)
    try:
        return replace(obj, **{name: value})
    except ValueError as exc:  # the class's own checks (__post_init__)
        raise InputError(source, str(exc), field=where) from None


def _apply_table(obj: Any, table: dict[str, Any], prefix: str, source: str | Path | None) -> Any:
    for key, raw in table.items():
        where = f"{prefix}.{key}" if prefix else key
        if isinstance(raw, dict) and is_dataclass(getattr(obj, key, None)):
            obj = replace(obj, **{key: _apply_table(getattr(obj, key), raw, where, source)})
        else:
            obj = _set_field(obj, [key], raw, where, source)
    return obj


# ------------------------------------------------------------------------------------------------
# sources


def apply_sets(config: PipelineConfig, items: list[str] | tuple[str, ...]) -> PipelineConfig:
    """``config`` with ``section.field=value`` settings applied, in order (``--set``)."""
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or "." not in key:
            raise InputError("--set", f"{item!r}: expected SECTION.FIELD=VALUE, e.g. render.dilate_m=0.03",
                             field=key or "?")
        path = key.split(".")
        if path[0] not in SECTIONS:
            raise InputError("--set", f"unknown section {path[0]!r}; sections: {', '.join(SECTIONS)}", field=key)
        config = _set_field(config, path, text.strip(), key, "--set")
    return config


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML configuration file; InputError for an unreadable or invalid file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "configuration file not found", field="--config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot be read ({exc})", field="--config") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})", field="--config") from None
    return data


def make_config(config_file: str | Path | None = None, sets: list[str] | tuple[str, ...] | None = None,
                base: PipelineConfig | None = None) -> PipelineConfig:
    """Defaults (or ``base``), then the TOML file, then the ``--set`` items."""
    config = base or PipelineConfig()
    if config_file is not None:
        table = load_config_file(config_file)
        for section in table:
            if section not in SECTIONS:
                raise InputError(config_file, f"unknown section; sections: {', '.join(SECTIONS)}", field=section)
            if not isinstance(table[section], dict):
                raise InputError(config_file, "must be a table ([section])", field=section)
        config = _apply_table(config, table, "", config_file)
    return apply_sets(config, list(sets or ()))


# ------------------------------------------------------------------------------------------------
# output


def _toml_value(value: Any) -> str:
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, int) or math.isfinite(value) else '"nan"'
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if is_dataclass(value):
        return "{ " + ", ".join(f"{f.name} = {_toml_value(getattr(value, f.name))}" for f in fields(value)) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_table(obj: Any, name: str, lines: list[str]) -> None:
    lines.append(f"[{name}]")
    nested = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            nested.append((f.name, value))
        else:
            lines.append(f"{f.name} = {_toml_value(value)}")
    lines.append("")
    for sub, value in nested:
        _toml_table(value, f"{name}.{sub}", lines)


def config_toml(config: PipelineConfig) -> str:
    """The effective configuration as TOML; ``make_config(file)`` of this text gives ``config`` back."""
    lines = ["# disguisor configuration (disguisor config show); none = unset", ""]
    for section in SECTIONS:
        _toml_table(getattr(config, section), section, lines)
    return "\n".join(lines).rstrip() + "\n"


def config_dict(config: Any) -> dict[str, Any]:
    """JSON-friendly form of a configuration or one of its sections (report.json)."""
    return json.loads(json.dumps(asdict(config), default=str))


def settings_hash(*parts: Any) -> str:
    """Short stable hash of settings (dataclasses, dicts, numbers, paths): part of cache keys."""
    def plain(v: Any) -> Any:
        return asdict(v) if is_dataclass(v) else v

    text = json.dumps([plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
