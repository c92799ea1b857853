"""Faults an adversarial user meets `disguisor run` with (issue 16): concurrent runs, killed runs,
Ctrl-C and SIGTERM, output-side OS errors (a file in the output path, a read-only file system, a
full disk), bad keypoint files, truncated frames, dead depth sensors, broken calibrations.

Every test checksums its inputs before and after (inputs are never modified) and checks the
outputs for leaks: every ground-truth face box of an output image must have changed (a quarter
of its pixels by more than the re-encoding threshold of the pixel evaluation). Runs use a small
synthetic recording with its simulated 2D keypoints. Signals and concurrency use subprocesses.
The read-only and full-disk cases mount small tmpfs file systems (root only; otherwise a
read-only folder by permissions, and the full-disk test is skipped).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from disguisor.evaluate.pixels import changed_shares
from disguisor.io.recording import open_recording
from disguisor.pose2d.params import KeypointsParams
from disguisor.run.fallbacks import full_blur
from disguisor.run.lock import LOCK_NAME, OutputLock, read_owner
from disguisor.run.params import FailClosedParams
from disguisor.run.pipeline import run_pipeline
from disguisor.settings import PipelineConfig
from disguisor.synth.or_scene import generate_or_recording

pytestmark = pytest.mark.slow  # whole pipeline runs / subprocesses: `pytest -m "not slow"` skips them

ROOT = Path(__file__).resolve().parents[1]
LEAK_SHARE = 0.25  # a face box counts as changed when this share of its pixels changed


def _default_sigint() -> None:
    # a test runner started in the background ignores SIGINT, and children inherit that
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _command(args) -> list[str]:
    return [sys.executable, "-m", "disguisor", *map(str, args)]


def cli(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_command(args), capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          preexec_fn=_default_sigint)


def start(*args) -> subprocess.Popen:
    return subprocess.Popen(_command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=_default_sigint)


def wait_for(predicate, proc: subprocess.Popen | None = None, timeout: float = 300) -> None:
    t0 = time.monotonic()
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended ({proc.returncode}) before the awaited state: {proc.stderr.read()}")
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out")
        time.sleep(0.02)


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (with its mode: nothing may be rewritten or chmodded)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextmanager
def inputs_untouched(*folders: Path):
    before = [digest(f) for f in folders]
    yield
    assert [digest(f) for f in folders] == before, "an input was modified"


def images(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("*/[0-9]*.jpg"))}


def error_lines(stderr: str) -> list[str]:
    """What a failed command printed besides warnings; asserts it is not a traceback."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("WARNING")]


def assert_no_leak(rec: Path, out: Path) -> int:
    """Every ground-truth face box of every output image changed; returns how many were checked."""
    gt = json.loads((rec / "annotations.json").read_text())
    by_image: dict[int, list] = {}
    for ann in gt["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann["bbox"])
    checked = 0
    for img in gt["images"]:
        path = out / img["camera"] / f"{img['frame']:06d}.jpg"
        if img["id"] not in by_image or not path.is_file():
            continue  # no face there, or the view was withheld
        original = cv2.imread(str(rec / img["file_name"]))
        shares = changed_shares(original, cv2.imread(str(path)), np.array(by_image[img["id"]]))
        assert shares.min() >= LEAK_SHARE, f"{path}: a face box is left unchanged (shares {shares})"
        checked += len(shares)
    return checked


def no_temporaries(out: Path) -> bool:
    return not list(out.rglob(".*.tmp*")) and not (out / LOCK_NAME).exists()


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> Path:
    rec = tmp_path_factory.mktemp("faults") / "rec"
    generate_or_recording(rec, scenario="easy", frames=3, size=(320, 180), seed=5)
    return rec


@pytest.fixture()
def rec(master, tmp_path) -> Path:
    """A private copy (same file times: the same recording fingerprint, so stage files resume)."""
    out = tmp_path / "rec"
    shutil.copytree(master, out)
    return out


@pytest.fixture(scope="module")
def base(master, tmp_path_factory) -> Path:
    """A clean run: what every resumed or repeated run must reproduce byte for byte."""
    out = tmp_path_factory.mktemp("base") / "out"
    with inputs_untouched(master):
        result = cli("run", master, "-o", out, "--keypoints", master / "keypoints2d.json")
    assert result.returncode == 0, result.stderr
    assert no_temporaries(out)
    assert len(images(out)) == 12
    assert assert_no_leak(master, out) >= 10
    return out


def run_args(rec: Path, out: Path, *extra) -> list:
    return ["run", rec, "-o", out, "--keypoints", rec / "keypoints2d.json", *extra]


def assert_same_as_base(out: Path, base: Path) -> None:
    assert images(out) == images(base)
    assert (out / "detections.json").read_bytes() == (base / "detections.json").read_bytes()


# ---------------------------------------------------------------------------------------------- the lock


def test_lock_owner_alive_refused_dead_taken_over(tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = OutputLock(out)
        owner = lock.owner.__class__(pid=sleeper.pid, host=socket.gethostname(), started="2030-01-01T00:00:00",
                                     process_start=None, command="x")
        (out / LOCK_NAME).write_text(json.dumps(owner.__dict__))
        with pytest.raises(Exception, match=f"pid {sleeper.pid} on {socket.gethostname()}, started 2030-01-01"):
            lock.acquire()
        assert read_owner(out / LOCK_NAME) == owner  # a refused claim leaves the other lock alone
    finally:
        sleeper.kill()
        sleeper.wait()
    lock.acquire()  # the owner is gone now: taken over with a warning
    assert "taken over" in caplog.text and read_owner(out / LOCK_NAME) == lock.owner
    second = OutputLock(out)
    with pytest.raises(Exception, match=f"pid {os.getpid()}"):  # held: even this process's other claims wait
        second.acquire()
    lock.release()
    assert not (out / LOCK_NAME).exists()
    other_host = lock.owner.__class__(pid=1, host="elsewhere", started="s", process_start=None, command="")
    (out / LOCK_NAME).write_text(json.dumps(other_host.__dict__))
    with pytest.raises(Exception, match="on elsewhere.*another host"):
        second.acquire()


@pytest.mark.slow
def test_second_run_on_the_same_output_is_refused(rec, base, tmp_path):
    out = tmp_path / "out"
    with inputs_untouched(rec):
        first = start(*run_args(rec, out))
        wait_for(lambda: (out / LOCK_NAME).is_file(), first)
        t0 = time.monotonic()
        second = cli(*run_args(rec, out, "--method", "blur"))
        refused_in = time.monotonic() - t0
        assert first.wait(timeout=600) == 0, first.stderr.read()
    assert second.returncode == 2
    (line,) = error_lines(second.stderr)
    assert line.startswith(f"error: {out}: --out: another disguisor run is writing this folder: pid {first.pid} "
                           f"on {socket.gethostname()}, started "), line
    assert refused_in < 60
    # the first run's outputs are its own (template faces), complete and unchanged by the refused run
    assert json.loads((out / "report.json").read_text())["config"]["run"]["method"] == "template"
    assert_same_as_base(out, base)
    assert no_temporaries(out)
    assert_no_leak(rec, out)


@pytest.mark.slow
def test_killed_run_lock_taken_over_temporaries_removed_resume_identical(rec, base, tmp_path):
    out = tmp_path / "out"
    with inputs_untouched(rec):
        first = start(*run_args(rec, out))
        wait_for(lambda: (out / "stages" / "poses3d.json").is_file(), first)
        first.kill()  # SIGKILL: nothing is cleaned up
        first.wait()
        assert read_owner(out / LOCK_NAME).pid == first.pid
        stale = [out / "sc1" / ".000000.jpg.k2x9.tmp.jpg", out / "stages" / ".bodies.json.q8w1.tmp.json"]
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"half a file")
        result = cli(*run_args(rec, out))
    assert result.returncode == 0, result.stderr
    assert f"pid {first.pid}" in result.stderr and "taken over" in result.stderr
    assert "removed 2 temporary file(s)" in result.stderr
    assert no_temporaries(out)
    assert_same_as_base(out, base)
    assert_no_leak(rec, out)


# ------------------------------------------------------------------------------------------ interruption


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_says_what_was_kept_and_resumes(rec, base, tmp_path, sig, code):
    out = tmp_path / "out"
    shutil.copytree(base, out)
    for frame in (1, 2):  # an earlier run finished frame 0 only
        (out / "stages" / "frames" / f"{frame:06d}.json").unlink()
        for image in out.glob(f"*/{frame:06d}.jpg"):
            image.unlink()
    with inputs_untouched(rec):
        proc = start(*run_args(rec, out))
        wait_for(lambda: (out / LOCK_NAME).is_file(), proc)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == code, stderr
        (line,) = error_lines(stderr)
        assert line.startswith(f"interrupted ({sig.name}): kept the finished stages (keypoints, pose3d, fit"), line
        assert str(out) in line and "run the same command again to resume" in line
        assert no_temporaries(out)
        assert_no_leak(rec, out)
        result = cli(*run_args(rec, out))
    assert result.returncode == 0, result.stderr
    assert_same_as_base(out, base)


# ------------------------------------------------------------------------------------- output OS errors


def test_output_below_a_file(rec, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    with inputs_untouched(rec):
        result = cli(*run_args(rec, blocker / "out"))
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"error: {blocker}: is a file, not a folder; nothing was written"]
    assert blocker.read_text() == "not a folder"


@contextmanager
def tmpfs(path: Path, options: str):
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_read_only_output(rec, tmp_path):
    where = tmp_path / "ro"
    with tmpfs(where, "size=1m,ro") as mounted:
        if not mounted:  # not root: a folder without write permission
            if os.geteuid() == 0:
                pytest.skip("root cannot mount here and ignores permissions")
            where.chmod(0o555)
        with inputs_untouched(rec):
            result = cli(*run_args(rec, where / "out"))
        assert result.returncode == 2
        (line,) = error_lines(result.stderr)
        what = "Read-only file system" if mounted else "Permission denied"
        assert line == f"error: {where / 'out'}: {what}; nothing was written", line


def test_disk_full(rec, base, tmp_path):
    disk = tmp_path / "disk"
    with tmpfs(disk, "size=4k") as mounted:
        if not mounted:
            pytest.skip("mounting a small tmpfs needs root")
        with inputs_untouched(rec):
            result = cli(*run_args(rec, disk / "out"))  # the first stage file does not fit
        assert result.returncode == 2
        (line,) = error_lines(result.stderr)
        assert line == (f"error: {disk / 'out' / 'stages' / 'keypoints2d.json'}: no space left on device (disk "
                        "full); nothing was written"), line
    with tmpfs(disk, "size=150k") as mounted:
        out = disk / "out"
        out.mkdir()
        shutil.copy2(base / "run_state.json", out)  # the stages are done; the frames do not all fit
        shutil.copytree(base / "stages", out / "stages", ignore=shutil.ignore_patterns("frames"))
        with inputs_untouched(rec):
            result = cli(*run_args(rec, out))
            assert result.returncode == 3, result.stderr
            (line,) = error_lines(result.stderr)
            assert line.startswith(f"error: {out}/") and ": no space left on device (disk full); stopped mid-run: " \
                "kept the finished stages (keypoints, pose3d, fit) and " in line, line
            assert line.endswith("run the same command again to resume")
            kept = images(out)
            assert kept and len(kept) < 12 and all(kept[k] == images(base)[k] for k in kept)  # anonymized only
            assert no_temporaries(out)
            subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
            result = cli(*run_args(rec, out))
        assert result.returncode == 0, result.stderr
        assert_same_as_base(out, base)


# ------------------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("damage, field", [("frame99", "images[0]"), ("x5000", "annotations[0].keypoints")])
def test_run_checks_keypoints_like_the_keypoints_command(rec, tmp_path, damage, field):
    data = json.loads((rec / "keypoints2d.json").read_text())
    if damage == "frame99":
        data["images"][0]["frame"] = 99
    else:
        ann = data["annotations"][0]
        joint = next(j for j in range(17) if ann["keypoints"][3 * j + 2] > 0)
        ann["keypoints"][3 * joint] = 5000.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out = tmp_path / "out"
    with inputs_untouched(rec, tmp_path / "bad.json"):
        run = cli("run", rec, "-o", out, "--keypoints", bad)
        keypoints = cli("keypoints", rec, "--detector", "file", "--keypoints-file", bad, "-o", tmp_path / "k.json")
    assert run.returncode == keypoints.returncode == 2
    (line,) = error_lines(run.stderr)
    assert line.startswith(f"error: {bad}: {field}: ") and line == error_lines(keypoints.stderr)[0]
    assert not out.exists()  # checked before any folder is made


def test_calibration_and_depth_errors_are_one_line(rec):
    depth = rec / "wfc2" / "depth" / "000002.png"
    depth.unlink()
    with inputs_untouched(rec):
        result = cli("info", rec)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"error: {depth}: missing: 1 colour frame(s) have no depth frame in "
                                          f"{depth.parent}, first: frame 2 (000002.jpg)"]
    calib = json.loads((rec / "calibration.json").read_text())
    rotation = np.array(calib["cameras"][1]["camera_to_world"]["rotation"])
    calib["cameras"][1]["camera_to_world"]["rotation"] = (rotation * [1, 1, -1]).tolist()  # one axis flipped
    (rec / "calibration.json").write_text(json.dumps(calib))
    with inputs_untouched(rec):
        result = cli("info", rec)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "cameras[1].camera_to_world.rotation: not a rotation matrix: mirrored (determinant -1)" in line, line


@pytest.mark.slow
def test_truncated_frame_is_listed_and_fails_closed(rec, base, tmp_path):
    path = rec / "wfc2" / "color" / "000002.jpg"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    out = tmp_path / "out"
    with inputs_untouched(rec):
        info = cli("info", rec)
        run = cli(*run_args(rec, out))
    assert info.returncode == 3
    assert f"wfc2 frame 2: {path}: truncated" in info.stdout.replace("\n", "")
    assert run.returncode == 3, run.stderr
    report = json.loads((out / "report.json").read_text())
    (failed,) = report["failed_frames"]
    assert failed["frame"] == 2 and str(path) in failed["error"] and "truncated" in failed["error"]
    assert failed["views"]["wfc2"] == {"withheld": failed["views"]["wfc2"]["withheld"]}  # unreadable: withheld
    assert not (out / "wfc2" / "000002.jpg").exists()
    for cam in ("wfc1", "sc1", "sc2"):  # the readable views of the failed frame: fully blurred
        assert failed["views"][cam] == {"blurred": True}
        original = cv2.imread(str(rec / cam / "color" / "000002.jpg"))
        expected = full_blur(original, FailClosedParams().full_blur_width_px)
        assert np.abs(cv2.imread(str(out / cam / "000002.jpg")).astype(float) - expected).mean() < 3.0
    base_images = images(base)
    assert all(image == base_images[name] for name, image in images(out).items() if not name.endswith("02.jpg"))
    assert_no_leak(rec, out)
    with inputs_untouched(rec):
        withheld = cli(*run_args(rec, out, "--on-error", "withhold"))
    assert withheld.returncode == 3
    assert not list(out.glob("*/000002.jpg"))
    assert_no_leak(rec, out)


@pytest.mark.slow
@pytest.mark.parametrize("dead", [("sc2",), ("wfc1", "wfc2", "sc1", "sc2")])
def test_dead_depth_sensor_warns(rec, tmp_path, caplog, dead):
    for cam in dead:
        for path in (rec / cam / "depth").glob("*.png"):
            cv2.imwrite(str(path), np.zeros((180, 320), np.uint16))
    assert sorted(open_recording(rec).cameras_without_depth()) == sorted(dead)
    out = tmp_path / "out"
    with inputs_untouched(rec):
        report = run_pipeline(rec, out, PipelineConfig(keypoints=KeypointsParams(file=rec / "keypoints2d.json")))
    noted = json.loads((out / "report.json").read_text())["warnings"]
    expected = "no camera has a depth reading" if len(dead) == 4 else "camera(s) sc2: depth is empty in every frame"
    assert any(expected in w for w in noted) and any(expected in w for w in report.warnings)
    assert expected in caplog.text
    assert assert_no_leak(rec, out) >= 10
    assert no_temporaries(out)
