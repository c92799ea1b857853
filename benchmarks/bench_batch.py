"""Benchmark of ``disguisor batch``: throughput with 1 and 2 workers against plain ``disguisor run``s,
the per-task overhead, and the memory of a worker over a long recording.

    python benchmarks/bench_batch.py [--out bench-output/batch] [--recordings 4] [--frames 10]
                                     [--size 1280x720] [--pairs 3] [--long-frames 300] [--long-size 320x180]

Archive: ``--recordings`` synthetic OR recordings (easy scenario, 4 cameras, simulated 2D keypoints,
so that the engine and the stages after the 2D detector are measured). Ray may only use loopback
here: run as root, the script re-executes itself in new network and PID namespaces (``unshare
--net --pid``) with loopback up. Results: printed and written to OUT/bench_batch.json.

1 and 2 workers are measured in ``--pairs`` alternating pairs (1, 2, 1, 2, ...), so that a
disturbance hits both sides alike; each run records the load average and the CPU time other
processes of the machine took while it ran (``others_cpu_s``: all busy CPU time of /proc/stat
minus this benchmark's processes'). The last line printed is the throughput ratio of 2 workers
to 1 (median over the pairs; target >= 1.6) with the disturbance.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def _busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (/proc/stat, every core)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of every process this /proc shows: this benchmark's own (it
    runs in a PID namespace of its own, see main)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
                out[int(p.name)] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                continue
    return out


class Disturbance:
    """Load averages and the CPU time other processes of the machine took while the block ran:
    the machine's busy time (/proc/stat) minus this benchmark's processes' (sampled every 0.25 s,
    so a process's last < 0.25 s before it ends is missed: others are slightly overestimated)."""

    def __enter__(self) -> Disturbance:
        self.load_before = os.getloadavg()
        self.base, self.last = _own_cpu(), {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.busy0, self.t0 = _busy_s(), time.perf_counter()
        self._thread.start()
        return self

    def _sample(self) -> None:
        while True:
            self.last.update(_own_cpu())
            if self._stop.wait(0.25):
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.wall = time.perf_counter() - self.t0
        self.own = sum(cpu - self.base.get(pid, 0.0) for pid, cpu in self.last.items())
        self.others = max(0.0, _busy_s() - self.busy0 - self.own)
        self.load_after = os.getloadavg()

    def facts(self) -> dict:
        return {"load_1min_before": round(self.load_before[0], 2), "load_1min_after": round(self.load_after[0], 2),
                "own_cpu_s": round(self.own, 1), "others_cpu_s": round(self.others, 1),
                "others_cores": round(self.others / self.wall, 2) if self.wall else 0.0}


def batch(archive: Path, out: Path, workers: int, *extra: object, sampler: RssSampler | None = None) -> dict:
    cmd = [BIN / "disguisor", "-q", "batch", archive, "-o", out, "--keypoints", "keypoints2d.json",
           "--workers", workers, *extra]
    with Disturbance() as dist:
        t0 = time.perf_counter()
        p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"batch failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    report = json.loads((out / "batch_report.json").read_text())
    return {"wall_s": round(wall, 2), "engine_s": report["seconds"], "connect_s": report["engine"]["connect_seconds"],
            "threads_per_task": report["engine"]["threads_per_task"], "timeline": report["engine"].get("timeline"),
            "tasks": {k: round(sum(e["task_seconds"].get(k, 0.0) for e in report["recordings"]), 2)
                      for k in ("prepare", "render", "render_setup", "finish")},
            "frames": report["totals"]["frames_done"], **dist.facts()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench-output/batch"))
    ap.add_argument("--recordings", type=int, default=4)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--long-frames", type=int, default=300)
    ap.add_argument("--long-size", default="320x180")
    ap.add_argument("--threads-per-task", type=int, default=None, help="passed to disguisor batch")
    ap.add_argument("--pairs", type=int, default=3, help="alternating 1-worker / 2-worker pairs")
    ap.add_argument("--skip", nargs="*", default=[], choices=["plain", "w1", "w2", "long"])
    args = ap.parse_args()
    if os.environ.get("DISGUISOR_BENCH_NETNS") != "1" and os.geteuid() == 0:
        env = {**os.environ, "DISGUISOR_BENCH_NETNS": "1"}
        # network, PID and /proc namespaces of its own: Ray only on loopback, every process it
        # leaves ends with the benchmark, and /proc shows this benchmark's processes only
        cmd = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c", 'ip link set lo up && exec "$@"',
               "sh", sys.executable, *sys.argv]
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
        with Disturbance() as dist:
            for rec in recs:
                out = root / "plain" / rec.name
                subprocess.run(["rm", "-rf", str(out)], check=True)
                times.append(_sh(BIN / "disguisor", "-q", "run", rec, "-o", out, "--keypoints",
                                 rec / "keypoints2d.json"))
        results["plain"] = {"per_recording_s": [round(t, 2) for t in times], "sum_s": round(sum(times), 2),
                            "frames_per_s": round(frames / sum(times), 3), **dist.facts()}
        print("plain runs:", results["plain"], flush=True)
    runs: dict[int, list[dict]] = {1: [], 2: []}
    extra = ["--threads-per-task", args.threads_per_task] if args.threads_per_task else []
    for pair in range(args.pairs):
        for w in (1, 2):
            if f"w{w}" in args.skip:
                continue
            out = root / f"batch_w{w}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            r = batch(archive, out, w, *extra)
            r["frames_per_s"] = round(frames / r["wall_s"], 3)
            runs[w].append(r)
            print(f"pair {pair + 1}, batch, {w} worker(s):", r, flush=True)
    for w in (1, 2):
        if runs[w]:
            results[f"batch_{w}_worker_runs"] = runs[w]
            results[f"batch_{w}_worker"] = min(runs[w], key=lambda r: r["wall_s"])  # the least disturbed
    if "plain" in results and runs[1]:
        b1 = results["batch_1_worker"]
        n_tasks = args.recordings * 3  # prepare, one render chunk (frames <= chunk), finish
        results["batch1_vs_plain"] = round(b1["wall_s"] / results["plain"]["sum_s"], 3)
        results["overhead_per_task_s"] = round((b1["wall_s"] - results["plain"]["sum_s"]) / n_tasks, 3)
    if runs[1] and runs[2]:
        ratios = [round(a["wall_s"] / b["wall_s"], 3) for a, b in zip(runs[1], runs[2], strict=False)]
        results["speedup_2_vs_1_pairs"] = ratios
        results["speedup_2_vs_1"] = round(statistics.median(ratios), 3)
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
        render = [c for c in curve if 0 < c[1] < args.long_frames]  # while frames render (not the shutdown)
        results["long"] = {"frames": args.long_frames, "size": args.long_size, **r,
                           "rss_mib_max_worker": [c for c in curve[:: max(1, len(curve) // 25)]],
                           "rss_mib_render_first": render[0][2] if render else None,
                           "rss_mib_render_last": render[-1][2] if render else None,
                           "rss_mib_render_peak": max(c[2] for c in render) if render else None}
        print("long recording:", {k: v for k, v in results["long"].items() if k != "rss_mib_max_worker"}, flush=True)
    (root / "bench_batch.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "long" and not k.endswith("_runs")}, indent=1))
    if "speedup_2_vs_1" in results:
        others = [r["others_cores"] for w in (1, 2) for r in runs[w]]
        print(f"2 workers vs 1: {results['speedup_2_vs_1']:.2f}x throughput (median of pairs "
              f"{', '.join(f'{x:.2f}' for x in results['speedup_2_vs_1_pairs'])}; target >= 1.6); "
              f"other processes used {min(others):.2f}-{max(others):.2f} of the {os.cpu_count()} cores meanwhile")


if __name__ == "__main__":
    main()
