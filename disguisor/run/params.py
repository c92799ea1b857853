"""Settings of ``disguisor run`` (the stage modules keep their own parameter dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

OnError = Literal["blur", "withhold"]
Method = Literal["template", "blur", "pixelate", "blacken"]

STAGES = ("keypoints", "pose3d", "fit", "render")


@dataclass(frozen=True)
class FailClosedParams:
    """How a view is hidden when its frame could not be anonymized, and the fallback for a
    person found in 3D whose face surface could not be made.

    full_blur_width_px: a failed view is shrunk to this width (area averaging), enlarged back
      and blurred: no face survives at any size. head_radius_m: radius of the sphere around the
      head joints that is blurred for a person without a face surface (metres), and of the one
      around their head as the depth confirmed it in a nearby frame (``refine.nearby_frames``),
      when that lies more than unconfirmed_joints_apart_m away: on medium 1280x720 seed 64 a
      lying patient kept 5 joints in the last frame (no body fit), his eyes 18 cm below his
      face, and his face (78% visible in a workflow view) stayed 94% unchanged; with it,
      hidden (BENCHMARKS.md "Seeds 64-67, first runs").

    A person detected in 2D whom no 3D person explains (seen by one camera only, at the edge of
    the room, or missed by the association) still has their head blurred in that view:
    head_keypoint_score: the score a head keypoint (nose, eyes, ears) needs to count; a
    detection needs two. explained_px / explained_share: a detection is explained by a 3D
    person when the median distance between its keypoints and that person's projected joints
    is below the larger of explained_px and explained_share x the detection's size (pixels).
    explained_painted_share: a head no 3D person's head explains still counts as hidden when at
    least this share of its disk is already painted. Before, its centre pixel sufficed: on medium
    640x480 seed 0 a head sphere's painted square reached the centre of a circulator's head the
    2D detector saw, while its disk left 67-73% of the face unchanged (frames 7-8).
    head_disk_scale / min_head_radius_px: the blurred disk around the head keypoints' centre
    has a radius of head_disk_scale x their largest spread (at least that many pixels; twice
    that spread when no ear is seen, since eyes and nose span only the middle of the face).
    Such a head is listed in detections.json (source ``2d-head``) only when the detection shows
    a face on it (its nose and an eye at head_keypoint_score); a head seen from behind (ears
    only) is blurred all the same but is no face (``unexplained_2d_heads_unlisted`` in
    report.json's views). On the people-finder runs 3 of 51 such listed heads matched a true
    face box (seeds 0-4, 13-16, 17-18; 48 false positives).

    A face whose head registration the depth did not accept (too few points, a correction too
    large, too few inliers) was placed by the body fit alone: unconfirmed_head_radius_m: the
    sphere around that face's centre that is blurred on top of the template (metres; 0 turns
    both spheres off). On the synthetic hard scenario at 640x480 (seed 0) the lying patient was
    found by the shoulder-to-ankle joints of one side only and the fitted face was ~15 cm off:
    the changed share of their face box rose from 0.00-0.17 to 0.32-0.50.
    unconfirmed_joints_apart_m: such a face whose person's head joints (their mean) lie farther
    than this from the fitted face gets a sphere of unconfirmed_head_radius_m around them too:
    the detectors saw a head there that the fit did not follow. On medium 1280x720 seed 52 a
    lying patient's poor skeleton (a shoulder taken from the surgeon beside him) put his fitted
    face 0.28 m off and the point beyond the shoulders further; his nose and eye lay 0.14 m off.
    His face, 39-49% visible in a workflow view, stayed 25-43% changed in two frames; with this
    sphere it is hidden (that run 0.950 -> 0.983 of the faces >= 25% visible hidden in every
    view; changed pixels +1.8%). The same rule keeps a sphere around the person's head as the
    depth confirmed it in a nearby frame (``FaceSurface.nearby_head``, ``refine.nearby_frames``):
    on easy 640x480 seed 57 a lying patient confirmed in frame 4 had his head joints sink 0.35 m
    into the table in frames 5-6, the fit followed them and his face stayed 33% changed in a
    ceiling view in frame 6; with it, hidden (BENCHMARKS.md "Seeds 54-55; spheres filled, head
    joints, turned faces").
    torso_head_ahead_m / torso_head_up_m / torso_head_radius_m: a second sphere for such a face
    (and the one sphere of a person without a body fit and without head joints) sits beyond the
    shoulders along the hip-to-shoulder axis by torso_head_ahead_m, raised by torso_head_up_m.
    Chosen on the true face centres against the detector's skeletons of the people-finder runs
    of seeds 48-51 (1,125 person-frames; standing, bent over the table and lying): 0.22 m beyond
    and 0.08 m up (before) left 7.2% of the faces more than 0.25 m from the point (median 0.19 m;
    a head bent over the table hangs below the line of the torso: a nurse's face 0.36 m off,
    left visible in two views of medium 640x480 s51), 0.15 m beyond and level 1.1% (median
    0.13 m, 95th percentile 0.17 m; the worst are skeletons 0.6-1.2 m off, a lying patient's
    head taken for his feet). With the generator's own joints: at most 0.26 m before, at most
    0.16 m now. torso_head_disagree_m: head joints farther than this from the point
    torso_head_disagree_ahead_m beyond the shoulders and torso_head_disagree_up_m up mark the
    head itself as doubtful (both spheres even when the registration was accepted): over 1041
    person-frames of the people-finder runs the head joints lay a median 0.155 m from that point
    and 98% within 0.25 m; the lying patient whose shoulder was taken for an ear, 0.28 m. The
    test keeps that point (the sphere's old one, and its torso axis from the hips' centre even
    with one shoulder): on seeds 48-51 it flags 20 of 1,119 head-joint sets, 10 of the 26 that
    lie more than 0.1 m from the true face; measured from the sphere's point, as many flagged
    sets hold only 6 of them. max_face_up_deg: a face looking further than
    this above the plane across its torso (the angle between its facing and that plane, towards
    the shoulders: a neck bent back) is as doubtful (both spheres): the detectors guess nose and
    eyes of a head seen from behind at the back of the skull, the fit then turns the face up, and
    the registration can keep it there (a masked nurse walking away on medium 1280x720 seed 9:
    her face drawn on the crown, 12 cm above the truth, her mask's edge left showing). No
    ground-truth face of the generator looks above that plane (at most -3 degrees); on the
    people-finder runs of seeds 0-10 before this rule, 27 person-frames were drawn more than 45
    degrees up, their facing 85 degrees off (median) and their face centre 126 mm off.

    seen_face_painted_share: a 2D detection that shows a face (nose and an eye) whose head disk
      is less than this share painted once everything else of the view is, has the disk blurred
      (painted, not listed: ``unpainted_2d_faces`` in report.json's views). The 3D face can be
      turned a little too far from a camera that sees the face in profile and be judged hidden
      by its own head there. Render stage rerun on the 30 people-finder runs of seeds 0-4
      (BENCHMARKS.md "A face the detector sees uncovered"): faces >= 25% visible hidden in every
      run (2 runs 0.975 -> 1.000), all faces higher in 5 runs and lower in none, boxes unchanged,
      ~21 disks blurred per 10-frame 4-camera run; held out, medium 1280x720 seed 16 0.983 ->
      1.000. None: off.

    face_report_radius_m: a head sphere of a person without a face surface is listed in
    detections.json with the box of a sphere this large (a face's size, metres) around their
    nose and eyes (painted_bbox: the whole sphere): the sphere's own box is 3-5 times a face's
    area and never reaches IoU 0.4 with a face box. The spheres around a face that is placed
    but not listed in a view (hidden, turned away, a sliver) are painted and not listed (the
    view's ``spheres_unlisted`` in report.json). On the 30 people-finder runs (BENCHMARKS.md,
    "Boxes and heads"): 1 of the 179 sphere boxes listed before matched a face (IoU 0.4); now
    86 are listed (faces of people without a face surface) and 7 match.

    blur_behind_m / blur_edge_px: a blurred sphere leaves out the pixels where the sensor reads
      a surface more than blur_behind_m beyond the sphere's far side (the wall or the floor seen
      past the head: no face inside the sphere shows there), except within blur_edge_px of the
      pixels it keeps (depth silhouettes lie a pixel or two off the colour image's). A blurred 2D
      head disk does the same beyond its head: the 75th percentile of the readings in the inner
      half of the disk (a reference that lands on the background when the disk does, which then
      leaves out nothing). Pixels without a reading stay blurred. Render stage rerun on the 30
      people-finder runs of seeds 0-4 (BENCHMARKS.md "Where the paint goes"): the
      changed pixels outside the true heads fell from 57.3% to 51.3% of all changed pixels
      (benchmarks/bench_paint.py, pooled), no face less hidden (one face-view more). None: the
      whole sphere or disk is blurred.
    blur_ball_slack_m: a blurred sphere also leaves out the pixels whose reading, back-projected,
      lies more than its radius plus this beyond its centre (a shoulder or a chest in front of or
      beside the head, the table below it: no face inside the sphere shows there), except within
      blur_edge_px of the pixels it keeps; pixels without a reading stay blurred. Render stage
      rerun on the 24 people-finder runs of seeds 0, 17, 23 and 24 (BENCHMARKS.md "Safety spheres
      hold to the ball"): changed pixels 10.14 M -> 8.72 M, outside the true heads 0.577 -> 0.512
      of them (pooled), no face less hidden, boxes unchanged. None: off.
    fill: how the pixels of every fail-closed region (the spheres, the 2D head disks, the faces a
      2D detector sees uncovered, the depth heads) are hidden: "membrane" fills them with the
      smoothest colours that meet the picture around the region (Laplace's equation: nothing of
      what lay inside survives); "blur" blurs them (61 px, for spheres a kernel as wide as the
      sphere), which keeps most of a small face's mean colour: a patient's face 20 px wide at
      640x480, fully visible and inside his head sphere, stayed 47% changed (medium 640x480 seed
      54) and is hidden with the membrane. The spheres with the other two changes of that step
      (BENCHMARKS.md "Seeds 54-55; spheres filled, head joints, turned faces"), render stage
      rerun on 12 runs of seeds 54-55 (never tuned on): no face-view less hidden of 1,706, one
      more; changed pixels outside the true heads 0.566 -> 0.533 and 0.468 -> 0.438 of all
      changed (pooled): the membrane of a smooth background barely differs from it, where a blur
      of an edge changes it. The disks and depth heads too (seed 55, 6 runs): 0.438 -> 0.437,
      no face-view changed its state: one look for every fail-closed region.
    """

    full_blur_width_px: int = 24
    head_radius_m: float = 0.16
    head_keypoint_score: float = 0.3
    explained_px: float = 20.0
    explained_share: float = 0.15
    explained_painted_share: float = 0.9
    seen_face_painted_share: float | None = 0.5
    head_disk_scale: float = 1.0
    min_head_radius_px: int = 10
    unconfirmed_head_radius_m: float = 0.2
    unconfirmed_joints_apart_m: float = 0.1
    fill: Literal["blur", "membrane"] = "membrane"
    torso_head_ahead_m: float = 0.15
    torso_head_up_m: float = 0.0
    torso_head_radius_m: float = 0.25
    torso_head_disagree_m: float = 0.25
    torso_head_disagree_ahead_m: float = 0.22
    torso_head_disagree_up_m: float = 0.08
    max_face_up_deg: float = 45.0
    face_report_radius_m: float = 0.08
    blur_behind_m: float | None = 0.25
    blur_edge_px: int = 3
    blur_ball_slack_m: float | None = 0.05


@dataclass(frozen=True)
class RunParams:
    """Settings of the render stage's frame loop (``[run]`` of the pipeline configuration; part
    of the frames' cache key).

    method: how faces are replaced. template: "auto" (default: per person, the template with the
    mask / cap the person wears and the nearest skin tone, estimated from the first frames the
    face is seen in: disguisor/render/attire.py), one template name for everyone, or None (one
    per person from a hash of the id, stable). With the default people finder, auto against the
    hash choice on the 30 people-finder runs (bench_people.py, seeds 0-4): faces >= 25% visible
    hidden in every view >= 97% in 24 runs instead of 23, 3 runs higher (two on seed 4), none
    lower; precision and holistic recall the same (BENCHMARKS.md). With simulated keypoints it
    had lost 1-3 boxes of 42-52 near the 50% pixel threshold (a template with the person's own
    mask changes fewer pixels of the box than a bare face). attire_colours: with "auto", the
    chosen template's mask and cap are drawn in the colours measured on the person (a blue mask
    stays blue): SSIM of the replacement on the true face boxes (simulated keypoints, seed 0)
    medium 1280x720 0.682 -> 0.704, hard 0.681 -> 0.690, every face box still changed
    (BENCHMARKS.md "Attire colours and a margin without a halo"). Off by default for now: the
    colours are continuous, so a frame that cannot be read changes every other frame's pixels
    (tests/test_faults.py); they need a choice robust to one frame less first.
    also_2d: a 2D face detector whose faces are also hidden (hybrid mode), with
    also_2d_weights for detectors that need a file. on_error: what a view of a failed frame
    becomes. video: also write one MP4 per camera. jpeg_quality: of the output images.
    face_2d_margin: a face found in 2D only (``2d-turned``, ``also_2d``) is blurred (where no
    template covers it) over its box grown by this share of its width and height on each side:
    the detectors' boxes hug the eyes and mouth (SCRFD's ``2d-turned`` boxes that matched a
    face on seeds 0-10: 0.92x the annotated width, one side up to 0.14 of it inside at p90; a
    lying patient's face on medium 640x480 seed 8 kept a 5 px strip of its box unchanged).
    report_min_face_px: a face painted in a view is listed in detections.json only when the box
    of its depth-confirmed pixels covers at least this many pixels (it is painted either way;
    report.json counts the unlisted ones per view): 16 is the synthetic ground truth's own
    minimum of visible face pixels, below which no face is annotated. On the 30 people-finder
    runs (BENCHMARKS.md) it raised mean precision from 0.767 to 0.795 (>= 0.80 in 14 -> 17 runs)
    with recall and holistic recall unchanged; 40 would drop matched faces.
    turned_faces: a 2D face detector (disguisor/facedet) run at four quarter turns of every view
      whose optical axis points at least ``turned_faces_min_down_deg`` below the horizon (ceiling
      cameras), for the faces the 3D path leaves uncovered: a patient lying below such a camera
      shows a face turned by 90-180 degrees, which the body detectors often miss. A face it finds
      whose size at the sensor depth lies in ``turned_face_min_m`` - ``turned_face_max_m`` (no
      reading: kept) and that no 3D face covers gets the template (on landmarks) or a blur,
      ``source: "2d-turned"``. None switches it off. SCRFD (the default; its weights are for
      non-commercial research, installed by ``make install``; where the file is missing, BlazeFace
      with a warning): on the 30 people-finder runs it hid every face BlazeFace hid and listed
      37 boxes instead of 145 (10 false instead of 125; mean precision 0.822 -> 0.842, >= 0.80
      in 19 -> 21 runs); on two fresh seeds (5, 6) it found the face of a lying patient whom
      no body detector found, seen turned by ~120 degrees below a ceiling camera (medium seed
      5: hidden 0.850 -> 0.900 at 1280x720, 0.817 -> 0.900 at 640x480; BENCHMARKS.md "Feet,
      and tracks on top of others"); about 0.25 s per 640x480 view. BlazeFace (Apache 2.0, in
      the mediapipe wheel): turned_faces_tiles, its tiles per side (1: the whole view only; 2:
      the whole view and 2x2 tiles). Of the 40 face-views the 30 people-finder runs left visible,
      BlazeFace at four turns found 9 with 1 tile (30 ms per 640x480 view) and 16 with 2 (127
      ms; the lying patients below sc1/sc2 in more frames). On 640x480 medium and hard, seeds
      0/2/4 (mean faces hidden, runs >= 0.97): off -> 1 tile 0.940 (1 of 6) -> 0.964 (2 of 6);
      measured again after the listing changes, 1 -> 2 tiles 0.960 (2) -> 0.965 (3); precision
      unchanged (BENCHMARKS.md, "People finder").
    turned_feet_m / turned_feet_head_m: a ``2d-turned`` face whose centre at the sensor depth
      lies within ``turned_feet_m`` (metres) of a 3D person's knee or ankle and farther than
      ``turned_feet_head_m`` from every 3D head joint is painted but not listed: BlazeFace at a
      quarter turn takes the bare feet of a patient below a ceiling camera for faces. On the
      30 people-finder runs (BENCHMARKS.md "Feet, and tracks on top of others") 52 of the 142
      false ``2d-turned`` boxes were such feet, and none of the 53 matched ones; 50 were
      unlisted (mean precision 0.810 -> 0.822 with the tracking change there). None lists
      every such box.
    turned_lift_m: a face found at quarter turns, with a depth reading, that lies farther than
      this (metres) from every 3D face and head joint (and not on the legs, above) is a face no
      3D person explains: the sphere of ``fail_closed.head_radius_m`` around it is blurred in
      every other view too (painted, not listed; ``turned_lifted`` in report.json's views). A
      lying patient no body detector finds is seen by the face detector in a ceiling view only,
      while a workflow camera sees the edge of the same face. None: only the view that found it.
    turned_list_m: such a lifted face is also listed in another view (``source: "2d-lifted"``,
      the box of a face-sized sphere, ``fail_closed.face_report_radius_m``, around the point) when
      that view's sensor reads a surface within this (metres) of the point's depth at the box's
      centre: the view sees the face there, not an occluder, the back of the head or through
      it. None: painted, never listed. On 24 people-finder runs (seeds 0, 17, 23, 24;
      BENCHMARKS.md "Faces found in one view listed in the others") 7 of 9 such boxes matched a
      true face (the other two at IoU 0.37-0.38, a face 45% visible); holistic recall 0.775 ->
      0.900 (easy 1280x720 s23, a lying patient) and 0.875 -> 0.925 (hard 640x480 s23).
    lift_2d_heads: the heads of 2D detections that no 3D person explains (the ``2d-head``
      fallback of their own view) are lifted the same way (turned_lift_m, turned_list_m): a
      person whose other views' detections were lost or merged into a neighbour's skeleton for
      a frame is found by one view alone, while another view sees the face (medium 640x480
      s92: a surgeon 97% visible in wfc2 left untouched in frame 6, seen only by wfc1). On the
      24 runs of seeds 90-93 it fired in that run only (6 view-frames painted, 2 listed): hidden
      0.983 -> 1.000, precision 0.883 -> 0.873, nothing else moved (BENCHMARKS.md "Seeds
      92-93"). False: only the quarter-turn faces are lifted.
    report_away_angle_deg / report_away_min_visible: a face turned further than this from the
    camera (the angle between its facing direction and the direction to the camera; 90 = profile)
    whose visible share of its rendered pixels (the rest hidden by its own head or by sensor
    depth) is below this is painted but not listed: the camera sees the back of the head, where
    the synthetic ground truth has no face box. Chosen on tuning runs (seeds 0-1, 8 runs): such
    listed faces were 33 false positives and 1 matched face (turned > 90 degrees and < 10%
    visible; < 15%: 44 and 3). Over all 30 runs it unlisted ~100 false positives and 10 matched
    faces (7 on the held-out seeds: a ceiling camera seeing the forehead of a bent head).
    report_back_angle_deg: a face turned further than this from the camera is painted but never
    listed, whatever its visible share: the camera sees the crown or the back of the head (the
    rim of a face mesh seen from behind passes the depth test where the sensor reads the skull
    right beside it). On the people-finder runs no listed face turned 160 degrees or more matched
    a true face box (seeds 0-4: 35 false positives, 13-16: 29, 17-18: 16), while from 150 to 160
    degrees 108 of 252 listed faces did match (a bent head's forehead seen from above).
    report_border_faces: list a face estimated just outside the image whose privacy margin
      reaches in and is blurred there (``RenderedFace.border``; painted either way). False: not
      listed: the face is not in the picture. On the first runs of seeds 58-61 (48 runs) 33 such
      boxes were listed and none matched a true face box (IoU 0.4), 10 of them in one run
      (precision of the 6 runs with any +0.010 to +0.066); held out, seeds 62-63: 3, none.
    report_disputed_faces: list the faces whose placement the depth disputes
      (``FaceSurface.disputed``: the head registration called for a correction beyond its guard,
      or found too few points to tell, and no second registration settled it); they are painted,
      with their safety spheres, either way. False: not listed. On the people-finder runs
      (BENCHMARKS.md, "Faces the depth disputes are not listed") such listed boxes matched a true
      face in 28 of 261 (refused as too large a correction: 27 of 184; too few points: 0 of 22;
      turned to the head joints without a registration: 1 of 55), while faces left as fitted for
      too few inliers matched in 23 of 74 and stay listed. Not listing them: precision 0.879 ->
      0.888 (seeds 0-4), 0.893 -> 0.902 (13-16), 0.782 -> 0.806 (17-18), 0.825 -> 0.870 (19-20,
      never tuned on); holistic recall 0.847 -> 0.849, 0.906 -> 0.905, 0.769 -> 0.768, 0.797 ->
      0.794; no face-view's pixel check changed.
    report_disputed_seen_score: a disputed face is listed all the same in a view whose 2D
      detector sees it there: a detection's nose and both eyes, each scored at least this (the
      score a head keypoint needs to count, ``head_keypoint_score``), lie inside the face's box
      (the depth refused a correction of the head, but the picture agrees with where the face
      is drawn in that view). None: never. On the first runs of seeds 68-71 (24 runs; a render
      rerun listing every disputed face, then each score applied to its boxes): 0.3 lists 40
      such boxes, holistic recall +0.167 summed (hard 640x480 s70 0.750 -> 0.900: an assistant
      refused in every frame, fully visible in two workflow views), precision -0.055 summed, no
      run below 0.80; 0.4: +0.075 / -0.044; 0.5: +0.000 / -0.026 (BENCHMARKS.md, "Disputed
      faces the picture confirms").
    report_disputed_front_deg: a disputed face is listed all the same in a view it faces: the
      angle between its facing direction and the direction to the camera is at most this
      (degrees; 90 = profile). None: never. The fit placed it from the head keypoints, which the
      detectors find best on a face seen from the front. On the first runs of seeds 80-85 (36
      runs; listing rerun, BENCHMARKS.md "Seeds 86-87, first runs; disputed faces seen from the
      front") the disputed boxes matched a true face in 33 of 45 views within 60 degrees, 7 of
      14 at 60-90, 12 of 40 at 90-120 and 2 of 52 beyond; listing those within 45 degrees: 25 of
      27 boxes matched, holistic recall 0.835 -> 0.839 (9 more faces, 2 runs higher, none lower),
      precision 0.880 -> 0.880; held out, seeds 86-87: no such box (60 degrees: 2 of 3 matched).
    report_faces_looking_up: list a face that looks up further than a neck bends (the test
      of ``fail_closed.max_face_up_deg``, which already gives it safety spheres: its turn came
      from nose and eyes guessed on the back of the head, and the face is drawn on the crown)
      in a view whose 2D detector does not see it inside its box (``report_disputed_seen_score``,
      as for disputed faces; the front rule does not vouch for it: its facing is what is in
      doubt). False: not listed; painted either way. Found on medium 1280x720 s97 (a nurse seen
      from behind, her face drawn on her crown in 5 frames: precision 0.778 -> 0.840); on the
      stored first runs of seeds 80-96 (99 runs, four and six cameras; BENCHMARKS.md "Faces
      looking up are not listed") 45 such boxes had been listed and none matched a true face
      (IoU 0.4): precision +0.075 / +0.012 on medium s91, +0.066 / +0.065 on medium s81, no
      other run and no holistic recall changed.
    report_guessed_faces: list the faces the body fit alone placed, where neither the
      keypoints nor the depth say where the head is: no head joint (nose, eyes, ears) in the
      person's 3D pose of that frame and the head registration refused; and the head spheres of
      people without head joints. They are painted, with their safety spheres, either way.
      False: not listed. On 24 people-finder runs (seeds 0, 17, 23, 24; BENCHMARKS.md "Faces
      found in one view listed in the others") such listed boxes matched no true face (13 faces,
      32 spheres; faces with head joints or an accepted registration: 2,797 of 3,142 matched);
      precision 0.785 -> 0.944 (easy 1280x720 s23: a phantom lifted from one view), 0.821 ->
      0.950, 0.802 -> 0.829, no other run changed.
    report_duplicate_face_m: a face the depth did not confirm (placed by the body fit alone)
    whose centre lies within this (metres) of another person's depth-confirmed face is painted
    but not listed: it is the same face, from a second 3D person found for one. On the 30
    people-finder runs every pair of faces closer than 0.4 m belonged to one true person (41
    pairs, 0.01-0.35 m apart; two true people's faces: >= 0.41 m), and in 37 of them one was
    confirmed and the other not. report_same_head_m: two confirmed faces closer than this
    (metres) were registered onto one head; the one of the higher person id is not listed
    (3 such pairs, 0.011-0.024 m apart).
    """

    method: Method = "template"
    template: str | None = "auto"
    attire_colours: bool = False
    also_2d: str | None = None
    also_2d_weights: Path | None = None
    face_2d_margin: float = 0.1
    on_error: OnError = "blur"
    video: bool = False
    jpeg_quality: int = 95
    report_min_face_px: float = 16.0
    turned_faces: str | None = "scrfd"
    turned_faces_min_down_deg: float = 45.0
    turned_face_min_m: float = 0.08
    turned_face_max_m: float = 0.40
    turned_faces_tiles: int = 2
    turned_feet_m: float | None = 0.25
    turned_feet_head_m: float = 0.35
    turned_lift_m: float | None = 0.3
    turned_list_m: float | None = 0.1
    lift_2d_heads: bool = True
    report_away_angle_deg: float = 90.0
    report_away_min_visible: float = 0.10
    report_back_angle_deg: float = 160.0
    report_border_faces: bool = False
    report_disputed_faces: bool = False
    report_disputed_seen_score: float | None = 0.3
    report_disputed_front_deg: float | None = 45.0
    report_guessed_faces: bool = False
    report_faces_looking_up: bool = False
    report_duplicate_face_m: float = 0.3
    report_same_head_m: float = 0.1
    fail_closed: FailClosedParams = FailClosedParams()

    def __post_init__(self) -> None:
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must lie in 1-100, not {self.jpeg_quality}")
        if self.turned_faces is not None:
            from disguisor.facedet.detectors import DETECTOR_NAMES

            usable = [n for n in DETECTOR_NAMES if n != "dsfd"]  # dsfd needs a weights file
            if self.turned_faces.strip().lower() not in usable:
                raise ValueError(f"must be one of {', '.join(usable)} or none, not {self.turned_faces!r}")
        if self.report_disputed_seen_score is not None and not 0 <= self.report_disputed_seen_score <= 1:
            raise ValueError(f"report_disputed_seen_score must lie in [0, 1] or be none, "
                             f"not {self.report_disputed_seen_score:g}")
        if self.report_disputed_front_deg is not None and not 0 <= self.report_disputed_front_deg <= 180:
            raise ValueError(f"report_disputed_front_deg must lie in [0, 180] or be none, "
                             f"not {self.report_disputed_front_deg:g}")
        if self.face_2d_margin < 0:
            raise ValueError(f"face_2d_margin must be >= 0, not {self.face_2d_margin:g}")
        if self.turned_faces_tiles < 1:
            raise ValueError(f"turned_faces_tiles must be >= 1, not {self.turned_faces_tiles}")
        if not 0 < self.turned_face_min_m < self.turned_face_max_m:
            raise ValueError(f"turned_face_min_m ({self.turned_face_min_m:g}) must be > 0 and below "
                             f"turned_face_max_m ({self.turned_face_max_m:g})")
