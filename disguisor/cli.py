"""The ``disguisor`` command line (typer). Every command has ``--help``.

Bad input ends with one line ``error: <file>: <field>: <what is wrong>`` and exit code 2.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from disguisor import __version__
from disguisor.config import FusionParams, KinectImportParams, MissingFramePolicy, RecordingParams
from disguisor.errors import InputError

app = typer.Typer(help="Holistic multi-view face anonymization for RGB-D operating-room recordings.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
import_app = typer.Typer(help="Convert camera recordings into a disguisor recording.", no_args_is_help=True)
app.add_typer(import_app, name="import")

err_console = Console(stderr=True)
console = Console()
if not console.is_terminal:  # logs and pipes: wide enough for the evaluation table's columns
    console = Console(width=160)
_state = {"quiet": False}


def _version(value: bool) -> None:
    if value:
        console.print(f"disguisor {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug messages.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors; no progress bars.")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr, force=True)
    _state["quiet"] = quiet


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal (none with --quiet or when stderr is a log file);
    yields ``update(done)``."""
    if _state["quiet"] or not err_console.is_terminal:
        yield lambda done: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)


def _say(message: str) -> None:
    if not _state["quiet"]:
        console.print(message)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    return w, h


@app.command()
def info(
    recording: Annotated[Path, typer.Argument(help="Recording folder.")],
    missing_frames: Annotated[str, typer.Option(help="Policy for frames some cameras lack: partial, drop, error.")]
    = "partial",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Validate a recording and summarize its cameras and frames. Every frame file is checked to be
    whole (not truncated or damaged); damaged frames are listed and the exit code is 3."""
    from disguisor.io.recording import open_recording

    rec = open_recording(recording, RecordingParams(missing_frames=_policy(missing_frames)))
    damaged = [{"camera": cam, "frame": frame, "file": str(path), "problem": problem}
               for cam, frame, path, problem in rec.damaged_files()]
    summary = {
        "recording": str(rec.root),
        "frames": len(rec.frames),
        "first_frame": rec.frames[0] if rec.frames else None,
        "last_frame": rec.frames[-1] if rec.frames else None,
        "cameras": [{"name": c.name, "role": c.role, "size": [c.width, c.height],
                     "position_m": [round(float(v), 3) for v in c.t],
                     "missing_frames": len(rec.missing.get(c.name, []))} for c in rec.cameras],
        "damaged_frames": damaged,
    }
    if as_json:
        console.print_json(json.dumps(summary))
        if damaged:
            raise typer.Exit(code=3)
        return
    world = rec.calibration.world_description or "metres, z up"
    table = Table(title=f"{rec.root} — {len(rec.frames)} frames, world: {world}")
    for col in ("camera", "role", "size", "position (m)", "missing frames"):
        table.add_column(col)
    for c in summary["cameras"]:
        table.add_row(c["name"], c["role"], "x".join(map(str, c["size"])),
                      ", ".join(f"{v:.2f}" for v in c["position_m"]), str(c["missing_frames"]))
    console.print(table)
    if damaged:
        console.print(f"DAMAGED frame files ({len(damaged)}): these frames fail closed in `disguisor run`",
                      highlight=False, markup=False)
        for d in damaged:
            console.print(f"  {d['camera']} frame {d['frame']}: {d['file']}: {d['problem']}", highlight=False,
                          markup=False, soft_wrap=True)
        raise typer.Exit(code=3)


def _policy(text: str) -> MissingFramePolicy:
    if text not in ("partial", "drop", "error"):
        raise typer.BadParameter(f"--missing-frames must be partial, drop or error, not {text!r}")
    return text  # type: ignore[return-value]


@import_app.command("kinect")
def import_kinect_cmd(
    mkv: Annotated[list[Path], typer.Argument(help="One Azure Kinect MKV per device; the file name becomes "
                                                   "the camera name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Recording folder to create.")],
    extrinsics: Annotated[Optional[Path], typer.Option(help="JSON with each camera's role and pose in the "
                                                            "world (required for several devices).")] = None,
    sync_tolerance_ms: Annotated[float, typer.Option(help="Max timestamp difference when pairing frames.")]
    = KinectImportParams.sync_tolerance_ms,
    max_frames: Annotated[Optional[int], typer.Option(help="Import at most this many frames.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Import Azure Kinect recordings (.mkv) into the recording format, depth registered to colour."""
    from disguisor.io.kinect import import_kinect

    params = KinectImportParams(sync_tolerance_ms=sync_tolerance_ms)
    with _progress("importing", max_frames) as update:
        summary = import_kinect(mkv, out, extrinsics, params, overwrite=overwrite, max_frames=max_frames,
                                progress=update)
    _say(f"wrote {out}: {summary.frames} frame(s) from {len(summary.cameras)} camera(s); world: {summary.world}")
    for name, n in summary.dropped.items():
        if n:
            _say(f"  {name}: {n} capture(s) could not be paired with the first camera (see import.json)")
    for name, n in summary.colour_without_depth.items():
        if n:
            _say(f"  {name}: {n} frame(s) had no depth (written as 'no reading')")


@app.command()
def fuse(
    recording: Annotated[Path, typer.Argument(help="Recording folder.")],
    frame: Annotated[int, typer.Option(help="Frame number to fuse.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output point cloud (.ply).")],
    voxel_size: Annotated[float, typer.Option(help="Voxel edge in metres (0: keep every point).")]
    = FusionParams.voxel_size_m,
    stride: Annotated[int, typer.Option(help="Use every n-th pixel.")] = FusionParams.pixel_stride,
    remove_outliers: Annotated[bool, typer.Option(help="Statistical outlier removal (20 neighbours, 2 std).")]
    = False,
) -> None:
    """Fuse all views of one frame into a coloured point cloud in world coordinates (PLY)."""
    from disguisor.fusion import fuse_frame, write_ply
    from disguisor.io.recording import open_recording

    if out.suffix.lower() != ".ply":
        raise InputError(out, "output must end in .ply", field="--out")
    if stride < 1 or voxel_size < 0:
        raise InputError(None, "--stride must be >= 1 and --voxel-size >= 0", field="--stride/--voxel-size")
    params = FusionParams(pixel_stride=stride, voxel_size_m=voxel_size,
                          outlier_neighbors=20 if remove_outliers else 0)
    rec = open_recording(recording)
    cloud = fuse_frame(rec, frame, params)
    write_ply(cloud, out)
    _say(f"wrote {out}: {len(cloud)} points from {len(rec.cameras_at(frame))} camera(s)")


@app.command()
def preview(
    recording: Annotated[Path, typer.Argument(help="Recording folder.")],
    frame: Annotated[int, typer.Option(help="Frame number to show.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output image (.png or .jpg).")],
    tile_width: Annotated[int, typer.Option(help="Width of each colour/depth image in pixels.")] = 480,
    anonymized: Annotated[Optional[Path], typer.Option(help="Output folder of `disguisor run` or `disguisor "
                                                       "baseline`: show each original view beside its "
                                                       "anonymized version (hidden faces boxed) instead of depth.")]
    = None,
) -> None:
    """Write a contact sheet of one frame: every camera's colour beside its depth (or its anonymized view)."""
    from disguisor.io.atomic import write_image
    from disguisor.io.recording import frame_file_name, open_recording
    from disguisor.preview import before_after_sheet, contact_sheet

    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise InputError(out, "output must end in .png or .jpg", field="--out")
    rec = open_recording(recording)
    if frame not in rec.frames:
        raise InputError(recording, f"frame {frame} is not in the recording", field="--frame")
    if anonymized is None:
        write_image(out, contact_sheet(rec.views(frame), tile_width=max(64, tile_width)))
        _say(f"wrote {out}")
        return
    import cv2

    boxes: dict[str, list] = {}
    dets_path = anonymized / "detections.json"
    if dets_path.is_file():
        for d in json.loads(dets_path.read_text()):
            if d.get("frame") == frame and "camera" in d:
                boxes.setdefault(d["camera"], []).append(d["bbox"])
    pairs = []
    for cam in rec.cameras_at(frame):
        path = anonymized / cam.name / frame_file_name(frame, ".jpg")
        after = cv2.imread(str(path))
        if after is None:
            raise InputError(path, "anonymized image missing or unreadable", field="--anonymized")
        pairs.append((cam.name, rec.read_color(cam, frame), after))
    write_image(out, before_after_sheet(pairs, tile_width=max(64, tile_width), boxes=boxes))
    _say(f"wrote {out}")


@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="Recording folder to create.")],
    scenario: Annotated[str, typer.Option(help="easy (4 people, masks, few occlusions), medium (6 people, OR "
                                               "lights block faces), hard (4 people with caps and gowns, lights "
                                               "block two views), or boxes (exact box geometry, no people).")]
    = "easy",
    frames: Annotated[int, typer.Option(help="Number of frames (10 per second).")] = 10,
    cameras: Annotated[int, typer.Option(help="Number of cameras of the default rig (1-6).")] = 4,
    size: Annotated[str, typer.Option(help="Image size WIDTHxHEIGHT.")] = "1280x720",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
    keypoint_noise_px: Annotated[float, typer.Option(help="Pixel noise of the simulated 2D keypoints.")] = 2.0,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Generate a synthetic multi-camera RGB-D OR recording with ground truth (annotations.json,
    gt_poses3d.json, simulated keypoints2d.json)."""
    from disguisor.synth.generate import write_box_room

    scenarios = ("easy", "medium", "hard", "boxes")
    if scenario not in scenarios:
        raise InputError(None, f"unknown scenario {scenario!r} (available: {', '.join(scenarios)})",
                         field="--scenario")
    if frames < 1 or not 1 <= cameras <= 6:
        raise InputError(None, "need --frames >= 1 and 1 <= --cameras <= 6", field="--frames/--cameras")
    if keypoint_noise_px < 0:
        raise InputError(None, "must be >= 0", field="--keypoint-noise-px")
    wh = _size(size)
    if out.exists() and not overwrite:
        raise InputError(out, "output already exists (use --overwrite to replace it)")
    with _progress("rendering", frames) as update:
        if scenario == "boxes":
            write_box_room(out, frames=frames, n_cameras=cameras, size=wh, seed=seed, overwrite=overwrite,
                           progress=update)
        else:
            from disguisor.synth.or_scene import KeypointNoise, generate_or_recording

            generate_or_recording(out, scenario, frames=frames, size=wh, n_cameras=cameras, seed=seed,
                                  noise=KeypointNoise(pixel_sigma=keypoint_noise_px), overwrite=overwrite,
                                  progress=update)
    _say(f"wrote {out}: {frames} frame(s), {cameras} camera(s), scenario {scenario}")


ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="TOML configuration file (the layout of "
                                                   "`disguisor config show`).")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Change one setting, SECTION.FIELD=VALUE "
                                                     "(repeatable; wins over --config), e.g. render.dilate_m=0.03. "
                                                     "`disguisor config show` lists them all.")]


def _config(config_file: Path | None, sets: list[str] | None, **flags: object):
    """The effective configuration: defaults, then --config, then the command's own options that
    were given (each is a shorthand for one setting: ``section__field=value``), then --set."""
    from disguisor.settings import make_config

    shorthand = [f"{name.replace('__', '.')}={value}" for name, value in flags.items() if value is not None]
    return make_config(config_file, [*shorthand, *(sets or [])])


config_app = typer.Typer(help="The pipeline configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(config_file: ConfigOpt = None, sets: SetOpt = None) -> None:
    """Print the effective configuration as TOML (defaults, --config, --set): a run made with
    `--config` of this output is reproduced exactly."""
    from disguisor.settings import config_toml

    typer.echo(config_toml(_config(config_file, sets)), nl=False)


@app.command()
def pose3d(
    recording: Annotated[Optional[Path], typer.Argument(help="Recording folder (its calibration.json is used; "
                                                             "keypoints default to <recording>/keypoints2d.json).")]
    = None,
    calibration: Annotated[Optional[Path], typer.Option("--calibration", "-c",
                                                        help="calibration.json (instead of a recording).")] = None,
    keypoints: Annotated[Optional[Path], typer.Option(help="2D keypoints file (COCO keypoint format).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output poses3d.json.")] = Path("poses3d.json"),
    config_file: ConfigOpt = None, sets: SetOpt = None,
) -> None:
    """Associate 2D keypoints across views, triangulate, track and smooth: tracked 3D skeletons."""
    from disguisor.pose3d.command import pose3d_command

    cfg = _config(config_file, sets)
    source = calibration or recording
    if source is None:
        raise InputError(None, "give a recording folder or --calibration", field="RECORDING/--calibration")
    if keypoints is None:
        if recording is None:
            raise InputError(None, "--keypoints is required with --calibration", field="--keypoints")
        keypoints = recording / "keypoints2d.json"
    with _progress("3D poses", None) as update:
        poses = pose3d_command(source, keypoints, out, cfg.pose3d, cfg.tracking, progress=update)
    _say(f"wrote {out}: {len(poses.frames)} frame(s), {len(poses.ids)} tracked people")


@app.command("fit")
def fit_cmd(
    recording: Annotated[Optional[Path], typer.Argument(help="Recording folder (poses default to "
                                                             "<recording>/poses3d.json).")] = None,
    poses: Annotated[Optional[Path], typer.Option(help="Tracked 3D poses (poses3d.json).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Body model: anny or smpl (fit.model).")] = None,
    smpl_dir: Annotated[Optional[Path], typer.Option(help="Folder with the SMPL model files (fit.smpl_dir).")]
    = None,
    meshes: Annotated[Optional[Path], typer.Option(help="Also write one PLY mesh per person and frame here.")]
    = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output bodies.json.")] = Path("bodies.json"),
    config_file: ConfigOpt = None, sets: SetOpt = None,
) -> None:
    """Fit a body model (shape per track, pose per frame) to tracked 3D poses."""
    from disguisor.body.command import fit_command

    cfg = _config(config_file, sets, fit__model=model, fit__smpl_dir=smpl_dir)
    if poses is None:
        if recording is None:
            raise InputError(None, "give a recording folder or --poses", field="--poses")
        poses = recording / "poses3d.json"
    with _progress("body fit", None) as update:
        fits = fit_command(recording, poses, out, cfg.fit, meshes_dir=meshes, progress=update)
    n = sum(len(p) for p in fits.frames.values())
    _say(f"wrote {out}: {n} fitted person-frame(s) of {len(fits.shapes)} people ({fits.model})")


@app.command()
def keypoints(
    recording: Annotated[Path, typer.Argument(help="Recording folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output keypoints2d.json.")] = Path("keypoints2d.json"),
    detector: Annotated[Optional[str], typer.Option(help="keypoints.detector: blazepose (default), rtmpose or rtmo "
                                                         "(ONNX, --pose-model), or file (--keypoints-file).")]
    = None,
    pose_model: Annotated[Optional[Path], typer.Option(help="ONNX model for --detector rtmpose/rtmo.")] = None,
    keypoints_file: Annotated[Optional[Path], typer.Option(help="Precomputed keypoints (COCO keypoint format) "
                                                                "for --detector file.")] = None,
    config_file: ConfigOpt = None, sets: SetOpt = None,
) -> None:
    """2D COCO-17 keypoints of every person in every view (multi-person, depth-guided crops)."""
    from disguisor.io.recording import open_recording
    from disguisor.pose2d.command import keypoints_command

    cfg = _config(config_file, sets, keypoints__detector=detector, keypoints__pose_model=pose_model)
    name = cfg.keypoints.detector
    with _progress("2D keypoints", len(open_recording(recording, check_images=False).frames)) as update:
        result = keypoints_command(recording, out, name, cfg.keypoints.pose_model, keypoints_file, cfg.keypoints,
                                   progress=update)
    _say(f"wrote {out}: {len(result.images)} image(s), {len(result.detections)} people")


@app.command()
def refine(
    recording: Annotated[Path, typer.Argument(help="Recording folder (its depth is what heads are registered to).")],
    bodies: Annotated[Path, typer.Option(help="Body fits (bodies.json from `disguisor fit`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output faces.json (arrays go to faces.npz beside it).")]
    = Path("faces.json"),
    model: Annotated[Optional[str], typer.Option(help="Body model of the fits: anny or smpl (fit.model).")] = None,
    smpl_dir: Annotated[Optional[Path], typer.Option(help="Folder with the SMPL model files (fit.smpl_dir).")]
    = None,
    config_file: ConfigOpt = None, sets: SetOpt = None,
) -> None:
    """Register each fitted head to the depth (guarded rigid ICP) and extract the face surfaces."""
    from disguisor.io.recording import open_recording
    from disguisor.refine.command import refine_command

    cfg = _config(config_file, sets, fit__model=model, fit__smpl_dir=smpl_dir)
    frames = len(open_recording(recording).frames)
    with _progress("refine heads", frames) as update:
        n = refine_command(recording, bodies, out, cfg.fit, cfg.refine, progress=update)
    _say(f"wrote {out} and {out.with_suffix('.npz')}: {n} face(s) over {frames} frame(s)")


@app.command("run")
def run_cmd(
    recording: Annotated[Path, typer.Argument(help="Recording folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created; a rerun resumes it).")],
    keypoints: Annotated[Optional[Path], typer.Option(help="Precomputed 2D keypoints (COCO keypoint format) "
                                                           "instead of running a detector (keypoints.file).")] = None,
    detector: Annotated[Optional[str], typer.Option(help="2D pose detector when no --keypoints "
                                                         "(keypoints.detector).")] = None,
    pose_model: Annotated[Optional[Path], typer.Option(help="ONNX model for --detector rtmpose/rtmo.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Body model: anny or smpl (fit.model).")] = None,
    smpl_dir: Annotated[Optional[Path], typer.Option(help="Folder with the SMPL model files (fit.smpl_dir).")]
    = None,
    method: Annotated[Optional[str], typer.Option(help="How faces are hidden: template, blur, pixelate, blacken "
                                                       "(run.method).")] = None,
    template: Annotated[Optional[str], typer.Option(help="One template name for everyone (run.template; default: "
                                                         "one per person, stable over the recording).")] = None,
    also_2d: Annotated[Optional[str], typer.Option("--also-2d", help="Hybrid mode: also hide the faces this 2D "
                                                   "face detector finds (centerface, blazeface, dlib, dsfd).")]
    = None,
    also_2d_weights: Annotated[Optional[Path], typer.Option(help="Weights for --also-2d dsfd.")] = None,
    on_error: Annotated[Optional[str], typer.Option(help="Views of a frame that failed: blur (written fully "
                                                         "blurred) or withhold (not written) (run.on_error).")]
    = None,
    video: Annotated[Optional[bool], typer.Option("--video", help="Also write one MP4 per camera.")] = None,
    from_stage: Annotated[Optional[str], typer.Option("--from", help="Rerun from this stage: keypoints, pose3d, "
                                                      "fit, render.")] = None,
    config_file: ConfigOpt = None, sets: SetOpt = None,
) -> None:
    """Anonymize every face of a recording: keypoints, 3D poses, body fit, head refinement, render, blend."""
    from disguisor.run.pipeline import run_pipeline
    from disguisor.run.report import summary_text

    cfg = _config(config_file, sets, keypoints__file=keypoints, keypoints__detector=detector,
                  keypoints__pose_model=pose_model, fit__model=model, fit__smpl_dir=smpl_dir, run__method=method,
                  run__template=template, run__also_2d=also_2d, run__also_2d_weights=also_2d_weights,
                  run__on_error=on_error, run__video=video)
    report = run_pipeline(recording, out, cfg, from_stage=from_stage, progress=_progress)
    _say(summary_text(report).rstrip())
    if report.failed_frames:
        raise typer.Exit(code=3)


@app.command("eval")
def eval_cmd(
    gt: Annotated[Path, typer.Option("--gt", help="Ground-truth faces, COCO style with camera and frame per image "
                                                  "and person_id per box.")],
    pred: Annotated[Optional[Path], typer.Option("--pred", help="Detections, COCO results format (a list, or an "
                                                "object with 'annotations'). Optional with --anonymized.")] = None,
    iou: Annotated[float, typer.Option("--iou", help="Minimum IoU of a matched pair (0-1].")] = 0.4,
    coverage: Annotated[float, typer.Option("--coverage", help="Share of a ground-truth box that predicted boxes "
                                            "must cover for the 'covered' columns (0-1].")] = 0.9,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write every number to this JSON file.")]
    = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write PNG bar charts of recall and holistic "
                                                                "recall into this folder.")] = None,
    calibration: Annotated[Optional[Path], typer.Option("--calibration", help="calibration.json giving the "
                                                        "camera roles for images without a 'role'.")] = None,
    original: Annotated[Optional[Path], typer.Option("--original", help="The original recording (with "
                                                     "--anonymized).")] = None,
    anonymized: Annotated[Optional[Path], typer.Option("--anonymized", help="Anonymized output folder "
                          "(<camera>/<frame>.jpg): also report the share of ground-truth face boxes whose pixels "
                          "changed (> 6 grey levels on >= 50% of the box), per view and holistically.")] = None,
) -> None:
    """Face-localization evaluation: recall, precision, F1 and holistic recall (Hungarian matching);
    with --original/--anonymized, the faces actually hidden in the pixels."""
    from disguisor.evaluate import evaluate, load_camera_roles, load_ground_truth, load_predictions
    from disguisor.evaluate.report import results_table, write_json, write_plots

    if not 0.0 < iou <= 1.0:
        raise InputError(None, f"must be in (0, 1], not {iou:g}", field="--iou")
    if json_out is not None and json_out.is_dir():
        raise InputError(json_out, "is a folder; give a file name", field="--json")
    if plot is not None and plot.exists() and not plot.is_dir():
        raise InputError(plot, "exists and is not a folder", field="--plot")
    if pred is None and anonymized is None:
        raise InputError(None, "give --pred (box metrics) and/or --original with --anonymized (pixel check)",
                         field="--pred")
    if (original is None) != (anonymized is None):
        raise InputError(None, "--original and --anonymized go together",
                         field="--original" if original is None else "--anonymized")
    if plot is not None and pred is None:
        raise InputError(None, "the plots show box metrics and need --pred", field="--plot")
    truth = load_ground_truth(gt)
    roles = load_camera_roles(calibration, truth) if calibration is not None else None
    if not 0.0 < coverage <= 1.0:
        raise InputError(None, f"must be in (0, 1], not {coverage:g}", field="--coverage")
    result = None
    if pred is not None:
        result = evaluate(truth, load_predictions(pred, truth), iou_threshold=iou, camera_roles=roles,
                          coverage_threshold=coverage)
        console.print(results_table(result))
        if result.ignored_annotations or result.ignored_predictions:
            _say(f"ignored (category other than face): {result.ignored_annotations} ground-truth box(es), "
                 f"{result.ignored_predictions} prediction(s)")
    pixels = None
    if original is not None and anonymized is not None:
        from disguisor.evaluate.pixels import measure_pixel_privacy, pixel_result_to_json, pixel_table

        with _progress("pixel check", len({f.image_id for f in truth.faces})) as update:
            checked = measure_pixel_privacy(truth, original, anonymized, progress=update)
        console.print(pixel_table(checked))
        pixels = pixel_result_to_json(checked, original, anonymized)
    if json_out is not None:
        write_json(result, json_out, ground_truth=gt, predictions=pred, pixels=pixels)
        _say(f"wrote {json_out}")
    if plot is not None and result is not None:
        for path in write_plots(result, plot):
            _say(f"wrote {path}")


@app.command("baseline")
def baseline_cmd(
    recording: Annotated[Path, typer.Argument(help="Recording folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (written as a whole at the end).")],
    detector: Annotated[str, typer.Option(help="Face detector: centerface, blazeface, dlib, dlib-cnn, dsfd.")]
    = "centerface",
    method: Annotated[str, typer.Option(help="How faces are hidden: blur, pixelate, blacken.")] = "blur",
    weights: Annotated[Optional[Path], typer.Option(help="Model file for --detector dsfd "
                                                         "(WIDERFace_DSFD_RES152.pth).")] = None,
    score_threshold: Annotated[Optional[float], typer.Option(help="Minimum detector score 0-1 (default: the "
                                                                  "detector's own).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")] = False,
) -> None:
    """Per-image 2D face detection and classical obfuscation (the baselines): images + detections.json."""
    from disguisor.baselines.command import run_baseline

    report = run_baseline(recording, out, detector, method, weights=weights, score_threshold=score_threshold,
                          overwrite=overwrite, progress=_progress)
    _say(f"wrote {out}: {report.images} image(s), {report.faces} face(s) hidden by {report.detector} + "
         f"{report.method}, {1000 * report.seconds_per_image:.0f} ms/image detection")


@app.command("anonymize-images")
def anonymize_images_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Images, videos (PyAV) and folders of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (written as a whole at the end).")],
    method: Annotated[str, typer.Option(help="template (posed on the detector's landmarks; faces without "
                                              "reliable landmarks are blurred), blur, pixelate, blacken.")]
    = "template",
    template: Annotated[str, typer.Option(help="Template name for every face, or auto (nearest skin tone).")]
    = "auto",
    detector: Annotated[str, typer.Option(help="Face detector (templates need landmarks: scrfd).")] = "scrfd",
    score_threshold: Annotated[Optional[float], typer.Option(help="Minimum detector score 0-1.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")] = False,
) -> None:
    """Anonymize faces in plain images and videos (no calibration): templates or blur + detections.json."""
    from disguisor.images.anonymize import ImagesParams, anonymize_paths

    params = ImagesParams(detector=detector, score_threshold=score_threshold, method=method, template=template)
    report = anonymize_paths(paths, out, params, overwrite=overwrite, progress=_progress)
    how = ", ".join(f"{n} by {k}" for k, n in sorted(report.hidden_by.items())) or "none"
    _say(f"wrote {out}: {report.images} image(s), {report.videos} video(s), {report.faces} face(s) hidden ({how})")


@app.command("quality")
def quality_cmd(
    original: Annotated[Path, typer.Option("--original", help="The original recording folder.")],
    anonymized: Annotated[Path, typer.Option("--anonymized", help="Output folder of run or baseline "
                                                                  "(<camera>/<frame>.jpg).")],
    gt: Annotated[Path, typer.Option("--gt", help="Ground-truth face boxes (annotations.json).")],
    weights_dir: Annotated[Optional[Path], typer.Option("--weights-dir", help="Folder with backbone weights "
                                                        "(alexnet*.pth or vgg16*.pth, torchvision layout) and "
                                                        "LPIPS alex.pth/vgg.pth: adds LPIPS and DPS; "
                                                        "pt_inception-2015-12-05-*.pth (pytorch-fid): the "
                                                        "standard FID.")] = None,
    backbone: Annotated[Optional[str], typer.Option(help="alex or vgg (default: whichever is in --weights-dir).")]
    = None,
    identity: Annotated[bool, typer.Option("--identity/--no-identity", help="Measure identity leakage (dlib).")]
    = True,
    identity_at_box: Annotated[bool, typer.Option("--identity-at-box", help="Diagnostic: embed originals dlib cannot "
                                                  "find at their ground-truth box (context-dominated).")] = False,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write every number to this JSON file.")]
    = None,
) -> None:
    """Image quality (SSIM, LPIPS, DPS, FID) and identity leakage of anonymized ground-truth faces."""
    from disguisor.quality.command import measure_quality, report_rows, write_report
    from disguisor.quality.params import QualityParams

    if backbone not in (None, "alex", "vgg"):
        raise InputError(None, f"must be alex or vgg, not {backbone!r}", field="--backbone")
    if json_out is not None and json_out.is_dir():
        raise InputError(json_out, "is a folder; give a file name", field="--json")
    with _progress("faces", None) as update:
        report = measure_quality(original, anonymized, gt, weights_dir=weights_dir, backbone=backbone,
                                 identity=identity, params=QualityParams(identity_at_box=identity_at_box),
                                 progress=update)
    table = Table(title=f"quality of {anonymized}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report_rows(report):
        table.add_row(name, value)
    console.print(table)
    if json_out is not None:
        write_report(report, json_out, original=original, anonymized=anonymized, gt=gt, weights_dir=weights_dir)
        _say(f"wrote {json_out}")


# `disguisor batch`: disguisor/batch/command.py (Ray is imported only when a batch runs)
from disguisor.batch.command import batch_cmd  # noqa: E402

app.command("batch")(batch_cmd)


def main() -> None:
    """Console entry point: failures end in one line, never a traceback.

    Exit codes: 2 bad input, or an OS error before anything was written (``error: <path>: <what>``);
    3 an OS error mid-run (what was finished is kept; the same command resumes); 130/143
    interrupted by SIGINT/SIGTERM (one line: what was kept, how to resume).
    """
    from disguisor.run.guard import OutputError
    from disguisor.run.signals import Interrupted, interrupts_raise

    def say(line: str) -> None:
        err_console.print(line, highlight=False, soft_wrap=True, markup=False)

    try:
        with interrupts_raise():
            app()
    except InputError as exc:
        say(f"error: {exc}")
        sys.exit(2)
    except OutputError as exc:
        say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except Interrupted as exc:
        say(exc.message())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        say("interrupted (SIGINT)")
        sys.exit(130)
    except OSError as exc:
        say(f"error: {exc.filename or '<output>'}: {exc.strerror or exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
