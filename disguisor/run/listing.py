"""Which painted faces a view lists in detections.json (every one is painted either way).

A face is listed where a viewer or an annotator would list it: not a duplicate of another
person's face (:func:`duplicate_faces`), not placed where the depth says the face is not
(``FaceSurface.disputed``) unless that view's 2D detector sees the face inside its box
(:func:`seen_in_box`), not drawn looking up further than a neck bends (:func:`looks_up`) unless
that detector sees it, not placed by the body fit alone (:func:`guessed_faces`), and shown in the
view (:func:`unlisted_reason`: big enough, not turned away, not just outside the picture). Each
face painted but not listed keeps its reason (:func:`unlisted_reasons`, :func:`unlisted_record`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from disguisor.coco import HEAD_JOINTS, torso_axis

HEAD = list(HEAD_JOINTS)  # nose, eyes, ears (COCO-17)
FACE_FRONT = [0, 1, 2]  # nose, eyes


def without_head_joints(person) -> bool:
    """Whether a 3D person (``joints`` (17, 3) world metres, NaN = missing; None = no person) has
    none of the head joints (nose, eyes, ears) in this frame: no view's keypoints placed the head."""
    return person is None or not np.isfinite(np.asarray(person.joints, float)[HEAD]).any()


def looks_up(person, facing, max_up_deg: float) -> bool:
    """Whether ``facing`` (unit (3,), world) points more than ``max_up_deg`` degrees above the
    plane across the 3D person's torso (normal: the hip-to-shoulder axis of ``person.joints``
    (17, 3) world metres): a neck bent back further than people bend it. False when the torso's
    axis is unknown (or ``person`` is None)."""
    torso = None if person is None else torso_axis(np.asarray(person.joints, float))
    if torso is None:
        return False
    return float(np.dot(np.asarray(facing, float), torso[1])) > np.sin(np.radians(max_up_deg))


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


def unlisted_reasons(faces, rendered, people: dict, detections: Sequence[np.ndarray], params) -> dict[int, str]:
    """Person id -> why a view paints that face but does not list it (``params``: RunParams): the
    duplicates (``"duplicate"``); the faces the depth disputes, unless ``report_disputed_faces``, or the view's
    2D detector sees that face inside its box (``report_disputed_seen_score``, None: never), or
    the face turns towards that camera by at most ``report_disputed_front_deg`` (None: never)
    (``"disputed"``); the faces looking up further than a neck bends (:func:`looks_up`,
    ``fail_closed.max_face_up_deg``), unless ``report_faces_looking_up`` or the view's 2D
    detector sees the face inside its box (``"looking up"``); the faces the body fit alone
    placed, unless ``report_guessed_faces`` (``"guessed"``). The first reason found is kept.

    Args:
        faces: the frame's face surfaces (:class:`~disguisor.refine.face.FaceSurface`).
        rendered: the view's :class:`~disguisor.render.results.RenderedFace` (``bbox`` pixels,
            ``facing_angle_deg``).
        people: person id -> 3D person of this frame (``joints`` (17, 3) world metres).
        detections: (17, 3) keypoints (x, y px, score) of each 2D detection of the view.
    """
    out = dict.fromkeys(duplicate_faces(faces, params.report_duplicate_face_m, params.report_same_head_m),
                        "duplicate")
    shown = {int(rf.person_id): rf for rf in rendered}
    score, front = params.report_disputed_seen_score, params.report_disputed_front_deg

    def seen(rf) -> bool:  # the view's detector sees the face where it is drawn
        return rf is not None and score is not None and seen_in_box(rf.bbox, detections, score)

    if not params.report_disputed_faces:  # placed where the depth says the face is not
        def vouched(rf) -> bool:  # this view confirms the face: it faces the camera, or the detector sees it
            return rf is not None and ((front is not None and rf.facing_angle_deg <= front) or seen(rf))

        for f in faces:
            if f.disputed and not vouched(shown.get(int(f.person_id))):
                out.setdefault(int(f.person_id), "disputed")
    if not params.report_faces_looking_up:  # turned up by a nose and eyes guessed on the back of the head
        for f in faces:
            pid = int(f.person_id)
            if looks_up(people.get(pid), f.facing, params.fail_closed.max_face_up_deg) and not seen(shown.get(pid)):
                out.setdefault(pid, "looking up")
    if not params.report_guessed_faces:  # neither keypoints nor depth say where the head is
        for pid in guessed_faces(faces, people):
            out.setdefault(pid, "guessed")
    return out


def unlisted_reason(face, params, unlisted: Mapping[int, str] | None = None) -> str | None:
    """Why a face painted in a view is not listed in detections.json (it is painted either way),
    None when it is listed: its person id is in ``unlisted`` (:func:`unlisted_reasons`: that
    reason); its depth-confirmed box covers fewer than
    ``report_min_face_px`` pixels (``"small"``); a face estimated just outside the image whose
    margin reaches in (``face.border``; unless ``report_border_faces``: ``"border"``); turned
    beyond ``report_back_angle_deg`` (``"back"``), or beyond ``report_away_angle_deg`` with less
    than ``report_away_min_visible`` of its rendered pixels visible (its own head and occluders
    hide the rest: ``"turned away"``). ``face``: a
    :class:`~disguisor.render.results.RenderedFace`; ``params``: RunParams."""
    pid = int(face.person_id)
    if unlisted and pid in unlisted:
        return unlisted[pid]
    if face.bbox[2] * face.bbox[3] < params.report_min_face_px:
        return "small"
    if face.border and not params.report_border_faces:
        return "border"
    if face.facing_angle_deg > params.report_back_angle_deg:
        return "back"
    if face.facing_angle_deg > params.report_away_angle_deg and face.visible_fraction < params.report_away_min_visible:
        return "turned away"
    return None


def unlisted_record(face, reason: str) -> dict:
    """The frame record's entry of a face painted in a view but not listed: person id, reason,
    its box and painted box (pixels), its turn from the camera (degrees) and visible share."""
    return {"person_id": int(face.person_id), "reason": reason, "bbox": [round(float(v), 1) for v in face.bbox],
            "painted_bbox": [round(float(v), 1) for v in face.painted_bbox],
            "facing_deg": round(float(face.facing_angle_deg), 1), "visible": round(float(face.visible_fraction), 3)}
