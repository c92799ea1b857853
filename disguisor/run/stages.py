"""The stage table of ``disguisor run``: what each whole-recording stage computes, from which
settings, into which stage file.

Each stage is a plain in-memory function of the recording, the configuration and the results of
the stages before it; ``save``/``load`` are the owners of its stage file. The pipeline
(:mod:`disguisor.run.pipeline`) walks the table in order and does caching and resuming once for
all of them. The per-frame stage (refine + render) follows in :mod:`disguisor.run.frames`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from disguisor.body.bodies_io import BodyFits, load_bodies, save_bodies
from disguisor.body.fit import fit_bodies
from disguisor.body.model import BodyModel, load_body_model
from disguisor.io.recording import Recording
from disguisor.pose2d.command import detect_recording, keypoints_from_file, make_pose_detector
from disguisor.pose2d.keypoints_io import Keypoints2D, load_keypoints, save_keypoints
from disguisor.pose3d.cameras import warn_if_views_do_not_overlap
from disguisor.pose3d.pipeline import depth_from_recording, estimate_poses3d
from disguisor.pose3d.poses import Poses3D, load_poses3d, save_poses3d
from disguisor.settings import PipelineConfig

ProgressFactory = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]


@contextmanager
def no_progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    yield lambda done: None


@dataclass
class StageContext:
    """What the stage functions share: the recording, the configuration, the results so far
    (stage name -> in-memory result) and the body model (loaded once)."""

    rec: Recording
    config: PipelineConfig
    progress: ProgressFactory = no_progress
    results: dict[str, Any] = field(default_factory=dict)
    _model: BodyModel | None = None

    def model(self) -> BodyModel:
        if self._model is None:
            self._model = load_body_model(self.config.fit.model, self.config.fit.smpl_dir)
        return self._model


def compute_keypoints(ctx: StageContext) -> Keypoints2D:
    """2D COCO-17 keypoints of every view: from ``keypoints.file`` (checked against the recording)
    or the ``keypoints.detector``."""
    kp = ctx.config.keypoints
    with ctx.progress("2D keypoints", len(ctx.rec.frames)) as update:
        if kp.file is not None:
            result = keypoints_from_file(ctx.rec, kp.file)
            update(len(ctx.rec.frames))
            return result
        detector = make_pose_detector(kp.detector, kp.pose_model, kp)
        try:
            return detect_recording(ctx.rec, detector, kp, update)
        finally:
            close = getattr(detector, "close", None)
            if close is not None:
                close()


def compute_pose3d(ctx: StageContext) -> Poses3D:
    """Tracked 3D skeletons (world metres, z up) from the keypoints of all views."""
    warn_if_views_do_not_overlap(ctx.rec.calibration)
    with ctx.progress("3D poses", None) as update:
        # people one camera sees are lifted to 3D with that camera's depth
        return estimate_poses3d(ctx.rec.calibration, ctx.results["keypoints"], ctx.config.pose3d,
                                ctx.config.tracking, update, depth_of=depth_from_recording(ctx.rec))


def compute_fit(ctx: StageContext) -> BodyFits:
    """Body-model fits (shape per track, pose per frame) of the tracked skeletons."""
    with ctx.progress("body fit", None) as update:
        return fit_bodies(ctx.results["pose3d"], ctx.model(), ctx.config.fit, update)


@dataclass(frozen=True)
class Stage:
    """One whole-recording stage.

    sections: the configuration sections its result depends on (its cache key). file: its stage
    file under ``out/stages/``. compute(ctx) -> result; save(path, result); load(path, ctx) -> result.
    """

    name: str
    sections: tuple[str, ...]
    file: str
    compute: Callable[[StageContext], Any]
    save: Callable[[Path, Any], None]
    load: Callable[[Path, StageContext], Any]


STAGES: tuple[Stage, ...] = (
    Stage("keypoints", ("keypoints", "fusion"), "keypoints2d.json", compute_keypoints, save_keypoints,
          lambda path, ctx: load_keypoints(path, ctx.rec.calibration)),
    Stage("pose3d", ("pose3d", "tracking"), "poses3d.json", compute_pose3d, save_poses3d,
          lambda path, ctx: load_poses3d(path)),
    Stage("fit", ("fit",), "bodies.json", compute_fit, save_bodies,
          lambda path, ctx: load_bodies(path, ctx.model())),
)
# the per-frame stage (disguisor.run.frames) and the settings its frames depend on
FRAME_STAGE = "render"
FRAME_SECTIONS = ("refine", "floor", "render", "run")
STAGE_NAMES = tuple(s.name for s in STAGES) + (FRAME_STAGE,)


def file_hash(path: str | Path) -> str:
    """Short sha256 of a file's bytes (inputs named in the configuration are keyed by content)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def section_settings(config: PipelineConfig, sections: tuple[str, ...]) -> dict[str, Any]:
    """The settings of ``sections`` for a cache key; files named there count by their content."""
    out: dict[str, Any] = {}
    for name in sections:
        values = asdict(getattr(config, name))
        for key in ("file", "pose_model", "also_2d_weights"):
            path = values.get(key)
            if path is not None and Path(path).is_file():
                values[key] = file_hash(path)
        out[name] = values
    return out
