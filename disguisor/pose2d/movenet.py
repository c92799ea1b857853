"""MoveNet MultiPose Lightning (ONNX, offline): up to 6 people per input, COCO-17 joints.

Run on the whole image (split into overlapping tiles when people are small) and on square crops
around person boxes; each crop can be tried at several in-plane rotations (orientation search,
:mod:`disguisor.pose2d.orient`), because the model was trained on upright people and misses many
seen from the ceiling or lying on the table. Every pose is mapped back to pixels of the full image.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from disguisor.coco import HEAD_JOINTS
from disguisor.pose2d.detector import Box, PersonPose, box_iou, make_pose
from disguisor.pose2d.orient import GREY, AxisCrop, Crop, centred_crop, rotate_image, square_box_crop
from disguisor.pose2d.params import MoveNetParams

_STRIDE = 32  # the model's input sides must be multiples of this


def onnx_session(name: str, threads: int, spin_wait: bool = False):
    """An onnxruntime CPU session of a packaged model (sha256 checked; see :mod:`disguisor.assets`).
    spin_wait: idle threads busy-wait for the next work item (onnxruntime's default); without it
    they sleep, which costs nothing on free cores and halves the time on cores shared with other
    jobs (BENCHMARKS.md, "Keypoint stage speed")."""
    import onnxruntime as ort

    from disguisor.assets import model_path

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    if not spin_wait:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # its warnings about unused initializers are noise here
    return ort.InferenceSession(str(model_path(name)), opts, providers=["CPUExecutionProvider"])


class MoveNetModel:
    """The raw model: ``infer(image_rgb)`` -> (6, 17, 3) keypoints x, y, score in pixels of that image
    and (6,) person scores. The image is letterboxed (top-left aligned, grey pad) to multiples of 32."""

    def __init__(self, threads: int = 2, spin_wait: bool = False) -> None:
        self.session = onnx_session("movenet_multipose", threads, spin_wait)
        self.input_name = self.session.get_inputs()[0].name

    def infer(self, image_rgb: np.ndarray, long_side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        h, w = image_rgb.shape[:2]
        scale = 1.0 if long_side is None else long_side / max(h, w)
        rw, rh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        img = image_rgb if (rw, rh) == (w, h) else cv2.resize(image_rgb, (rw, rh), interpolation=cv2.INTER_AREA)
        ph, pw = -(-rh // _STRIDE) * _STRIDE, -(-rw // _STRIDE) * _STRIDE
        x = np.full((1, ph, pw, 3), GREY, dtype=np.int32)
        x[0, :rh, :rw] = img
        out = self.session.run(None, {self.input_name: x})[0][0]  # (6, 56)
        kp = out[:, :51].reshape(6, 17, 3)
        # model output: y, x normalized to the padded input -> x, y pixels of the given image
        xy = np.stack([kp[:, :, 1] * pw, kp[:, :, 0] * ph], axis=-1) / np.array([rw / w, rh / h]) - 0.5
        return np.concatenate([xy, kp[:, :, 2:3]], axis=-1).astype(np.float64), out[:, 55].astype(np.float64)


def tile_boxes(width: int, height: int, tiles: int, overlap: float) -> list[Box]:
    """``tiles`` boxes side by side along the image's longer side, covering it, neighbours
    overlapping by ``overlap`` of a tile's length (pixels); one box (the whole image) for ``tiles`` <= 1."""
    if tiles <= 1:
        return [(0.0, 0.0, float(width), float(height))]
    long = max(width, height)
    tl = long / (tiles - (tiles - 1) * overlap)
    step = tl * (1.0 - overlap)
    spans = [(i * step, min(i * step + tl, float(long))) for i in range(tiles)]
    if width >= height:
        return [(a, 0.0, b, float(height)) for a, b in spans]
    return [(0.0, a, float(width), b) for a, b in spans]


class MoveNetDetector:
    """MoveNet MultiPose on the whole image (optionally tiled) and on crops around the given boxes,
    each crop tried at ``params.rotations``. ``detect(image_rgb, boxes)``; duplicates possible (the
    caller de-duplicates by OKS)."""

    remembers_views = True  # detect() takes the camera's name (images of a view in frame order)
    looks_along_axes = True  # detect() takes crops along lying proposals' axes

    def __init__(self, params: MoveNetParams | None = None, name: str = "movenet") -> None:
        self.params = params or MoveNetParams()
        self.name = name
        self._model: MoveNetModel | None = None
        # per view: boxes whose crop found nobody in the last image, and how often skipped since
        self._empty: dict[str, list[tuple[Box, int]]] = {}
        # per view: images in a row whose orientation search found nobody, images seen
        self._idle: dict[str, tuple[int, int]] = {}
        # per view: whether the last person found along a lying axis was found with its other end up
        self._lying_flip: dict[str, bool] = {}

    @property
    def model(self) -> MoveNetModel:
        if self._model is None:
            self._model = MoveNetModel(self.params.threads, self.params.spin_wait)
        return self._model

    def _poses(self, kps: np.ndarray, scores: np.ndarray, width: int, height: int) -> list[PersonPose]:
        p = self.params
        out = []
        for kp, s in zip(kps, scores, strict=True):
            if s < p.min_person_score:
                continue
            pose = make_pose(kp, p.min_joint_score, p.min_joints, 0.0, width, height)
            if pose is not None:
                out.append(PersonPose(pose.keypoints, float(s), pose.box))
        return out

    def whole_image(self, image_rgb: np.ndarray) -> list[PersonPose]:
        """People in the whole image (or its tiles), turned by each of ``whole_rotations``; pixels of
        the full image."""
        p = self.params
        h, w = image_rgb.shape[:2]
        found: list[PersonPose] = []
        for angle in p.whole_rotations:
            turned, m = rotate_image(image_rgb, int(round(angle / 90.0)))
            inv = cv2.invertAffineTransform(m)
            th, tw = turned.shape[:2]
            for x0, y0, x1, y1 in tile_boxes(tw, th, p.tiles, p.tile_overlap):
                a, b, c, d = int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1))
                kps, scores = self.model.infer(turned[b:d, a:c], p.whole_long_px)
                xy = kps[:, :, :2] + np.array([a, b])
                kps[:, :, :2] = xy @ inv[:, :2].T + inv[:, 2]
                found.extend(self._poses(kps, scores, w, h))
        return found

    def crop(self, image_rgb: np.ndarray, box: Box, angle_deg: float) -> list[PersonPose]:
        """People in the square crop around ``box`` rotated by ``angle_deg``, pixels of the full image."""
        p = self.params
        h, w = image_rgb.shape[:2]
        c: Crop = square_box_crop(image_rgb, box, p.crop_margin, p.crop_px, angle_deg)
        kps, scores = self.model.infer(c.pixels)
        kps = np.stack([c.to_image(k) for k in kps])
        return self._poses(kps, scores, w, h)

    def along(self, image_rgb: np.ndarray, crop: AxisCrop, flip_first: bool = False) -> tuple[PersonPose | None, bool]:
        """The person lying along ``crop``'s axis (pixels of the full image), or None, and whether
        they were found with the crop's other end up: the crop is tried with one end of the axis up,
        then the other (``flip_first``: the other first), and the best person with score >=
        ``lying_min_score`` whose body (shoulders to hips or ankles) runs down the turned crop within
        ``lying_align_deg`` is kept (a person read upside down in it is not)."""
        p = self.params
        h, w = image_rgb.shape[:2]
        for flip in ((True, False) if flip_first else (False, True)):
            c: Crop = centred_crop(image_rgb, crop.center_px, crop.side_px, p.crop_px, crop.angle_deg + 180.0 * flip)
            kps, scores = self.model.infer(c.pixels)
            poses = self._poses(np.stack([c.to_image(k) for k in kps]), scores, w, h)
            up = -1.0 if flip else 1.0  # the person upright in the turned crop: head towards the top
            best = max((q for q in poses if q.score >= p.lying_min_score and _on_axis(q, crop, p.lying_align_deg, up)),
                       key=lambda q: q.score, default=None)
            if best is not None:
                return best, flip
        return None, flip_first

    def oriented(self, image_rgb: np.ndarray, box: Box, rotate: bool = True) -> list[PersonPose]:
        """Orientation search in one box (pixels). Everyone found at the first rotation is kept;
        while no person with score >= ``rotate_below`` has their centre in the box, the next rotation
        is tried, and of all later rotations only the best such centred person is kept (every
        rotation's stray readings would add false people)."""
        p = self.params
        found = self.crop(image_rgb, box, p.rotations[0]) if p.rotations else []
        extra = self._turned(image_rgb, box, found) if rotate else None
        return found + ([extra] if extra is not None else [])

    def _turned(self, image_rgb: np.ndarray, box: Box, upright: Sequence[PersonPose]) -> PersonPose | None:
        """The later rotations of :meth:`oriented` after the first one found ``upright``: the best
        centred person better than every centred upright one, or None."""
        p = self.params
        best = max((q for q in upright if _centre_in(q.box, box)), key=lambda q: q.score, default=None)
        extra = None
        for angle in p.rotations[1:]:
            if best is not None and best.score >= p.rotate_below:
                break
            cand = max((q for q in self.crop(image_rgb, box, angle) if _centre_in(q.box, box)),
                       key=lambda q: q.score, default=None)
            if cand is not None and (best is None or cand.score > best.score):
                best = extra = cand
        return extra

    def detect(self, image_rgb: np.ndarray, boxes: Sequence[Box] | None = None,
               view: str | None = None, lying: Sequence[AxisCrop] = ()) -> list[PersonPose]:
        """Every person found in an RGB image (H, W, 3) uint8, pixels of that image. ``view``: the
        camera's name when the images of a recording come in frame order; boxes where the last
        image of that view found nobody are then skipped (``empty_box_iou``), and the orientation
        search pauses in a view where it found nobody for a while (``rotate_patience``).
        ``lying``: crops along the axes of lying proposals, searched last (:meth:`along`)."""
        p = self.params
        found = self._detect(image_rgb, boxes, view)
        # every image again, even where the last found nobody: the patient below the second ceiling
        # camera is found in some images only, and each of those places him in 3D
        for crop in list(lying)[:p.max_lying_crops]:
            # the lying person was already found upright or at a quarter turn
            if any(q.score >= p.rotate_below and _on_axis(q, crop, p.lying_align_deg) for q in found):
                continue
            # the end that was up when this view last found someone lying is tried first (the
            # patient's head stays at one end: one model run instead of two)
            pose, flip = self.along(image_rgb, crop, self._lying_flip.get(view, False))
            if pose is not None and not _on_others_head(pose, found, crop, p):
                found.append(pose)
                if view is not None:
                    self._lying_flip[view] = flip
        return found

    def _detect(self, image_rgb: np.ndarray, boxes: Sequence[Box] | None, view: str | None) -> list[PersonPose]:
        """:meth:`detect` without the lying crops: the whole image and the box crops."""
        p = self.params
        found: list[PersonPose] = []
        if p.whole_image or not boxes:
            found.extend(self.whole_image(image_rgb))
        if not p.crops:
            return found
        remembered = self._empty.get(view, []) if view is not None else []
        idle, images = self._idle.get(view, (0, 0)) if view is not None else (0, 0)
        search = p.rotate_patience is None or idle < p.rotate_patience or images % p.rotate_recheck == 0
        searched = gained = False
        empty: list[tuple[Box, int]] = []
        done: list[Box] = []
        rotated = 0
        for box in boxes or ():
            # nearly the same crop again finds the same people: skip it
            if any(box_iou(box, b) > p.same_box_iou for b in done):
                continue
            done.append(box)
            # a box whose one confident person the whole image already gave needs no crop
            if p.skip_found is not None and sum(q.score >= p.skip_found and _centre_in(q.box, box)
                                                for q in found) == 1 and _single(box, found):
                continue
            # the same box found nobody in this view's last image (furniture, mostly): skip it,
            # but crop it again after empty_recheck skips in a row
            seen = _same_empty(box, remembered, p.empty_box_iou, p.empty_recheck)
            if seen is not None:
                empty.append((seen[0], seen[1] + 1))
                continue
            poses = self.crop(image_rgb, box, p.rotations[0]) if p.rotations else []
            # orientation search is the costly part: at most max_rotated_crops boxes per image
            turned = search and rotated < p.max_rotated_crops
            if turned:
                searched = True
                extra = self._turned(image_rgb, box, poses)
                if extra is not None:
                    poses.append(extra)
                    gained = True
            rotated += not any(q.score >= p.rotate_below and _centre_in(q.box, box) for q in poses)
            found.extend(poses)
            # remembered as empty only once every rotation found nobody there: a box left unturned
            # (the image's search budget spent, or the view's search paused) stays a candidate
            if not poses and (turned or len(p.rotations) <= 1):
                empty.append((box, 0))
        if view is not None:
            self._empty[view] = empty
            self._idle[view] = (0 if gained else idle + searched, images + 1)
        return found


def _same_empty(box: Box, remembered: Sequence[tuple[Box, int]], iou: float | None,
                recheck: int) -> tuple[Box, int] | None:
    """The remembered empty box (and how often it was skipped since its crop ran) that ``box``
    overlaps by more than ``iou`` (IoU), if skipped fewer than ``recheck`` times; else None."""
    if iou is None:
        return None
    for b, skips in remembered:
        if skips < recheck and box_iou(box, b) > iou:
            return b, skips
    return None


def _on_axis(pose: PersonPose, crop: AxisCrop, max_deg: float, up: float = 0.0) -> bool:
    """Whether ``pose`` lies along ``crop``'s axis: its centre within a quarter of the crop's side
    from the crop's centre and its body (shoulders to hips, else to ankles) within ``max_deg`` of
    the axis: either way round (``up`` 0), its head towards the end ``crop.direction()`` points to
    (``up`` 1) or towards the other end (``up`` -1)."""
    kp = pose.keypoints
    cx, cy = (pose.box[0] + pose.box[2]) / 2.0, (pose.box[1] + pose.box[3]) / 2.0
    if np.hypot(cx - crop.center_px[0], cy - crop.center_px[1]) > crop.side_px / 4.0:
        return False
    top = kp[[5, 6]][kp[[5, 6], 2] > 0, :2]
    low = next((kp[j][kp[j, 2] > 0, :2] for j in ([11, 12], [15, 16]) if (kp[j, 2] > 0).any()), None)
    if len(top) == 0 or low is None:
        return False
    body = low.mean(axis=0) - top.mean(axis=0)
    norm = float(np.linalg.norm(body))
    # the body runs from the head (up) down: against the direction of the end that is up
    along = float(body @ crop.direction()) / max(norm, 1e-9)
    along = abs(along) if up == 0.0 else -up * along
    return norm > 0 and along >= np.cos(np.deg2rad(max_deg))


def _on_others_head(pose: PersonPose, found: Sequence[PersonPose], crop: AxisCrop, p: MoveNetParams) -> bool:
    """Whether ``pose``, found along ``crop``'s axis, has its head on the head of someone else
    found in the image (a reading with score >= ``lying_min_score`` whose body does not run along
    the axis, its head within ``lying_other_head_ratio`` x the square root of its joint box's
    area): staff bending over the patient's head, taken for the patient's. Such a reading is
    dropped whole: keeping its body without the head made a second, headless 3D patient."""
    h = list(HEAD_JOINTS)
    for q in found:
        if q.score < p.lying_min_score or _on_axis(q, crop, p.lying_align_deg):
            continue
        area = max((q.box[2] - q.box[0]) * (q.box[3] - q.box[1]), 0.0)
        both = (pose.keypoints[h, 2] > 0) & (q.keypoints[h, 2] > 0)
        if both.sum() >= 2 and np.linalg.norm(pose.keypoints[h][both, :2] - q.keypoints[h][both, :2],
                                              axis=1).mean() < p.lying_other_head_ratio * np.sqrt(area):
            return True
    return False


def _centre_in(a: Box, b: Box) -> bool:
    """Whether box ``a``'s centre lies inside box ``b``."""
    cx, cy = (a[0] + a[2]) / 2.0, (a[1] + a[3]) / 2.0
    return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]


def _single(box: Box, found: Sequence[PersonPose]) -> bool:
    """Whether ``box`` is about one person's size: its area at most twice the joint box of the
    largest person found inside it (a proposal holding several people is kept)."""
    inside = [q for q in found if _centre_in(q.box, box)]
    if not inside:
        return False
    area = max((q.box[2] - q.box[0]) * (q.box[3] - q.box[1]) for q in inside)
    return (box[2] - box[0]) * (box[3] - box[1]) <= 2.0 * max(area, 1.0)

