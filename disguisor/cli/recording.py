"""Commands on recordings: info, import kinect, fuse, preview, synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from disguisor.cli.base import _progress, _say, _size, app, console, import_app
from disguisor.config import FusionParams, KinectImportParams, MissingFramePolicy, RecordingParams
from disguisor.errors import InputError


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
    seed: Annotated[int, typer.Option(help="Random seed (same seed: same people, depth, ground truth).")] = 0,
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
