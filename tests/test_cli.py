"""The command line: help everywhere, one-line errors with exit code 2, commands that work."""

import json
from pathlib import Path

import pytest

from tests.conftest import disguisor_cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    return disguisor_cli(*args, cwd=cwd, columns=120, timeout=300)


@pytest.mark.parametrize("command", [[], ["info"], ["fuse"], ["preview"], ["synth"], ["eval"], ["import"],
                                     ["import", "kinect"]])
def test_help(command):
    res = run(*command, "--help")
    assert res.returncode == 0, res.stderr
    assert "Usage" in res.stdout


@pytest.mark.slow
def test_synth_info_fuse(tmp_path):
    rec = tmp_path / "rec"
    res = run("--quiet", "synth", rec, "--frames", "2", "--cameras", "3", "--size", "320x180")
    assert res.returncode == 0, res.stderr
    res = run("info", rec, "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["frames"] == 2 and [c["name"] for c in info["cameras"]] == ["wfc1", "wfc2", "sc1"]
    res = run("fuse", rec, "--frame", "1", "-o", tmp_path / "cloud.ply")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cloud.ply").read_bytes().startswith(b"ply\n")
    assert "points from 3 camera(s)" in res.stdout
    res = run("preview", rec, "--frame", 0, "-o", tmp_path / "sheet.png", "--tile-width", 200)
    assert res.returncode == 0, res.stderr
    import cv2

    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    # 3 cameras in a 2-column grid of (colour | depth) tiles, 200 px each, 320x180 -> 200x112
    assert sheet.shape == (2 * 112, 2 * 2 * 200, 3)
    assert sheet[112:, 400:].max() == 0  # the empty fourth cell


@pytest.mark.slow
def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        assert run("-q", "synth", tmp_path / name, "--frames", "1", "--cameras", "1", "--size", "160x90",
                   "--seed", "7").returncode == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def _one_line_error(res, *words):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.slow
def test_bad_input_gives_one_line_and_exit_2(tmp_path):
    _one_line_error(run("info", tmp_path / "nothing"), "nothing", "recording folder not found")
    rec = tmp_path / "rec"
    assert run("-q", "synth", rec, "--frames", "1", "--cameras", "2", "--size", "160x90").returncode == 0
    cal = json.loads((rec / "calibration.json").read_text())
    cal["cameras"][1]["camera_to_world"]["rotation"][0][0] = 3.0
    (rec / "calibration.json").write_text(json.dumps(cal))
    _one_line_error(run("info", rec), "calibration.json", "cameras[1].camera_to_world.rotation",
                    "not a rotation")
    _one_line_error(run("fuse", rec, "--frame", "0", "-o", tmp_path / "x.txt"), "x.txt", "--out")
    _one_line_error(run("synth", tmp_path / "s", "--scenario", "nope"), "--scenario", "unknown scenario")
    _one_line_error(run("import", "kinect", tmp_path / "none.mkv", "-o", tmp_path / "o"), "none.mkv",
                    "file not found")
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()


@pytest.mark.slow
def test_synth_refuses_to_overwrite(tmp_path):
    rec = tmp_path / "rec"
    assert run("-q", "synth", rec, "--frames", "1", "--cameras", "1", "--size", "160x90").returncode == 0
    _one_line_error(run("synth", rec, "--frames", "1"), "already exists", "--overwrite")
