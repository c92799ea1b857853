"""What a frame gets when the 3D face path cannot serve a person (fail closed, privacy first).

- a failed frame: every view fully blurred (:func:`full_blur`);
- a person found in 3D without a face surface (no body fit at that frame): the sphere around
  their head joints blurred in every view (:func:`fallback_heads`; the pixels:
  :mod:`disguisor.run.head_masks`), and the sphere around their head as the depth confirmed it
  in a nearby frame (:func:`recent_heads`);
- a face placed by the body fit alone (not confirmed by the depth): spheres around it and beyond
  the shoulders blurred on top of the template (:func:`unconfirmed_heads`);
- a person detected in 2D whom no 3D person explains (seen by one camera only), or whose head
  the 3D person's head does not explain: the disk around their head keypoints blurred in that
  view (:func:`unexplained_heads`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from disguisor.boxes import mask_bounds
from disguisor.coco import NUM_JOINTS, torso_axis
from disguisor.geometry import project_points, undistort_pixels
from disguisor.io.calibration import Camera
from disguisor.refine.carry import confirmed_centre
from disguisor.render.blend import poisson_blend
from disguisor.render.obfuscate import blur_region
from disguisor.run.head_masks import head_sphere_mask
from disguisor.run.listing import FACE_FRONT, HEAD, looks_up
from disguisor.run.params import FailClosedParams

LEGS = [13, 14, 15, 16]  # knees, ankles
IS_HEAD = np.isin(np.arange(NUM_JOINTS), HEAD)


def full_blur(image: np.ndarray, width_px: int) -> np.ndarray:
    """The whole image made unrecognizable: shrunk to ``width_px`` wide, enlarged back, blurred."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (width_px, max(1, round(h * width_px / w))), interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    k = (max(w // width_px, 1) * 2) | 1
    return cv2.GaussianBlur(big, (k, k), 0)


def fill_undrawn(image: np.ndarray, mask: np.ndarray, kernel_px: int, drawn: np.ndarray,
                 fill: str = "blur") -> np.ndarray:
    """Hide the pixels of ``mask`` that ``drawn`` (both (H, W) bool) leaves free: ``fill``
    "membrane" gives them the smoothest colours that meet the picture around them (Laplace's
    equation: nothing of what lay inside survives), "blur" blurs them (``kernel_px``).

    A face already drawn there keeps its template: the template is blended to the face's own
    tones, so a blur wide enough to melt a face into its surroundings averages it back to
    within a few grey levels of the original face it replaced (seen on the people-finder
    benchmark: a surgeon's unconfirmed sphere undid the nurse's face beside it)."""
    if fill == "membrane":
        return poisson_blend(image, np.zeros_like(image), mask & ~drawn)
    return blur_region(image, mask & ~drawn, kernel_px)


def face_sphere_box(camera: Camera, person, centre: np.ndarray, params: FailClosedParams) -> list[float] | None:
    """The box [x, y, w, h] (pixels) reported for the face of a person hidden by a head sphere
    without a face surface: a sphere of ``face_report_radius_m`` (a face's size) around the mean
    of their nose and eyes (where the face is), else around the sphere's ``centre`` (world
    metres); None when it is outside the image."""
    face = None if person is None else person.joints[FACE_FRONT]
    face = None if face is None else face[np.isfinite(face[:, 0])]
    at = face.mean(0) if face is not None and len(face) else np.asarray(centre, float)
    hit = head_sphere_mask(camera, at, params.face_report_radius_m)
    return None if hit is None else hit[1]


def lifted_face_box(camera: Camera, point: np.ndarray, depth_m: np.ndarray | None, radius_m: float,
                    within_m: float) -> list[float] | None:
    """The box [x, y, w, h] (pixels) listed in ``camera`` for a face found in 2D in another view
    and lifted to ``point`` (world metres, on the face's surface: :func:`turned_elsewhere`): a
    face-sized sphere (``radius_m``) around it, when this view's sensor reads a surface within
    ``within_m`` of the point's depth at the box's centre, i.e. sees that face, not an occluder in
    front of it, the back of the head (a head's depth nearer) or through where it would be; the
    box of the disk's pixels read within ``within_m`` of that depth when they are at least a
    quarter of it (the face's visible part). None otherwise, without a reading, or outside the
    image."""
    hit = head_sphere_mask(camera, np.asarray(point, float), radius_m)
    if hit is None:
        return None
    disk, box = hit
    reading = _box_depth(box, depth_m)
    z = float(camera.world_to_camera(np.asarray(point, float)[None])[0, 2])
    if not (reading > 0 and abs(reading - z) <= within_m):
        return None
    # the part of the disk the sensor reads at the face's depth: the face's visible part, where
    # an occluder or the picture's edge hides the rest
    seen = disk & (np.abs(np.nan_to_num(depth_m, nan=0.0) - z) <= within_m)
    if seen.sum() < 0.25 * disk.sum():
        return box
    x0, y0, x1, y1 = mask_bounds(seen)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def fallback_heads(people, with_body: set[int], params: FailClosedParams) -> list[tuple[int, np.ndarray, float]]:
    """(person id, head centre (3,) world metres, sphere radius m) of every 3D person of a frame
    without a body fit (``with_body``: ids that have one)."""
    out = []
    for person in people:
        if person.id in with_body:
            continue
        head = _seen_head(person)
        if len(head) == 0:
            head = person.joints[np.isfinite(person.joints[:, 0])]
            if len(head) == 0:
                continue
            torso = torso_head_centre(person.joints, params)
            if torso is not None:  # beyond the shoulders, whatever the body's posture
                out.append((person.id, torso, params.torso_head_radius_m))
                continue
            # no head joint: take the highest joints; the head is within ~0.5 m above them
            top = head[np.argmax(head[:, 2])]
            out.append((person.id, top + np.array([0, 0, 0.25]), 0.45))
        else:
            out.append((person.id, head.mean(0), params.head_radius_m))
    return out


def recent_heads(fallback: Sequence[tuple[int, np.ndarray, float]], nearby, params: FailClosedParams,
                 ) -> list[tuple[int, np.ndarray, float]]:
    """(person id, centre (3,) world metres, sphere radius m): for each person of ``fallback``
    (:func:`fallback_heads`: no body fit at this frame) whose head the depth confirmed in a
    nearby frame, a sphere of ``head_radius_m`` around that head's centre, when it lies more than
    ``unconfirmed_joints_apart_m`` from each of their spheres: a person whose keypoints fail in
    one frame keeps few, often wrong joints (a lying patient's eyes 18 cm below his face), while
    a moment ago the depth showed the head.

    Args:
        nearby: person id -> that person's heads confirmed in nearby frames, nearest first
            (:meth:`~disguisor.refine.frame.NearbyHeads.lookup`), or None.
    """
    if nearby is None:
        return []
    out = []
    for pid in dict.fromkeys(int(pid) for pid, _, _ in fallback):
        head = next(iter(nearby(pid)), None)
        if head is None:
            continue
        at = confirmed_centre(head)
        if all(float(np.linalg.norm(at - np.asarray(c, float))) > params.unconfirmed_joints_apart_m
               for p, c, _ in fallback if int(p) == pid):
            out.append((pid, at, params.head_radius_m))
    return out


def torso_head_centre(joints: np.ndarray, params: FailClosedParams, ahead_m: float | None = None,
                      up_m: float | None = None, sided: bool = True) -> np.ndarray | None:
    """Where the head of a person whose head no camera saw most likely is (world metres, (3,)):
    beyond the shoulders along the hip-to-shoulder axis by ``ahead_m`` (default
    ``torso_head_ahead_m``), raised by ``up_m`` (default ``torso_head_up_m``). It holds for
    standing, bending and lying people alike, where a body prior of an upright person puts a
    lying patient's head above their chest. None without a shoulder and a hip, or when they are
    closer than 15 cm (the axis is unknown). sided: the torso's axis from one shoulder's own hip
    (:func:`~disguisor.coco.torso_axis`).

    Args:
        joints: (17, 3) COCO-17 joints, world metres (+z up), NaN where not estimated.
    """
    torso = torso_axis(joints, sided=sided)
    if torso is None:
        return None
    top, axis = torso
    ahead = params.torso_head_ahead_m if ahead_m is None else ahead_m
    up = params.torso_head_up_m if up_m is None else up_m
    return top + ahead * axis + np.array([0.0, 0.0, up])


def unconfirmed_heads(people, faces, params: FailClosedParams) -> list[tuple[int, np.ndarray, float]]:
    """(person id, centre (3,) world metres, sphere radius m) of the spheres blurred for every face
    of a frame that the depth did not confirm (head registration not accepted: ``face.refined``
    False), so that only the body fit placed it, whose head joints disagree with the torso
    (:func:`_head_off_torso`), or that looks up further than a neck bends
    (:func:`~disguisor.run.listing.looks_up`, ``max_face_up_deg``).
    Two spheres per such face: around the fitted face, and around :func:`torso_head_centre` (the
    fit's head can be far off: on a lying patient whose shoulder was taken for an ear it sat on
    the chest, 27 cm from the face); another around the face as fitted when a second start moved
    it (``face.as_fitted``), and around the mean of the person's head joints and around their
    head as the depth confirmed it in a nearby frame (``face.nearby_head``), each when it lies
    more than ``unconfirmed_joints_apart_m`` from the fitted face (the detectors saw a head
    there that the fit did not follow; the head was there a moment ago).

    Args:
        people: the frame's 3D people (``id``, ``joints`` (17, 3) world metres, NaN = unseen).
        faces: the frame's face surfaces (``person_id``, ``centre``, ``refined``).
    """
    if params.unconfirmed_head_radius_m <= 0:
        return []
    by_id = {int(p.id): p for p in people}
    out = []
    for face in faces:
        person = by_id.get(int(face.person_id))
        if (face.refined and not _head_off_torso(person, params)
                and not looks_up(person, face.facing, params.max_face_up_deg)):
            continue
        torso = None if person is None else torso_head_centre(person.joints, params)
        out.append((int(face.person_id), np.asarray(face.centre, float), params.unconfirmed_head_radius_m))
        as_fitted = getattr(face, "as_fitted", None)
        if as_fitted is not None:  # a second start moved the face: the fit's place keeps its sphere
            out.append((int(face.person_id), np.asarray(as_fitted.centre, float), params.unconfirmed_head_radius_m))
        if torso is not None:
            out.append((int(face.person_id), torso, params.torso_head_radius_m))
        elsewhere = []  # where else the head may be: its joints, and where the depth confirmed it
        head = _seen_head(person)
        if len(head):
            elsewhere.append(head.mean(0))
        if getattr(face, "nearby_head", None) is not None:
            elsewhere.append(np.asarray(face.nearby_head, float))
        for at in elsewhere:
            if float(np.linalg.norm(at - np.asarray(face.centre, float))) > params.unconfirmed_joints_apart_m:
                out.append((int(face.person_id), at, params.unconfirmed_head_radius_m))
    return out


def _seen_head(person) -> np.ndarray:
    """(n, 3) world metres: the head joints (nose, eyes, ears) a view placed of ``person`` (none
    when ``person`` is None)."""
    if person is None:
        return np.zeros((0, 3))
    head = np.asarray(person.joints, float)[HEAD]
    return head[np.isfinite(head[:, 0])]


def _head_off_torso(person, params: FailClosedParams) -> bool:
    """Whether the person's head joints lie farther than ``torso_head_disagree_m`` from where their
    torso puts the head (``torso_head_disagree_ahead_m`` / ``_up_m``): a shoulder taken for an
    ear, and a head registration that may then have locked onto the chest (it happened on a lying
    patient: accepted at 0.63 fitness, 27 cm off)."""
    torso = None if person is None else torso_head_centre(person.joints, params, params.torso_head_disagree_ahead_m,
                                                          params.torso_head_disagree_up_m, sided=False)
    if torso is None:
        return False
    head = _seen_head(person)
    return bool(len(head)) and float(np.linalg.norm(head.mean(0) - torso)) > params.torso_head_disagree_m


def _median_distance(a: np.ndarray, b: np.ndarray, use: np.ndarray) -> float:
    """Median distance (px) between the rows of ``a`` and ``b`` (n, 2) where ``use`` holds and
    ``b`` is finite; infinity with fewer than two such rows."""
    both = use & np.isfinite(b[:, 0])
    return float(np.median(np.linalg.norm(a[both] - b[both], axis=1))) if both.sum() >= 2 else np.inf


def shows_face(seen: np.ndarray) -> bool:
    """Whether a 2D detection whose keypoints ``seen`` (17,) bool count shows a face: its nose
    and an eye (a head seen from behind gives ears at most)."""
    return bool(seen[FACE_FRONT[0]] and seen[FACE_FRONT[1:]].any())


def unexplained_heads(camera: Camera, detections: Sequence[np.ndarray], people, params: FailClosedParams,
                      painted: np.ndarray | None = None) -> list[tuple[np.ndarray, float, bool]]:
    """(centre (2,) px, radius px, whether it shows a face (:func:`shows_face`)) of the head of
    every 2D detection of this view that no 3D person explains (see :class:`FailClosedParams`).

    A 3D person whose projected joints lie on the detection's explains its body; its head only
    when its projected head joints lie on the detection's head keypoints too (both within the same
    tolerance), or when a 3D person lies on its body or on its head keypoints and at least
    ``explained_painted_share`` of the disk around the detection's head is already painted
    (``painted``: (H, W) bool, the view's painted pixels). A person found in
    3D without head joints, or with a head placed off the body, leaves the head the detector saw
    unexplained: their face is placed from the torso, and where the head is not above the torso
    (bent over the table) it would stay visible.

    Args:
        detections: (17, 3) keypoints (x, y px, score) of each 2D detection of the view.
        people: the 3D people of the frame (``joints`` (17, 3) world metres, NaN = missing).
    """
    if not detections:
        return []
    projected = []
    for person in people:
        pc = camera.world_to_camera(np.nan_to_num(person.joints, nan=0.0))
        ok = np.isfinite(person.joints[:, 0]) & (pc[:, 2] > 0.05)
        uv = np.full((len(pc), 2), np.nan)
        if ok.any():
            uv[ok] = project_points(pc[ok], camera.K, camera.dist)
        projected.append(uv)
    out = []
    for kp in detections:
        seen = kp[:, 2] >= params.head_keypoint_score
        head = kp[HEAD][seen[HEAD], :2]
        if len(head) < 2:
            continue
        pts = kp[seen, :2]
        size = float(np.linalg.norm(pts.max(0) - pts.min(0)))
        tol = max(params.explained_px, params.explained_share * size)
        on_body = [_median_distance(kp[:, :2], uv, seen) < tol for uv in projected]
        on_head = [_median_distance(kp[:, :2], uv, seen & IS_HEAD) < tol for uv in projected]
        if any(b and h for b, h in zip(on_body, on_head, strict=True)):
            continue
        centre, radius = _head_disk(seen, head, params)
        # a 3D person on the body or on the head (the detection's limbs may be another's: one
        # head per 3D person, pose3d's one_per_body), and the disk already painted
        if ((any(on_body) or any(on_head)) and painted is not None
                and _disk_share(painted, centre, radius) >= params.explained_painted_share):
            continue
        out.append((centre, radius, shows_face(seen)))
    return out


def unpainted_faces(detections: Sequence[np.ndarray], painted: np.ndarray, params: FailClosedParams
                    ) -> list[tuple[np.ndarray, float]]:
    """(centre (2,) px, radius px) of the head of every 2D detection of this view that shows a
    face (its nose and an eye with at least ``head_keypoint_score``) while less than
    ``params.seen_face_painted_share`` of its head disk is painted (``painted``: (H, W) bool, after
    the 3D faces, spheres and unexplained heads of the view): the detector sees a face that the
    3D person's face did not cover here (its head turned a little too far, so the view judged
    the face hidden by its own head). None when ``seen_face_painted_share`` is None.

    Args:
        detections: (17, 3) keypoints (x, y px, score) of each 2D detection of the view.
    """
    if params.seen_face_painted_share is None:
        return []
    out = []
    for kp in detections:
        seen = kp[:, 2] >= params.head_keypoint_score
        if not shows_face(seen):
            continue
        centre, radius = _head_disk(seen, kp[HEAD][seen[HEAD], :2], params)
        if _disk_share(painted, centre, radius) < params.seen_face_painted_share:
            out.append((centre, radius))
    return out


def _head_disk(seen: np.ndarray, head: np.ndarray, params: FailClosedParams) -> tuple[np.ndarray, float]:
    """(centre (2,) px, radius px) of the disk blurred around a detection's head keypoints."""
    spread = float(np.max(np.linalg.norm(head[:, None] - head[None], axis=2)))
    ears = seen[3] or seen[4]
    radius = max(params.min_head_radius_px, params.head_disk_scale * spread * (1.0 if ears else 2.0))
    return head.mean(0), radius


def _disk_share(mask: np.ndarray, centre: np.ndarray, radius: float) -> float:
    """Share of the disk (``centre`` (2,) px, ``radius`` px) inside the image that ``mask`` holds;
    0 for a disk wholly outside the image."""
    h, w = mask.shape[:2]
    cx, cy, r = float(centre[0]), float(centre[1]), max(float(radius), 0.5)
    x0, x1 = max(int(np.floor(cx - r)), 0), min(int(np.ceil(cx + r)) + 1, w)
    y0, y1 = max(int(np.floor(cy - r)), 0), min(int(np.ceil(cy + r)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return 0.0
    yy, xx = np.ogrid[y0:y1, x0:x1]
    disk = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    return float(mask[y0:y1, x0:x1][disk].mean()) if disk.any() else 0.0


def _box_depth(box, depth_m: np.ndarray | None) -> float:
    """Median sensor depth (metres) of the central half of a box (x, y, w, h px); 0 = no reading."""
    if depth_m is None:
        return 0.0
    x, y, w, h = (float(v) for v in box[:4])
    inner = depth_m[int(y + h / 4):int(y + 3 * h / 4) + 1, int(x + w / 4):int(x + 3 * w / 4) + 1]
    inner = inner[np.isfinite(inner) & (inner > 0)]
    return float(np.median(inner)) if inner.size else 0.0


def head_sized(boxes: np.ndarray, camera: Camera, depth_m: np.ndarray | None, min_m: float, max_m: float) -> np.ndarray:
    """The (N, 5) face boxes (x, y, w, h, score px) whose size (square root of the box area) at
    the median sensor depth of the box's central half lies in [min_m, max_m] metres; a box
    without any depth reading there is kept (privacy first)."""
    keep = []
    for b in np.asarray(boxes, float).reshape(-1, 5):
        z = _box_depth(b, depth_m)
        size_m = float(np.sqrt(b[2] * b[3])) * z / float(camera.K[0, 0])
        if z <= 0 or min_m <= size_m <= max_m:
            keep.append(b)
    return np.asarray(keep, float).reshape(-1, 5)


def box_point(box, camera: Camera, depth_m: np.ndarray | None) -> np.ndarray | None:
    """The world point (3,) metres of a box's (x, y, w, h px) centre at its median sensor depth
    (:func:`_box_depth`), or None without a reading there."""
    z = _box_depth(box, depth_m)
    if z <= 0:
        return None
    x, y, w, h = (float(v) for v in box[:4])
    ray = undistort_pixels(np.array([[x + w / 2, y + h / 2]]), camera.K, camera.dist)[0]
    return camera.camera_to_world(np.array([[ray[0] * z, ray[1] * z, z]]))[0]


def on_legs(box, camera: Camera, depth_m: np.ndarray | None, people, leg_m: float, head_m: float) -> bool:
    """Whether a 2D face box (x, y, w, h px) lies on a 3D person's legs: its centre at the
    box's median sensor depth (world metres) within ``leg_m`` of someone's knee or ankle and
    farther than ``head_m`` from every head joint (nose, eyes, ears) of ``people`` (objects
    with ``joints`` (17, 3) world metres, NaN = missing). No depth reading or nobody: False."""
    at = box_point(box, camera, depth_m)
    if at is None:
        return False
    near_leg = False
    for person in people:
        joints = np.asarray(person.joints, float)
        d = np.linalg.norm(joints - at, axis=1)
        if np.any(d[HEAD] <= head_m):
            return False
        near_leg |= bool(np.any(d[LEGS] <= leg_m))
    return near_leg


def turned_elsewhere(turned: dict[str, tuple[Camera, np.ndarray, np.ndarray | None]], faces, people,
                     near_m: float, leg_m: float | None, leg_head_m: float) -> list[tuple[str, np.ndarray]]:
    """The faces found in 2D at quarter turns that no 3D person explains, lifted to the world.

    turned: camera name -> (camera, (N, 5) boxes x, y, w, h, score px, that view's depth (H, W)
    metres or None). A box with a depth reading becomes the point at its centre and median
    depth (world metres); it is kept when it lies farther than ``near_m`` from every face centre
    of ``faces`` (FaceSurface) and every head joint of ``people`` (joints (17, 3)), and not on a
    person's legs (:func:`on_legs`, unless ``leg_m`` is None). Returns (camera name, point):
    a face only 2D found, whom the other views must hide too."""
    out = []
    centres = [np.asarray(f.centre, float) for f in faces]
    heads = [np.asarray(p.joints, float)[HEAD] for p in people]
    for name, (camera, boxes, depth) in turned.items():
        for b in np.asarray(boxes, float).reshape(-1, 5):
            at = box_point(b, camera, depth)
            if at is None or (leg_m is not None and on_legs(b, camera, depth, people, leg_m, leg_head_m)):
                continue
            if any(np.linalg.norm(c - at) <= near_m for c in centres):
                continue
            if any(np.nanmin(np.linalg.norm(h - at, axis=1), initial=np.inf) <= near_m
                   for h in heads if np.isfinite(h).any()):
                continue
            out.append((name, at))
    return out


def unexplained_head_boxes(camera: Camera, detections: Sequence[np.ndarray], people,
                           params: FailClosedParams) -> np.ndarray:
    """(N, 5) boxes (x, y, w, h, score px) of the heads of this view's 2D detections that no 3D
    person explains (:func:`unexplained_heads`, without the painted-pixels test): the square
    of each head disk's radius around its centre (the central half of which :func:`box_point`
    reads the depth of), score 1. For :func:`turned_elsewhere`: a person only one view's
    detector found this frame has a face the other views may see."""
    heads = unexplained_heads(camera, detections, people, params)
    return np.array([[c[0] - r / 2, c[1] - r / 2, r, r, 1.0] for c, r, _ in heads], float).reshape(-1, 5)


def lifted_faces(views: dict[str, tuple[Camera, np.ndarray, Sequence[np.ndarray], np.ndarray | None]], faces, people,
                 params) -> list[tuple[str, np.ndarray]]:
    """The faces found in one view only, lifted to the world (:func:`turned_elsewhere`), for the
    other views to hide: those found at quarter turns and (``params.lift_2d_heads``) the heads
    of 2D detections no 3D person explains (:func:`unexplained_head_boxes`).

    Args:
        views: camera name -> (camera, the view's quarter-turn face boxes (N, 5) x, y, w, h,
            score px, its 2D detections' keypoints (17, 3) x, y px, score, its depth (H, W)
            metres or None).
        faces: the frame's FaceSurfaces; people: its 3D people (``joints`` (17, 3) world metres).
        params: RunParams (``turned_lift_m`` None: nothing is lifted).
    """
    if params.turned_lift_m is None:
        return []
    found = {}
    for name, (camera, turned, detections, depth) in views.items():
        boxes = np.asarray(turned, float).reshape(-1, 5)
        if params.lift_2d_heads:
            boxes = np.vstack([boxes, unexplained_head_boxes(camera, detections, people, params.fail_closed)])
        if len(boxes):
            found[name] = (camera, boxes, depth)
    return turned_elsewhere(found, faces, people, params.turned_lift_m, params.turned_feet_m, params.turned_feet_head_m)
