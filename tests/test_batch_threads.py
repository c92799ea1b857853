"""A batch task runs fewer CPU threads than a plain run (the cores divided among the workers), so
its outputs must not depend on the thread count: `disguisor run` with 1 and with 3 threads
(OMP_NUM_THREADS: torch, BLAS) writes the same bytes, bodies included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_batch import _outputs

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_outputs_do_not_depend_on_the_thread_count(tmp_path):
    from disguisor.synth.or_scene import generate_or_recording

    rec = tmp_path / "rec"
    generate_or_recording(rec, scenario="easy", frames=2, size=(320, 180), seed=5)
    outs = {}
    for threads in ("1", "3"):
        out = tmp_path / f"out{threads}"
        p = subprocess.run([str(BIN / "disguisor"), "run", str(rec), "-o", str(out), "--keypoints",
                            str(rec / "keypoints2d.json")], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "OMP_NUM_THREADS": threads})
        assert p.returncode == 0, p.stderr
        outs[threads] = _outputs(out)
    assert "stages/bodies.json" in outs["1"] and any(k.endswith(".jpg") for k in outs["1"])
    assert outs["1"] == outs["3"]
