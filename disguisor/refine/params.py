"""Tunable defaults of the refine stage: rigid head registration against the fused cloud.

Distances are metres in the world frame (+z up), angles degrees. The defaults assume the fused
cloud of :func:`disguisor.fusion.fuse_views` (1 cm voxels, Kinect-like depth noise of a few mm)
and a body fit whose head is off by up to a few centimetres and ~10 degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RefineParams:
    """Rigid registration of a fitted head surface to the fused point cloud.

    Crop. crop_scale / crop_margin_m: the cloud is cut to the head's axis-aligned box scaled by
      crop_scale about its centre and grown by crop_margin_m on every side (the authors: x1.25
      and 0.1 m). band_m: of the cropped cloud, only points within this distance of the initial
      head surface take part, so that shoulders, OR lights and other people's arms a few cm
      beyond the head cannot pull it (it must exceed the largest fit error to be corrected).
      A box larger than the head's box grown by band_m only costs time: the defaults are
      x1.0 and band_m.
    Sampling. voxel_m: the cloud near the head (and the context) is voxel-downsampled (mean per
      voxel) to this edge; the head keeps all its vertices (the authors: 2 cm for both; 1 cm
      keeps the nose and chin, which fix the rotation).
      max_focal_px: the depth pixels around a head are read on a grid no finer than a lens of
      this focal length (pixels) gives: a camera with a longer focal length is read every
      (focal / max_focal_px)-th pixel in x and y. The fitness guards below count 1 cm voxels,
      and denser readings fill more voxels with single noisy readings: they were set at 525 and
      618 px (640x480 and 1280x720), and at 989 px (2048x1536, six cameras, medium seed 94, 5
      frames) every pixel gave a fitness median of 0.56 and 9 of 30 heads refused, every second
      pixel 0.65 and 1 of 30. None: every pixel.
    Coarse step (FilterReg, probreg, optional). coarse: run it (off: on the synthetic benchmark
      it gained nothing and cost 20-35x the time). filterreg_voxel_m: both clouds' voxel edge
      for it (the authors: 2 cm). filterreg_sigma2 (m^2),
      filterreg_min_sigma2, filterreg_w (share of outliers, 0-1), filterreg_maxiter,
      filterreg_tol: FilterReg's point-to-point parameters (the authors: sigma^2 1e-5, w 0.03,
      3000 iterations; probreg clamps sigma^2 at min_sigma2 after the first iteration).
    Fine step (ICP of the cloud onto the model surface, point-to-plane with the model's normals).
      icp_max_distance_m: correspondence cut-off (the authors: 0.0375 m). tukey_m: scale of the
      Tukey weights of the point-to-plane residuals (residuals beyond it do not count).
      face_weight: weight of cloud points matched to face vertices relative to the rest of the
      head (refine_faces): the face is what gets rendered, and on real body fits (whose head
      shape differs from the person's) 3 kept the face-centre error below the fit's, 1 did not.
      icp_max_iterations; icp_converged_m / icp_converged_deg: stop when a step moves the
      points' centroid less than this and rotates less than this. min_target_points: below this
      many (downsampled) cloud points near the head it is left as fitted (the authors skipped
      ICP below 100 points at 2 cm).
    Guard: a registration is kept only if max_translation_m (movement of the head's centroid,
      the pivot of the correction) and max_rotation_deg bound the correction, at least
      min_fitness of the cloud points near the head lie within inlier_distance_m of the
      registered head surface, and the capped RMS point-to-plane distance did not grow.
      The bounds are wide because the default image detector's heads are off by 30-50 mm and
      tens of degrees: on the people-finder benchmark (18 synthetic runs, BENCHMARKS.md) 6 cm /
      20 degrees refused about half of the heads (their face centres stayed 34-45 mm off, the
      accepted ones 6-11 mm). Over 817 registrations with wider bounds, corrections of 30-45
      degrees still landed well (face centre median 12 mm off, facing 7 degrees), those of 45-60
      degrees did not (19 mm, p90 132 mm, facing 17 degrees), and every correction under 45 degrees
      moved the head less than 10 cm: hence 10 cm / 45 degrees. A head slid onto a wall turns by
      ~48 degrees (tests/test_refine.py); the fitness and RMS checks refuse other wrong surfaces.
    Wide turns: a correction of max_rotation_deg to wide_rotation_deg is kept when the head
      lands on the depth well (fitness_after >= wide_min_fitness) and its centroid moved at most
      wide_max_translation_m. With the default image detector a head fitted 45-60 degrees off
      asks for such a turn (49 of 1,400 heads on the 30 people-finder runs of seeds 0-4). Kept
      unconditionally up to 90 degrees, 17 of 30 such turns brought the face centre to 2-23 mm,
      but 11 made it worse (to 51-150 mm; two fully visible faces left a ceiling view unhidden):
      those had fitness 0.44-0.55 or moved 6.1-9.5 cm, the good ones fitness >= 0.62 and 2.2-5.9
      cm. With these bounds 34 of 35 kept turns placed the face better, 16 of 16 on seeds never
      tuned on (BENCHMARKS.md, "Heads fitted far off turned by the depth"). 0 turns the wide
      case off.
    Far moves: far_moves lists (distance metres, fitness) pairs: a correction that moves the
      head's centroid more than a distance is kept only when the registered head fits the depth
      at least that well (the strictest pair that applies; () turns the test off). A head looking
      steeply down, or bent over the table, is registered onto the nape and upper back that the
      fitted (upright) neck and shoulders do not explain: the registration slides it back and up
      by 4-12 cm with a fitness of 0.55-0.61, while the true placement fits worse still
      (benchmarks/bench_heads.py). On seeds 17-18 (12 people-finder runs), of the accepted
      corrections that moved the head 4-6 cm: fitness under 0.6, 3 placed the face better than
      the fit (by more than 1 cm) and 9 worse; 0.6 and more, 46 better and 6 worse. Beyond 6 cm:
      under 0.65, 0 better and 16 worse (e.g. 27 -> 86 mm, 38 -> 120 mm off, a face left 41%
      changed in a ceiling view); 0.65 and more, 9 better and 2 worse. A refused head keeps the
      fit's face, and the correction beyond the guard disputes it (not listed, safety spheres
      around it). far_moves_min_torso_deg: the test holds only for a body whose hips-to-shoulders
      axis rises at least this far (degrees) above the horizontal, or whose torso is unknown: a
      lying patient has no nape hanging over an upright neck, and all 29 corrections the test
      refused on seeds 17-18 were of staff standing (torso 60-90 degrees up) and looking down. On
      seeds 0 and 19-20 it had refused lying patients' corrections of 4.1-6.9 cm, leaving two
      faces less than half changed in a workflow view (medium s20, both sizes). Exempted, 9 of
      those corrections were kept and all 9 placed the face nearer the truth (e.g. 41 -> 1, 61
      -> 3, 127 -> 88 mm); 3 fell to too few inliers. On the golden-run recording one lying
      patient's face went 64 -> 94 mm off (still hidden; BENCHMARKS.md, "Lying patients and
      heads fitted away from their joints"). far_moves_lying_confirmed: whether such a lying
      head's correction, kept although the far-move test would refuse it, counts as confirmed
      by the depth. False (the default): it is kept but not confirmed, so the run's safety
      spheres stay on it and the face where the fit put it is painted too. Found on seed 44
      (medium 1280x720, a new seed): a lying patient refused in 9 frames was accepted in the tenth
      with a 5.7 cm move at fitness 0.41, his face drawn 95 mm and 72 degrees off, and without
      the spheres of the other nine frames a sliver of his face (27% visible) was left
      unchanged in a workflow camera. On seeds 42-43 (12 runs) it applied to 3 heads in 120
      frames: no face less hidden, changed pixels +0.01% to +2.9% per run (BENCHMARKS.md
      "Lifted people merged by the median; lying heads moved far stay unconfirmed").
    Far turns: far_turns lists (angle degrees, fitness) pairs: a correction that turns the head
      more than an angle is kept only when the registered head fits the depth at least that
      well (the strictest pair that applies; () turns the test off). Over the 2,587 accepted
      registrations of the first runs of seeds 64-73 (60 runs), turns of 30-45 degrees with a
      fitness under 0.6 (28 heads) placed the face 16-63 mm off (median per 5-degree bin; 19 of
      28 beyond 30 mm, facing 9-59 degrees off), those with 0.6 or more 10-12 mm (101 heads):
      e.g. a circulator's head turned 41 degrees at fitness 0.55 in a recording's first frame,
      its face drawn 155 mm and 103 degrees off and a workflow view's face left 2% changed. A
      refused turn keeps the fit's face, disputed, with its safety spheres (measurement in
      BENCHMARKS.md, "Turns the depth barely supports").
    Second start: reorient_min_deg: a head whose registration is refused and whose fit is turned
      further than this (degrees) from the frame's 3D head joints (the rotation that brings its
      nose, eyes and ears closest to them, :mod:`disguisor.refine.reorient`) is placed from the
      head so turned: registered from there when that passes the guard, else as turned. It stays
      not confirmed (the run's safety spheres stay on it), and the face where the fit put it is
      painted too (``FaceSurface.as_fitted``; never listed). None: off. reorient_min_torso_deg: no
      second start for a body whose hips-to-shoulders axis rises less than this above the
      horizontal (lying: the head joints of a patient, triangulated from cameras above, swap the
      nose and the ears; one was turned 150 degrees off). Measured with the default detector
      (BENCHMARKS.md, "The second start, with the fit's face painted too"), against the same
      runs without it: seeds 19-20, never tuned on, holistic recall 0.782 -> 0.797 and
      precision 0.815 -> 0.826 (hard 640x480 s20: 0.475 -> 0.625, final head joints 50 -> 33
      mm), 23 heads changed, all placed better (facing 55 -> 17 degrees off, median), no
      face-view's pixel check changed; seeds 13-16 and 17-18: boxes and pixels unchanged; seeds
      0-4: holistic recall 0.846 -> 0.847, one face-view of 4,073 less hidden (a face 6.6%
      visible, now drawn with the template where the safety spheres' blur had changed more of its
      pixels), faces at least 25% visible hidden as before in every run. Without painting the
      fit's face too, and without the lying test, it had left a lying patient's face 55% visible
      unhidden (seed 20). reorient_min_shift_m: a refused head whose nose, eyes and ears (as
      fitted) lie, on their weighted centroid, more than this (metres) from the 3D head joints'
      is also moved onto them for the second start, whatever the turn (a fit that missed its
      own head joints by that much held the head with a skeleton it could not match: on hard
      640x480 s20 two people fitted 9-16 cm off their 3D joints on average had their faces
      drawn 53-100 mm off, turned about the fitted centre alone). None: the second start only
      turns. On seeds 19-20 (run once before with the defaults, BENCHMARKS.md as above) 22 heads
      were moved: 21 registered from there, their faces 52-100 -> 4-19 mm from the truth; one
      was left moved and turned, 75 -> 134 mm (disputed; the fit's face is painted too). Hard
      640x480 s20: holistic recall 0.525 -> 0.925, precision 0.804 -> 0.946. Seeds 0 and 21:
      no head moved.
    Lying heads: lying_beyond_m / lying_forward_m: a lying body's head (torso below
      ``reorient_min_torso_deg``) whose registration from the fit, and from nearby frames, is
      refused is moved onto the head its torso says it has (:mod:`disguisor.refine.lying`): its
      centroid ``lying_forward_m`` in front of the hips-to-shoulders axis, ``lying_beyond_m``
      beyond the shoulders' centre along it (each distance tried), its crown along the axis, its
      face as fitted or to the ceiling; the registration from there that the guard accepts
      with the highest fitness places it, not confirmed (safety spheres stay, the fit's face is
      painted too) and listed. The body model's rest pose has its head's centroid 0.184 m beyond
      the shoulders' centre and 0.08 m in front (Anny); 0.14 / 0.19 / 0.24 m, 5 cm apart, lie
      within the registration's reach (``band_m``) of each other. () turns it off.
      lying_min_fitness: a registration from there counts only when at least this share of
      the cloud points near the head lie on it (the guard's ``min_fitness`` is 0.4): on seeds
      62-67 the lying patients' faces fitted 84-280 mm off were registered from there with
      fitness 0.65-0.76 and landed 1-4 mm from the truth, while a face fitted 27 mm off but
      turned 103 degrees (hard 640x480 s67) was moved 166 mm off with fitness 0.41.
      lying_max_turn_deg: a registration from there that turns the head further than this
      keeps the start's turn and takes only the move of the head's centre: the back of a
      lying head is round, and the registration rolls the face onto its side. Replaying the 84
      registrations from beyond the shoulders on seeds 80-101, the 12 that turned the head
      43-70 degrees left the face 29-61 degrees from the truth and 24-111 mm off; with the
      start's turn 4-15 degrees and 18-91 mm (easy 640x480 s98: a patient facing the ceiling,
      rolled 43-70 degrees in 9 of 10 frames); of the 72 that turned it 40 degrees or less, 2
      faced more than 30 degrees off (median 3 degrees, 7 mm). None: every turn is taken.
      lying_other_head_m: a registration that brings the head's centroid nearer than this to
      another fitted head's centroid is not taken: two heads are at least a head's width (~0.15
      m) apart, and a lying patient often has a second, mirrored skeleton whose head the fit
      put on the chest while the first skeleton's head is where it belongs (medium 640x480 s62:
      that face was drawn twice on one head and a face beside it was left less changed).
    Nearby frames: nearby_frames: a head whose registration from the fit is refused is started
      from the same person's head that the depth confirmed (registration from the fit accepted)
      in the nearest frame within this many frame numbers (then the next nearest), its correction
      carried in the fitted head's own frame (:mod:`disguisor.refine.carry`); the first
      registration from there that passes the guard places the head, not confirmed (safety
      spheres stay; the fit's face is painted too), before the second start is tried. 0: off.
      The window counts frame numbers: 0.2 s at the synthetic recordings' 10 frames per second.
      The fit's error changes from frame to frame while the person moves a few cm. On the
      people-finder runs of seeds 0 and 17-22 (42 runs, render stage rerun) 93 refused heads were
      placed this way: 59 nearer the truth by more than 1 cm (e.g. 73 -> 4, 78 -> 1, 134 -> 20 mm),
      17 farther (mostly from a nearby head the registration had itself confirmed on the nape,
      49-103 mm off: 20 -> 125, 38 -> 89 mm); holistic recall +0.009 to +0.032 per seed set,
      precision -0.020 to +0.003, no face-view less hidden (BENCHMARKS.md, "Heads carried from a
      nearby frame").
    nearby_facing_deg / nearby_facing_min_turn_deg: a standing head whose registration from the
      fit the guard accepts with a turn of at least nearby_facing_min_turn_deg is checked against
      the same person's heads confirmed within ``nearby_frames``: when more of them face more
      than nearby_facing_deg away from it than within, it is registered again from the nearest
      contradicting head's own rotation, placed there when that passes the guard, not
      confirmed, and the contradicted placement is painted too. A fit turned far off, turned
      further by a wide registration, can land the face on the back of the head with a good
      fitness (the skull is nearly round): easy 1280x720 seed 81 (a seed never tuned on),
      frame 3, a face turned 48 degrees to 157 degrees from the truth and 20.5 cm off between
      two frames that placed it 2.5 cm off, left a ceiling view's face 15% changed. True
      turns between neighbouring frames on the synthetic runs: up to 108 degrees (10 frames per
      second). None: off. nearby_wide_facing_deg: the same test with this angle for a wide turn
      (beyond max_rotation_deg, kept by the wide-turn case): on seed 81 (12 runs, first run) the
      three accepted heads that most nearby heads faced more than 45 degrees away from were all
      wide turns (47-50 degrees) and all 6.7-20.5 cm off, while the two such heads turned 30-45
      degrees lay 0.7-2.7 cm from the truth. None: wide turns use nearby_facing_deg.
    """

    crop_scale: float = 1.0
    crop_margin_m: float = 0.06
    band_m: float = 0.06
    voxel_m: float = 0.01
    max_focal_px: float | None = 620.0
    coarse: bool = False
    filterreg_voxel_m: float = 0.02
    filterreg_sigma2: float = 1e-4
    filterreg_min_sigma2: float = 2.5e-5
    filterreg_w: float = 0.03
    filterreg_maxiter: int = 100
    filterreg_tol: float = 1e-4
    icp_max_distance_m: float = 0.0375
    icp_max_iterations: int = 30
    icp_converged_m: float = 5e-4
    icp_converged_deg: float = 0.05
    tukey_m: float = 0.02
    face_weight: float = 3.0
    min_target_points: int = 100
    max_translation_m: float = 0.10
    max_rotation_deg: float = 45.0
    wide_rotation_deg: float = 90.0
    wide_min_fitness: float = 0.6
    wide_max_translation_m: float = 0.06
    far_moves: tuple[tuple[float, float], ...] = ((0.04, 0.6), (0.06, 0.65))
    far_moves_min_torso_deg: float = 30.0
    far_turns: tuple[tuple[float, float], ...] = ((30.0, 0.6),)
    far_moves_lying_confirmed: bool = False
    inlier_distance_m: float = 0.015
    min_fitness: float = 0.4
    reorient_min_deg: float | None = 30.0
    reorient_min_torso_deg: float = 30.0
    reorient_min_shift_m: float | None = 0.05
    nearby_frames: int = 2
    nearby_facing_deg: float | None = 135.0
    nearby_facing_min_turn_deg: float = 30.0
    nearby_wide_facing_deg: float | None = 45.0
    lying_beyond_m: tuple[float, ...] = (0.14, 0.19, 0.24)
    lying_forward_m: float = 0.08
    lying_other_head_m: float = 0.12
    lying_min_fitness: float = 0.55
    lying_max_turn_deg: float | None = 40.0

    def __post_init__(self) -> None:
        for distance, fitness in self.far_moves:
            if not (distance >= 0 and 0 <= fitness <= 1):
                raise ValueError(f"needs [distance m >= 0, fitness in [0, 1]] pairs, not [{distance:g}, {fitness:g}]")
        for angle, fitness in self.far_turns:
            if not (0 <= angle <= 180 and 0 <= fitness <= 1):
                raise ValueError(f"needs [angle in [0, 180] degrees, fitness in [0, 1]] pairs, "
                                 f"not [{angle:g}, {fitness:g}]")
        if not -90.0 <= self.far_moves_min_torso_deg <= 90.0:
            raise ValueError(f"must lie in [-90, 90] degrees, not {self.far_moves_min_torso_deg:g}")
        for fitness in (self.min_fitness, self.wide_min_fitness, self.lying_min_fitness):
            if not 0.0 <= fitness <= 1.0:
                raise ValueError(f"a fitness must lie in [0, 1], not {fitness:g}")
        if not all(np.isfinite(d) for d in self.lying_beyond_m) or not np.isfinite(self.lying_forward_m):
            raise ValueError("lying_beyond_m and lying_forward_m must be finite metres")
        for limit in (self.nearby_facing_deg, self.nearby_wide_facing_deg):
            if limit is not None and not 0.0 <= limit <= 180.0:
                raise ValueError(f"must lie in [0, 180] degrees, not {limit:g}")
        if self.max_focal_px is not None and not self.max_focal_px > 0:
            raise ValueError(f"must be > 0 pixels or none, not {self.max_focal_px:g}")
        if self.lying_max_turn_deg is not None and not 0.0 <= self.lying_max_turn_deg <= 180.0:
            raise ValueError(f"must lie in [0, 180] degrees or none, not {self.lying_max_turn_deg:g}")
        if self.nearby_frames < 0:
            raise ValueError(f"must be >= 0 frames, not {self.nearby_frames}")


DEFAULT_REFINE_PARAMS = RefineParams()
