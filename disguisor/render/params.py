"""Tunable defaults of the render stage: visibility against the sensor depth, painting, blending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from disguisor.render.obfuscate import ObfuscationParams

BLENDS = ("poisson", "mixed", "paste")


@dataclass(frozen=True)
class RenderParams:
    """Thresholds of face rendering, visibility and blending (metres, pixels, degrees).

    Visibility against the sensor depth, per pixel: a rendered face pixel at depth z (along the
    optical axis) is hidden only where the sensor reads a surface clearly in front of it,
    ``sensor < z - tolerance(z)`` with ``tolerance(z) = occluder_margin_m + occluder_noise_sigmas
    * sigma(z)`` and ``sigma(z) = noise_a_m + noise_b_per_m * z**2`` (the Kinect-like noise model
    of disguisor/synth/sensor.py). The margin also absorbs the error of the 3D face estimate
    (a few cm); it must stay below a head's depth (~0.18 m) so that the back of a head turned
    away hides the face behind it. Tolerance is capped at ``occluder_max_tolerance_m``. Pixels
    without a reading (0 or NaN) trust the 3D estimate and are painted: dropping them would
    leak the face (a flaw of the original code). Occluder specks smaller than
    ``occluder_open_px`` (morphological opening, sensor noise and flying pixels) do not punch
    holes into the painted face.

    depth_fill_px / depth_fill_min_share: speckle dropouts of the sensor (dark hair, depth
      edges) are filled with the mean reading within this radius when readings cover at least
      this share of the window; larger holes (outside the depth field of view) stay empty and
      are painted.
    report_occluder_margin_m / report_edge_px: a tighter test decides the face box reported in
      detections.json, the best estimate of the visible face: this margin instead of
      ``occluder_margin_m``, and pixels without a sensor reading within ``report_edge_px`` of
      an occluder do not count (they are painted, but depth edges drop readings along an
      occluder's outline, so they are no evidence of the face). Painting keeps the wide test;
      a face without any such pixel reports the box of its painted pixels. With the true faces
      of the 20-frame synthetic scenarios, holistic recall (easy / medium / hard): all pixels
      without a reading excluded 0.950 / 0.958 / 0.963, none excluded 0.963 / 0.966 / 0.988,
      those next to an occluder excluded (3 px) 0.963 / 0.975 / 0.988.
    max_facing_angle_deg: a face is not painted in a camera when the angle between its facing
      direction and the direction from the face to the camera exceeds this (90 = profile). The
      default, 180, skips nothing: geometry decides (the own-head and sensor depth tests). With
      the true faces of the 20-frame synthetic scenarios, 165 left a chin sliver of a face seen
      from behind and below unpainted (coverage 0.997 / 0.996 medium / easy); 180 covers every
      face (1.000), precision 0.90 -> 0.88. Lower it only to trade privacy for fewer painted
      slivers.
    self_occlusion_margin_m: a face pixel is hidden by the person's own head (the fitted model's
      skull, ears and jaw underside, FaceSurface.occluder_*) when that surface lies more than
      this in front of it. The sensor-depth test cannot see this at a distance (its tolerance
      reaches 13 cm at 4 m, close to a head's depth), so without it a face seen from behind is
      painted onto the back of the head. The back of a skull lies 15-20 cm in front of the face
      behind it; near the silhouette the gap shrinks, and a small margin there cuts off
      slivers that are really visible (head-pose error). Swept on the 20-frame synthetic
      scenarios (holistic recall easy / medium): 0.03 m 0.863 / 0.891, 0.05 m 0.925 / 0.899,
      0.08 m 0.938 / 0.916, 0.12 m the same as 0.08. None switches the test off. With the
      default image detector (head orientation ~20 degrees off) 0.12 m is the default: on the 30
      people-finder runs (bench_people.py, seeds 0-4) faces >= 25% visible hidden in every view
      in >= 97% in 24 runs instead of 23 (medium 640x480 seed 1 0.967 -> 0.983; no run lower),
      precision 0.816 -> 0.814 (mean).
    self_occlusion_sensor_m: a pixel the own head would hide stays visible where the sensor
      depth lies within this distance of the face surface drawn there (the sensor sees that
      surface, so the fitted head is turned wrong; the back of a head reads 10-20 cm nearer).
      On the 30 people-finder runs (bench_people.py, seeds 0-4, BENCHMARKS.md "Held tracks"):
      faces >= 25% visible hidden >= 97% in 26 runs instead of 25, none lower; holistic recall
      0.804 -> 0.814 (medium 640x480 seed 1 0.767 -> 0.867). The face near profile it was aimed at
      (easy 1280x720 seed 4) stays cut off: the sensor reads the side of the head there, its
      face is drawn beside the edge that shows (0.10 or 0.20 m: the same). None: the fitted head
      alone decides.
    self_occlusion_min_angle_deg: the test runs only for faces turned at least this far from
      the camera (the own head cannot cover a face seen from the front; saves a render pass).
    min_rendered_px: a face whose rendered (unoccluded) area is smaller than this is skipped as
      too small to identify anyone (privacy first: 1 paints everything).
    dilate_m / dilate_px / dilate_max_px: the painted region grows by ``dilate_m`` at the face's
      distance (pixels = dilate_m * focal / depth), at least ``dilate_px`` and at most
      ``dilate_max_px`` pixels (template colours extended outward), so that the real face's edge
      does not peek out where the 3D estimate is off. With near-perfect (simulated) 2D keypoints
      2 cm is about the 90th percentile of the face-centre error after refinement; with the
      default image detector the head joints are 39-47 mm off (synthetic easy/medium, seed 0), and
      the faces at least 25% visible whose box pixels changed in every view rose from 0.60 / 0.77
      (2 cm) to 0.90 (4 cm, easy) and 0.975 / 0.950 (6 cm, easy / medium): 6 cm, privacy first
      (BENCHMARKS.md, "People finder").
    close_px: the painted region of a face is closed (morphology) with a disk of this radius:
      gaps and fragments left by occluder specks become one region, which blends without
      blotches; 0 switches it off.
    ring_background_margin_m: the dilation ring is not painted where the sensor reads a surface
      more than this behind the face (the wall, the floor: the face cannot be there), so a head
      against the background gets no halo; pixels without a reading are still painted. 0.15
      rather than 0.25 also leaves out the shoulders below a head seen from a ceiling camera
      (0.2-0.35 m below the top of the head): render stage rerun on the people-finder runs
      (default detector; BENCHMARKS.md "Where the paint goes"), changed pixels outside the true
      heads 0.513 -> 0.487 (seeds 0-4) and 0.537 -> 0.515 (seeds 13-16, held out), no face of
      the 54 runs less hidden. The face estimate lies within a few cm of the truth in depth.
    ring_background_edge_px: ... except within this many pixels of the face's visible pixels:
      the sensor's silhouette lies 1-2 px inside the colour image's (edge pixels without a
      reading or read on the background), so an edge-on face drawn 2 px off kept its outer
      columns (hard 1280x720 seed 8: a masked face 8 px wide, 47-49% of its box changed;
      62-65% with the band). Over the 54 runs of seeds 0-8 (render rerun alone): 2 face-views
      more hidden and 2 fewer (a blurred sphere, 55% -> 50% changed, and a face < 25% visible
      whose blend took the background's colour, 54% -> 45%).
    ring_head_px: with method "template", the dilation ring is painted only on the estimated
      head (the face and the rest of the fitted head: skull, ears, jaw underside) grown by this
      many pixels, so that face colours do not spill onto the neck, shoulders or the background
      beside the face; None (default) switches it off (the ring then follows dilate_m alone).
      Measured on synthetic easy, 1280x720, 4 frames (benchmarks/bench_paint.py): 1 px cuts the
      changed pixels outside the true heads from 12% to 0.6% of all changed pixels, but the face
      boxes whose pixels changed fall from 37 to 34 of 42: privacy first, so it is off.
    turned_blur_max_deg / turned_blur_painted / turned_blur_nearer_m: a face turned beyond
      profile from a camera (facing angle in (90, turned_blur_max_deg] degrees) has its projected
      footprint (all its vertices, grown by the privacy margin) blurred on the pixels the view has
      not painted, where the sensor reads from turned_blur_nearer_m in front of the face (the back
      of its own head) to ring_background_margin_m behind it, or reads nothing
      (:func:`~disguisor.render.border.turned_footprint`); turned_blur_painted: also for faces the
      view painted (their painted part can lie on the wrong side of the head). A head
      registration accepted 4-6 cm and 20-30 degrees off (medium 640x480 seed 53) judged a nurse
      turned 120-127 degrees from a ceiling camera whose picture shows her face's edge (68%
      visible, 105 degrees) at its border: nothing rendered there in one frame, 46% of the box
      changed in another; both are hidden with the footprint blurred (that run 0.967 -> 1.000),
      each needs turned_blur_painted for one. On 12 runs of seeds 54-55 no face-view is less
      hidden (BENCHMARKS.md "Seeds 54-55; spheres filled, head joints, turned faces"); the
      blurred footprints land mostly on heads (caps and hair seen from behind). 180 (was 135):
      a circulator seen from behind whose 2D head joints followed her turned body had her face
      placed 36-71 degrees off, 141-177 degrees from that camera, which saw 40-50% of her
      face's side: 0-7% of its box changed (medium seeds 83 and 92). With 180, on the 24 runs
      of seeds 90-93 the faces at least 25% visible hidden in every view: mean 0.9965 ->
      0.9986 (runs >= 0.97: 23 -> 24), every face 0.9913 -> 0.9976; no box-based measure moves
      (BENCHMARKS.md "Seeds 92-93, first runs"). 0: off.
    graze_cos_lo / graze_cos_hi / graze_sigma_m: with method "template", where the rendered face
      surface is seen edge-on (|cos| of the angle between its normal and the ray to the camera,
      from the rendered depth, below graze_cos_hi) the template's colours fade to their own
      low-pass (Gaussian sigma graze_sigma_m at the face's distance), fully at graze_cos_lo:
      a face seen from a ceiling camera otherwise shows its eyes, brows and mask edges squeezed
      into dark and white slivers on the skull or the cap (disguisor/render/soften.py).
      graze_cos_hi 0 switches it off. 0.25 / 0.65 gave a little more SSIM but left a 2 x 10 px
      sliver of a masked face at the image border less than half changed (medium 1280x720
      seed 1, simulated keypoints; 0.2 / 0.5: 75% changed).
    margin_sigma_m: the template's colours are carried over the privacy margin as their
      Gaussian mean (sigma at the face's distance, metres) instead of the nearest face pixel's
      colour, whose radial streaks showed as fragments around the face; 0: nearest pixel.
      0.015 rather than 0.03: higher SSIM, and a face 16% visible below a ceiling camera (hard
      640x480 seed 1, default detector) stayed hidden (58% of its box changed; 47% at 0.03).
    margin_fill: how the painted pixels beyond the face (the margin) are coloured before the
      blend: "membrane" (the smoothest passage from the face's edge colours to the picture's
      colours around the margin: :func:`disguisor.render.soften.membrane_margin`) or "colour"
      (the face's colours carried outward, :func:`~disguisor.render.soften.extend_smooth`: a
      halo of face colour over the hair, neck and background). Faces smaller than
      ``soften_min_px`` keep "colour" (their few pixels weigh most in the privacy check).
    soften_min_px: faces whose rendered extent (the larger side) is below this many pixels are
      painted as drawn (no softening, nearest-pixel margin): fragments of such faces are too
      small to see, and their few pixels are the ones the privacy check weighs most.
      Measured together (BENCHMARKS.md "Edge-on faces and the margin painted smoothly"): the
      replacement's SSIM on the true face boxes (simulated keypoints, 3 frames) rose by 0.02-0.06
      (seed 0, 1280x720 and 2048x1536) and 0.02-0.03 (seed 1, not tuned on).
    crop_margin_px: margin around the projected face box of the rendered and blended crop.
    blend: "poisson" (template gradients only: no identity detail of the original survives
      inside the face; the boundary takes the image's colours) or "mixed" (per pixel the
      stronger of template and image gradient, like seamlessClone MIXED_CLONE: better texture
      continuity, but the original's edges - eyes, mouth, wrinkles - show through: an
      identity leak; not recommended) or "paste" (no blending).
    blend_regularization: weight pulling the Poisson solution towards the template's own colours
      (screened Poisson: the boundary's colour correction fades over ~1/sqrt(weight) pixels).
      1e-7 keeps the image's colours across the whole face (a masked face replaced by a masked
      template then changes too few pixels to count as hidden); 0.02 (~7 px) keeps a seamless
      edge and shows the template inside: faces at least 25% visible hidden in every view (pixel
      check, default detector, synthetic seed 1) easy 0.925 -> 0.975, medium 0.783 -> 0.883.
    shading_ambient / shading_diffuse: per-vertex relief shading of the template, from a light
      above and in front of the face (head frame), multiplies the template colour.
    check_min_share / check_grey_levels / blend_regularization_max: after blending, the share of
      each face's reported box whose grey value moved by more than check_grey_levels is measured
      (disguisor/render/check.py, the pixel check of ``disguisor eval`` on the tool's own box);
      below check_min_share the faces are blended again with 10x the regularization, up to
      blend_regularization_max (0 for check_min_share: no check). The evaluation counts a box
      hidden at 0.5; the margin above it is for the true face box differing from the reported
      one by a few pixels (a masked face near profile at 640x480). On the 30 people-finder runs
      (BENCHMARKS.md "Feet, and tracks on top of others") 0.75 instead of 0.6 raised the runs
      with >= 97% of the faces hidden from 26 to 28 (3 higher, none lower; boxes unchanged) and
      lowered the replacement's SSIM on the true face boxes from 0.719 to 0.709.
    check_fill_box: when even the strongest regularization leaves a face's box below
      check_min_share (a face partly hidden by an occluder or seen edge-on, whose box holds
      pixels the depth tests keep unpainted), the whole box is painted with the template's
      colours extended outward and blended once more (privacy first: the box a viewer would
      search for the face changes; the painted rectangle can show as a patch).
    obfuscation: settings of the blur / pixelate / blacken methods.
    """

    occluder_margin_m: float = 0.06
    occluder_noise_sigmas: float = 3.0
    occluder_max_tolerance_m: float = 0.14
    report_occluder_margin_m: float = 0.025
    report_edge_px: int = 3
    noise_a_m: float = 0.0008
    noise_b_per_m: float = 0.0012
    occluder_open_px: int = 3
    depth_fill_px: int = 3
    depth_fill_min_share: float = 0.25
    max_facing_angle_deg: float = 180.0
    self_occlusion_margin_m: float | None = 0.12
    self_occlusion_sensor_m: float | None = 0.05
    self_occlusion_min_angle_deg: float = 60.0
    min_rendered_px: int = 1
    dilate_m: float = 0.06
    dilate_px: int = 3
    dilate_max_px: int = 40
    ring_background_margin_m: float = 0.15
    ring_background_edge_px: int = 3
    close_px: int = 4
    ring_head_px: int | None = None
    turned_blur_max_deg: float = 180.0
    turned_blur_painted: bool = True
    turned_blur_nearer_m: float = 0.25
    graze_cos_lo: float = 0.2
    graze_cos_hi: float = 0.5
    graze_sigma_m: float = 0.015
    margin_sigma_m: float = 0.015
    margin_fill: Literal["membrane", "colour"] = "membrane"
    soften_min_px: int = 24
    crop_margin_px: int = 8
    blend: str = "poisson"
    blend_regularization: float = 0.02
    check_min_share: float = 0.75
    check_grey_levels: float = 6.0
    blend_regularization_max: float = 2.0
    check_fill_box: bool = True
    shading_ambient: float = 0.72
    shading_diffuse: float = 0.34
    obfuscation: ObfuscationParams = ObfuscationParams()

    def blend_regularization_steps(self) -> list[float]:
        """The regularizations tried in turn: blend_regularization, then x10 while below
        blend_regularization_max (the last step is the max itself); one step without the check."""
        steps = [self.blend_regularization]
        if self.check_min_share <= 0:
            return steps
        while steps[-1] < self.blend_regularization_max:
            steps.append(min(steps[-1] * 10.0, self.blend_regularization_max))
        return steps

    def occluder_tolerance_m(self, z, margin_m: float | None = None):
        """Depth tolerance (metres) at rendered depth ``z`` (metres, scalar or array), with the
        fixed part ``margin_m`` (default ``occluder_margin_m``)."""
        sigma = self.noise_a_m + self.noise_b_per_m * z * z
        margin = self.occluder_margin_m if margin_m is None else margin_m
        tol = margin + self.occluder_noise_sigmas * sigma
        return np.minimum(tol, self.occluder_max_tolerance_m)
