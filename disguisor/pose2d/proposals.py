"""Person proposals from depth: above-floor points of all views, clustered on the floor plane,
each cluster's 3D box projected into every view as a crop for a single-person pose detector.

World frame: metres, z up, the floor at z = 0 (the recording format's convention). A person
partly hidden in one view still gets a crop there, because the box comes from all views.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from disguisor.fusion import RayCache
from disguisor.geometry import looking_down_deg, project_points
from disguisor.io.calibration import Camera
from disguisor.io.recording import Recording, View
from disguisor.pose2d.detector import Box
from disguisor.pose2d.orient import AxisCrop
from disguisor.pose2d.params import HeightBand, ProposalParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Proposal:
    """A person candidate: axis-aligned world box ``lo``..``hi`` (metres), from height band ``band``,
    holding ``points`` depth samples."""

    lo: np.ndarray
    hi: np.ndarray
    band: int
    points: int


@dataclass(frozen=True)
class LyingProposal:
    """A long, low cluster where a person may lie: ``center`` (3,) world metres at the cluster's
    median height, ``axis`` (2,) its long axis on the floor plane (unit, world x, y), ``length_m`` and
    ``width_m`` its footprint's sides along and across the axis, ``points`` its depth samples."""

    center: np.ndarray
    axis: np.ndarray
    length_m: float
    width_m: float
    points: int = 0


def depth_stride(camera: Camera, params: ProposalParams) -> int:
    """Subsampling step so that a depth image has about ``target_columns`` columns."""
    return max(1, int(round(camera.width / params.target_columns)))


class BackgroundModel:
    """Static depth background per camera: per-pixel far percentile of the subsampled depth over up
    to ``background_max_frames`` frames spread over the recording. Computed on first use per camera;
    memory is frames x (H/stride) x (W/stride) floats for one camera at a time."""

    def __init__(self, recording: Recording, params: ProposalParams | None = None) -> None:
        self.recording = recording
        self.params = params or ProposalParams()
        self._cache: dict[str, np.ndarray] = {}

    @property
    def enabled(self) -> bool:
        return self.params.use_background and len(self.recording.frames) >= self.params.background_min_frames

    def get(self, camera: Camera) -> np.ndarray | None:
        """(H/stride, W/stride) background depth in metres (0: unknown), or None when disabled."""
        if not self.enabled:
            return None
        if camera.name not in self._cache:
            p = self.params
            s = depth_stride(camera, p)
            frames = [f for f in self.recording.frames if camera in self.recording.cameras_at(f)]
            pick = np.unique(np.linspace(0, len(frames) - 1, min(p.background_max_frames, len(frames))).astype(int))
            stack = np.stack([self.recording.read_depth(camera, frames[i])[::s, ::s] for i in pick])
            stack[stack <= 0] = np.nan
            with np.errstate(all="ignore"):
                bg = np.nanpercentile(stack, p.background_percentile, axis=0) if stack.size else stack
            self._cache[camera.name] = np.nan_to_num(bg, nan=0.0).astype(np.float32)
        return self._cache[camera.name]


def view_points(view: View, params: ProposalParams, rays: RayCache,
                background: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) world points (metres) of one view's subsampled depth; with a background (same
    subsampling), only points clearly nearer than it."""
    cam = view.camera
    s = depth_stride(cam, params)
    depth = view.depth[::s, ::s]
    ok = np.isfinite(depth) & (depth > 0) & (depth <= params.max_depth_m)
    if background is not None and background.shape == depth.shape:
        ok &= (background <= 0) | (depth < background - params.background_margin_m)
    ray = rays.get(cam, s)
    return (ray[ok] * depth[ok][:, None] + cam.t.astype(np.float32)).astype(np.float64)


def _footprint_extent(xy: np.ndarray) -> tuple[float, float]:
    """Longest and shortest side (metres) of the footprint's principal-axis box."""
    c = xy - xy.mean(axis=0)
    if len(c) < 2:
        return 0.0, 0.0
    _, vecs = np.linalg.eigh(c.T @ c)
    proj = c @ vecs
    ext = proj.max(axis=0) - proj.min(axis=0)
    return float(ext.max()), float(ext.min())


def cluster_people(points: np.ndarray, params: ProposalParams | None = None) -> list[Proposal]:
    """Cluster world points (N, 3) into person candidates, one floor-grid clustering per height band.

    Per band: points in the slab fall into floor cells of ``cell_m``; cells with enough points
    are joined with their 8 neighbours into clusters; clusters whose footprint is between
    ``min_footprint_m`` and the band's ``max_footprint_m`` become boxes from the floor to just
    above the highest point over their cells.
    """
    p = params or ProposalParams()
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    top_z = max(b.z_max for b in p.bands) + p.top_pad_m
    pts = pts[(pts[:, 2] > p.cell_m) & (pts[:, 2] < top_z)]
    if len(pts) == 0:
        return []
    origin = pts[:, :2].min(axis=0)
    ij = np.floor((pts[:, :2] - origin) / p.cell_m).astype(np.int64)
    shape = tuple(ij.max(axis=0) + 1)
    flat = np.ravel_multi_index((ij[:, 0], ij[:, 1]), shape)
    # highest point over each cell (any height): the box top, so a person's head is never cut off
    cell_top = np.full(shape[0] * shape[1], -np.inf)
    np.maximum.at(cell_top, flat, pts[:, 2])
    out: list[Proposal] = []
    for bi, band in enumerate(p.bands):
        out.extend(_cluster_band(pts, flat, shape, origin, cell_top, band, bi, p))
    return out


def _cluster_band(pts: np.ndarray, flat: np.ndarray, shape: tuple[int, ...], origin: np.ndarray,
                  cell_top: np.ndarray, band: HeightBand, band_index: int, p: ProposalParams) -> list[Proposal]:
    inband = (pts[:, 2] >= band.z_min) & (pts[:, 2] <= band.z_max)
    counts = np.bincount(flat[inband], minlength=shape[0] * shape[1]).reshape(shape)
    labels, n = ndimage.label(counts >= p.min_points_per_cell, structure=np.ones((3, 3), bool))
    out: list[Proposal] = []
    for k in range(1, n + 1):
        ci, cj = np.nonzero(labels == k)
        xy = origin + (np.stack([ci, cj], axis=1) + 0.5) * p.cell_m
        longest, _ = _footprint_extent(xy)
        longest += p.cell_m
        if not p.min_footprint_m <= longest <= band.max_footprint_m:
            continue
        top = float(cell_top[np.ravel_multi_index((ci, cj), shape)].max())
        lo = np.array([*(xy.min(axis=0) - p.cell_m / 2 - p.box_pad_m), 0.0])
        hi = np.array([*(xy.max(axis=0) + p.cell_m / 2 + p.box_pad_m), top + p.top_pad_m])
        out.append(Proposal(lo=lo, hi=hi, band=band_index, points=int(counts[ci, cj].sum())))
    return out


def project_box(camera: Camera, proposal: Proposal, params: ProposalParams | None = None) -> Box | None:
    """The image box (pixels, x0, y0, x1, y1) of a proposal's 3D box in one camera, clipped to the
    image; None when the box is behind the camera, mostly outside the image or too small."""
    params = params or ProposalParams()
    g = np.linspace(0.0, 1.0, 3)
    grid = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    corners = proposal.lo + grid * (proposal.hi - proposal.lo)
    cam_pts = camera.world_to_camera(corners)
    front = cam_pts[:, 2] > 0.05
    if front.sum() < len(grid) // 2:
        return None
    uv = project_points(cam_pts[front], camera.K, camera.dist)
    uv = uv[np.isfinite(uv).all(axis=1)]
    if len(uv) == 0:
        return None
    x0, y0 = uv.min(axis=0)
    x1, y1 = uv.max(axis=0)
    full = max((x1 - x0) * (y1 - y0), 1e-9)
    cx0, cy0 = max(x0, 0.0), max(y0, 0.0)
    cx1, cy1 = min(x1, camera.width - 1.0), min(y1, camera.height - 1.0)
    if cx1 - cx0 < params.min_box_px or cy1 - cy0 < params.min_box_px:
        return None
    if (cx1 - cx0) * (cy1 - cy0) / full < params.min_inside:
        return None
    return float(cx0), float(cy0), float(cx1), float(cy1)


def frame_points(views: Sequence[View], params: ProposalParams, rays: RayCache,
                 background: BackgroundModel | None = None) -> np.ndarray:
    """(N, 3) world points (metres) of all views of one frame (:func:`view_points`), with each
    camera's background removed when ``background`` is given and enabled."""
    clouds = [view_points(v, params, rays, background.get(v.camera) if background is not None else None)
              for v in views]
    return np.concatenate(clouds) if clouds else np.zeros((0, 3))


def propose_boxes(views: Sequence[View], params: ProposalParams | None = None, rays: RayCache | None = None,
                  background: BackgroundModel | None = None,
                  points: np.ndarray | None = None) -> tuple[list[Proposal], dict[str, list[Box]]]:
    """Person proposals of one frame: the 3D candidates and, per camera name, their image boxes.
    ``points``: the frame's points (:func:`frame_points` with the same ``background``) when the
    caller has them already."""
    params = params or ProposalParams()
    rays = rays or RayCache()
    if points is None:
        points = frame_points(views, params, rays, background)
    proposals = cluster_people(points, params)
    boxes: dict[str, list[Box]] = {}
    for v in views:
        boxes[v.camera.name] = [b for b in (project_box(v.camera, q, params) for q in proposals) if b is not None]
    log.debug("frame %s: %d proposals", views[0].frame if views else "-", len(proposals))
    return proposals, boxes


def lying_people(points: np.ndarray, params: ProposalParams | None = None) -> list[LyingProposal]:
    """Long, low clusters of world points (N, 3) in the slab ``lying_z_m``: a lying patient, with the
    table under them and often with the staff beside them merged in (too long for a standing
    person's box, so :func:`cluster_people` drops these). Their long axis orients the crop: a pose
    model finds a lying person seen from the ceiling when the crop puts them upright."""
    p = params or ProposalParams()
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[(pts[:, 2] >= p.lying_z_m[0]) & (pts[:, 2] <= p.lying_z_m[1])]
    if len(pts) == 0:
        return []
    origin = pts[:, :2].min(axis=0)
    ij = np.floor((pts[:, :2] - origin) / p.cell_m).astype(np.int64)
    shape = tuple(ij.max(axis=0) + 1)
    counts = np.zeros(shape, dtype=np.int64)
    np.add.at(counts, (ij[:, 0], ij[:, 1]), 1)
    labels, n = ndimage.label(counts >= p.min_points_per_cell, structure=np.ones((3, 3), bool))
    point_label = labels[ij[:, 0], ij[:, 1]]
    out: list[LyingProposal] = []
    for k in range(1, n + 1):
        ci, cj = np.nonzero(labels == k)
        if len(ci) < 3:
            continue
        xy = origin + (np.stack([ci, cj], axis=1) + 0.5) * p.cell_m
        c = xy - xy.mean(axis=0)
        _, vecs = np.linalg.eigh(c.T @ c)
        axis = vecs[:, 1]
        along, across = c @ axis, c @ vecs[:, 0]
        length = float(along.max() - along.min()) + p.cell_m
        width = float(across.max() - across.min()) + p.cell_m
        if not (p.lying_length_m[0] <= length <= p.lying_length_m[1] and width >= p.lying_min_width_m):
            continue
        # the middle of the footprint's oriented box, not the mean of its cells
        mid = xy.mean(axis=0) + (axis * (along.max() + along.min()) + vecs[:, 0] * (across.max() + across.min())) / 2.0
        z = float(np.median(pts[point_label == k, 2]))
        out.append(LyingProposal(center=np.array([mid[0], mid[1], z]), axis=axis, length_m=length, width_m=width,
                                 points=int((point_label == k).sum())))
    return sorted(out, key=lambda q: -q.points)


def axis_crop(camera: Camera, lying: LyingProposal, params: ProposalParams | None = None) -> AxisCrop | None:
    """The crop (pixels) that puts a lying proposal's axis upright in one camera: centred on its
    projected centre, as long as its projected length (``lying_pad_m`` added at each end) or width,
    whichever is longer; None when its centre is behind the camera or outside the image."""
    p = params or ProposalParams()
    half = lying.axis * (lying.length_m / 2.0 + p.lying_pad_m)
    across = np.array([-lying.axis[1], lying.axis[0]]) * lying.width_m / 2.0
    c = lying.center
    pts = np.array([c, [*(c[:2] + half), c[2]], [*(c[:2] - half), c[2]],
                    [*(c[:2] + across), c[2]], [*(c[:2] - across), c[2]]])
    cam_pts = camera.world_to_camera(pts)
    if (cam_pts[:, 2] <= 0.05).any():
        return None
    uv = project_points(cam_pts, camera.K, camera.dist)
    if not np.isfinite(uv).all():
        return None
    if not (0 <= uv[0, 0] < camera.width and 0 <= uv[0, 1] < camera.height):
        return None
    d = uv[1] - uv[2]
    side = max(float(np.linalg.norm(d)), float(np.linalg.norm(uv[3] - uv[4])))
    if side < p.min_box_px:
        return None
    # image y points down: the axis' counter-clockwise angle is atan2(-dy, dx); turn it to 90 degrees
    angle = 90.0 - float(np.degrees(np.arctan2(-d[1], d[0])))
    return AxisCrop(center_px=(float(uv[0, 0]), float(uv[0, 1])), side_px=side, angle_deg=angle)


def propose_lying(views: Sequence[View], params: ProposalParams | None = None, rays: RayCache | None = None,
                  points: np.ndarray | None = None) -> dict[str, list[AxisCrop]]:
    """Per camera name, the axis crops of one frame's lying proposals (largest first), in cameras
    looking down at least ``lying_min_down_deg``. All depth points count, no background model: a
    patient lying still through the whole recording is background there. ``points``: the frame's
    points without background (:func:`frame_points`) when the caller has them already."""
    params = params or ProposalParams()
    if not params.lying:
        return {}
    rays = rays or RayCache()
    found = lying_people(frame_points(views, params, rays) if points is None else points, params)
    return {v.camera.name: [c for c in (axis_crop(v.camera, q, params) for q in found) if c is not None]
            for v in views if looking_down_deg(v.camera) >= params.lying_min_down_deg}
