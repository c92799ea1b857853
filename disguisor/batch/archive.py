"""What a batch works on: the recordings of an archive folder or a manifest file.

An archive folder is searched (depth first, in name order) for

- recordings in the project's format: a folder holding ``calibration.json``;
- Azure Kinect sets: a folder holding ``.mkv`` files (one per device, imported first as
  ``disguisor import kinect`` does), with the extrinsics in ``extrinsics.json`` (or the folder's
  only ``.json`` file; none for a single device).

The search does not descend into a recording or a Kinect set. Hidden folders are skipped.

A manifest is a text file: one recording (or Kinect set) path per line (``#`` starts a comment),
or a CSV file whose header names a ``path`` column and optionally ``name`` (output folder name),
``extrinsics``, ``set`` (``SECTION.FIELD=VALUE`` items separated by ``;``) and any of the options
of ``disguisor run``: ``keypoints``, ``detector``, ``pose_model``, ``model``, ``smpl_dir``,
``method``, ``template``, ``also_2d``, ``also_2d_weights``, ``on_error``, ``video``, ``from``. An
empty cell leaves the command's value. Paths in a manifest are relative to the manifest's folder.

Output names: the recording's path relative to the archive with ``/`` written as ``__``
(``site1/rec3`` -> ``site1__rec3``); in a manifest the folder's name (or the ``name`` column).
Two recordings with the same output name are refused.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from disguisor.errors import InputError

Kind = Literal["recording", "kinect"]

# manifest columns that are shorthands for one setting (the same as `disguisor run`'s options)
OPTION_SETTINGS = {
    "keypoints": "keypoints.file", "detector": "keypoints.detector", "pose_model": "keypoints.pose_model",
    "model": "fit.model", "smpl_dir": "fit.smpl_dir", "method": "run.method", "template": "run.template",
    "also_2d": "run.also_2d", "also_2d_weights": "run.also_2d_weights", "on_error": "run.on_error",
    "video": "run.video",
}
PATH_OPTIONS = {"pose_model", "smpl_dir", "also_2d_weights"}  # relative to the manifest's folder
COLUMNS = {"path", "name", "extrinsics", "set", "from", *OPTION_SETTINGS}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Job:
    """One recording of the batch.

    name: its output folder under OUT; source: the recording folder or the Kinect set's folder;
    mkvs / extrinsics: the Kinect set's files; sets: ``section.field=value`` items of this
    recording (applied after the command's own); from_stage: ``--from`` for this recording.
    """

    name: str
    source: Path
    kind: Kind = "recording"
    mkvs: tuple[Path, ...] = ()
    extrinsics: Path | None = None
    sets: tuple[str, ...] = ()
    from_stage: str | None = None
    line: int | None = None  # manifest line, for messages
    options: dict[str, str] = field(default_factory=dict, compare=False)


def is_recording(folder: Path) -> bool:
    return (folder / "calibration.json").is_file()


def kinect_files(folder: Path) -> tuple[tuple[Path, ...], Path | None]:
    """The ``.mkv`` files of a Kinect set folder (sorted) and its extrinsics file (or None)."""
    mkvs = tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() == ".mkv" and p.is_file()))
    extrinsics = folder / "extrinsics.json"
    if not extrinsics.is_file():
        jsons = [p for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file()]
        extrinsics = jsons[0] if len(jsons) == 1 else None
    return mkvs, extrinsics


def _job_for(folder: Path, name: str, **kw) -> Job | None:
    if is_recording(folder):
        return Job(name=name, source=folder, **kw)
    mkvs, extrinsics = kinect_files(folder)
    if mkvs:
        return Job(name=name, source=folder, kind="kinect", mkvs=mkvs,
                   extrinsics=kw.pop("extrinsics", None) or extrinsics, **kw)
    return None


def _safe_name(name: str, where: Path, field_name: str) -> str:
    if not NAME_RE.match(name) or name in (".", ".."):
        raise InputError(where, f"{name!r} cannot be an output folder name (letters, digits, . _ + -)",
                         field=field_name)
    return name


def scan_folder(archive: Path) -> list[Job]:
    """Every recording and Kinect set under ``archive`` (the archive itself may be one)."""
    top = _job_for(archive, _safe_name(archive.resolve().name, archive, "ARCHIVE"))
    if top is not None:
        return [top]
    jobs: list[Job] = []

    def walk(folder: Path) -> None:
        for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            name = "__".join(child.relative_to(archive).parts)
            job = _job_for(child, name)
            if job is not None:
                jobs.append(job)
            else:
                walk(child)

    walk(archive)
    return jobs


def _resolve(base: Path, text: str) -> Path:
    p = Path(text).expanduser()
    return p if p.is_absolute() else base / p


def read_manifest(manifest: Path) -> list[Job]:
    """The jobs of a manifest file (plain list or CSV; see the module docstring)."""
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(manifest, f"cannot read the manifest ({exc})") from None
    base = manifest.parent
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    content = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not content:
        raise InputError(manifest, "the manifest lists no recording")
    first = content[0][1]
    header = [c.strip().lower() for c in next(csv.reader([first]))]
    if "," in first and "path" in header:
        return _read_csv(manifest, text, base)
    jobs = []
    for n, line in content:
        jobs.append(_manifest_job(manifest, n, base, {"path": line}))
    return jobs


def _read_csv(manifest: Path, text: str, base: Path) -> list[Job]:
    rows = csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines()
                                                if line.strip() and not line.lstrip().startswith("#"))))
    names = [c.strip().lower() for c in rows.fieldnames or []]
    unknown = [c for c in names if c not in COLUMNS]
    if unknown:
        raise InputError(manifest, f"unknown column(s) {', '.join(unknown)}; columns: path, name, extrinsics, set, "
                         f"from, {', '.join(sorted(OPTION_SETTINGS))}", field="header")
    jobs = []
    for n, row in enumerate(rows, 2):
        cells = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        jobs.append(_manifest_job(manifest, n, base, cells))
    return jobs


def _manifest_job(manifest: Path, n: int, base: Path, cells: dict[str, str]) -> Job:
    where = f"line {n}"
    if not cells.get("path"):
        raise InputError(manifest, "no recording path", field=where)
    source = _resolve(base, cells["path"])
    if not source.is_dir():
        raise InputError(manifest, f"{source}: not a folder", field=f"{where}: path")
    name = _safe_name(cells.get("name") or source.resolve().name, manifest, f"{where}: name")
    sets = []
    for option, setting in OPTION_SETTINGS.items():
        value = cells.get(option)
        if value:
            if option in PATH_OPTIONS:
                value = str(_resolve(base, value))
            sets.append(f"{setting}={value}")
    for item in (cells.get("set") or "").split(";"):
        if item.strip():
            sets.append(item.strip())
    extrinsics = _resolve(base, cells["extrinsics"]) if cells.get("extrinsics") else None
    options = {k: v for k, v in cells.items() if v and k != "path"}
    job = _job_for(source, name, sets=tuple(sets), from_stage=cells.get("from") or None, line=n,
                   extrinsics=extrinsics, options=options)
    if job is None:
        raise InputError(manifest, f"{source}: neither a recording (no calibration.json) nor a Kinect set "
                         "(no .mkv file)", field=f"{where}: path")
    return job


def discover(archive: Path) -> list[Job]:
    """The jobs of ARCHIVE (a folder or a manifest file); refuses an empty archive and clashing names."""
    archive = Path(archive).absolute()  # workers may run elsewhere: absolute paths only
    if archive.is_dir():
        jobs = scan_folder(archive)
        if not jobs:
            raise InputError(archive, "no recording (a folder with calibration.json) and no Kinect set "
                             "(a folder with .mkv files) found", field="ARCHIVE")
    elif archive.is_file():
        jobs = read_manifest(archive)
    else:
        raise InputError(archive, "not found", field="ARCHIVE")
    seen: dict[str, Job] = {}
    for job in jobs:
        if job.name in seen:
            raise InputError(archive, f"two recordings would write the same output folder {job.name!r}: "
                             f"{seen[job.name].source} and {job.source} (give a name column)", field="name")
        seen[job.name] = job
    return jobs


def estimate_frames(job: Job) -> int | None:
    """The frame count of a recording from its first camera's colour folder (no decoding); None
    for a Kinect set (known after the import)."""
    if job.kind != "recording":
        return None
    try:
        for cam in sorted(p for p in job.source.iterdir() if (p / "color").is_dir()):
            return sum(1 for f in (cam / "color").iterdir() if f.stem.isdigit())
    except OSError:
        return None
    return None
