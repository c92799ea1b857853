"""`disguisor batch`: archive discovery and manifests, and the real Ray engine on a local cluster.

The cluster tests start a Ray head and one worker node on 127.0.0.1 inside their own network and
PID namespaces (``unshare --net --pid``: only loopback carries Ray's traffic, and every Ray
process ends with the namespace), run ``disguisor batch`` there, and compare its outputs byte for
byte with single ``disguisor run``s. They skip, saying why, only when Ray cannot start here (not
root, no ``unshare``/``nsenter``, or the cluster does not come up).

Run as a script (``python tests/test_batch.py --cluster PORT FOLDER``) this file is the
namespace's first process: it starts the cluster, writes FOLDER/ready and waits; the test
ends it, and with it every process of the namespace.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FRAMES = 3
SIZE = (320, 180)
RAY_LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,]+ [A-Z] \d+ \d+\] \S+\.cc:\d+: ")
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}  # inside the test namespace only


# ------------------------------------------------------------------------------------------------
# the namespace's first process (script mode)


def _serve_cluster(port: int, folder: Path) -> None:
    env = {**os.environ, **RAY_ENV}
    ray = str(BIN / "ray")

    def run(*args: str) -> None:
        with open(folder / "cluster.log", "ab") as log:
            subprocess.run(args, check=True, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=180)

    run("ip", "link", "set", "lo", "up")
    temp = folder / "ray"
    run(ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "0",
        "--include-dashboard", "false", "--temp-dir", str(temp), "--disable-usage-stats")
    # one logical GPU (Ray hands it out whether or not the machine has one): --gpus-per-task is tested
    run(ray, "start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1", "--num-cpus", "2",
        "--num-gpus", "1", "--disable-usage-stats")
    (folder / "ready").write_text(str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:  # the namespace lives as long as this process; its end takes every Ray process with it
        time.sleep(3600)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--cluster":
    _serve_cluster(int(sys.argv[2]), Path(sys.argv[3]))
    sys.exit(0)


# ------------------------------------------------------------------------------------------------
# archives and manifests (no engine)

from disguisor.batch.archive import discover  # noqa: E402
from disguisor.batch.driver import plan  # noqa: E402
from disguisor.batch.engine import _chunks, chunk_size  # noqa: E402
from disguisor.errors import InputError  # noqa: E402


def _fake_recording(folder: Path, frames: int = 2) -> Path:
    (folder / "cam0" / "color").mkdir(parents=True)
    (folder / "calibration.json").write_text("{}")
    for f in range(frames):
        (folder / "cam0" / "color" / f"{f:06d}.jpg").write_bytes(b"")
    return folder


def test_archive_folder_finds_recordings_and_kinect_sets(tmp_path):
    arch = tmp_path / "arch"
    _fake_recording(arch / "b_rec")
    _fake_recording(arch / "site1" / "rec3", frames=5)
    kinect = arch / "k4a"
    kinect.mkdir(parents=True)
    (kinect / "master.mkv").write_bytes(b"")
    (kinect / "sub.mkv").write_bytes(b"")
    (kinect / "extrinsics.json").write_text("{}")
    (arch / "notes").mkdir()
    (arch / ".hidden").mkdir()
    _fake_recording(arch / ".hidden" / "skipped")
    jobs = discover(arch)
    assert [(j.name, j.kind) for j in jobs] == [("b_rec", "recording"), ("k4a", "kinect"),
                                               ("site1__rec3", "recording")]
    k = jobs[1]
    assert [p.name for p in k.mkvs] == ["master.mkv", "sub.mkv"] and k.extrinsics == kinect / "extrinsics.json"
    assert all(j.source.is_absolute() for j in jobs)
    # a recording folder given as the archive is a one-recording archive
    assert [j.name for j in discover(arch / "site1" / "rec3")] == ["rec3"]
    with pytest.raises(InputError, match="no recording"):
        discover(arch / "notes")


def test_manifest_lines_and_csv_options(tmp_path):
    a = _fake_recording(tmp_path / "data" / "a")
    _fake_recording(tmp_path / "data" / "b")
    plain = tmp_path / "list.txt"
    plain.write_text("# two recordings\ndata/a\n\n" + str(tmp_path / "data" / "b") + "\n")
    assert [(j.name, j.source) for j in discover(plain)] == [("a", a), ("b", tmp_path / "data" / "b")]

    rows = tmp_path / "list.csv"
    rows.write_text("path,name,method,set,from\ndata/a,first,blur,render.dilate_m=0.05; run.jpeg_quality=90,\n"
                    "data/b,,,,fit\n")
    first, second = discover(rows)
    assert first.name == "first" and first.sets == ("run.method=blur", "render.dilate_m=0.05", "run.jpeg_quality=90")
    assert second.name == "b" and second.sets == () and second.from_stage == "fit"
    planned = plan(rows, tmp_path / "out", sets=["keypoints.file=kp.json", "run.method=pixelate"])
    cfg = planned[0].config
    # the row wins over the command; a relative keypoints file lies in each recording's folder
    assert cfg.run.method == "blur" and cfg.render.dilate_m == 0.05 and cfg.run.jpeg_quality == 90
    assert planned[1].config.run.method == "pixelate"
    assert planned[0].config.keypoints.file == a / "kp.json"
    assert [p.state for p in planned] == ["new", "new"]

    for text, match in [("path,colour\ndata/a,red\n", "unknown column"),
                        ("path,name\ndata/a,x\ndata/b,x\n", "same output folder"),
                        ("path,name\ndata/missing,\n", "not a folder"),
                        ("path,set\ndata/a,run.method=paint\n", "run.method"),
                        ("path,name\ndata/a,../up\n", "output folder name")]:
        rows.write_text(text)
        with pytest.raises(InputError, match=match):
            plan(rows, tmp_path / "out")
    rows.write_text("# nothing\n")
    with pytest.raises(InputError, match="lists no recording"):
        discover(rows)


def test_chunks_are_consecutive_and_even():
    assert _chunks(list(range(10)), 4) == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    assert _chunks([5, 6], 32) == [[5, 6]]
    assert _chunks([], 3) == []


def test_last_recordings_spread_over_the_workers():
    assert chunk_size(10, 2, 32, last=False) == 32  # others still to start: whole chunks
    assert chunk_size(40, 2, 32, last=True) == 20  # the last: one chunk per worker
    assert chunk_size(16, 4, 32, last=True) == 8  # not below 8 frames (a frame worker per process)
    assert chunk_size(10, 2, 32, last=True) == 10
    assert chunk_size(300, 2, 32, last=True) == 32
    assert chunk_size(40, 1, 32, last=True) == 32


def test_dry_run_lists_and_writes_nothing(tmp_path):
    _fake_recording(tmp_path / "arch" / "a", frames=4)
    out = tmp_path / "out"
    p = subprocess.run([str(BIN / "disguisor"), "batch", str(tmp_path / "arch"), "-o", str(out), "--dry-run"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "a" in p.stdout and "new" in p.stdout and "4" in p.stdout
    assert not out.exists()
    bad = subprocess.run([str(BIN / "disguisor"), "batch", str(tmp_path / "none"), "-o", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: ") and "ARCHIVE" in bad.stderr


# ------------------------------------------------------------------------------------------------
# the real engine: a head and a worker node on 127.0.0.1 in a namespace of their own

IGNORED = {"report.json", "summary.txt", "run_state.json"}  # hold times


def _outputs(folder: Path, drop: tuple[str, ...] = ()) -> dict[str, object]:
    """Every output file's bytes (frame records without their timings, and without ``drop``);
    what may differ between two runs on the same inputs (times) is left out."""
    files: dict[str, object] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if not p.is_file() or rel in IGNORED:
            continue
        if rel.startswith("stages/frames/"):
            record = json.loads(p.read_text())
            for name in ("seconds", *drop):
                record.pop(name, None)
            files[rel] = record
        else:
            files[rel] = p.read_bytes()
    return files


def _partial_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file() and ".tmp" in p.name]


class Cluster:
    """Ray head + one worker node (2 CPUs, 1 logical GPU) on 127.0.0.1, in new network, PID and
    mount namespaces."""

    def __init__(self, folder: Path, port: int = 6391):
        self.folder = folder
        self.proc = subprocess.Popen(["unshare", "--net", "--pid", "--fork", "--mount-proc", sys.executable,
                                      __file__, "--cluster", str(port), str(folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.address = f"127.0.0.1:{port}"
        self.init_pid = None
        deadline = time.time() + 180
        while not (folder / "ready").exists():
            if self.proc.poll() is not None or time.time() > deadline:
                log = (folder / "cluster.log").read_text()[-1500:] if (folder / "cluster.log").exists() else ""
                self.stop()
                pytest.skip(f"Ray cannot start a cluster on 127.0.0.1 here: {log or 'unshare failed'}")
            time.sleep(0.2)
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        self.init_pid = int(children[0])  # the namespace's first process, as this side sees it
        self.net = os.readlink(f"/proc/{self.init_pid}/ns/net")

    def command(self, *args: object) -> list[str]:
        """A command line run inside the namespace (the driver joins the cluster there)."""
        env = [f"{k}={v}" for k, v in RAY_ENV.items()]
        return ["nsenter", "-t", str(self.init_pid), "-n", "-p", "-m", f"--wd={self.folder}", "env", *env,
                *map(str, args)]

    def batch(self, *args: object, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(BIN / "disguisor", "batch", *args, "--address", self.address),
                              capture_output=True, text=True, timeout=900, **kw)

    def processes(self, prefix: str) -> list[int]:
        """Processes of this namespace whose command line starts with ``prefix``."""
        found = []
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                if os.readlink(p / "ns" / "net") == self.net and (p / "cmdline").read_bytes().startswith(
                        prefix.encode()):
                    found.append(int(p.name))
            except OSError:
                continue
        return found

    def stop(self) -> None:
        """End the namespace's first process: the kernel ends every process of the namespace."""
        if self.init_pid is not None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _ray_can_run() -> str | None:
    if os.geteuid() != 0:
        return "the test cluster needs root for `unshare --net` (only loopback may carry Ray's traffic)"
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found: the test cluster runs in a loopback-only network namespace"
    try:
        import ray  # noqa: F401
    except ImportError:
        return "ray is not installed (the batch extra)"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = _ray_can_run()
    if why:
        pytest.skip(why)
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()
    assert not c.processes(""), "processes of the test cluster outlived it"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    from disguisor.synth.or_scene import generate_or_recording

    arch = tmp_path_factory.mktemp("batch") / "archive"
    generate_or_recording(arch / "rec_a", scenario="easy", frames=FRAMES, size=SIZE, seed=11)
    generate_or_recording(arch / "rec_b", scenario="easy", frames=FRAMES, size=SIZE, seed=12)
    shutil.copytree(arch / "rec_a", arch / "broken")
    calib = arch / "broken" / "calibration.json"
    calib.write_text(calib.read_text()[:200])  # cut short: not JSON any more
    return arch


@pytest.fixture(scope="module")
def singles(archive, tmp_path_factory) -> dict[str, Path]:
    """`disguisor run` on each good recording (the reference the batch must reproduce)."""
    outs = {}
    for name in ("rec_a", "rec_b"):
        out = tmp_path_factory.mktemp("single") / name
        rec = archive / name
        p = subprocess.run([str(BIN / "disguisor"), "run", str(rec), "-o", str(out), "--keypoints",
                            str(rec / "keypoints2d.json")], capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        outs[name] = out
    return outs


@pytest.mark.slow
def test_batch_on_a_cluster_matches_single_runs(cluster, archive, singles, tmp_path):
    out = tmp_path / "out"
    p = cluster.batch(archive, "-o", out, "--keypoints", "keypoints2d.json", "--chunk-frames", "2")
    assert p.returncode == 3, p.stdout + p.stderr  # one recording failed
    report = json.loads((out / "batch_report.json").read_text())
    entries = {e["name"]: e for e in report["recordings"]}
    assert list(entries) == ["broken", "rec_a", "rec_b"]
    broken = entries["broken"]
    assert broken["status"] == "failed" and broken["frames_done"] == 0
    assert broken["error"].startswith("error: ") and "calibration.json" in broken["error"]
    assert "\n" not in broken["error"]
    assert report["engine"]["address"] == cluster.address and report["engine"]["nodes"] == 2
    assert report["totals"] == {"recordings": 3, "done": 2, "failed": 1, "frames": 3 * FRAMES,
                                "frames_done": 2 * FRAMES, "faces_hidden": report["totals"]["faces_hidden"],
                                "failed_frames": 0}
    for name, single in singles.items():
        e = entries[name]
        single_report = json.loads((single / "report.json").read_text())
        assert e["status"] == "done" and e["error"] == "" and e["frames_done"] == FRAMES, e
        assert e["faces_hidden"] == single_report["faces_hidden"] > 0 and e["failed_frames"] == []
        assert {"prepare", "render", "finish"} <= set(e["task_seconds"]) and e["seconds"] > 0
        assert _outputs(out / name) == _outputs(single), name  # byte for byte
        assert not _partial_files(out / name) and not (out / name / ".disguisor.lock").exists()
    assert "broken" in p.stdout and "failed" in p.stdout and "rec_a" in (out / "batch_summary.txt").read_text()

    # a rerun resumes: nothing is rendered again, the outputs stay the same
    before = {name: _outputs(out / name) for name in singles}
    again = cluster.batch(archive, "-o", out, "--keypoints", "keypoints2d.json", "--chunk-frames", "2")
    assert again.returncode == 3, again.stdout + again.stderr
    entries = {e["name"]: e for e in json.loads((out / "batch_report.json").read_text())["recordings"]}
    for name in singles:
        assert entries[name]["resumed_frames"] == FRAMES and "render" not in entries[name]["task_seconds"]
        assert _outputs(out / name) == before[name]


@pytest.mark.slow
def test_local_instance_two_workers_match_single_runs(cluster, archive, singles, tmp_path):
    """Without --address the command starts a Ray instance of its own (here inside the test
    namespace, beside the test cluster, which it must not join): 2 workers on 1 thread each, at
    nice 0, write what 2-thread plain runs write."""
    manifest = tmp_path / "two.txt"
    manifest.write_text(f"{archive / 'rec_a'}\n{archive / 'rec_b'}\n")
    out = tmp_path / "out"
    p = subprocess.run(cluster.command(BIN / "disguisor", "batch", manifest, "-o", out, "--keypoints",
                                       "keypoints2d.json", "--workers", "2", "--threads-per-task", "1"),
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads((out / "batch_report.json").read_text())
    engine, timeline = report["engine"], report["engine"]["timeline"]
    assert (engine["address"], engine["nodes"], engine["slots"], engine["threads_per_task"]) == ("local", 1, 2, 1)
    assert engine["worker_niceness"] == [0]  # a plain run's priority, not Ray's default 15
    assert 0 < timeline["busy_s"] <= 2 * timeline["span_s"] and 0 < timeline["utilization"] <= 1
    for name, single in singles.items():
        assert _outputs(out / name) == _outputs(single), name


@pytest.mark.slow
def test_worker_killed_mid_render_is_retried(cluster, archive, singles, tmp_path):
    manifest = tmp_path / "one.csv"
    manifest.write_text(f"path,name\n{archive / 'rec_a'},killed\n")
    out = tmp_path / "out"
    cmd = cluster.command(BIN / "disguisor", "batch", manifest, "-o", out, "--keypoints", "keypoints2d.json",
                          "--chunk-frames", str(FRAMES), "--address", cluster.address)
    driver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    frames = out / "killed" / "stages" / "frames"
    killed = None
    deadline = time.time() + 600
    while killed is None and driver.poll() is None and time.time() < deadline:
        workers = cluster.processes("ray::disguisor_render")
        # the render task has finished its first frame and not its last: kill its worker process
        if workers and (frames / "000000.json").exists() and not (frames / f"{FRAMES - 1:06d}.json").exists():
            os.kill(workers[0], signal.SIGKILL)
            killed = workers[0]
        time.sleep(0.01)
    stdout, stderr = driver.communicate(timeout=600)
    assert killed is not None, f"the render task was not caught mid-chunk: {stdout}{stderr}"
    assert driver.returncode == 0, stdout + stderr
    entry = json.loads((out / "batch_report.json").read_text())["recordings"][0]
    assert entry["status"] == "done" and entry["frames_done"] == FRAMES and entry["failed_frames"] == []
    # the retried task finished the chunk: same files as the single run, none partial or doubled
    assert _outputs(out / "killed") == _outputs(singles["rec_a"])
    assert not _partial_files(out / "killed")
    assert killed not in cluster.processes("ray::")


@pytest.mark.slow
def test_gpus_per_task_reach_the_gpu_stages(cluster, archive, singles, tmp_path):
    """The worker node has one logical GPU: with --gpus-per-task 1 the prepare (keypoints) and
    render tasks get it (Ray sets their CUDA_VISIBLE_DEVICES), the finish task not, one task runs
    at a time, outputs unchanged. More GPUs than a node has: one error line, no wait for ever."""
    manifest = tmp_path / "one.csv"
    manifest.write_text(f"path,name\n{archive / 'rec_a'},gpu\n")
    out = tmp_path / "out"
    p = cluster.batch(manifest, "-o", out, "--keypoints", "keypoints2d.json", "--chunk-frames", "2",
                      "--gpus-per-task", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads((out / "batch_report.json").read_text())
    entry = report["recordings"][0]
    assert entry["status"] == "done" and entry["frames_done"] == FRAMES
    assert entry["task_gpus"] == {"prepare": ["0"], "render": ["0"], "finish": []}
    assert report["engine"]["slots"] == 1 and report["engine"]["gpus_per_task"] == 1
    assert _outputs(out / "gpu") == _outputs(singles["rec_a"])

    t0 = time.time()
    too_many = cluster.batch(manifest, "-o", tmp_path / "out2", "--keypoints", "keypoints2d.json",
                             "--gpus-per-task", "2")
    assert time.time() - t0 < 120
    # Ray's own log lines ("[time W pid pid] file.cc:line: ...": it finds no route out of the
    # loopback-only namespace) are not the command's
    lines = [line for line in too_many.stderr.strip().splitlines() if not RAY_LOG_LINE.match(line)]
    assert too_many.returncode == 2 and len(lines) == 1, too_many.stderr
    assert lines[0] == (f"error: {cluster.address}: --gpus-per-task: 2 GPU(s) per task asked, no node of the "
                        "cluster has more than 1 (a task's GPUs must be on one node)"), lines[0]


def _kinect_set(folder: Path) -> Path:
    """Two fake Azure Kinect devices (3 captures each, 720p colour, NFOV depth) with their
    extrinsics: a Kinect set as an archive holds it (tests/k4a_fixture.py writes the files)."""
    from .k4a_fixture import write_fake_k4a_mkv
    from .test_kinect_formats import fake_calibration, scene

    folder.mkdir(parents=True)
    colors, depths = scene(3)
    write_fake_k4a_mkv(folder / "wall.mkv", colors, depths, [0, 33_333, 66_667], fake_calibration())
    write_fake_k4a_mkv(folder / "ceiling.mkv", colors[::-1], depths[::-1], [900, 34_000, 67_000],
                       fake_calibration("000999888777"))
    level = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]  # looking along +y, image x along +x
    (folder / "extrinsics.json").write_text(json.dumps({"cameras": {
        "wall": {"role": "workflow", "camera_to_world": {"rotation": level, "translation": [-0.6, 0.0, 1.6]}},
        "ceiling": {"role": "surgical", "camera_to_world": {"rotation": level, "translation": [0.6, 0.0, 1.8]}},
    }}))
    return folder


def _standing_person_keypoints(recording: Path, target: Path) -> None:
    """keypoints2d.json for an imported recording: one person standing 3 m in front of the
    cameras, projected into every camera and frame (what a 2D detector would report; joints
    outside an image not detected)."""
    from disguisor.geometry import project_points
    from disguisor.io.recording import open_recording

    rec = open_recording(recording)
    # COCO-17 joints of a 1.75 m person 3 m away facing the cameras (-y), world metres: the nose,
    # then each left joint (eye, ear, shoulder, elbow, wrist, hip, knee, ankle; +x) and its mirror
    left = np.array([[0.03, -0.02, 1.65], [0.07, 0.02, 1.63], [0.19, 0.03, 1.45], [0.22, 0.03, 1.17],
                     [0.23, 0.0, 0.92], [0.11, 0.03, 0.95], [0.11, 0.03, 0.5], [0.11, 0.05, 0.08]])
    pairs = np.stack([left, left * [-1, 1, 1]], 1).reshape(-1, 3)
    joints = np.concatenate([[[0.0, 0.0, 1.62]], pairs]) + [0.0, 3.0, 0.0]
    images, annotations = [], []
    for frame in rec.frames:
        for cam in rec.cameras:
            images.append({"id": len(images) + 1, "file_name": f"{cam.name}/color/{frame:06d}.jpg",
                           "width": cam.width, "height": cam.height, "camera": cam.name, "frame": frame})
            uv = project_points(cam.world_to_camera(joints), cam.K, cam.dist)
            seen = (uv >= 0).all(1) & (uv[:, 0] <= cam.width - 1) & (uv[:, 1] <= cam.height - 1)
            kp = np.concatenate([np.where(seen[:, None], uv, 0.0), 0.9 * seen[:, None]], 1).ravel().round(3).tolist()
            annotations.append({"id": len(annotations) + 1, "image_id": len(images), "category_id": 1,
                                "keypoints": kp, "score": 0.9})
    target.write_text(json.dumps({"images": images, "annotations": annotations}))


@pytest.mark.slow
def test_kinect_set_in_a_batch_matches_import_and_run(cluster, tmp_path):
    """An archive holding an Azure Kinect set (two .mkv files and extrinsics.json): the batch
    imports it and anonymizes it on the cluster; the outputs are the bytes of `disguisor import
    kinect` followed by `disguisor run`."""
    arch = tmp_path / "archive"
    kset = _kinect_set(arch / "or_k4a")
    # the reference: import (the files in name order, as the batch takes them), then run
    imported = tmp_path / "imported"
    p = subprocess.run([str(BIN / "disguisor"), "import", "kinect", *map(str, sorted(kset.glob("*.mkv"))),
                        "--extrinsics", str(kset / "extrinsics.json"), "-o", str(imported)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    keypoints = tmp_path / "keypoints2d.json"  # absolute: the same file for the batch's own import
    _standing_person_keypoints(imported, keypoints)
    single = tmp_path / "single"
    p = subprocess.run([str(BIN / "disguisor"), "run", str(imported), "-o", str(single), "--keypoints", str(keypoints)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr

    out = tmp_path / "out"
    p = cluster.batch(arch, "-o", out, "--keypoints", keypoints, "--chunk-frames", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    entry = json.loads((out / "batch_report.json").read_text())["recordings"][0]
    single_report = json.loads((single / "report.json").read_text())
    assert entry["name"] == "or_k4a" and entry["kind"] == "kinect" and entry["status"] == "done", entry
    assert entry["frames_done"] == 3 and entry["faces_hidden"] == single_report["faces_hidden"] > 0
    assert _outputs(out / ".imported" / "or_k4a") == _outputs(imported)  # the import itself
    # frame records hold a cache key over the input files' times: two imports differ there only
    assert _outputs(out / "or_k4a", drop=("key",)) == _outputs(single, drop=("key",))
