"""Which painted faces a view lists in detections.json (every one is painted either way).

A face is listed where a viewer or an annotator would list it: not a duplicate of another
person's face (:func:`duplicate_faces`), not placed where the depth says the face is not
(``FaceSurface.disputed``) unless that view's 2D detector sees the face inside its box
(:func:`seen_in_box`), not placed by the body fit alone (:func:`guessed_faces`), and shown in the
view (:func:`listed_face`: big enough, not turned away, not just outside the picture).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from disguisor.coco import HEAD_JOINTS

HEAD = list(HEAD_JOINTS)  # nose, eyes, ears (COCO-17)
FACE_FRONT = [0, 1, 2]  # nose, eyes


def without_head_joints(person) -> bool:
    """Whether a 3D person (``joints`` (17, 3) world metres, NaN = missing; None = no person) has
    none of the head joints (nose, eyes, ears) in this frame: no view's keypoints placed the head."""
    return person is None or not np.isfinite(np.asarray(person.joints, float)[HEAD]).any()


def guessed_faces(faces, people: dict) -> set[int]:
    """Person ids of the faces the body fit alone placed: the head registration refused
    (``FaceSurface.refined`` False) and no head joint in the person's 3D pose
    (:func:`without_head_joints`; ``people``: person id -> 3D person of this frame)."""
    return {int(f.person_id) for f in faces if not f.refined and without_head_joints(people.get(int(f.person_id)))}


def duplicate_faces(faces, distance_m: float, same_head_m: float) -> set[int]:
    """Person ids of the faces that duplicate another person's face: not confirmed by the depth
    (``refined`` False: placed by the body fit alone) and centred within ``distance_m`` (metres)
    of a face the depth confirmed, or confirmed too but within ``same_head_m`` of a confirmed face
    of a lower person id (both registered onto one head). Two 3D people found for one (an
    association split, a view lifted from depth a little off) give such pairs.

    Args:
        faces: the frame's face surfaces (``person_id``, ``centre`` (3,) world metres, ``refined``).
    """
    confirmed = [f for f in faces if f.refined]
    out = set()
    for face in faces:
        centre = np.asarray(face.centre, float)
        for other in confirmed:
            d = float(np.linalg.norm(np.asarray(other.centre, float) - centre))
            if int(other.person_id) == int(face.person_id):
                continue
            if (not face.refined and d < distance_m) or (face.refined and d < same_head_m
                                                          and int(other.person_id) < int(face.person_id)):
                out.add(int(face.person_id))
    return out


def seen_in_box(box: Sequence[float], detections: Sequence[np.ndarray], min_score: float) -> bool:
    """Whether a 2D detection of the view shows a face inside ``box`` [x, y, w, h] (pixels): its
    nose and both eyes each scored at least ``min_score`` and all three inside the box.

    Args:
        detections: (17, 3) keypoints (x, y px, score) of each 2D detection of the view.
    """
    x, y, w, h = (float(v) for v in box)
    for kp in detections:
        front = np.asarray(kp, float)[FACE_FRONT]
        if not (front[:, 2] >= min_score).all():
            continue
        inside = (front[:, 0] >= x) & (front[:, 0] <= x + w) & (front[:, 1] >= y) & (front[:, 1] <= y + h)
        if inside.all():
            return True
    return False


def unlisted_faces(faces, rendered, people: dict, detections: Sequence[np.ndarray], params) -> set[int]:
    """Person ids of the faces a view paints but does not list (``params``: RunParams): the
    duplicates; the faces the depth disputes, unless ``report_disputed_faces``, or the view's
    2D detector sees that face inside its box (``report_disputed_seen_score``, None: never), or
    the face turns towards that camera by at most ``report_disputed_front_deg`` (None: never);
    the faces the body fit alone placed, unless ``report_guessed_faces``.

    Args:
        faces: the frame's face surfaces (:class:`~disguisor.refine.face.FaceSurface`).
        rendered: the view's :class:`~disguisor.render.results.RenderedFace` (``bbox`` pixels,
            ``facing_angle_deg``).
        people: person id -> 3D person of this frame (``joints`` (17, 3) world metres).
        detections: (17, 3) keypoints (x, y px, score) of each 2D detection of the view.
    """
    out = duplicate_faces(faces, params.report_duplicate_face_m, params.report_same_head_m)
    if not params.report_disputed_faces:  # placed where the depth says the face is not
        shown = {int(rf.person_id): rf for rf in rendered}
        score, front = params.report_disputed_seen_score, params.report_disputed_front_deg

        def vouched(rf) -> bool:  # this view confirms the face: it faces the camera, or the detector sees it
            return rf is not None and ((front is not None and rf.facing_angle_deg <= front)
                                       or (score is not None and seen_in_box(rf.bbox, detections, score)))

        out |= {int(f.person_id) for f in faces if f.disputed and not vouched(shown.get(int(f.person_id)))}
    if not params.report_guessed_faces:  # neither keypoints nor depth say where the head is
        out |= guessed_faces(faces, people)
    return out


def listed_face(face, params, unlisted: set[int] = frozenset()) -> bool:
    """Whether a face painted in a view is listed in detections.json (it is painted either way):
    its person id is not in ``unlisted`` (:func:`unlisted_faces`), its
    depth-confirmed box covers at least ``report_min_face_px`` pixels, and it is not turned
    away from the camera (``facing_angle_deg`` > ``report_away_angle_deg``) with less than
    ``report_away_min_visible`` of its rendered pixels visible (its own head and occluders hide
    the rest), nor beyond ``report_back_angle_deg`` at all, nor a face estimated just outside the
    image whose margin reaches in (``face.border``; unless ``report_border_faces``). ``face``: a
    :class:`~disguisor.render.results.RenderedFace`; ``params``: RunParams."""
    if int(face.person_id) in unlisted or face.bbox[2] * face.bbox[3] < params.report_min_face_px:
        return False
    if face.border and not params.report_border_faces:
        return False
    if face.facing_angle_deg > params.report_back_angle_deg:
        return False
    return not (face.facing_angle_deg > params.report_away_angle_deg
                and face.visible_fraction < params.report_away_min_visible)
