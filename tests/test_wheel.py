"""A wheel of disguisor carries everything the pipeline needs at run time (templates, models,
schemas): built, installed into a fresh virtual environment, and run from outside the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from disguisor.synth.or_scene import generate_or_recording

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_runs_outside_the_repository(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(dist.glob("disguisor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "disguisor/assets/templates/templates.json" in names
    assert any(n.startswith("disguisor/assets/templates/") and n.endswith(".png") for n in names)
    assert "disguisor/assets/models/movenet_multipose.onnx" in names
    # a fresh environment: the wheel installed without dependencies, which come from this
    # environment's site-packages through a path entry (its editable hook is not loaded that way)
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q",
                                str(wheel)], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    work = tmp_path / "elsewhere"
    rec = work / "rec"
    generate_or_recording(rec, scenario="easy", frames=2, size=(320, 180), seed=5)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(py), "-c", "import disguisor, pathlib; print(pathlib.Path(disguisor.__file__))"],
                           capture_output=True, text=True, cwd=work, env=env, check=True).stdout.strip()
    assert where.startswith(str(env_dir)), where            # the wheel, not the repository
    run = subprocess.run([str(py), "-m", "disguisor", "--quiet", "run", "rec", "-o", "out", "--keypoints",
                          "rec/keypoints2d.json"], capture_output=True, text=True, cwd=work, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    dets = json.loads((work / "out" / "detections.json").read_text())
    assert any(d["source"] == "3d" for d in dets)
    assert len(list((work / "out").glob("*/*.jpg"))) == 2 * 4
