"""Commands that run pipeline stages: config show, keypoints, pose3d, fit, refine, run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from disguisor.cli.base import (
    Also2dOpt,
    Also2dWeightsOpt,
    ConfigOpt,
    DetectorOpt,
    FromOpt,
    MethodOpt,
    ModelOpt,
    OnErrorOpt,
    PoseModelOpt,
    SetOpt,
    SmplDirOpt,
    TemplateOpt,
    VideoOpt,
    _config,
    _progress,
    _say,
    app,
)
from disguisor.errors import InputError

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
    detector: Annotated[Optional[str], typer.Option(help="keypoints.detector: ensemble (default), movenet, "
                                                         "blazepose, rtmpose or rtmo (ONNX, --pose-model), or "
                                                         "file (--keypoints-file).")]
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
    poses: Annotated[Optional[Path], typer.Option(help="The 3D poses the fits were made from (poses3d.json), for "
                                                       "the second start (refine.reorient_min_deg, "
                                                       "reorient_min_shift_m): a refused head fitted far from its "
                                                       "3D head joints is placed from them, as `disguisor run` "
                                                       "does.")] = None,
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
        n = refine_command(recording, bodies, out, cfg.fit, cfg.refine, progress=update, poses_path=poses)
    _say(f"wrote {out} and {out.with_suffix('.npz')}: {n} face(s) over {frames} frame(s)")


@app.command("run")
def run_cmd(
    recording: Annotated[Path, typer.Argument(help="Recording folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created; a rerun resumes it).")],
    keypoints: Annotated[Optional[Path], typer.Option(help="Precomputed 2D keypoints (COCO keypoint format) "
                                                           "instead of running a detector (keypoints.file).")] = None,
    detector: DetectorOpt = None, pose_model: PoseModelOpt = None, model: ModelOpt = None,
    smpl_dir: SmplDirOpt = None, method: MethodOpt = None, template: TemplateOpt = None, also_2d: Also2dOpt = None,
    also_2d_weights: Also2dWeightsOpt = None, on_error: OnErrorOpt = None, video: VideoOpt = None,
    from_stage: FromOpt = None,
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
