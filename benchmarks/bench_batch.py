"""Benchmark of ``disguisor batch``: throughput with 1 and 2 workers against plain ``disguisor run``s,
the per-task overhead, and the memory of a worker over a long recording.

    python benchmarks/bench_batch.py [--out bench-output/batch] [--recordings 4] [--frames 10]
                                     [--size 1280x720] [--long-frames 300] [--long-size 320x180]

Archive: ``--recordings`` synthetic OR recordings (easy scenario, 4 cameras, simulated 2D keypoints,
so that the engine and the stages after the 2D detector are measured). Ray may only use loopback
here: run as root, the script re-executes itself in a new network namespace (``unshare --net``)
with loopback up. Results: printed and written to OUT/bench_batch.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _sh(*args: object) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(list(map(str, args)), capture_output=True, text=True)
    if p.returncode not in (0,):
        raise SystemExit(f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return time.perf_counter() - t0


def make_archive(folder: Path, n: int, frames: int, size: tuple[int, int], seed0: int = 1) -> Path:
    from disguisor.synth.or_scene import generate_or_recording

    for i in range(n):
        rec = folder / f"rec{i + 1}"
        if not (rec / "keypoints2d.json").is_file():
            generate_or_recording(rec, scenario="easy", frames=frames, size=size, seed=seed0 + i)
    return folder


class RssSampler:
    """Resident memory (MiB) of every Ray worker process (``ray::`` command lines), sampled in a thread."""

    def __init__(self, frames_dir: Path | None = None, every_s: float = 0.5):
        self.samples: list[tuple[float, int, dict[int, float]]] = []
        self.frames_dir, self.every_s = frames_dir, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.time()
        net = os.readlink("/proc/self/ns/net")  # this benchmark's namespace only
        while not self._stop.is_set():
            rss = {}
            for p in Path("/proc").iterdir():
                if not p.name.isdigit():
                    continue
                try:
                    if os.readlink(p / "ns" / "net") != net or not (p / "cmdline").read_bytes().startswith(b"ray::"):
                        continue
                    for line in (p / "status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            rss[int(p.name)] = int(line.split()[1]) / 1024
                except OSError:
                    continue
            done = len(list(self.frames_dir.glob("*.json"))) if self.frames_dir and self.frames_dir.is_dir() else 0
            self.samples.append((time.time() - t0, done, rss))
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def batch(archive: Path, out: Path, workers: int, *extra: object, sampler: RssSampler | None = None) -> dict:
    cmd = [BIN / "disguisor", "-q", "batch", archive, "-o", out, "--keypoints", "keypoints2d.json",
           "--workers", workers, *extra]
    t0 = time.perf_counter()
    p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"batch failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    report = json.loads((out / "batch_report.json").read_text())
    return {"wall_s": round(wall, 2), "engine_s": report["seconds"], "connect_s": report["engine"]["connect_seconds"],
            "tasks": {k: round(sum(e["task_seconds"].get(k, 0.0) for e in report["recordings"]), 2)
                      for k in ("prepare", "render", "finish")},
            "frames": report["totals"]["frames_done"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench-output/batch"))
    ap.add_argument("--recordings", type=int, default=4)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--long-frames", type=int, default=300)
    ap.add_argument("--long-size", default="320x180")
    ap.add_argument("--threads-per-task", type=int, default=None, help="passed to disguisor batch")
    ap.add_argument("--skip", nargs="*", default=[], choices=["plain", "w1", "w2", "long"])
    args = ap.parse_args()
    if os.environ.get("DISGUISOR_BENCH_NETNS") != "1" and os.geteuid() == 0:
        env = {**os.environ, "DISGUISOR_BENCH_NETNS": "1"}
        cmd = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable, *sys.argv]
        raise SystemExit(subprocess.call(cmd, env=env))

    size = tuple(int(v) for v in args.size.split("x"))
    root = args.out.resolve()
    t0 = time.perf_counter()
    archive = make_archive(root / "archive", args.recordings, args.frames, size)
    results: dict = {"threads_per_task": args.threads_per_task,
                     "recordings": args.recordings, "frames": args.frames, "size": args.size, "cores": os.cpu_count(),
                     "synth_s": round(time.perf_counter() - t0, 1)}
    recs = sorted(p for p in archive.iterdir() if p.is_dir())
    frames = args.recordings * args.frames
    if "plain" not in args.skip:
        times = []
        for rec in recs:
            out = root / "plain" / rec.name
            subprocess.run(["rm", "-rf", str(out)], check=True)
            times.append(_sh(BIN / "disguisor", "-q", "run", rec, "-o", out, "--keypoints", rec / "keypoints2d.json"))
        results["plain"] = {"per_recording_s": [round(t, 2) for t in times], "sum_s": round(sum(times), 2),
                            "frames_per_s": round(frames / sum(times), 3)}
        print("plain runs:", results["plain"], flush=True)
    for w in (1, 2):
        if f"w{w}" in args.skip:
            continue
        out = root / f"batch_w{w}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        r = batch(archive, out, w, *(["--threads-per-task", args.threads_per_task] if args.threads_per_task else []))
        r["frames_per_s"] = round(frames / r["wall_s"], 3)
        results[f"batch_{w}_worker"] = r
        print(f"batch, {w} worker(s):", r, flush=True)
    if "plain" in results and "batch_1_worker" in results:
        b1 = results["batch_1_worker"]
        n_tasks = args.recordings * 3  # prepare, one render chunk (frames <= chunk), finish
        results["batch1_vs_plain"] = round(b1["wall_s"] / results["plain"]["sum_s"], 3)
        results["overhead_per_task_s"] = round((b1["wall_s"] - results["plain"]["sum_s"]) / n_tasks, 3)
    if "batch_1_worker" in results and "batch_2_worker" in results:
        results["speedup_2_vs_1"] = round(results["batch_1_worker"]["wall_s"] / results["batch_2_worker"]["wall_s"], 3)
    if "long" not in args.skip:
        lsize = tuple(int(v) for v in args.long_size.split("x"))
        long_arch = make_archive(root / "long_archive", 1, args.long_frames, lsize, seed0=7)
        out = root / "batch_long"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        with RssSampler(out / "rec1" / "stages" / "frames") as sampler:
            r = batch(long_arch, out, 1, "--chunk-frames", "32", sampler=sampler)
        curve = []
        for t, done, rss in sampler.samples:
            if rss:
                curve.append((round(t, 1), done, round(max(rss.values()), 1)))
        render = [c for c in curve if c[1] > 0]
        results["long"] = {"frames": args.long_frames, "size": args.long_size, **r,
                           "rss_mib_max_worker": [c for c in curve[:: max(1, len(curve) // 25)]],
                           "rss_mib_render_first": render[0][2] if render else None,
                           "rss_mib_render_last": render[-1][2] if render else None,
                           "rss_mib_render_peak": max(c[2] for c in render) if render else None}
        print("long recording:", {k: v for k, v in results["long"].items() if k != "rss_mib_max_worker"}, flush=True)
    (root / "bench_batch.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "long"}, indent=1))


if __name__ == "__main__":
    main()
