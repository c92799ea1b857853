"""Shared fixtures. Tests that need ../shared skip with a clear reason when it is absent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from disguisor.synth.generate import write_box_room

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
KINECT_SAMPLE = SHARED / "data" / "azure_kinect_sample.mkv"


def disguisor_cli(*args, timeout: float = 600, cwd: Path | None = ROOT, columns: int = 200,
                  **kwargs) -> subprocess.CompletedProcess:
    """The real command line in a child process (its entry point turns errors into one line),
    output captured as text; a wide terminal so tables are not wrapped."""
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run([sys.executable, "-m", "disguisor", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=cwd, **kwargs)


@pytest.fixture(scope="session")
def kinect_sample() -> Path:
    if not KINECT_SAMPLE.is_file():
        pytest.skip(f"the real Azure Kinect sample is not available ({KINECT_SAMPLE} is absent)")
    return KINECT_SAMPLE


@pytest.fixture(scope="session")
def box_room_master(tmp_path_factory) -> Path:
    """A small exact-geometry recording (4 cameras, 320x180, 3 frames, no depth noise)."""
    out = tmp_path_factory.mktemp("box") / "rec"
    write_box_room(out, frames=3, n_cameras=4, size=(320, 180), depth_noise=False)
    return out


@pytest.fixture()
def box_room(box_room_master, tmp_path) -> Path:
    """A private copy of the box-room recording that a test may damage."""
    out = tmp_path / "rec"
    shutil.copytree(box_room_master, out)
    return out
