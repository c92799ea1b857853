"""``disguisor keypoints``: 2D COCO-17 keypoints of every person in every view -> ``keypoints2d.json``.

Detectors (``--detector``): ``blazepose`` (default; ships in the MediaPipe wheel, made multi-person
with depth-based person proposals), ``rtmpose`` (top-down, on the same proposals) and ``rtmo``
(one stage) with a user-supplied ONNX model (``--pose-model``), and ``file``: keypoints from any
external detector (``--keypoints-file``), validated against the recording and normalized.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from disguisor.errors import InputError
from disguisor.fusion import RayCache
from disguisor.io.recording import Recording, open_recording
from disguisor.pose2d.detector import PoseDetector, deduplicate
from disguisor.pose2d.keypoints_io import Detection, KeypointImage, Keypoints2D, load_keypoints, save_keypoints
from disguisor.pose2d.params import KeypointsParams
from disguisor.pose2d.proposals import BackgroundModel, frame_points, propose_boxes, propose_lying

log = logging.getLogger(__name__)

# joints of a keypoints file outside their image: up to EDGE_SLACK_PX kept (sub-pixel rounding, noise at the
# border), up to EDGE_FAR_SHARE of the image size set to score 0, further out refused (wrong coordinates)
EDGE_SLACK_PX = 2.0
EDGE_FAR_SHARE = 0.05

DETECTORS = ("blazepose", "movenet", "ensemble", "rtmpose", "rtmo", "file")


def make_pose_detector(name: str, pose_model: str | Path | None = None,
                       params: KeypointsParams | None = None) -> PoseDetector:
    """A detector by name: ``blazepose``; ``movenet`` (MoveNet MultiPose on the whole image and on
    oriented crops of the boxes); ``ensemble`` (MoveNet + CenterNet boxes [+ BlazePose], merged per
    person); ``rtmpose`` or ``rtmo`` (these two need ``pose_model``)."""
    params = params or KeypointsParams()
    if name == "blazepose":
        from disguisor.pose2d.blazepose import BlazePoseDetector

        return BlazePoseDetector(params.blazepose)
    if name == "movenet":
        from disguisor.pose2d.movenet import MoveNetDetector

        return MoveNetDetector(params.movenet)
    if name == "ensemble":
        from disguisor.pose2d.ensemble import EnsembleDetector

        return EnsembleDetector(params)
    if name in ("rtmpose", "rtmo"):
        if pose_model is None:
            raise InputError(None, f"--detector {name} needs an ONNX model file (--pose-model PATH)",
                             field="--pose-model")
        from disguisor.pose2d.onnx_pose import RTMODetector, RTMPoseDetector

        cls = RTMPoseDetector if name == "rtmpose" else RTMODetector
        return cls(pose_model, params.onnx)
    raise InputError(None, f"unknown detector {name!r} (available: {', '.join(DETECTORS)})", field="--detector")


def _image_entry(rec: Recording, image_id: int, camera: str, frame: int) -> KeypointImage:
    cam = rec.calibration.camera(camera)
    path = rec.color_path(camera, frame)
    return KeypointImage(id=image_id, file_name=path.relative_to(rec.root).as_posix(), width=cam.width,
                         height=cam.height, camera=camera, frame=frame)


def detection_frames(frames: list[int], every: int) -> set[int]:
    """The frames the detectors run on with ``keypoints.every = every``: every ``every``-th
    frame of the recording, and always the last (tracks then end where the recording does)."""
    if every <= 1 or not frames:
        return set(frames)
    return set(frames[::every]) | {frames[-1]}


def detect_recording(rec: Recording, detector: PoseDetector, params: KeypointsParams | None = None,
                     progress: Callable[[int], None] | None = None) -> Keypoints2D:
    """Run ``detector`` on every view of every frame. Top-down detectors get person boxes from the
    depth proposals of all views; ``rtmo`` looks at whole images only."""
    params = params or KeypointsParams()
    use_boxes = detector.name != "rtmo"
    rays = RayCache()
    background = BackgroundModel(rec, params.proposals) if use_boxes else None
    images: dict[int, KeypointImage] = {}
    detections: list[Detection] = []
    detected = detection_frames(rec.frames, params.every)
    for done, frame in enumerate(rec.frames, start=1):
        if frame not in detected:  # an image entry without people: tracking carries them over
            for cam in rec.cameras_at(frame):
                img = _image_entry(rec, len(images) + 1, cam.name, frame)
                images[img.id] = img
            if progress is not None:
                progress(done)
            continue
        views = rec.views(frame)
        along = getattr(detector, "looks_along_axes", False)
        # without a background model both proposal kinds cluster the same points: read them once
        shared = along and use_boxes and not background.enabled
        raw = frame_points(views, params.proposals, rays) if shared else None
        boxes = propose_boxes(views, params.proposals, rays, background, raw)[1] if use_boxes else {}
        lying = propose_lying(views, params.proposals, rays, raw) if along else {}
        for view in views:
            name = view.camera.name
            img = _image_entry(rec, len(images) + 1, name, frame)
            images[img.id] = img
            rgb = np.ascontiguousarray(view.color[:, :, ::-1])
            # detectors that remember each view's last image (MoveNet's empty boxes) get its name
            extra = {"view": name} if getattr(detector, "remembers_views", False) else {}
            if along:
                extra["lying"] = lying.get(name, [])
            found = deduplicate(detector.detect(rgb, boxes.get(name), **extra), params.dedup.oks_threshold,
                                params.dedup.box_iou_threshold, params.dedup.head_ratio)
            for pose in found:
                x0, y0, x1, y1 = pose.box
                detections.append(Detection(id=len(detections) + 1, image_id=img.id, camera=name, frame=frame,
                                            keypoints=pose.keypoints, score=pose.score,
                                            bbox=(x0, y0, x1 - x0, y1 - y0), index=len(detections)))
        if progress is not None:
            progress(done)
    info = {"detector": detector.name, "description": f"disguisor keypoints ({detector.name})"}
    if params.every > 1:
        info["detected_frames"] = sorted(detected)
    path = getattr(detector, "path", None)
    if path is not None:
        info["model"] = str(path)
    return Keypoints2D(images=images, detections=tuple(detections), info=info)


def keypoints_from_file(rec: Recording, keypoints_file: str | Path) -> Keypoints2D:
    """External keypoints checked against the recording: cameras and sizes (by the calibration),
    every image's frame present for its camera, detected joints inside the image. Normalized:
    images renumbered in (frame, camera) order with the recording's file names, annotations
    renumbered in that order; person ids and ``info`` kept."""
    source = Path(keypoints_file)
    kp = load_keypoints(source, rec.calibration)
    where = {img_id: i for i, img_id in enumerate(kp.images)}
    for img_id, img in kp.images.items():
        if img.frame not in rec.frames or rec.calibration.camera(img.camera) not in rec.cameras_at(img.frame):
            raise InputError(source, f"camera {img.camera!r} has no frame {img.frame} in the recording {rec.root}",
                             field=f"images[{where[img_id]}]")
    dropped = 0
    detections = []
    for det in kp.detections:
        img = kp.images[det.image_id]
        ok = det.keypoints[:, 2] > 0
        x, y = det.keypoints[:, 0], det.keypoints[:, 1]
        # beyond the image by at most EDGE_SLACK_PX: sub-pixel rounding or detector noise at the border, kept
        off = np.maximum(np.maximum(-0.5 - x, x - (img.width - 0.5)), np.maximum(-0.5 - y, y - (img.height - 0.5)))
        off = np.where(ok, off, -np.inf)
        far = off > EDGE_FAR_SHARE * max(img.width, img.height)
        if far.any():
            j = int(np.flatnonzero(far)[0])
            raise InputError(source, f"joint {j} at ({float(x[j]):g}, {float(y[j]):g}) is outside the "
                             f"{img.width}x{img.height} image but has a score; use score 0 for joints not "
                             "detected", field=f"annotations[{det.index}].keypoints")
        near = off > EDGE_SLACK_PX
        if near.any():  # a little outside: not a wrong coordinate system, just not a usable joint
            keypoints = det.keypoints.copy()
            keypoints[near, 2] = 0.0
            dropped += int(near.sum())
            det = replace(det, keypoints=keypoints)
        detections.append(det)
    if dropped:
        log.warning("%s: %d joint(s) lying just outside their image were set to score 0", source, dropped)
    kp = replace(kp, detections=tuple(detections))
    order = sorted(kp.images.values(), key=lambda im: (im.frame, rec.calibration.names.index(im.camera)))
    new_id = {img.id: i for i, img in enumerate(order, start=1)}
    images = {new_id[img.id]: _image_entry(rec, new_id[img.id], img.camera, img.frame) for img in order}
    dets = sorted(kp.detections, key=lambda d: (new_id[d.image_id], d.index))
    detections = tuple(Detection(id=i, image_id=new_id[d.image_id], camera=d.camera, frame=d.frame,
                                 keypoints=d.keypoints, score=d.score, bbox=d.bbox, person_id=d.person_id, index=i - 1)
                       for i, d in enumerate(dets, start=1))
    info = dict(kp.info or {})
    info.setdefault("source", str(source))
    return Keypoints2D(images=images, detections=detections, info=info)


def keypoints_command(recording: str | Path, out_path: str | Path, detector: str = "ensemble",
                      pose_model: str | Path | None = None, keypoints_file: str | Path | None = None,
                      params: KeypointsParams | None = None,
                      progress: Callable[[int], None] | None = None) -> Keypoints2D:
    """Detect (or import with ``detector='file'``) 2D keypoints of a recording; write ``out_path``
    atomically. Raises :class:`~disguisor.errors.InputError` for bad inputs (nothing written)."""
    params = params or KeypointsParams()
    out_path = Path(out_path)
    if out_path.is_dir():
        raise InputError(out_path, "is a folder; give a file name such as keypoints2d.json", field="--out")
    if detector not in DETECTORS:
        raise InputError(None, f"unknown detector {detector!r} (available: {', '.join(DETECTORS)})",
                         field="--detector")
    if (detector == "file") != (keypoints_file is not None):
        raise InputError(None, "--keypoints-file goes with --detector file (and only with it)",
                         field="--keypoints-file")
    if detector in ("rtmpose", "rtmo") and pose_model is None:
        raise InputError(None, f"--detector {detector} needs an ONNX model file (--pose-model PATH)",
                         field="--pose-model")
    rec = open_recording(recording)
    if detector == "file":
        assert keypoints_file is not None
        result = keypoints_from_file(rec, keypoints_file)
        if progress is not None:
            progress(len(rec.frames))
    else:
        det = make_pose_detector(detector, pose_model, params)
        try:
            result = detect_recording(rec, det, params, progress)
        finally:
            close = getattr(det, "close", None)
            if close is not None:
                close()
    save_keypoints(out_path, result)
    return result
