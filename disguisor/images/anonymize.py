"""``disguisor anonymize-images PATH... -o OUT``: faces in single images, folders and videos.

No calibration and no depth: each picture goes through a 2D face detector with landmarks (SCRFD
by default). A face whose landmarks are reliable gets a face template posed on them
(:mod:`disguisor.render.face2d`); any other face, and every face with ``method`` blur /
pixelate / blacken, has its box (grown by ``box_margin``) hidden the classical way.

Inputs: image files (``.jpg .jpeg .png .bmp .tif .tiff .webp``), video files (``.mp4 .mov .mkv
.avi .webm .m4v``, read and written with PyAV: same frame rate and timestamps, audio streams
copied untouched, video re-encoded as H.264, or MPEG-4 part 2 where H.264 is missing) and folders
of them (searched recursively). Output folder, written under a temporary name and moved into
place at the end (complete or absent)::

    OUT/<name of each input file>        anonymized, same format
    OUT/<folder name>/<relative path>    for files found in an input folder
    OUT/detections.json                  COCO results (disguisor.io.detections.face_detection):
                                         image_id, bbox [x, y, w, h] px, score, camera = output
                                         file (relative), frame (video frame index, 0 for
                                         images), source "2d:<detector>", hidden_by
    OUT/images.json                      COCO images: id, file_name, width, height, camera, frame
    OUT/anonymize.json                   settings, counts, timings

Template choice ("auto"): per face, the template whose skin colour is nearest to the face's
median colour (cheeks and forehead under the posed template, in RGB), among templates without
mask or cap (photographs outside the OR); in a video a face keeps the template of the face it
overlaps in the previous frame, so templates do not flicker.

Per-face variation: each face gets its own copy of its template, varied in geometry and tone by
:mod:`disguisor.render.variation` from the key (``seed``, the picture's CRC-32, the face's index
in the picture), so two people given one template do not become one drawn person; the output is
reproducible (same inputs and seed, same pictures). A video face that continues a face of the
previous frame keeps that face's key (no flicker).
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from disguisor.boxes import box_iou
from disguisor.errors import InputError
from disguisor.io.atomic import atomic_write_text, staged_output_dir, write_image
from disguisor.io.detections import FACE_CATEGORY, face_detection
from disguisor.render.face2d import Face2DParams, blur_box, landmark_check, paint_template
from disguisor.render.obfuscate import ObfuscationParams, box_mask, obfuscate
from disguisor.render.templates import TEMPLATE_SIZE, Template, load_templates
from disguisor.render.variation import VariationParams, vary_template

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
METHODS = ("template", "blur", "pixelate", "blacken")
ProgressFactory = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]


@dataclass(frozen=True)
class ImagesParams:
    """Settings of ``anonymize-images``.

    detector: 2D face detector; templates need one with landmarks (``scrfd``). score_threshold:
    its minimum score (None: the detector's default). method: template, blur, pixelate or
    blacken. template: a template name for everyone, or "auto" (module docstring). box_margin:
    share of a box's size added on every side before blur / pixelate / blacken. jpeg_quality:
    of written JPEGs. video_crf: H.264 quality (lower = better, 18 = visually lossless).
    track_iou: box overlap that makes a video face the same as one of the previous frame.
    seed: of the per-face template variation (module docstring); variation: its ranges
    (``VariationParams(enabled=False)``: every face gets the template as drawn).
    """

    detector: str = "scrfd"
    score_threshold: float | None = None
    method: str = "template"
    template: str = "auto"
    box_margin: float = 0.10
    jpeg_quality: int = 95
    video_crf: int = 18
    track_iou: float = 0.3
    seed: int = 0
    variation: VariationParams = field(default_factory=VariationParams)
    face2d: Face2DParams = field(default_factory=Face2DParams)
    obfuscation: ObfuscationParams = field(default_factory=ObfuscationParams)


@dataclass
class HiddenFace:
    """One face hidden in one picture: box (x, y, w, h, score px), how ("template:<name>",
    "blur", "pixelate", "blacken"), and why no template was used when one was asked for."""

    box: tuple[float, float, float, float, float]
    hidden_by: str
    reason: str = ""


def _plain_templates(templates: dict[str, Template]) -> list[Template]:
    """Templates without mask or cap (all of them when none is plain)."""
    plain = [t for t in templates.values() if not t.info.get("has_mask") and not t.info.get("has_cap")]
    return sorted(plain or templates.values(), key=lambda t: t.name)


def face_tone(image: np.ndarray, check) -> np.ndarray:
    """Median RGB of the face's skin: forehead and both cheeks under the posed template."""
    pts = np.array([[0.5, 0.30], [0.30, 0.58], [0.70, 0.58]]) * TEMPLATE_SIZE
    centres = pts @ check.transform[:, :2].T + check.transform[:, 2]
    r = max(int(check.eye_px * 0.15), 1)
    H, W = image.shape[:2]
    samples = []
    for x, y in centres:
        x0, y0 = int(np.clip(x - r, 0, W - 1)), int(np.clip(y - r, 0, H - 1))
        x1, y1 = int(np.clip(x + r + 1, 1, W)), int(np.clip(y + r + 1, 1, H))
        samples.append(image[y0:y1, x0:x1].reshape(-1, 3))
    return np.median(np.concatenate(samples).astype(np.float32), axis=0)


def nearest_tone(tone: np.ndarray, templates: list[Template]) -> Template:
    """The template whose skin colour (templates.json ``skin``) is nearest to ``tone`` (RGB)."""
    skins = np.array([t.info.get("skin", (180, 140, 110)) for t in templates], float)
    return templates[int(np.argmin(np.linalg.norm(skins - tone, axis=1)))]


class ImageAnonymizer:
    """Detector, templates and settings; :meth:`__call__` anonymizes one RGB picture."""

    def __init__(self, params: ImagesParams = ImagesParams(), templates: dict[str, Template] | None = None):
        from disguisor.facedet.detectors import DetectorParams, make_face_detector

        if params.method not in METHODS:
            raise InputError(None, f"unknown method {params.method!r} (available: {', '.join(METHODS)})",
                             field="--method")
        self.params = params
        self.templates = templates if templates is not None else load_templates()
        if params.template != "auto" and params.template not in self.templates:
            raise InputError(None, f"unknown template {params.template!r}; available: auto, "
                             f"{', '.join(sorted(self.templates))}", field="--template")
        self.plain = _plain_templates(self.templates)
        self.detector = make_face_detector(params.detector, None, params.score_threshold, DetectorParams())
        if params.method == "template" and not hasattr(self.detector, "detect_landmarks"):
            log.warning("detector %s gives no landmarks: every face is blurred", params.detector)
        # (box, template name, variation key) of the faces of the last video frame
        self._previous: list[tuple[np.ndarray, str, tuple[int, ...]]] = []
        self._varied: dict[tuple[str, tuple[int, ...]], Template] = {}  # (name, key) -> varied template

    def reset_track(self) -> None:
        """Forget the previous frame's faces (call between videos)."""
        self._previous = []

    def _template_for(self, image: np.ndarray, box: np.ndarray, check,
                      key: tuple[int, ...]) -> tuple[Template, tuple[int, ...]]:
        """The (varied) template of a face and its variation key: a continued video face keeps
        the template and key of the face it overlaps in the previous frame."""
        name = None
        if self._previous:
            ious = box_iou(box[None, :4], np.array([b[:4] for b, _, _ in self._previous]))[0]
            j = int(np.argmax(ious))
            if ious[j] >= self.params.track_iou:
                name, key = self._previous[j][1], self._previous[j][2]
        if name is None:
            name = (self.params.template if self.params.template != "auto"
                    else nearest_tone(face_tone(image, check), self.plain).name)
        if (name, key) not in self._varied:
            if len(self._varied) >= 64:  # ~0.4 MB each; a dropped one is drawn again, identically
                self._varied.clear()
            self._varied[(name, key)] = vary_template(self.templates[name], key, self.params.variation)
        return self._varied[(name, key)], key

    def __call__(self, image_rgb: np.ndarray) -> tuple[np.ndarray, list[HiddenFace]]:
        """The anonymized picture (H, W, 3) uint8 RGB and the faces hidden in it."""
        p = self.params
        if hasattr(self.detector, "detect_landmarks"):
            boxes, marks = self.detector.detect_landmarks(image_rgb)
        else:
            boxes, marks = self.detector.detect(image_rgb), None
        out = image_rgb
        hidden: list[HiddenFace] = []
        current: list[tuple[np.ndarray, str, tuple[int, ...]]] = []
        picture = zlib.crc32(np.ascontiguousarray(image_rgb[::4, ::4]).tobytes())
        for i, box in enumerate(boxes):
            box_t = tuple(float(v) for v in box[:5])
            if p.method != "template":
                grown = np.array([[box[0] - box[2] * p.box_margin, box[1] - box[3] * p.box_margin,
                                   box[2] * (1 + 2 * p.box_margin), box[3] * (1 + 2 * p.box_margin)]])
                out = obfuscate(out, box_mask(out.shape[:2], grown), p.method, p.obfuscation)
                hidden.append(HiddenFace(box_t, p.method))
                continue
            reason = "detector gives no landmarks"
            if marks is not None:
                probe = self.templates[p.template] if p.template != "auto" else self.plain[0]
                check = landmark_check(probe, box, marks[i], p.face2d)
                reason = check.reason
                if check.reliable:
                    template, key = self._template_for(image_rgb, box, check, (p.seed, picture, i))
                    out, _ = paint_template(out, template, check, p.face2d)
                    hidden.append(HiddenFace(box_t, f"template:{template.name}"))
                    current.append((np.asarray(box, float), template.name, key))
                    continue
            out, _ = blur_box(out, box, p.face2d)
            hidden.append(HiddenFace(box_t, "blur", reason))
        self._previous = current
        return (out if out is not image_rgb else image_rgb.copy()), hidden


def anonymize_image(image_rgb: np.ndarray,
                    params: ImagesParams = ImagesParams()) -> tuple[np.ndarray, list[HiddenFace]]:
    """One picture (H, W, 3) uint8 RGB -> anonymized copy and its hidden faces (loads the models
    each call: for many pictures use :class:`ImageAnonymizer`)."""
    return ImageAnonymizer(params)(image_rgb)


# --- inputs -----------------------------------------------------------------------------------

def collect_inputs(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(input file, output path relative to OUT) of every image and video in ``paths``."""
    known = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    pairs: list[tuple[Path, Path]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in known)
            if not files:
                raise InputError(path, f"folder holds no images or videos ({', '.join(known)})")
            pairs += [(f, Path(path.resolve().name) / f.relative_to(path)) for f in files]
        elif path.is_file():
            if path.suffix.lower() not in known:
                raise InputError(path, f"not an image or video file (extensions: {', '.join(known)})")
            pairs.append((path, Path(path.name)))
        else:
            raise InputError(path, "no such file or folder")
    seen: dict[Path, Path] = {}
    for src, rel in pairs:
        if rel in seen:
            raise InputError(src, f"would be written to the same output as {seen[rel]} ({rel}); "
                             "give them in separate runs or folders")
        seen[rel] = src
    if not pairs:
        raise InputError(None, "give at least one image, video or folder", field="PATH")
    return pairs


def read_image_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "cannot be read as an image")
    return np.ascontiguousarray(image[..., ::-1])


# --- videos -----------------------------------------------------------------------------------

def _video_codec() -> str:
    import av

    for name in ("libx264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # noqa: BLE001 - any failure means "not available here"
            continue
    raise InputError("av", "PyAV has neither an H.264 nor an MPEG-4 encoder")


def anonymize_video(src: Path, dst: Path, anonymizer: ImageAnonymizer, on_frame: Callable[[int, np.ndarray,
                    list[HiddenFace]], None]) -> dict[str, Any]:
    """Re-encode ``src`` into ``dst`` with every frame anonymized; audio copied. ``on_frame``
    gets (frame index, anonymized RGB frame, hidden faces). Returns fps, frames, codec, audio."""
    import av

    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(src, f"cannot be opened as a video ({exc})") from None
    with inp:
        if not inp.streams.video:
            raise InputError(src, "has no video stream")
        vin = inp.streams.video[0]
        rate = vin.average_rate or vin.guessed_rate
        if not rate:
            raise InputError(src, "video stream has no frame rate")
        audio = list(inp.streams.audio)
        codec = _video_codec()
        anonymizer.reset_track()
        frames = 0
        with av.open(str(dst), "w") as out:
            vout = out.add_stream(codec, rate=rate)
            vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
            vout.pix_fmt = "yuv420p"
            vout.time_base = vin.time_base
            if codec == "libx264":
                vout.options = {"crf": str(anonymizer.params.video_crf), "preset": "medium"}
            aouts = {a.index: out.add_stream_from_template(a) for a in audio}
            for packet in inp.demux(vin, *audio):
                if packet.stream.index in aouts:
                    if packet.dts is None:
                        continue  # the demuxer's flush packet
                    packet.stream = aouts[packet.stream.index]
                    out.mux(packet)
                    continue
                for frame in packet.decode():
                    rgb = frame.to_ndarray(format="rgb24")
                    anon, hidden = anonymizer(rgb)
                    on_frame(frames, anon, hidden)
                    new = av.VideoFrame.from_ndarray(np.ascontiguousarray(anon), format="rgb24")
                    new.pts, new.time_base = frame.pts, frame.time_base
                    out.mux(vout.encode(new))
                    frames += 1
            out.mux(vout.encode(None))
    if frames == 0:
        raise InputError(src, "video has no decodable frames")
    return {"fps": float(rate), "frames": frames, "codec": codec, "audio_streams": len(audio)}


# --- the command ------------------------------------------------------------------------------

@dataclass
class ImagesReport:
    """What a run did: pictures (images + video frames), faces hidden, by how, and seconds."""

    inputs: int
    images: int
    videos: int
    pictures: int
    faces: int
    hidden_by: dict[str, int]
    seconds_total: float
    out: str
    files: list[dict[str, Any]] = field(default_factory=list)


def anonymize_paths(paths: list[str | Path], out: str | Path, params: ImagesParams = ImagesParams(),
                    overwrite: bool = False, progress: ProgressFactory | None = None) -> ImagesReport:
    """Anonymize every image and video of ``paths`` into ``out`` (see the module docstring)."""
    t_start = time.perf_counter()
    out = Path(out)
    pairs = collect_inputs([Path(p) for p in paths])
    for src, _ in pairs:
        if out.resolve() == src.resolve() or out.resolve() in src.resolve().parents:
            raise InputError(out, f"output folder contains the input {src}", field="--out")
    anonymizer = ImageAnonymizer(params)
    detections: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    source = f"2d:{params.detector}"

    def record(rel: Path, frame: int, image: np.ndarray, hidden: list[HiddenFace]) -> None:
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": rel.as_posix(), "width": int(image.shape[1]),
                       "height": int(image.shape[0]), "camera": rel.as_posix(), "frame": frame})
        for face in hidden:
            entry = face_detection(image_id, face.box[:4], rel.as_posix(), frame, source, face.box[4])
            entry["hidden_by"] = face.hidden_by
            if face.reason:
                entry["template_refused"] = face.reason
            detections.append(entry)
            kind = face.hidden_by.split(":")[0]
            counts[kind] = counts.get(kind, 0) + 1

    bar = progress("files", len(pairs)) if progress is not None else nullcontext(lambda n: None)
    with staged_output_dir(out, overwrite) as stage, bar as update:
        for k, (src, rel) in enumerate(pairs):
            dst = stage / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.suffix.lower() in VIDEO_EXTENSIONS:
                info = anonymize_video(src, dst, anonymizer, lambda i, im, h, rel=rel: record(rel, i, im, h))
                files.append({"input": str(src), "output": rel.as_posix(), "kind": "video", **info})
            else:
                anonymizer.reset_track()
                rgb = read_image_rgb(src)
                anon, hidden = anonymizer(rgb)
                record(rel, 0, anon, hidden)
                write_image(dst, np.ascontiguousarray(anon[..., ::-1]), params.jpeg_quality)
                files.append({"input": str(src), "output": rel.as_posix(), "kind": "image", "faces": len(hidden)})
            update(k + 1)
        report = ImagesReport(inputs=len(pairs), images=sum(f["kind"] == "image" for f in files),
                              videos=sum(f["kind"] == "video" for f in files), pictures=len(images),
                              faces=len(detections), hidden_by=counts,
                              seconds_total=round(time.perf_counter() - t_start, 3), out=str(out), files=files)
        atomic_write_text(stage / "detections.json", json.dumps(detections, indent=1) + "\n")
        atomic_write_text(stage / "images.json", json.dumps({"images": images, "categories": [FACE_CATEGORY]},
                                                            indent=1) + "\n")
        settings = asdict(params)
        atomic_write_text(stage / "anonymize.json", json.dumps({"settings": settings, **asdict(report)},
                                                               indent=1, default=str) + "\n")
    return report


def iter_pictures(path: Path) -> Iterator[np.ndarray]:
    """The RGB pictures of an image file or of every frame of a video (for tests and benchmarks)."""
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        import av

        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
    else:
        yield read_image_rgb(path)
