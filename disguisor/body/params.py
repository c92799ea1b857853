"""Settings of the body fit (``[fit]`` of the pipeline configuration)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class FitParams:
    """Every setting of the body fit. Distances in metres, angles in radians.

    model: the body model, ``anny`` (ships with its package) or ``smpl`` (files the user
    supplies in ``smpl_dir``).
    """

    model: Literal["anny", "smpl"] = "anny"
    smpl_dir: Path | None = None

    min_confidence: float = 0.05        # joints below this confidence are treated as missing
    min_joints: int = 6                 # fewer usable joints: no fit for that person-frame
    # shape: fitted to the track's median segment lengths (joints seen with this confidence)
    shape_min_confidence: float = 0.5
    shape_iterations: int = 30          # L-BFGS iterations
    shape_prior: float = 0.02           # pull of the shape towards the model's mean (unbounded units)
    shape_length_scale_m: float = 0.01  # a segment this much off costs 1
    # pose
    iterations: int = 60                # Levenberg-Marquardt iterations per batch, at most
    tolerance: float = 1e-4             # stop when the batch's cost falls by less than this fraction ...
    patience: int = 3                   # ... this many iterations in a row
    batch: int = 1024                   # person-frames optimized together (temporal terms inside a batch)
    robust_scale_m: float = 0.05        # pseudo-Huber scale: quadratic below, linear (bounded pull) above
    pose_prior: float = 2e-4            # per squared radian of every non-root bone rotation (m^2 units)
    bone_prior: tuple[tuple[str, float], ...] = (("clavicle", 10.0),)  # extra factor by name prefix
    # temporal smoothness between a track's neighbouring person-frames, divided by the squared
    # gap in frame numbers (consecutive frames: full weight)
    smooth_joints: float = 0.05         # per squared metre of a joint's motion between frames
    smooth_rotations: float = 2e-4      # per squared radian of a bone's rotation change between frames
    # ... scaled by 1 / (1 + (d / smooth_motion_scale_m)^2), d = the median motion of the joints
    # both frames observe: a sudden turn or a fast step must not drag a frame's body (and its
    # head, whose nose may be missing there) towards where its neighbour stands
    smooth_motion_scale_m: float = 0.08
    # nose and eyes closer than this to the ears' midpoint (a real nose lies ~0.1 m in front of
    # it) were guessed by the 2D detectors on a head seen from behind: they are left out of the
    # fit, so the ears, the neck and the pose prior turn the head instead of the guesses turning
    # the face up. Off (None) by default: on the people-finder runs it drew a nurse walking away
    # right (medium 1280x720 seed 9: holistic recall 0.833 -> 0.950, precision 0.838 -> 0.933),
    # but without a nose the ears alone leave front and back to the registration, which turned
    # one head 120 degrees wrong on a seed never tuned on (easy 640x480 seed 12: 0.875 -> 0.825);
    # over seeds 0-8 and 11-12 the means did not move. The face turned up is caught by
    # run.fail_closed.max_face_up_deg instead (BENCHMARKS.md "Edge-on faces, faces turned up").
    collapsed_face_m: float | None = None
    # factor on the weights of the nose, eyes and ears (the joints that turn the face): the
    # triangulated head joints are noisy but unbiased in pitch, while the body, the pose prior
    # and the neighbours' smoothness pull the fitted face up (+2.5 degrees median over seeds
    # 80-89). 10 takes a third off the pitch error at the fit (seeds 88-89, never tuned on:
    # median 7.3 -> 6.3 degrees), but the whole runs on seeds 88-91 did not gain (holistic recall
    # 0.804 -> 0.792 mean over 24 runs, precision 0.875 -> 0.876): 1.0, unchanged
    # (BENCHMARKS.md "Seeds 90-91, first runs; the fitted head's pitch").
    head_weight: float = 1.0
