"""The per-frame stage of ``disguisor run``: refine heads, render faces into every view, fall back, write.

:class:`FrameWorker` holds what every frame needs (body model, renderer, templates, the optional
hybrid face detector) and anonymizes one frame at a time from the in-memory results of the
whole-recording stages. Any error inside a frame fails closed: none of its original views is
written (each is blurred or withheld, ``run.on_error``).
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from disguisor.body.bodies_io import BodyFits
from disguisor.body.model import BodyModel
from disguisor.boxes import mostly_inside, same_region, union_xywh
from disguisor.errors import InputError
from disguisor.fusion import RayCache
from disguisor.geometry import looking_down_deg
from disguisor.io.atomic import write_image
from disguisor.io.calibration import Camera
from disguisor.io.detections import face_detection
from disguisor.io.recording import Recording, View
from disguisor.pose2d.floor import HeadRegion, StillHeadMemory, depth_heads, floor_background, head_box
from disguisor.pose2d.keypoints_io import HEAD_JOINTS, Keypoints2D
from disguisor.pose3d.poses import Poses3D
from disguisor.refine.frame import NearbyHeads, joints_by_person, refine_frame
from disguisor.render.face2d import landmark_check, paint_template
from disguisor.render.faces import FaceRenderer
from disguisor.render.obfuscate import box_mask, obfuscate
from disguisor.render.templates import load_templates
from disguisor.render.variation import choose_template
from disguisor.run import outputs
from disguisor.run.fallbacks import (
    face_sphere_box,
    fallback_heads,
    fill_undrawn,
    full_blur,
    head_sized,
    lifted_face_box,
    lifted_faces,
    on_legs,
    recent_heads,
    unconfirmed_heads,
    unexplained_heads,
    unpainted_faces,
)
from disguisor.run.head_masks import head_disk_mask, head_sphere_mask
from disguisor.run.listing import unlisted_reason, unlisted_reasons, unlisted_record, without_head_joints
from disguisor.settings import PipelineConfig

log = logging.getLogger(__name__)

FALLBACK_BLUR_KERNEL_PX = 61  # the paper's blur baseline: hides a face of any size seen in the OR
TWO_D_PERSON = -1  # faces found only in 2D have no person id: they all share this id's template


@dataclass
class FrameOutcome:
    """What happened to one frame (the content of its record)."""

    frame: int
    status: str  # "ok" | "failed"
    error: str = ""
    people: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def keypoints_by_view(keypoints: Keypoints2D) -> dict[tuple[str, int], list[np.ndarray]]:
    """(camera, frame) -> the (17, 3) keypoints (x, y px, score) of every 2D detection there."""
    out: dict[tuple[str, int], list[np.ndarray]] = {}
    for det in keypoints.detections:
        out.setdefault((det.camera, det.frame), []).append(np.asarray(det.keypoints, np.float64))
    return out


class FrameWorker:
    """Anonymizes frames of one recording from the results of the whole-recording stages."""

    def __init__(self, rec: Recording, out: Path, config: PipelineConfig, ids: dict, keypoints: Keypoints2D,
                 poses: Poses3D, fits: BodyFits, model: BodyModel, face_detector=None):
        self.rec, self.out, self.config, self.ids = rec, out, config, ids
        self.params = config.run
        self.poses, self.fits, self.model = poses, fits, model
        self.templates = load_templates()
        self.renderer = FaceRenderer(rec.cameras, config.render)
        self.rays = RayCache()
        self.keypoints = keypoints_by_view(keypoints)
        self.detector = face_detector
        self._template_of: dict[int, Any] = {}
        self._attire: dict[int, Any] | None = None
        self._landmarker: Any = None  # SCRFD for templates on 2D faces; False when not installed
        self._turned: Any = None  # run.turned_faces' detector, made when a steep view first needs it
        self.nearby = NearbyHeads(model, fits, rec.frames, rec.depth_views, self.rays, config.refine)
        # the static background of the detector-free floor, made once per recording (lazily per camera)
        self.floor = floor_background(rec, config.floor) if config.floor.enabled else None
        self.still = StillHeadMemory(rec.frames, rec.depth_views, lambda f: [p.joints for p in (self._people(f) or ())],
                                     self.floor, config.floor, self.rays)

    def close(self) -> None:
        self.renderer.close()
        if self._turned is not None:
            self._turned.close()

    def attire(self) -> dict[int, Any]:
        """person_id -> attire estimate (disguisor/render/attire.py), made once per recording from
        the first frames each person is seen in (the same whichever frames this run renders)."""
        if self._attire is None:
            from disguisor.render.attire import estimate_attire_for_recording

            self._attire = estimate_attire_for_recording(self.rec, self.model, self.fits, self.rays,
                                                         self.config.refine)
        return self._attire

    def template(self, person_id: int):
        if person_id not in self._template_of:
            if self.params.template == "auto":
                from disguisor.render.attire import choose_by_attire

                est = self.attire().get(person_id) if person_id != TWO_D_PERSON else None
                self._template_of[person_id] = choose_by_attire(est, self.templates, person_id,
                                                                colours=self.params.attire_colours)
            else:
                self._template_of[person_id] = choose_template(person_id, self.templates, self.params.template)
        return self._template_of[person_id]

    def _attire_record(self, person_id: int) -> dict[str, Any]:
        """The template and (run.template = auto) attire estimate of a person, for the report."""
        if self.params.method != "template":
            return {}
        out: dict[str, Any] = {"template": self.template(person_id).name}
        if self.params.template == "auto" and person_id in self.attire():
            out["attire"] = self.attire()[person_id].as_dict()
        return out

    def landmark_detector(self):
        """The detector of 2D faces with landmarks (the hybrid detector when it has them, else
        SCRFD), made once; None when templates are off or none is installed (2D faces are then
        blurred)."""
        if self.params.method != "template":
            return None
        if self._landmarker is None:
            if self.detector is not None and hasattr(self.detector, "detect_landmarks"):
                self._landmarker = self.detector
            else:
                from disguisor.facedet import make_face_detector
                from disguisor.facedet.scrfd import MODEL_FILE

                try:
                    self._landmarker = make_face_detector("scrfd") if MODEL_FILE.is_file() else False
                except InputError as exc:  # a changed model file: blur 2D faces rather than fail every frame
                    log.warning("no templates on 2D faces: %s", exc)
                    self._landmarker = False
        return self._landmarker or None

    def landmark_faces(self, rgb: np.ndarray):
        """SCRFD's (N, 5) boxes (x, y, w, h, score px) and (N, 5, 2) landmarks of a view (RGB), or
        None when there is no landmark detector (:meth:`landmark_detector`)."""
        detector = self.landmark_detector()
        return detector.detect_landmarks(rgb) if detector is not None else None

    def template_2d(self, image: np.ndarray, box, found) -> tuple[np.ndarray, np.ndarray | None]:
        """Paint the template on the face of a 2D-only region, ``box`` (x, y, w, h px) of ``image``
        (RGB), from landmarks ``found`` by :meth:`landmark_faces` on the original view: a detected
        face whose centre lies in the box, at least a quarter of its width, with reliable landmarks.
        Returns the image and the (H, W) mask of the painted pixels, or None when nothing was
        painted (the caller then blurs the whole region, as before). The caller blurs the rest of
        the region either way: a second face the landmark detector missed there stays hidden."""
        if found is None:
            return image, None
        x, y, w, h = (float(v) for v in box[:4])
        boxes, marks = found
        for b, lm in zip(boxes, marks, strict=True):
            cx, cy = b[0] + b[2] / 2, b[1] + b[3] / 2
            if not (x <= cx <= x + w and y <= cy <= y + h) or b[2] < 0.25 * w:
                continue
            template = self.template(TWO_D_PERSON)
            check = landmark_check(template, b, lm)
            if check.reliable:
                return paint_template(image, template, check)
        return image, None

    def _people(self, frame: int):
        try:
            return self.poses.frame(frame).people
        except KeyError:
            return None

    def faces(self, frame: int, views: dict[str, tuple[Camera, np.ndarray]], outcome: FrameOutcome):
        """Face surfaces of everyone with a body fit at ``frame``, and the head spheres of the
        people found in 3D without one."""
        t0 = time.perf_counter()
        people = self._people(frame)
        faces = []
        if people is not None:
            posed, refined = refine_frame(self.model, self.fits, frame, views, self.rays, self.config.refine,
                                          joints_by_person(people), self.nearby.lookup(frame))
        else:
            posed, refined = [], []
        self.nearby.record(frame, posed, [reg for _, reg in refined])
        for body, (face, reg) in zip(posed, refined, strict=True):
            faces.append(face)
            # the fitted head's COCO nose, eyes and ears, moved with the head by the registration
            head_joints = body.keypoints[list(HEAD_JOINTS)] @ reg.transform[:3, :3].T + reg.transform[:3, 3]
            outcome.people.append({
                "person_id": int(face.person_id), "face_centre_m": np.round(face.centre, 4).tolist(),
                "head_joints_m": np.round(head_joints, 4).tolist(),
                "facing": np.round(face.facing, 4).tolist(), "refined": bool(face.refined),
                "refine_note": face.note, "refine_translation_mm": round(1000 * reg.translation_m, 1),
                "refine_rotation_deg": round(reg.rotation_deg, 2), "fitness": round(reg.fitness_after, 3),
                "cloud_points": int(reg.target_points), **self._attire_record(int(face.person_id))})
            if face.as_fitted is not None:  # a second start moved it; the fit's face is painted too
                outcome.people[-1]["as_fitted_centre_m"] = np.round(face.as_fitted.centre, 4).tolist()
        fallback = fallback_heads(people or (), {int(b.person_id) for b in posed}, self.params.fail_closed)
        for pid, _, _ in fallback:
            outcome.people.append({"person_id": int(pid), "fallback": "head sphere blurred (no body fit)"})
        recent = recent_heads(fallback, self.nearby.lookup(frame), self.params.fail_closed)
        for pid, _, _ in recent:
            outcome.people.append({"person_id": int(pid), "fallback": "head sphere blurred (confirmed nearby)"})
        fallback += recent
        unseen = unconfirmed_heads(people or (), faces, self.params.fail_closed)
        for pid in dict.fromkeys(pid for pid, _, _ in unseen):
            outcome.people.append({"person_id": int(pid), "fallback": "head spheres blurred (not confirmed by depth)"})
        fallback = fallback + unseen
        outcome.seconds["refine"] = time.perf_counter() - t0
        return faces, fallback

    def floor_heads(self, frame: int, colors: dict[str, np.ndarray], depths: dict[str, np.ndarray],
                    outcome: FrameOutcome) -> list[HeadRegion]:
        """Heads of moving person-sized depth clusters and still heads that no 3D person of the frame explains."""
        if self.floor is None:
            return []
        t0 = time.perf_counter()
        views = [View(c, frame, colors[c.name], depths[c.name]) for c in self.rec.cameras_at(frame)]
        joints = [p.joints for p in (self._people(frame) or ())]
        heads = depth_heads(views, joints, self.floor, self.config.floor, self.rays, self.still.nearby(frame))
        self.still.record(frame, heads)
        for head in heads:
            outcome.people.append({"depth_head_m": np.round(head.center, 3).tolist(), "still": head.static,
                                   "fallback": "depth head blurred (no detector found this person)"})
        outcome.seconds["floor"] = time.perf_counter() - t0
        return heads

    def render_view(self, camera: Camera, image_bgr: np.ndarray, depth: np.ndarray, faces, fallback,
                    frame: int, heads: list[HeadRegion] = (), turned: np.ndarray | None = None,
                    lifted: list[tuple[str, np.ndarray]] = ()) -> tuple[np.ndarray, dict[str, Any], list[dict]]:
        """One view: the 3D faces, the fallbacks, the floor's heads, the faces found at quarter
        turns (``turned``: this view's boxes, None: looked for here) and the spheres around the
        faces found that way in other views (``lifted``: (camera name, world point))."""
        rgb = np.ascontiguousarray(image_bgr[..., ::-1])
        templates = {f.person_id: self.template(f.person_id) for f in faces}
        result = self.renderer.anonymize_view(rgb, depth, camera, faces, templates, method=self.params.method)
        image = result.image
        image_id = self.ids[camera.name, frame]
        # painted either way; listed only when the view shows a face a user or an annotator would list
        people = {int(p.id): p for p in (self._people(frame) or ())}
        unlisted = unlisted_reasons(faces, result.faces, people, self.keypoints.get((camera.name, frame), []),
                                    self.params)
        why = [unlisted_reason(rf, self.params, unlisted) for rf in result.faces]
        listed = [rf for rf, reason in zip(result.faces, why, strict=True) if reason is None]
        dets = [face_detection(image_id, rf.bbox, camera.name, frame, "3d", person_id=rf.person_id,
                               painted_bbox=rf.painted_bbox) for rf in listed]
        found = None  # landmarks of the original view, looked for once a 2D-only face needs them
        info: dict[str, Any] = {"faces": [int(rf.person_id) for rf in result.faces],
                                "skipped": [{"person_id": int(p), "reason": r} for p, r in result.skipped]}
        if len(listed) < len(result.faces):  # painted, not listed: why, and where (an audit trail)
            info["painted_unlisted"] = [unlisted_record(rf, reason)
                                        for rf, reason in zip(result.faces, why, strict=True) if reason is not None]
        with_face = {int(f.person_id) for f in faces}
        painted = result.mask.copy()  # what is hidden so far: a 2D head there is not painted again
        fc = self.params.fail_closed
        for pid, centre, radius in fallback:
            hit = head_sphere_mask(camera, centre, radius, depth, fc.blur_behind_m, fc.blur_edge_px,
                                   fc.blur_ball_slack_m)
            if hit is None:
                continue
            mask, box = hit
            painted |= mask
            # filled by the membrane (nothing inside kept), or blurred by a kernel as wide as the
            # sphere (a 61 px kernel on a smooth face 100 px wide changes too few pixels to hide
            # it); the faces already drawn stay as drawn
            image = fill_undrawn(image, mask, max(FALLBACK_BLUR_KERNEL_PX, round(max(box[2], box[3]))), result.mask,
                                 fc.fill)
            info.setdefault("fallback", []).append(int(pid))
            own = [d for d in dets if d["source"] in ("3d", "head-sphere") and d.get("person_id") == pid]
            if own:  # the face (or another sphere) of this person is reported here: one report, grown
                own[0]["painted_bbox"] = [round(v, 2) for v in union_xywh(own[0].get("painted_bbox", own[0]["bbox"]),
                                                                          box)]
                continue
            if int(pid) in with_face or (not self.params.report_guessed_faces
                                         and without_head_joints(people.get(int(pid)))):
                # the sphere around a face that is placed but not listed in this view (hidden,
                # turned away, a sliver), or around a head no keypoint placed: a safety margin,
                # painted, not a face seen here
                info.setdefault("spheres_unlisted", []).append(int(pid))
                continue
            # no face surface: the face's box is a face-sized sphere at the head, the sphere the painted area
            face_box = face_sphere_box(camera, people.get(int(pid)), centre, self.params.fail_closed)
            dets.append(face_detection(image_id, face_box or box, camera.name, frame, "head-sphere", person_id=pid,
                                       painted_bbox=box))
        for centre, radius, face_seen in unexplained_heads(camera, self.keypoints.get((camera.name, frame), []),
                                                           self._people(frame) or (), fc, painted):
            mask = head_disk_mask(image.shape[:2], centre, radius, depth, fc.blur_behind_m, fc.blur_edge_px)
            if not mask.any():
                continue
            x0, y0 = max(centre[0] - radius, 0.0), max(centre[1] - radius, 0.0)
            x1, y1 = min(centre[0] + radius, image.shape[1]), min(centre[1] + radius, image.shape[0])
            found = self.landmark_faces(rgb) if found is None else found
            image, drawn = self.template_2d(image, (x0, y0, x1 - x0, y1 - y0), found)
            if drawn is not None:
                info["templates_2d"] = info.get("templates_2d", 0) + 1
                painted |= drawn
                mask = mask & ~drawn
            image = fill_undrawn(image, mask, FALLBACK_BLUR_KERNEL_PX, painted, fc.fill)
            painted |= mask
            info["unexplained_2d_heads"] = info.get("unexplained_2d_heads", 0) + 1
            if not face_seen:  # a head seen from behind: hidden, but no face to list
                info["unexplained_2d_heads_unlisted"] = info.get("unexplained_2d_heads_unlisted", 0) + 1
                continue
            dets.append(face_detection(image_id, (x0, y0, x1 - x0, y1 - y0), camera.name, frame, "2d-head"))
        for centre, radius in unpainted_faces(self.keypoints.get((camera.name, frame), []), painted, fc):
            # a face the detector sees that no 3D face covered here: blurred, not listed (the 3D
            # person's head explains it; its face was judged hidden in this view)
            # only what is not painted yet: a blur over a painted template can undo its change
            mask = head_disk_mask(image.shape[:2], centre, radius, depth, fc.blur_behind_m, fc.blur_edge_px)
            image = fill_undrawn(image, mask, FALLBACK_BLUR_KERNEL_PX, painted, fc.fill)
            painted |= mask
            info["unpainted_2d_faces"] = info.get("unpainted_2d_faces", 0) + 1
        for head in heads:
            box = head_box(camera, depth, head)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            mask = np.zeros(image.shape[:2], np.uint8)
            centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
            cv2.ellipse(mask, centre, (round((x1 - x0) / 2) + 1, round((y1 - y0) / 2) + 1), 0, 0, 360, 1, -1)
            image = fill_undrawn(image, mask.astype(bool), FALLBACK_BLUR_KERNEL_PX, painted, fc.fill)
            painted |= mask.astype(bool)
            info["depth_heads"] = info.get("depth_heads", 0) + 1
            if head.frame == frame:  # one held from a nearby frame is painted, not listed (its box is the sphere's)
                dets.append(face_detection(image_id, (x0, y0, x1 - x0, y1 - y0), camera.name, frame, "depth-head"))
        lifted_boxes = []
        for seen_by, centre in lifted:
            # a face only 2D found in another view (no 3D person there): the sphere around it,
            # blurred here too; listed where this view's depth shows the face there
            hit = None if seen_by == camera.name else head_sphere_mask(
                camera, centre, fc.head_radius_m, depth, fc.blur_behind_m, fc.blur_edge_px, fc.blur_ball_slack_m)
            if hit is not None:
                if self.params.turned_list_m is not None:
                    lifted_boxes.append(lifted_face_box(camera, centre, depth, fc.face_report_radius_m,
                                                        self.params.turned_list_m))
                # faces already drawn stay as drawn (a blur this wide averages them back)
                image = fill_undrawn(image, hit[0], max(FALLBACK_BLUR_KERNEL_PX, round(max(hit[1][2], hit[1][3]))),
                                     painted, fc.fill)
                painted |= hit[0]
                info["turned_lifted"] = info.get("turned_lifted", 0) + 1
        turned = self.turned_faces(camera, rgb, depth) if turned is None else turned
        if len(turned):
            # blurred spheres and 2D heads do not count as covering a face: a large blur changes
            # too few pixels of a smooth face, the template does
            covered = [d["bbox"] for d in dets if d["source"] == "3d"]
            # a face box (BlazeFace's are square and generous) around a face the template replaced
            # is that face: neither painted again nor listed twice
            extra = [b for b in turned if not same_region(b[:4], covered)]
            # the template is posed on landmarks found at the same quarter turns (upright only, a
            # lying face gets no landmarks and would be blurred, which leaves a smooth face as it was)
            turned_found = self.turned_landmarks(rgb) if extra else None
            image, _ = self.hide_2d_faces(image, rgb, extra, turned_found, info)
            p = self.params
            feet = [p.turned_feet_m is not None and on_legs(b, camera, depth, people.values(), p.turned_feet_m,
                                                            p.turned_feet_head_m) for b in extra]
            dets += [face_detection(image_id, b[:4], camera.name, frame, "2d-turned", b[4])
                     for b, foot in zip(extra, feet, strict=True) if not foot]
            info["turned_2d"] = len(extra)
            if any(feet):  # painted all the same: privacy first
                info["turned_2d_feet"] = sum(feet)
        for box in lifted_boxes:  # one report per face: not where a face is listed here already
            if box is not None and not same_region(box, [d["bbox"] for d in dets]):
                dets.append(face_detection(image_id, box, camera.name, frame, "2d-lifted"))
                info["turned_listed"] = info.get("turned_listed", 0) + 1
        if self.detector is not None:
            boxes = self.detector.detect(rgb)
            covered = [d["bbox"] for d in dets]
            extra = [b for b in boxes if not mostly_inside(b[:4], covered)]
            image, found = self.hide_2d_faces(image, rgb, extra, found, info)
            dets += [face_detection(image_id, b[:4], camera.name, frame, f"2d:{self.params.also_2d}", b[4])
                     for b in extra]
            info["extra_2d"] = len(extra)
        return np.ascontiguousarray(image[..., ::-1]), info, dets

    def hide_2d_faces(self, image: np.ndarray, rgb: np.ndarray, boxes, found, info: dict[str, Any]):
        """Hide face boxes found in 2D only ((x, y, w, h, score) px) in ``image`` (RGB): the
        template where landmarks of the original view ``rgb`` allow (``found``: those landmarks,
        or None when not looked for yet), the rest of each box blurred (or ``run.method``'s
        obfuscation): nothing of a detected box stays as it was. Returns (image, found)."""
        if not len(boxes):
            return image, found
        xywh = np.array([b[:4] for b in boxes], float)
        m = self.params.face_2d_margin * xywh[:, 2:]
        rest = box_mask(image.shape[:2], np.concatenate([xywh[:, :2] - m, xywh[:, 2:] + 2 * m], axis=1))
        if self.params.method != "template":
            return obfuscate(image, rest, self.params.method), found
        found = self.landmark_faces(rgb) if found is None else found
        for b in boxes:
            image, painted = self.template_2d(image, b, found)
            if painted is not None:
                info["templates_2d"] = info.get("templates_2d", 0) + 1
                rest &= ~painted
        return obfuscate(image, rest, "blur"), found

    def turned_landmarks(self, rgb: np.ndarray):
        """As :meth:`landmark_faces`, with the faces found at the three other quarter turns of the
        view mapped back to it (None without templates or a landmark detector)."""
        from disguisor.facedet.turned import TurnedFaceDetector

        if self.landmark_detector() is None:
            return None
        return TurnedFaceDetector(self._landmarker).detect_landmarks(rgb)

    def turned_faces(self, camera: Camera, rgb: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
        """(N, 5) faces (x, y, w, h, score px) that ``run.turned_faces`` finds at quarter turns
        in a view looking down steeply, kept when head-sized at the sensor depth (see RunParams)."""
        p = self.params
        if p.turned_faces is None or looking_down_deg(camera) < p.turned_faces_min_down_deg:
            return np.zeros((0, 5))
        if self._turned is None:
            from disguisor.facedet import make_face_detector
            from disguisor.facedet.detectors import DetectorParams
            from disguisor.facedet.scrfd import MODEL_FILE
            from disguisor.facedet.turned import TurnedFaceDetector

            name = p.turned_faces
            if name == "scrfd" and not MODEL_FILE.is_file():  # its weights are installed, not shipped
                # prepare_run warned once, in the report too
                log.debug("run.turned_faces: %s is missing; BlazeFace looks for turned faces", MODEL_FILE)
                name = "blazeface"
            self._turned = TurnedFaceDetector(make_face_detector(
                name, params=DetectorParams(blazeface_tiles=p.turned_faces_tiles)))
        return head_sized(self._turned.detect(rgb), camera, depth, p.turned_face_min_m, p.turned_face_max_m)

    def process(self, frame: int) -> tuple[FrameOutcome, list[dict[str, Any]]]:
        """Anonymize every view of ``frame`` and write them; fail closed on any error."""
        outcome = FrameOutcome(frame=frame, status="ok")
        cams = self.rec.cameras_at(frame)
        dets: list[dict[str, Any]] = []
        written: list[tuple[Camera, np.ndarray]] = []
        try:
            t0 = time.perf_counter()
            colors = {c.name: self.rec.read_color(c, frame) for c in cams}
            depths = {c.name: self.rec.read_depth(c, frame) for c in cams}
            outcome.seconds["read"] = time.perf_counter() - t0
            views = {c.name: (c, depths[c.name]) for c in cams}
            faces, fallback = self.faces(frame, views, outcome)
            heads = self.floor_heads(frame, colors, depths, outcome)
            t0 = time.perf_counter()
            turned = {c.name: self.turned_faces(c, np.ascontiguousarray(colors[c.name][..., ::-1]), depths[c.name])
                      for c in cams}
            lifted = lifted_faces({c.name: (c, turned[c.name], self.keypoints.get((c.name, frame), []), depths[c.name])
                                   for c in cams}, faces, self._people(frame) or (), self.params)
            for cam in cams:
                image, info, view_dets = self.render_view(cam, colors[cam.name], depths[cam.name], faces, fallback,
                                                          frame, heads, turned[cam.name], lifted)
                written.append((cam, image))
                outcome.views[cam.name] = info
                dets.extend(view_dets)
            outcome.seconds["render"] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - fail closed on anything, report it
            log.error("frame %d failed (%s: %s); its views are %s", frame, type(exc).__name__, exc,
                      "blurred" if self.params.on_error == "blur" else "withheld")
            log.debug("%s", traceback.format_exc())
            outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
            outcome.people, outcome.views, dets, written = [], {}, [], []
            if self.params.on_error == "blur":
                for cam in cams:
                    try:
                        image = self.rec.read_color(cam, frame)
                    except InputError as read_error:
                        outcome.views[cam.name] = {"withheld": str(read_error)}
                        continue
                    written.append((cam, full_blur(image, self.params.fail_closed.full_blur_width_px)))
                    outcome.views[cam.name] = {"blurred": True}
        t0 = time.perf_counter()
        for cam, image in written:
            write_image(outputs.output_image_path(self.out, cam.name, frame), image, self.params.jpeg_quality)
        if self.params.on_error == "withhold" and outcome.status == "failed":
            for cam in cams:
                outputs.output_image_path(self.out, cam.name, frame).unlink(missing_ok=True)
        outcome.seconds["write"] = time.perf_counter() - t0
        return outcome, dets
