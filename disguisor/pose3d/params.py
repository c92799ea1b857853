"""Tunable defaults of the 3D pose stage: association, triangulation and depth lifting, tracking
and smoothing. Every setting is a field of a frozen dataclass (:class:`Pose3DParams`,
:class:`TrackingParams`), so a caller can replace any of them (``dataclasses.replace``).

Image-space thresholds are **angles in radians**, converted per camera to pixels of its
undistorted image plane by multiplying with its focal length (``(fx + fy) / 2``): 0.04 rad is
25 px for a 1280x720 camera with a ~92 degree field of view (f ~620 px) and 21 px for a Kinect v1
at 640x480 (f ~525 px). A detector's keypoint error scales with the person's size in pixels,
which scales with the focal length, so one angle serves every resolution; and a calibration's
rotation error (the usual error of a real rig) is an angle too: 1 degree is 0.0175 rad.
Errors are measured on the undistorted image plane (normalized coordinates times the focal
length), which differs from the distorted image by the local lens scale.

Time is counted in **frame numbers** (the ``frame`` of the keypoint images), not in processed
frames: speeds are metres per frame number (at 30 fps, 0.05 m per frame is 1.5 m/s), and a
recording that keeps every 100th frame has gaps of 99 frames between its samples.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeadParams:
    """The head joints of the tracked skeletons (:mod:`disguisor.pose3d.head`): a rigid head of
    human size fitted to the five head joints (``[pose3d.head]``).

    enabled: replace the head joints by the fitted layout (False, the default: the triangulated
      joints). Head joint error (nose, eyes, ears) on the 30 people-finder runs (BENCHMARKS.md,
      "Boxes and heads"): 41.2 mm triangulated, 35.2 mm with the layout, lower in every run. Off
      by default: with it the body fit and head registration downstream changed, and some wrong
      head registrations were accepted (a lying patient's face registered 17-20 cm off, so no
      safety spheres): faces at least 25% visible hidden in every view fell in 4 runs (by
      0.025-0.033) and rose in 6; privacy must not fall.
    layout_max_residual_m: when the median distance between the fitted layout and the joints
      exceeds this (metres), the joints are kept as they are: they do not look like one head.
    """

    enabled: bool = False
    layout_max_residual_m: float = 0.08


@dataclass(frozen=True)
class Pose3DParams:
    """Per-frame multi-view association and triangulation.

    min_joint_score: 2D joints scoring below this count as not detected.
    min_person_score: 2D detections scoring below this are ignored.
    min_detection_joints: a 2D detection needs this many detected joints to take part.
    epipolar_threshold_rad: a joint pair of two views is consistent when its symmetric epipolar
      distance (mean of the point-to-epipolar-line distances in both images, each divided by
      that camera's focal length: an angle) is below this (radians); pair affinity = mean over
      shared joints of max(0, 1 - distance / threshold), weighted by the lower of the two joint
      scores. 0.08 rad (50 px at f = 620, 42 px at f = 525) keeps pairs of views whose poses
      are off by 1 degree and 2 cm: on simulated people (8 seeds x 10 frames x 6 people, camera
      poses perturbed so), person recall went from 0.947 (0.0485 rad, the former 30 px at
      1280x720) to 0.965 at 640x480 with a Kinect v1 lens, and from 0.949 to 0.989 at 1280x720;
      the people still missed share fewer than ``min_common_joints`` joints between their views
      (at the image border). The 3D checks that follow keep mismatched pairs out.
    min_common_joints: two detections (or a detection and a 3D hypothesis) are compared on
      their shared joints only when they share at least this many.
    min_pair_affinity: two detections of different cameras seed a person hypothesis only when
      their affinity reaches this (0-1); larger hypotheses are then grown and checked in 3D.
    reprojection_threshold_rad: a view of a triangulated joint is an inlier when its reprojection
      error, as an angle (pixels / focal length), is below this (RANSAC over views, final inlier
      set). 0.05 rad (31 px at f = 620) leaves room for real detectors' errors (several px, more
      on occluded joints) and for calibration error (1 degree = 0.017 rad); at 10 px noise,
      20 px at f = 620 lost 3% of people on the simulated benchmark.
    min_view_consistency: in a hypothesis, every view must reach this consistency: the
      score-weighted mean over its joints of max(0, 1 - reprojection error / threshold), after
      triangulating with all views of the hypothesis.
    min_hypothesis_score: a hypothesis scores the sum of its views' consistencies minus 1 (two
      views: 0 to 1, three: up to 2, ...); it must exceed this. 0.2 asks a two-view person for a
      mean consistency of 0.6 (mean reprojection error 0.4 x the threshold), which
      keeps a false detection from pairing with a lone real detection of another person.
    min_person_joints: a 3D person needs this many triangulated joints (else dropped).
    min_plausible_bones: share of measurable limbs whose length lies in a human range
      (:data:`disguisor.pose3d.association.BONE_LENGTH_RANGES_M`) for a hypothesis or a person to
      count as a body; checked when at least 3 limbs are measurable.
    merge_distance_m: two reconstructed people closer than this (mean distance of their shared
      joints) are one person: merged when they come from different cameras, else the weaker is
      dropped.
    full_confidence_views: a joint triangulated from this many inlier views (or more) gets the
      full view factor of its confidence; fewer views scale it linearly (2 of 3 -> 0.67).
    exact_packing_max_hypotheses: groups of competing hypotheses up to this size are solved by
      branch and bound (exact); larger groups, and groups where branch and bound gives up after
      200000 nodes, by an integer linear program (HiGHS, also exact).

    Depth lifting of people seen by one camera (:mod:`disguisor.pose3d.lifting`; only when the
    stage is given depth):

    lift_single_view: lift detections that no multi-view person explains.
    lift_min_person_score: detections scoring below this are not lifted (a lone detection has
      no second view to confirm it).
    lift_min_joints: a lifted person needs this many joints with a consistent depth reading.
    lift_min_joint_share: ... and this share of its detected joints (a detection whose joints
      mostly fall on the background is not a person there).
    lift_min_joint_score, lift_relative_joint_score: joints scoring below the lower of
      ``lift_min_joint_score`` and ``lift_relative_joint_score`` x the median score of the
      detection's joints are not lifted (unsure joints are often hidden; the depth there
      belongs to what hides them). Simulated keypoints score hidden joints low against the rest
      (0.3-0.5 against 0.7-1.0; lifted, such ankles landed 0.7-1.1 m off), while MoveNet scores
      whole people 0.2-0.6 in ceiling views; with the free-space check below, lifting those
      people's surer joints placed 2127 instead of 2087 of 2240 faces within 0.15 m on seeds 0
      and 17-23 (48 runs, default detector), with 42 instead of 65 people more than 0.2 m from
      anyone (seed 23, on which it was designed: 217 -> 235 and 12 -> 5).
    lift_head_deviation_m: face keypoints further than this (m, along the optical axis) from the
      median depth of the face keypoints are dropped (a head is ~0.2 m deep).
    lift_window_rad: half size of the depth window around a joint, as an angle (radians; x the
      focal length = pixels, at least 1): 0.006 rad is 3 px at f = 525, 4 px at f = 620.
    lift_min_valid_share: a joint's window needs this share of valid (> 0) depth readings.
    lift_max_depth_deviation_m: a joint whose depth is further than this (m, along the optical
      axis) from the median depth of the person's joints is rejected (background or occluder).
    lift_face_offset_front_m, lift_face_offset_back_m, lift_ear_offset_m, lift_torso_offset_m,
      lift_limb_offset_m: distance (m, along the optical axis) from the surface the sensor sees
      to the joint: nose and eyes lie on the skin of a face turned to the camera (front) and a
      head's depth behind the back of a head turned away (back; interpolated by how much the
      person faces the camera); ears are near the surface; shoulders and hips, and elbows,
      wrists, knees and ankles lie inside the body by about its radius there.
    lift_confidence_scale: a lifted joint's confidence = its 2D score x this (one view and a
      depth reading place a joint less exactly than triangulation).
    lift_explained_rad: a detection is explained by a 3D person (and not lifted) when the
      median distance between its joints and the person's projected joints is below this angle
      (radians; 0.05 = 26 px at f = 525).
    lift_merge_distance_m: a lifted skeleton closer than this (m) to a person already found is
      that person, not a new one, by the lower of the mean and the median distance of their
      shared joints. A ceiling view's detection often places a person's head right and
      mislabels the limbs (hips 1 m off: the mean passed 0.3 m, the median did not); a lying
      body lifted from above can have most joints a little off and a few on the person (the
      mean sees it). Lifts of a person already found, over 36 runs of seeds 42-47 (mean ->
      median -> either): 26 -> 13 -> 11, lifts of people nobody else found 133 in each; 3D
      precision on seeds 42-43 0.926 -> 0.966 with the median (BENCHMARKS.md "Lifted people
      merged by the median").

    People the depth contradicts (:mod:`disguisor.pose3d.freespace`; only when the stage is given
    depth):

    free_space_margin_m: a joint is in free space for a camera when every reading in its depth
      window lies more than this (m, along the optical axis) beyond it; None turns the check off.
    free_space_min_joints, free_space_min_share: a person with at least this many joints, and
      this share of the joints a camera can check, in that camera's free space is refuted: a
      multi-view person is taken apart and each of its detections is lifted from its own depth
      on its own; a lifted person is dropped.
    free_space_head_joints: a person whose head joints (nose, eyes, ears) a camera sees through,
      at least this many of them and at least half of those it checks, keeps the rest of its
      body but gets its head joints again (:func:`~disguisor.pose3d.freespace.repair_head`):
      triangulated without one of its detections, or lifted from the one view left. A surgeon
      bent over the table, seen by one workflow camera (head joints 2-8 px off) and one ceiling
      camera that put them on the cap (50-78 px off): the two rays met 15-24 cm behind the face,
      in front of the table the ceiling camera reads there. None turns the check off.
    head: the head joints of the tracked skeletons (:class:`HeadParams`).
    """

    min_joint_score: float = 0.2
    min_person_score: float = 0.1
    min_detection_joints: int = 4
    epipolar_threshold_rad: float = 0.08
    min_common_joints: int = 4
    min_pair_affinity: float = 0.3
    reprojection_threshold_rad: float = 0.05
    min_view_consistency: float = 0.4
    min_hypothesis_score: float = 0.2
    min_person_joints: int = 4
    min_plausible_bones: float = 0.6
    merge_distance_m: float = 0.2
    full_confidence_views: int = 3
    exact_packing_max_hypotheses: int = 400
    lift_single_view: bool = True
    lift_min_person_score: float = 0.3
    lift_min_joints: int = 5
    lift_min_joint_score: float = 0.5
    lift_relative_joint_score: float = 0.6
    lift_head_deviation_m: float = 0.12
    lift_min_joint_share: float = 0.6
    lift_window_rad: float = 0.006
    lift_min_valid_share: float = 0.3
    lift_max_depth_deviation_m: float = 0.5
    lift_face_offset_front_m: float = 0.01
    lift_face_offset_back_m: float = 0.15
    lift_ear_offset_m: float = 0.06
    lift_torso_offset_m: float = 0.08
    lift_limb_offset_m: float = 0.04
    lift_confidence_scale: float = 0.7
    lift_explained_rad: float = 0.05
    lift_merge_distance_m: float = 0.3
    free_space_margin_m: float | None = 0.15
    free_space_min_joints: int = 3
    free_space_min_share: float = 0.5
    free_space_head_joints: int | None = 2
    head: HeadParams = HeadParams()


@dataclass(frozen=True)
class TrackingParams:
    """Tracking over time, gap filling and smoothing of the 3D skeletons.

    gate_m: a person matches a track only when the 3D distance between the centroid of its joints
      and the track's predicted centroid (same joints, constant-velocity prediction) is below
      this, for a track seen in the previous frame. Smaller than the ~0.45 m between the centres
      of two people standing shoulder to shoulder, so a track does not jump to a neighbour
      when its own person is missed in a crowd.
    gate_growth_m_per_frame: the gate grows by this much per frame number since the track's last
      observation, beyond the first (a recording processed every 3rd frame: +0.2 m).
    max_gap_frames: a track unseen for up to this many frame numbers (counted in frame numbers,
      processed or not: 0 and 100 are 99 apart) keeps its id, and a person re-entering within
      that time gets it back; gaps of up to this many frame numbers are filled by linear
      interpolation, per joint, at the processed frames inside them. Longer absences end the
      track: a later person is new, and nothing is invented in between.
    max_speed_m_per_frame: cap on the centroid velocity (metres per frame number) used for
      prediction.
    velocity_smoothing: weight of the newest centroid velocity in the running estimate (0-1].
    min_track_frames: tracks with fewer observed frames are dropped (1 keeps every person:
      for anonymization a missed face is worse than a spurious one).
    interpolated_confidence_scale: confidence of a gap-filled joint = this x the lower
      confidence of the two observations around the gap.
    smoothing: ``"rts"`` (constant-velocity Kalman filter with a Rauch-Tung-Striebel backward
      pass: zero-lag, the whole recording is known) or ``"none"``.
    measurement_noise_m: standard deviation of a triangulated joint of confidence 1 (the noise
      of a joint of confidence c is this / max(c, 0.1)).
    acceleration_noise_m: standard deviation of the velocity change per frame number of a joint
      (white-noise acceleration). Larger follows fast motion more closely, smaller smooths more;
      0.01 halved the joint error on the simulated benchmark at 2 and 5 px noise and keeps a
      115-degree head turn in 4 frames on time (no lag; rounded by <= 3 cm).
    max_smoothing_shift_m: the smoothed joint stays within this distance of its (outlier-gated)
      measurement: the constant-velocity model smears sudden moves (a nurse starting to walk,
      0.36 m in one frame, was placed 10-19 cm ahead of the truth over the frames before).
      Mean joint error on the synthetic recordings (simulated keypoints) without / with 3 cm:
      easy 12.4 / 10.2 mm, medium 16.3 / 13.5, hard 9.0 / 9.6, medium 30 frames 14.4 / 12.5;
      scaling the radius by 1/confidence was worse (easy 12.3, medium 16.0).
    outlier_window: odd window (processed frames of the track) of the robust outlier gate that runs before smoothing:
      a joint further than max(outlier_sigmas x 1.4826 x MAD, outlier_min_m) from the median of
      its window is treated as missing. A median window removes spikes of up to
      (window - 1) / 2 frames but keeps steps and ramps in place, so fast head turns pass.
    hold_frames / hold_max_speed_m_per_frame: a track that was nearly still over its last (first)
      ``outlier_window`` observations (its centroid moved at most this many metres per frame
      number) is held in place for up to ``hold_frames`` frame numbers after its last (before
      its first) observation, with interpolated_confidence_scale x its end confidence: a person
      lying or standing still whom the detectors stop finding (the patient under drapes, a
      surgeon bent over the table) keeps a face that is hidden, privacy first. 0 switches it
      off. Synthetic hard, seed 0, default detector: the patient lost at the last 3 frames.
    hold_depth_tolerance_m: with depth, a lost track that is not still is held too, for as long
      as a camera reads a surface within this distance of its head joints
      (behind them; ``hold_depth_front_m`` in front of them: the body's own surface;
      :mod:`~disguisor.pose3d.presence`): a detector's joints of a lying patient drift by
      4-17 cm, so the speed test alone let him go. None: speed only.
    hold_same_body_m: a lost track (still or not) is not held at a frame where another track
      has the same body: its joints within ``gate_m`` (centroid of the shared joints) and
      within this mean distance of the held joints (that track is the same person, going on
      under another id). On the 30 people-finder runs (BENCHMARKS.md "Feet, and tracks on
      top of others") the doubled held tracks lay 0.12-0.49 m (mean joint distance) from the
      track they doubled; a person held beside a neighbour whose shared joints' centroid was
      0.32 m away lay 0.59 m from him.
    drop_same_body_m: of two people of one frame whose shared joints' centroids lie within
      ``gate_m`` and whose shared joints lie within this mean distance of each other, the one
      with the smaller sum of joint confidences is dropped (association splits one person's
      views into two 3D people: a second skeleton on the same body, mostly with a few joints, a
      lower confidence and its head 0.1-0.4 m off). None keeps both.
    drop_same_head_m: ... and only where the person that stays has every head joint the other
      has, within this mean distance (or the other has none): its face then hides the other's.
      On the 78 people-finder runs of seeds 0-12 (BENCHMARKS.md "Final head joints; one 3D
      person per body") 25 of the 75 unmatched 3D person-frames went, in 13 runs: 3D precision
      below 0.95 in 9 -> 6 runs, 3D recall and the pixel check unchanged in each. Without the
      head condition 46 went, and a face lost its cover (medium 1280x720 s8: the person kept
      straddled two people and the one dropped was the only one at that face). Two people
      whose head joints (at least three shared) lie within drop_same_head_m of each other on
      average are one body too, however far their other joints: an association that joins one
      person's head to another's (or a detector's) limbs gives a second skeleton on the same
      head (easy 1280x720 s99, a first run: a surgeon's head with hips 0.4 m low and ankles 0.6
      m under the floor, six frames, 3D precision 0.870). On the stored first runs of seeds
      80-101 all 21 pairs of skeletons with heads within 0.12 m were one person (16 within 0.1
      m), with other joints 0.2-0.8 m apart.
    """

    gate_m: float = 0.35
    gate_growth_m_per_frame: float = 0.1
    max_gap_frames: int = 10
    max_speed_m_per_frame: float = 0.3
    velocity_smoothing: float = 0.6
    min_track_frames: int = 1
    interpolated_confidence_scale: float = 0.5
    smoothing: str = "rts"
    measurement_noise_m: float = 0.01
    acceleration_noise_m: float = 0.01
    max_smoothing_shift_m: float = 0.03
    outlier_window: int = 5
    outlier_sigmas: float = 4.0
    outlier_min_m: float = 0.12
    hold_frames: int = 10
    hold_max_speed_m_per_frame: float = 0.02
    hold_depth_tolerance_m: float | None = 0.10
    hold_depth_front_m: float = 0.25
    hold_same_body_m: float = 0.5
    drop_same_body_m: float | None = 0.3
    drop_same_head_m: float = 0.1

