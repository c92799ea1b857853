"""Face localization metrics of the DisguisOR paper: recall, precision, F1 and holistic recall.

Matching, per image: predicted and ground-truth faces are paired one-to-one by the Hungarian
algorithm (:func:`scipy.optimize.linear_sum_assignment`) maximizing the total IoU over the pairs
whose IoU reaches the threshold (default 0.4; a pair at exactly the threshold counts, up to
:data:`IOU_TOLERANCE` of floating-point noise). Pairs below the threshold weigh nothing and are
never counted. Scores are ignored: no confidence threshold, no AP.

- recall = matched ground-truth boxes / all ground-truth boxes;
- precision = matched predictions / all predictions;
- F1 = 2 * matched / (ground-truth boxes + predictions) (the harmonic mean of the two);
- holistic recall: a *face* is one person at one frame (and scenario). It counts as found only
  if every ground-truth box of that person at that frame, in every view where it has one, is
  matched: one missed view breaks the anonymization of the whole scene. Within a group of
  images (a camera role, a scenario), a face is found if every box it has in that group's
  images is matched; per camera this equals the recall.

Coverage (a privacy view the IoU rule lacks): a ground-truth box is *covered* when at least
``coverage_threshold`` (default 0.9) of its area lies inside the union of the image's predicted
boxes (their ``painted_bbox`` where the predictions give one: the extent actually changed).
A replacement painted a little larger than the visible face (a face mostly hidden by an OR
light, where the box of the visible sliver is tiny) hides the face but fails IoU >= 0.4;
coverage counts it. Coverage ignores precision (one huge box covers everything), so always read
it beside recall and precision. Coverage recall = covered boxes / all boxes; holistic coverage:
a face counts when every box of it, in every view, is covered.

A ratio with a zero denominator (no ground truth, no predictions) is ``None``.
Groups: overall, per camera role (the image's ``role``, else the camera's role from the
calibration, else ``"unknown"``), per camera, and per scenario when images carry one (images
without one are grouped as ``"(none)"``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from disguisor.boxes import box_iou, iou  # noqa: F401  (part of this module's API)
from disguisor.evaluate.coco import GroundTruth, Id, ImageInfo, Predictions

DEFAULT_IOU_THRESHOLD = 0.4
DEFAULT_COVERAGE_THRESHOLD = 0.9

# An IoU this close below the threshold still counts (floating-point noise of box arithmetic).
IOU_TOLERANCE = 1e-9

UNKNOWN_ROLE = "unknown"
NO_SCENARIO = "(none)"


def match_boxes(gt_boxes: np.ndarray, pred_boxes: np.ndarray,
                iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> list[tuple[int, int, float]]:
    """One-to-one matching of one image's boxes (Hungarian): the most matches, and among
    those the largest total IoU.

    gt_boxes (N, 4), pred_boxes (M, 4): ``[x, y, width, height]`` pixels. Returns
    ``(gt_index, pred_index, iou)`` for the matched pairs, each with IoU >= ``iou_threshold``.
    """
    ious = box_iou(gt_boxes, pred_boxes)
    if ious.size == 0:
        return []
    # Weight 1 + IoU per admissible pair: any extra match (>= 1.4) outweighs any IoU gain
    # (< 1), so one very good pair never blocks two acceptable ones.
    weights = np.where(ious >= iou_threshold - IOU_TOLERANCE, 1.0 + ious, 0.0)
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return [(int(r), int(c), float(ious[r, c])) for r, c in zip(rows, cols, strict=True) if weights[r, c] > 0]


def covered_fraction(gt_boxes: np.ndarray, pred_boxes: np.ndarray) -> np.ndarray:
    """(N,) share of each ground-truth box's area (pixels, ``[x, y, w, h]``) inside the union of
    the predicted boxes (computed exactly on the grid of all box edges). Boxes without area: 1
    if their corner lies in a prediction, else 0."""
    gt = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    pr = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
    out = np.zeros(len(gt))
    if not len(pr):
        return out
    for i, (x, y, w, h) in enumerate(gt):
        xs = np.unique(np.clip(np.concatenate([[x, x + w], pr[:, 0], pr[:, 0] + pr[:, 2]]), x, x + w))
        ys = np.unique(np.clip(np.concatenate([[y, y + h], pr[:, 1], pr[:, 1] + pr[:, 3]]), y, y + h))
        if w <= 0 or h <= 0 or len(xs) < 2 or len(ys) < 2:
            out[i] = float(np.any((pr[:, 0] <= x) & (x <= pr[:, 0] + pr[:, 2]) & (pr[:, 1] <= y)
                                  & (y <= pr[:, 1] + pr[:, 3])))
            continue
        cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
        inside = ((pr[:, None, None, 0] <= cx[None, None, :]) & (cx[None, None, :] <= pr[:, None, None, 0]
                  + pr[:, None, None, 2]) & (pr[:, None, None, 1] <= cy[None, :, None])
                  & (cy[None, :, None] <= pr[:, None, None, 1] + pr[:, None, None, 3])).any(axis=0)
        cell = np.diff(ys)[:, None] * np.diff(xs)[None, :]
        out[i] = float((cell * inside).sum() / (w * h))
    return out


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class Scores:
    """Counts of one group of images and the ratios derived from them.

    gt: ground-truth face boxes; predictions: predicted face boxes; matched: matched pairs
    (= matched boxes of either kind); faces: distinct (scenario, frame, person) with a box in
    the group; faces_found: those with every box in the group matched; iou_sum: summed IoU of
    the matched pairs.
    """

    images: int
    gt: int
    predictions: int
    matched: int
    faces: int
    faces_found: int
    iou_sum: float = 0.0
    covered: int = 0
    faces_covered: int = 0

    @property
    def recall(self) -> float | None:
        return _ratio(self.matched, self.gt)

    @property
    def precision(self) -> float | None:
        return _ratio(self.matched, self.predictions)

    @property
    def f1(self) -> float | None:
        den = self.gt + self.predictions
        return 2 * self.matched / den if den else None

    @property
    def holistic_recall(self) -> float | None:
        return _ratio(self.faces_found, self.faces)

    @property
    def coverage_recall(self) -> float | None:
        return _ratio(self.covered, self.gt)

    @property
    def holistic_coverage(self) -> float | None:
        return _ratio(self.faces_covered, self.faces)

    @property
    def mean_iou(self) -> float | None:
        """Mean IoU of the matched pairs."""
        return self.iou_sum / self.matched if self.matched else None


@dataclass(frozen=True)
class Match:
    """A matched pair: ground-truth annotation id, the prediction's index in its file, IoU."""

    image_id: Id
    gt_id: Id
    prediction_index: int
    iou: float


@dataclass(frozen=True)
class HolisticMiss:
    """A face not found holistically: the cameras where it has a box and those where it was missed."""

    scenario: str | None
    frame: int
    person_id: Id
    cameras: tuple[str, ...]
    missed_cameras: tuple[str, ...]


@dataclass(frozen=True)
class EvaluationResult:
    """Everything :func:`evaluate` computes. Group dicts are ordered for display.

    camera_roles: each camera's role (roles joined by ``/`` if its images disagree across
    scenarios). missed: ground-truth annotation ids left unmatched. ignored_*: entries of
    other categories than face.
    """

    iou_threshold: float
    overall: Scores
    per_role: dict[str, Scores]
    per_camera: dict[str, Scores]
    per_scenario: dict[str, Scores]
    camera_roles: dict[str, str]
    matches: tuple[Match, ...]
    missed: tuple[Id, ...]
    holistic_misses: tuple[HolisticMiss, ...]
    ignored_annotations: int = 0
    ignored_predictions: int = 0
    coverage_threshold: float = DEFAULT_COVERAGE_THRESHOLD
    min_visible: float | None = None
    dont_care_boxes: int = 0
    dont_care_predictions: int = 0


def image_role(image: ImageInfo, camera_roles: Mapping[str, str] | None = None) -> str:
    """The image's own ``role``, else its camera's role in ``camera_roles``, else ``"unknown"``."""
    if image.role:
        return image.role
    return (camera_roles or {}).get(image.camera, UNKNOWN_ROLE)


def _role_order(role: str) -> tuple[int, str]:
    return ({"workflow": 0, "surgical": 1}.get(role, 3 if role == UNKNOWN_ROLE else 2), role)


def evaluate(gt: GroundTruth, preds: Predictions, iou_threshold: float = DEFAULT_IOU_THRESHOLD,
             camera_roles: Mapping[str, str] | None = None,
             coverage_threshold: float = DEFAULT_COVERAGE_THRESHOLD,
             min_visible: float | None = None) -> EvaluationResult:
    """Match ``preds`` to ``gt`` image by image and score every group (rules in the module docstring).

    iou_threshold: minimum IoU of a matched pair, in (0, 1]. camera_roles: camera name -> role,
    used for images that do not name their role (e.g. from :func:`~disguisor.evaluate.coco.load_camera_roles`).
    min_visible: ground-truth boxes whose ``visible_fraction`` is below this (0-1) are *don't
    care*, as WIDER FACE's and COCO's ignore regions: matched like the others, but neither they
    nor the predictions matched to them count anywhere (a face whose every box is below it is no
    face); ``result.dont_care_boxes`` counts them. None (default): every box counts.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], not {iou_threshold!r}")
    if min_visible is not None and not 0.0 <= min_visible <= 1.0:
        raise ValueError(f"min_visible must be in [0, 1], not {min_visible!r}")

    def dont_care(face) -> bool:
        return min_visible is not None and face.visible_fraction is not None and face.visible_fraction < min_visible

    gt_by_image: dict[Id, list] = defaultdict(list)
    for face in gt.faces:
        gt_by_image[face.image_id].append(face)
    ignored = {f.id for f in gt.faces if dont_care(f)}
    det_by_image: dict[Id, list] = defaultdict(list)
    for det in preds.detections:
        det_by_image[det.image_id].append(det)

    matches: list[Match] = []
    matched_gt: set[Id] = set()
    covered_gt: set[Id] = set()
    on_ignored_total = 0
    per_image: dict[Id, tuple[int, int, int, float, int]] = {}
    for image_id in gt.images:
        faces, dets = gt_by_image.get(image_id, []), det_by_image.get(image_id, [])
        pairs = match_boxes(np.array([f.bbox for f in faces]).reshape(-1, 4),
                            np.array([d.bbox for d in dets]).reshape(-1, 4), iou_threshold)
        on_ignored = 0  # predictions matched to a don't-care box: neither right nor wrong
        counted = [p for p in pairs if faces[p[0]].id not in ignored]
        for gi, di, value in pairs:
            if faces[gi].id in ignored:
                on_ignored += 1
                continue
            matches.append(Match(image_id=image_id, gt_id=faces[gi].id, prediction_index=dets[di].index, iou=value))
            matched_gt.add(faces[gi].id)
        share = covered_fraction(np.array([f.bbox for f in faces]).reshape(-1, 4),
                                 np.array([d.covering_bbox for d in dets]).reshape(-1, 4))
        covered = [f.id for f, c in zip(faces, share, strict=True)
                   if c >= coverage_threshold - IOU_TOLERANCE and f.id not in ignored]
        covered_gt.update(covered)
        on_ignored_total += on_ignored
        per_image[image_id] = (sum(f.id not in ignored for f in faces), len(dets) - on_ignored, len(counted),
                               sum(p[2] for p in counted), len(covered))

    def face_key(face) -> tuple[str | None, int, Id]:
        img = gt.images[face.image_id]
        return img.scenario, img.frame, face.person_id

    def scores(image_ids: list[Id]) -> Scores:
        n_gt = n_pred = n_matched = n_covered = 0
        iou_sum = 0.0
        found: dict[tuple, bool] = {}
        hidden: dict[tuple, bool] = {}
        for image_id in image_ids:
            g, p, m, s, c = per_image[image_id]
            n_gt, n_pred, n_matched, iou_sum = n_gt + g, n_pred + p, n_matched + m, iou_sum + s
            n_covered += c
            for face in gt_by_image.get(image_id, []):
                if face.id in ignored:
                    continue
                key = face_key(face)
                found[key] = found.get(key, True) and face.id in matched_gt
                hidden[key] = hidden.get(key, True) and face.id in covered_gt
        return Scores(images=len(image_ids), gt=n_gt, predictions=n_pred, matched=n_matched,
                      faces=len(found), faces_found=sum(found.values()), iou_sum=iou_sum, covered=n_covered,
                      faces_covered=sum(hidden.values()))

    roles = {image_id: image_role(img, camera_roles) for image_id, img in gt.images.items()}
    by_role: dict[str, list[Id]] = defaultdict(list)
    by_camera: dict[str, list[Id]] = defaultdict(list)
    by_scenario: dict[str, list[Id]] = defaultdict(list)
    camera_role_sets: dict[str, set[str]] = defaultdict(set)
    for image_id, img in gt.images.items():
        by_role[roles[image_id]].append(image_id)
        by_camera[img.camera].append(image_id)
        by_scenario[NO_SCENARIO if img.scenario is None else img.scenario].append(image_id)
        camera_role_sets[img.camera].add(roles[image_id])
    has_scenarios = any(img.scenario is not None for img in gt.images.values())

    # Holistic misses over all images: which views of each missed face failed.
    views: dict[tuple, list[tuple[str, bool]]] = defaultdict(list)
    for face in gt.faces:
        if face.id not in ignored:
            views[face_key(face)].append((gt.images[face.image_id].camera, face.id in matched_gt))
    misses = [HolisticMiss(scenario=k[0], frame=k[1], person_id=k[2], cameras=tuple(sorted(c for c, _ in v)),
                           missed_cameras=tuple(sorted(c for c, ok in v if not ok)))
              for k, v in views.items() if not all(ok for _, ok in v)]
    misses.sort(key=lambda m: (m.scenario or "", m.frame, str(m.person_id)))

    return EvaluationResult(
        iou_threshold=float(iou_threshold),
        overall=scores(list(gt.images)),
        per_role={r: scores(by_role[r]) for r in sorted(by_role, key=_role_order)},
        per_camera={c: scores(by_camera[c]) for c in sorted(by_camera)},
        per_scenario={s: scores(by_scenario[s]) for s in sorted(by_scenario)} if has_scenarios else {},
        camera_roles={c: "/".join(sorted(camera_role_sets[c], key=_role_order)) for c in sorted(by_camera)},
        matches=tuple(matches),
        missed=tuple(f.id for f in gt.faces if f.id not in matched_gt and f.id not in ignored),
        holistic_misses=tuple(misses),
        ignored_annotations=gt.ignored_annotations,
        ignored_predictions=preds.ignored,
        coverage_threshold=float(coverage_threshold),
        min_visible=None if min_visible is None else float(min_visible),
        dont_care_boxes=len(ignored),
        dont_care_predictions=on_ignored_total,
    )
