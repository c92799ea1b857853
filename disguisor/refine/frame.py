"""One frame of head refinement, shared by ``disguisor refine`` and ``disguisor run``.

Pose the fitted bodies of a frame, collect the depth points around each head from every view,
register each head rigidly to them (guarded) and extract its face surface.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from disguisor.body.bodies_io import BodyFits
from disguisor.body.fit import PosedBody, posed_people
from disguisor.body.model import BodyModel
from disguisor.errors import InputError
from disguisor.fusion import RayCache
from disguisor.io.calibration import Camera
from disguisor.refine.carry import ConfirmedHead, confirmed_heads
from disguisor.refine.face import refine_faces
from disguisor.refine.lying import body_starts
from disguisor.refine.params import RefineParams
from disguisor.refine.points import box_points, head_cloud
from disguisor.refine.register import HeadRegistration, crop_box
from disguisor.refine.surface import FaceSurface


def joints_by_person(people) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """person id -> (joints (17, 3) world metres, confidences (17,)) of a frame's 3D people
    (:class:`~disguisor.pose3d.poses.Person3D`), the ``head_joints`` of :func:`refine_frame`."""
    return {int(p.id): (p.joints, p.confidence) for p in people}


def refine_frame(model: BodyModel, fits: BodyFits, frame: int, views: Mapping[str, tuple[Camera, np.ndarray]],
                 rays: RayCache, params: RefineParams,
                 head_joints: Mapping[int, tuple[np.ndarray, np.ndarray]] | None = None,
                 nearby: Callable[[int], Iterable[ConfirmedHead]] | None = None,
                 ) -> tuple[list[PosedBody], list[tuple[FaceSurface, HeadRegistration]]]:
    """The posed bodies of ``frame`` and, for each, its refined face and the registration's record.

    Args:
        views: camera name -> (camera, depth image (H, W) as the recording stores it).
        rays: the per-camera back-projection cache (reused over frames).
        head_joints: person id -> the frame's 3D joints (17, 3) world metres and confidences (17,),
            the second starting point of a head fitted far from them (None: the fit only).
        nearby: person id -> that person's heads confirmed in nearby frames, nearest first
            (:mod:`disguisor.refine.carry`; None: none).
    """
    posed = posed_people(model, fits, frame)
    if not posed:
        return [], []
    cloud = head_cloud(views, rays, posed, model.head_vertices, params)
    # a lying head fitted onto the chest is registered again from beyond its shoulders: the depth
    # there too (the head cloud holds only the fitted heads' crop boxes)
    for body in posed:
        starts = body_starts(body, model, params)
        if starts:
            head = np.asarray(body.vertices)[model.head_vertices]
            boxes = [crop_box(head @ T[:3, :3].T + T[:3, 3], params) for T in starts]
            lo, hi = np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)
            cloud = np.concatenate([cloud, box_points(views, rays, lo, hi, params.max_focal_px)])
    return posed, list(refine_faces(posed, model, cloud, params, head_joints, nearby))


class NearbyHeads:
    """The heads the depth confirmed, from the fit alone, in the frames near the one being
    refined: the carried starts of its refused heads (:mod:`disguisor.refine.carry`,
    ``params.nearby_frames``). A frame's confirmed heads are computed once, on demand (reading its
    depth through ``depth_views(frame)``), or recorded by the caller from the frame's own refine;
    only those of frames near the last one recorded are kept.

    Args:
        frames: the recording's sorted frame numbers.
        depth_views: frame -> camera name -> (camera, depth image (H, W) as the recording stores it);
            an :class:`~disguisor.errors.InputError` there leaves that frame without confirmed heads
            (its own refine reports the bad file).
    """

    def __init__(self, model: BodyModel, fits: BodyFits, frames: Sequence[int],
                 depth_views: Callable[[int], Mapping[str, tuple[Camera, np.ndarray]]], rays: RayCache,
                 params: RefineParams) -> None:
        self.model, self.fits, self.frames, self.depth_views = model, fits, list(frames), depth_views
        self.rays, self.params = rays, params
        self._heads: dict[int, dict[int, ConfirmedHead]] = {}

    def _at(self, frame: int) -> dict[int, ConfirmedHead]:
        if frame not in self._heads:
            try:
                views = self.depth_views(frame)
            except InputError:
                self._heads[frame] = {}
            else:
                posed, refined = refine_frame(self.model, self.fits, frame, views, self.rays, self.params)
                self._heads[frame] = confirmed_heads(frame, posed, [reg for _, reg in refined],
                                                     self.model.head_vertices)
        return self._heads[frame]

    def lookup(self, frame: int) -> Callable[[int], Iterator[ConfirmedHead]] | None:
        """person id -> that person's confirmed heads within ``params.nearby_frames`` frame numbers
        of ``frame``, nearest (then earlier) first, computed as they are asked for; None when off."""
        k = self.params.nearby_frames
        if k <= 0:
            return None
        lo, hi = bisect.bisect_left(self.frames, frame - k), bisect.bisect_right(self.frames, frame + k)
        near = sorted((g for g in self.frames[lo:hi] if g != frame), key=lambda g: (abs(g - frame), g))
        return lambda pid: (h for g in near if (h := self._at(g).get(pid)) is not None)

    def record(self, frame: int, posed: Sequence[PosedBody], registrations: Sequence[HeadRegistration]) -> None:
        """Keep what ``frame``'s own refine confirmed (the registrations accepted from the fit: a
        carried or second start is never confirmed, so this equals a fresh computation) and drop
        the frames no longer near."""
        self._heads[frame] = confirmed_heads(frame, posed, registrations, self.model.head_vertices)
        for other in [g for g in self._heads if abs(g - frame) > self.params.nearby_frames]:
            del self._heads[other]
