"""A detector-free floor: head regions of depth clusters, moving or still, that no 3D person explains.

The pose detectors can miss a person in every view; that person's face would then stay visible.
This floor needs no detector: per frame, the depth of all views is compared with a static
background (per-pixel far percentile of depth over the recording, :class:`BackgroundModel` of
:mod:`disguisor.pose2d.proposals`); points clearly nearer than the background are *moving*
foreground. They are clustered on a floor grid; a person-sized cluster (its top between
``min_top_z_m`` and ``max_top_z_m``, reaching ``min_height_m`` down from its top) gets one head
per local maximum of its height map; a head whose share of the cluster footprint holds enough
joints of one fitted 3D person is *explained* and dropped. What is left comes back as
:class:`HeadRegion` (a sphere) for the run to blur in every view where it is visible
(:func:`head_box`).

What is moving depends on the recording: someone who stands at one spot for more than about
``100 - background_percentile`` % of the background frames is part of the background there. So
the floor also looks for still heads among all the depth points (:func:`still_heads`): a peak
of the height map with shoulders well below it all around, which a cabinet's or a monitor's
flat top and an OR light hanging over nothing nearby are not. A patient lying still is not
picked up either way (her head rises too little above the table: by design, the detectors must
find her). With fewer than ``min_frames`` frames no background can be told apart, and the floor
returns nothing.

World frame: metres, ``+z`` up, the floor at z = 0.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from disguisor.fusion import RayCache
from disguisor.geometry import project_points
from disguisor.io.calibration import Camera
from disguisor.io.recording import Recording, View
from disguisor.pose2d.params import ProposalParams
from disguisor.pose2d.proposals import BackgroundModel, depth_stride

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FloorParams:
    """Settings of the depth-head floor (lengths in metres, world z up).

    Moving foreground: depth subsampled to about ``target_columns`` columns; the background is the
    ``background_percentile`` (far) percentile of each pixel's depth over up to
    ``background_max_frames`` frames spread over the recording (at least ``min_frames``, else the
    floor is off); a point is moving when it is nearer than the background by more than
    ``background_margin_m`` (or the background never had a reading there). The per-view moving
    mask is opened with a ``open_px`` x ``open_px`` square (subsampled pixels) so that the
    one-pixel seams along depth edges, which flicker between frames, do not count.
    Clusters: points between ``min_z_m`` and ``max_z_m`` fall into floor cells of ``cell_m``;
    cells with at least ``min_points_per_cell`` points (all views together) are joined with their
    8 neighbours; a cluster counts with at least ``min_points`` points, its top (highest cell) in
    ``[min_top_z_m, max_top_z_m]`` and its points reaching at least ``min_height_m`` below the top.
    Heads: local maxima of the cluster's height map (the highest cell within ``head_separation_m`` / 2),
    at least ``head_separation_m`` apart (the higher one wins), at most
    ``max_head_drop_m`` below the cluster top and above ``min_top_z_m``; the head centre is the mean
    (x, y) of the points within ``head_radius_m`` (horizontally) of the maximum and within
    ``head_depth_m`` below it, ``top_to_centre_m`` below the top; the returned sphere has radius
    ``head_radius_m``. Explained: a head is explained when at least ``explain_min_joints`` finite
    joints of one 3D person (or all of its finite joints, if fewer) lie over the head's part of the
    cluster footprint grown by ``explain_margin_m``.

    Still people (``static``): someone who stands at one spot through the recording is part of
    the background above, so the floor also looks at *all* depth points of the frame: a peak of
    the height map (as above; its top from ``static_min_top_z_m`` to ``static_max_top_z_m``) is
    a head when the height map in the ring ``static_ring_m`` (inner, outer radius) around it
    lies at least ``static_min_drop_m`` lower (median over the ring's occupied cells, at least
    ``static_min_ring_share`` of them occupied): a head above shoulders. Furniture tops are flat
    (a cabinet, a monitor: the ring is as high) and an OR light hangs over nothing nearby (an
    empty ring). Such a head is explained when a 3D person's nose, eye or ear lies within
    ``static_explain_m`` of it horizontally. On the synthetic OR (seeds 17-18, 12 runs, with no
    3D person explaining anything) the peaks of 273 person-frames and 132 of furniture passed the
    height and drop tests; the ring share kept 220 and 1 (0.25: 258 and 4; 0.2: 267 and 15).
    People's tops lay at 1.44 m (a seated anaesthetist) and higher; two trolleys of seed 0 at
    1.23 m passed every other test, hence ``static_min_top_z_m``. With the 3D people explaining
    theirs, what is left on seeds 17-18 is the surgeon bent over the table behind the assistant
    whom no detector found in any view (easy 1280x720 seed 18, 9 of 10 frames; top 1.57 m, drop
    0.44 m) and one piece of furniture in one frame.

    Held still heads: a still head found in a frame up to ``static_hold_frames`` frame numbers
    before or after is hidden in this frame too when no person of this frame explains it and
    the height map here still reaches within ``static_hold_m`` of its top within its radius (the
    person is still there). The ring test flickers for someone bent over the table (the back
    nearly as high as the head): on seed 75 (easy scenario, both sizes) a surgeon no detector
    found in any frame had his still head found in frames 1-3, 5 and 9 (1280x720) or 1-3 and 9
    (640x480) and his face left fully visible in every view of frames 4 and 6-8 (4-8): 2 frames
    leave frame 6 of 640x480 visible, 3 hide every one. Held heads are painted, not listed in
    detections.json (listed, they cut precision by 0.09 there). 0: off.

    enabled: run the floor at all (``disguisor run`` hides the heads it finds, source ``depth-head``).
    """

    enabled: bool = True

    target_columns: int = 160
    max_depth_m: float = 8.0
    min_frames: int = 3
    background_max_frames: int = 40
    background_percentile: float = 90.0
    background_margin_m: float = 0.15
    open_px: int = 3
    min_z_m: float = 0.1
    max_z_m: float = 2.4
    cell_m: float = 0.05
    min_points_per_cell: int = 2
    min_points: int = 40
    min_top_z_m: float = 1.1
    max_top_z_m: float = 2.3
    min_height_m: float = 0.35
    head_separation_m: float = 0.35
    max_head_drop_m: float = 0.6
    head_radius_m: float = 0.16
    head_depth_m: float = 0.25
    top_to_centre_m: float = 0.11
    explain_min_joints: int = 3
    explain_margin_m: float = 0.15
    static: bool = True
    static_min_top_z_m: float = 1.3
    static_max_top_z_m: float = 2.1
    static_ring_m: tuple[float, float] = (0.2, 0.3)
    static_min_drop_m: float = 0.3
    static_min_ring_share: float = 0.3
    static_explain_m: float = 0.3
    static_hold_frames: int = 3
    static_hold_m: float = 0.15

    def __post_init__(self) -> None:
        inner, outer = self.static_ring_m
        if not 0 <= inner < outer:
            raise ValueError(f"needs [inner, outer] radii with 0 <= inner < outer, not [{inner:g}, {outer:g}]")
        if self.static_hold_frames < 0 or not self.static_hold_m >= 0:
            raise ValueError(f"static_hold_frames must be >= 0 and static_hold_m >= 0 metres, not "
                             f"{self.static_hold_frames}, {self.static_hold_m:g}")
        if not self.static_min_top_z_m < self.static_max_top_z_m:
            raise ValueError(f"static_min_top_z_m {self.static_min_top_z_m:g} must lie below static_max_top_z_m "
                             f"{self.static_max_top_z_m:g}")

    def proposal_params(self) -> ProposalParams:
        """The background settings in the form :class:`BackgroundModel` reads."""
        return ProposalParams(target_columns=self.target_columns, max_depth_m=self.max_depth_m, use_background=True,
                              background_min_frames=self.min_frames, background_max_frames=self.background_max_frames,
                              background_percentile=self.background_percentile,
                              background_margin_m=self.background_margin_m)


@dataclass(frozen=True)
class HeadRegion:
    """A head no 3D person explains: a sphere, world metres (z up).

    center: (3,) the head centre estimate; radius: metres; top_z: the highest point of the head;
    points: moving depth samples of the cluster it belongs to (all views; for a still head, the
    occupied cells of its ring); frame: the frame number; static: found among all depth points
    (:func:`still_heads`), not among the moving ones.
    """

    center: np.ndarray
    radius: float
    top_z: float
    points: int
    frame: int
    static: bool = False


def floor_background(recording: Recording, params: FloorParams = FloorParams()) -> BackgroundModel:
    """The static background the floor compares each frame with (computed lazily per camera)."""
    return BackgroundModel(recording, params.proposal_params())


def view_clouds(view: View, background: np.ndarray, params: FloorParams, rays: RayCache
                ) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) and (M, 3) world points (metres) of one view's subsampled depth (same subsampling as
    :func:`~disguisor.pose2d.proposals.depth_stride`): all of them, and those clearly nearer than
    the static background (moving), from one unprojection."""
    cam = view.camera
    s = depth_stride(cam, params.proposal_params())
    depth = view.depth[::s, ::s]
    if background.shape != depth.shape:
        raise ValueError(f"background {background.shape} does not match the subsampled depth {depth.shape}")
    ok = np.isfinite(depth) & (depth > 0) & (depth <= params.max_depth_m)
    moving = ok & ((background <= 0) | (depth < background - params.background_margin_m))
    if params.open_px > 1:
        moving = ndimage.binary_opening(moving, structure=np.ones((params.open_px, params.open_px), bool))
    world = np.zeros(depth.shape + (3,))
    world[ok] = rays.get(cam, s)[ok] * depth[ok][:, None] + cam.t.astype(np.float32)
    return world[ok], world[moving]


def _explained(cells: np.ndarray, origin: np.ndarray, shape: tuple[int, int], people: Sequence[np.ndarray],
               params: FloorParams) -> bool:
    """Whether one person's joints lie over the footprint ``cells`` (K, 2 grid indices), grown by the margin."""
    if not people:
        return False
    mask = np.zeros(shape, bool)
    mask[cells[:, 0], cells[:, 1]] = True
    grow = int(np.ceil(params.explain_margin_m / params.cell_m))
    if grow > 0:
        mask = np.pad(mask, grow)
        yy, xx = np.mgrid[-grow:grow + 1, -grow:grow + 1]
        mask = ndimage.binary_dilation(mask, structure=(yy ** 2 + xx ** 2) <= grow ** 2)
    for joints in people:
        j = np.asarray(joints, dtype=np.float64).reshape(-1, 3)
        j = j[np.isfinite(j).all(axis=1)]
        if len(j) == 0:
            continue
        ij = np.floor((j[:, :2] - origin) / params.cell_m).astype(np.int64) + grow
        inside = (ij >= 0).all(axis=1) & (ij[:, 0] < mask.shape[0]) & (ij[:, 1] < mask.shape[1])
        hits = int(mask[ij[inside, 0], ij[inside, 1]].sum())
        if hits >= min(params.explain_min_joints, len(j)):
            return True
    return False


def _height_map(points: np.ndarray, params: FloorParams):
    """The floor grid of world points (N, 3) between ``min_z_m`` and ``max_z_m``: (points kept,
    grid origin (2,), grid shape, each point's flat cell index, per-cell point counts and the
    highest point per cell, -inf where a cell has fewer than ``min_points_per_cell``, and each
    cell's highest top within half the head separation), or None with fewer than ``min_points``."""
    p = params
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[(pts[:, 2] >= p.min_z_m) & (pts[:, 2] <= p.max_z_m)]
    if len(pts) < p.min_points:
        return None
    origin = pts[:, :2].min(axis=0)
    ij = np.floor((pts[:, :2] - origin) / p.cell_m).astype(np.int64)
    shape = (int(ij[:, 0].max()) + 1, int(ij[:, 1].max()) + 1)
    flat = ij[:, 0] * shape[1] + ij[:, 1]
    counts = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape)
    top = np.full(shape[0] * shape[1], -np.inf)
    np.maximum.at(top, flat, pts[:, 2])
    top = top.reshape(shape)
    top[counts < p.min_points_per_cell] = -np.inf
    # a peak is the highest cell within half the head separation (a head is ~0.2 m wide, so the
    # shoulders below it are not peaks)
    sep = max(1, int(round(p.head_separation_m / 2 / p.cell_m)))
    yy, xx = np.mgrid[-sep:sep + 1, -sep:sep + 1]
    peak_max = ndimage.maximum_filter(top, footprint=(yy ** 2 + xx ** 2) <= sep ** 2, mode="constant", cval=-np.inf)
    return pts, origin, shape, flat, counts, top, peak_max


def find_heads(points: np.ndarray, people_joints: Sequence[np.ndarray], params: FloorParams = FloorParams(),
               frame: int = -1) -> list[HeadRegion]:
    """Heads of the person-sized clusters of moving world points (N, 3) that no person explains.

    people_joints: one (J, 3) array of world joints (metres, NaN where unknown) per 3D person.
    """
    p = params
    grid = _height_map(points, p)
    if grid is None:
        return []
    pts, origin, shape, flat, counts, top, peak_max = grid
    labels, n = ndimage.label(counts >= p.min_points_per_cell, structure=np.ones((3, 3), bool))
    point_label = labels.reshape(-1)[flat]
    # peaks closer than the head separation are merged below
    heads: list[HeadRegion] = []
    for k in range(1, n + 1):
        in_cluster = point_label == k
        n_points = int(in_cluster.sum())
        cells = np.argwhere(labels == k)
        cluster_top = float(top[cells[:, 0], cells[:, 1]].max())
        if n_points < p.min_points or not p.min_top_z_m <= cluster_top <= p.max_top_z_m:
            continue
        if cluster_top - float(pts[in_cluster, 2].min()) < p.min_height_m:
            continue
        cell_tops = top[cells[:, 0], cells[:, 1]]
        is_peak = (cell_tops >= peak_max[cells[:, 0], cells[:, 1]]) & (cell_tops >= p.min_top_z_m)
        is_peak &= cell_tops >= cluster_top - p.max_head_drop_m
        # one peak per plateau: strongest first, later ones closer than the separation are dropped
        peaks: list[np.ndarray] = []
        for c in cells[is_peak][np.argsort(-cell_tops[is_peak], kind="stable")]:
            if all(np.hypot(*(c - q)) * p.cell_m >= p.head_separation_m for q in peaks):
                peaks.append(c)
        if not peaks:
            continue
        # each head owns the cluster cells nearest to it (its part of the footprint)
        owner = np.argmin(((cells[:, None, :] - np.array(peaks)[None]) ** 2).sum(axis=2), axis=1)
        cpts = pts[in_cluster]
        for h, peak in enumerate(peaks):
            if _explained(cells[owner == h], origin, shape, people_joints, p):
                continue
            peak_xy = origin + (peak + 0.5) * p.cell_m
            peak_z = float(top[peak[0], peak[1]])
            near = (np.hypot(*(cpts[:, :2] - peak_xy).T) <= p.head_radius_m) & (cpts[:, 2] >= peak_z - p.head_depth_m)
            xy = cpts[near, :2].mean(axis=0) if near.any() else peak_xy
            heads.append(HeadRegion(center=np.array([xy[0], xy[1], peak_z - p.top_to_centre_m]),
                                    radius=p.head_radius_m, top_z=peak_z, points=n_points, frame=frame))
    return heads


def _head_joints_near(xy: np.ndarray, people_joints: Sequence[np.ndarray], radius_m: float) -> bool:
    """Whether a person's nose, eye or ear lies within ``radius_m`` of ``xy`` (horizontally)."""
    for joints in people_joints:
        j = np.asarray(joints, dtype=np.float64).reshape(-1, 3)[:5]
        j = j[np.isfinite(j).all(axis=1)]
        if len(j) and float(np.hypot(*(j[:, :2] - xy).T).min()) <= radius_m:
            return True
    return False


def still_heads(points: np.ndarray, people_joints: Sequence[np.ndarray], params: FloorParams = FloorParams(),
                frame: int = -1) -> list[HeadRegion]:
    """Heads among *all* world points (N, 3) of a frame, moving or not, that no person explains:
    height-map peaks with shoulders below them (see :class:`FloorParams`, ``static``).

    people_joints: one (J, 3) array of world joints (metres, NaN where unknown; COCO-17 order,
    the first five are the nose, eyes and ears) per 3D person.
    """
    p = params
    grid = _height_map(points, p)
    if grid is None:
        return []
    pts, origin, shape, _, _, top, peak_max = grid
    cand = np.argwhere((top >= peak_max) & (top >= p.static_min_top_z_m) & (top <= p.static_max_top_z_m))
    r_in, r_out = p.static_ring_m
    k = int(np.ceil(r_out / p.cell_m))
    dy, dx = np.mgrid[-k:k + 1, -k:k + 1]
    dist = np.hypot(dy, dx) * p.cell_m
    ring = np.argwhere((dist >= r_in) & (dist <= r_out)) - k
    heads: list[HeadRegion] = []
    for c in cand[np.argsort(-top[cand[:, 0], cand[:, 1]], kind="stable")]:
        z = float(top[c[0], c[1]])
        if any(np.hypot(*(c - np.floor((h.center[:2] - origin) / p.cell_m))) * p.cell_m < p.head_separation_m
               for h in heads):
            continue
        cells = c + ring
        inside = (cells >= 0).all(axis=1) & (cells[:, 0] < shape[0]) & (cells[:, 1] < shape[1])
        around = top[cells[inside, 0], cells[inside, 1]]
        around = around[np.isfinite(around)]
        if len(around) < p.static_min_ring_share * len(ring) or z - float(np.median(around)) < p.static_min_drop_m:
            continue
        xy = origin + (c + 0.5) * p.cell_m
        if _head_joints_near(xy, people_joints, p.static_explain_m):
            continue
        near = (np.hypot(*(pts[:, :2] - xy).T) <= p.head_radius_m) & (pts[:, 2] >= z - p.head_depth_m)
        centre = pts[near, :2].mean(axis=0) if near.any() else xy
        heads.append(HeadRegion(center=np.array([centre[0], centre[1], z - p.top_to_centre_m]), radius=p.head_radius_m,
                                top_z=z, points=int(len(around)), frame=frame, static=True))
    return heads


def depth_heads(views: Sequence[View], people_joints: Sequence[np.ndarray], background: BackgroundModel,
                params: FloorParams = FloorParams(), rays: RayCache | None = None,
                nearby_still: Sequence[HeadRegion] = ()) -> list[HeadRegion]:
    """Head regions of one frame's moving, person-sized depth clusters that no 3D person explains,
    and its still heads (with those of ``nearby_still``, found in nearby frames, that the frame
    still holds: :func:`held_still_heads`).

    views: all views of the frame (:meth:`Recording.views`). people_joints: the frame's 3D people,
    one (J, 3) array of world joints per person (metres, NaN where unknown; any joint set, e.g.
    COCO-17). background: :func:`floor_background` of the recording (made once per run). Returns
    [] when the background is off (fewer than ``params.min_frames`` frames).
    """
    rays = rays or RayCache()
    clouds, everything = [], []
    for v in views:
        with warnings.catch_warnings():
            # pixels without a reading in any background frame: expected, they stay 0 (unknown)
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            bg = background.get(v.camera)
        if bg is None:
            return []
        every, moving = view_clouds(v, bg, params, rays)
        clouds.append(moving)
        everything.append(every)
    if not clouds:
        return []
    heads = find_heads(np.concatenate(clouds), people_joints, params, frame=views[0].frame)
    if params.static:
        points = np.concatenate(everything)
        heads += [h for h in still_heads(points, people_joints, params, frame=views[0].frame)
                  if all(np.linalg.norm(h.center[:2] - m.center[:2]) >= params.head_separation_m for m in heads)]
        heads += held_still_heads(nearby_still, points, people_joints, heads, params, frame=views[0].frame)
    log.debug("frame %d: %d unexplained depth head(s)", views[0].frame, len(heads))
    return heads


def held_still_heads(nearby: Sequence[HeadRegion], points: np.ndarray, people_joints: Sequence[np.ndarray],
                     found: Sequence[HeadRegion], params: FloorParams = FloorParams(),
                     frame: int = -1) -> list[HeadRegion]:
    """The still heads of nearby frames (``nearby``) that this frame still holds: none of its
    people's nose, eyes or ears within ``static_explain_m`` (horizontally), no head of ``found``
    (this frame's) within ``head_separation_m``, and a point of this frame's ``points`` (N, 3) world
    metres within the head's radius (horizontally) at its top's height, give or take
    ``static_hold_m``; one per place, from the nearest frame to ``frame`` first. Each keeps the
    number of the frame it was found in."""
    out: list[HeadRegion] = []
    if not len(points):
        return out
    for h in sorted(nearby, key=lambda h: abs(h.frame - frame)):
        xy = h.center[:2]
        if any(np.linalg.norm(xy - m.center[:2]) < params.head_separation_m for m in list(found) + out):
            continue
        if _head_joints_near(xy, people_joints, params.static_explain_m):
            continue
        near = np.hypot(*(points[:, :2] - xy).T) <= h.radius
        if not (np.abs(points[near, 2] - h.top_z) <= params.static_hold_m).any():
            continue
        out.append(h)
    return out


class StillHeadMemory:
    """The still heads of each frame, found once (recorded from the frame's own
    :func:`depth_heads`, or looked for when a neighbour asks first), for :func:`held_still_heads`.

    frames: the recording's frame numbers. depth_views: frame -> camera name -> (camera, depth
    (H, W) metres). people_joints: frame -> the 3D people's world joints (one (J, 3) array each).
    """

    def __init__(self, frames: Sequence[int], depth_views: Callable[[int], Mapping[str, tuple[Camera, np.ndarray]]],
                 people_joints: Callable[[int], Sequence[np.ndarray]], background: BackgroundModel,
                 params: FloorParams, rays: RayCache):
        self.frames, self.depth_views, self.people_joints = set(frames), depth_views, people_joints
        self.background, self.params, self.rays = background, params, rays
        self.found: dict[int, list[HeadRegion]] = {}

    def record(self, frame: int, heads: Sequence[HeadRegion]) -> None:
        """Keep the still heads found in ``frame`` itself (not the held ones)."""
        self.found[frame] = [h for h in heads if h.static and h.frame == frame]

    def nearby(self, frame: int) -> list[HeadRegion]:
        """The still heads of the frames within ``static_hold_frames`` of ``frame`` (not itself)."""
        k = self.params.static_hold_frames if self.params.static else 0
        out: list[HeadRegion] = []
        for f in range(frame - k, frame + k + 1):
            if f == frame or f not in self.frames:
                continue
            if f not in self.found:
                views = [View(cam, f, None, depth) for cam, depth in self.depth_views(f).values()]
                self.record(f, depth_heads(views, self.people_joints(f), self.background, self.params, self.rays))
            out += self.found[f]
        for f in [f for f in self.found if abs(f - frame) > 2 * k + 1]:  # bounded memory
            del self.found[f]
        return out


def head_box(camera: Camera, depth: np.ndarray, head: HeadRegion, occlusion_tolerance_m: float = 0.1,
             min_visible: float = 0.2) -> tuple[float, float, float, float] | None:
    """The image box ``(x0, y0, x1, y1)`` (pixels, clipped) of a head sphere in one view, or None
    when the sphere is behind the camera, outside the image, or hidden: fewer than ``min_visible``
    of the depth readings inside the box are at or beyond the sphere's near side less
    ``occlusion_tolerance_m`` (pixels without a reading count as visible: fail-safe).

    depth: the view's depth (H, W) in metres, 0 = no reading.
    """
    c = camera.world_to_camera(np.asarray(head.center, dtype=np.float64).reshape(1, 3))[0]
    if c[2] <= head.radius:
        return None
    # the sphere's silhouette: project its centre and points on its rim perpendicular to the view ray
    d = c / np.linalg.norm(c)
    a = np.cross(d, [0.0, 1.0, 0.0] if abs(d[1]) < 0.9 else [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(d, a)
    ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rim = c + head.radius * (np.cos(ang)[:, None] * a + np.sin(ang)[:, None] * b)
    uv = project_points(rim, camera.K, camera.dist)
    uv = uv[np.isfinite(uv).all(axis=1)]
    if len(uv) == 0:
        return None
    x0, y0 = np.maximum(uv.min(axis=0), 0.0)
    x1, y1 = np.minimum(uv.max(axis=0), [camera.width - 1.0, camera.height - 1.0])
    if x1 <= x0 or y1 <= y0:
        return None
    patch = depth[int(y0):int(np.ceil(y1)) + 1, int(x0):int(np.ceil(x1)) + 1]
    near_side = c[2] - head.radius - occlusion_tolerance_m
    visible = (patch <= 0) | (patch >= near_side)
    if visible.mean() < min_visible:
        return None
    return float(x0), float(y0), float(x1), float(y1)
