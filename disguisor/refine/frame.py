"""One frame of head refinement, shared by ``disguisor refine`` and ``disguisor run``.

Pose the fitted bodies of a frame, collect the depth points around each head from every view,
register each head rigidly to them (guarded) and extract its face surface.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from disguisor.body.bodies_io import BodyFits
from disguisor.body.fit import PosedBody, posed_people
from disguisor.body.model import BodyModel
from disguisor.fusion import RayCache
from disguisor.io.calibration import Camera
from disguisor.refine.face import refine_faces
from disguisor.refine.params import RefineParams
from disguisor.refine.points import head_cloud
from disguisor.refine.register import HeadRegistration
from disguisor.refine.surface import FaceSurface


def joints_by_person(people) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """person id -> (joints (17, 3) world metres, confidences (17,)) of a frame's 3D people
    (:class:`~disguisor.pose3d.poses.Person3D`), the ``head_joints`` of :func:`refine_frame`."""
    return {int(p.id): (p.joints, p.confidence) for p in people}


def refine_frame(model: BodyModel, fits: BodyFits, frame: int, views: Mapping[str, tuple[Camera, np.ndarray]],
                 rays: RayCache, params: RefineParams,
                 head_joints: Mapping[int, tuple[np.ndarray, np.ndarray]] | None = None,
                 ) -> tuple[list[PosedBody], list[tuple[FaceSurface, HeadRegistration]]]:
    """The posed bodies of ``frame`` and, for each, its refined face and the registration's record.

    Args:
        views: camera name -> (camera, depth image (H, W) as the recording stores it).
        rays: the per-camera back-projection cache (reused over frames).
        head_joints: person id -> the frame's 3D joints (17, 3) world metres and confidences (17,),
            the second starting point of a head fitted far from them (None: the fit only).
    """
    posed = posed_people(model, fits, frame)
    if not posed:
        return [], []
    cloud = head_cloud(views, rays, posed, model.head_vertices, params)
    return posed, list(refine_faces(posed, model, cloud, params, head_joints))
