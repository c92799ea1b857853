"""Replaying the generator of a synthetic recording: the posed Anny bodies it rendered.

The generator stores joints, face centres and facings (``gt_poses3d.json``) but not the meshes.
They are rebuilt by replaying its random draws (appearance, then motion, per person, from the
recorded seed and scenario) and posing Anny exactly as it did. Every replayed frame is checked
against ``gt_poses3d.json``, so a change of the generator is detected instead of silently giving
wrong bodies. Works for recordings made with the default scenario specs. Used by tests and
benchmarks (true faces, refinement inputs), never by the pipeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from disguisor.body.anny_model import AnnyBody, load_anny
from disguisor.errors import InputError
from disguisor.synth.motion import role_motion
from disguisor.synth.or_scene import FPS
from disguisor.synth.people import place_root, pose_from_state, sample_appearance
from disguisor.synth.room import TABLE_TOP_Z
from disguisor.synth.scenarios import SCENARIOS

REPLAY_TOLERANCE_M = 1e-3


@dataclass
class Replay:
    """The people of a synthetic recording as the generator drew them.

    looks / motions: per person (ground-truth person id = index). pelvis_z: per person, the
    height (world metres, z up) that puts the body on the floor or the table. gt: frame number ->
    that frame's entry of ``gt_poses3d.json``.
    """

    root: Path
    body: AnnyBody
    looks: list[Any]
    motions: list[Any]
    pelvis_z: list[float]
    gt: dict[int, dict]

    def pose(self, frame: int, phenotypes: list[dict] | None = None):
        """Anny's output (vertices (P, V, 3), keypoints (P, 17, 3), world metres) for every person at
        ``frame``; ``phenotypes`` replaces the drawn shapes (e.g. a fit's slightly wrong shapes).
        With the drawn shapes, the joints are checked against the ground truth."""
        poses = [place_root(pose_from_state(m[frame]), m[frame].position, z)
                 for m, z in zip(self.motions, self.pelvis_z, strict=True)]
        out = self.body.forward(phenotypes or [lk.phenotype for lk in self.looks], poses)
        if phenotypes is None:
            for i in range(len(self.looks)):
                joints = np.asarray(self.gt[frame]["people"][i]["joints"], float)
                err = float(np.abs(out.keypoints[i] - joints).max())
                if err > REPLAY_TOLERANCE_M:
                    raise InputError(self.root / "gt_poses3d.json", f"replayed person {i} differs from the ground "
                                     f"truth by {err:.3f} m (generator changed?)", field=f"frames[{frame}].people[{i}]")
        return out


def replay(recording: str | Path, body: AnnyBody | None = None) -> Replay:
    """Replay the generator's draws for a synthetic recording (see the module docstring)."""
    root = Path(recording)
    ann_path = root / "annotations.json"
    info = json.loads(ann_path.read_text())["info"]
    gt = {f["frame"]: f for f in json.loads((root / "gt_poses3d.json").read_text())["frames"]}
    scenario = info["description"].rsplit(" ", 1)[-1]
    if scenario not in SCENARIOS:
        raise InputError(ann_path, f"unknown scenario {scenario!r}", field="info.description")
    spec, n_frames = SCENARIOS[scenario], int(info["frames"])
    rng = np.random.default_rng(int(info["seed"]))
    body = body or load_anny()
    looks, motions = [], []
    for role in spec.roles:  # same order of draws as the generator
        looks.append(sample_appearance(rng, role, spec.caps_and_gowns))
        motions.append(role_motion(role, n_frames, FPS, rng))
    first = [place_root(pose_from_state(m[0]), (0.0, 0.0), 0.0) for m in motions]
    lowest = body.forward([lk.phenotype for lk in looks], first).vertices[..., 2].min(axis=1)
    pelvis_z = [float((TABLE_TOP_Z if m[0].lying else 0.0) - low) for m, low in zip(motions, lowest, strict=True)]
    return Replay(root, body, looks, motions, pelvis_z, gt)
