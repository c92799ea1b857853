"""The batch engine on Ray: tasks per recording and per frame chunk, scheduled by the driver.

Per recording: one *prepare* task (Kinect import, keypoints, 3D poses, body fit: the
whole-recording stages, resumed from the stage cache), then *render* tasks of at most
``chunk_frames`` frames each (only the frames without a current record), then one *finish* task
(detections.json, images.json, report.json, summary.txt, videos). The prepared run (stage results,
tens of kB per recording) travels from the prepare task to the frame tasks through Ray's object
store; each worker process keeps its frame workers (renderer, templates, body model) across tasks.

The driver keeps at most as many tasks in flight as there are task slots (``--workers``, or the
cluster's CPUs / GPUs per task), render chunks of open recordings first, then new recordings: a
recording's frames start as soon as it is prepared and memory stays bounded on long archives.
Chunks: at most ``chunk_frames`` frames; once no recording is left to start, a prepared
recording's frames are cut into up to one chunk per slot, so that no worker idles while another
renders the last recording alone; not below MIN_TAIL_CHUNK frames (each worker process that
takes a chunk of a recording builds its frame worker first: ~1 s at 720p, about one frame).

Threads: each task runs ``threads_per_task`` CPU threads (torch, BLAS, OpenCV). Default: locally
the cores divided among the workers (2 cores, 1 worker: 2; 2 workers: 1 each: no
oversubscription), on a cluster 1 (one CPU per task). The outputs do not depend on it: the body
fit runs its torch code on one thread whatever the process's count. The local instance's
workers run at the priority of a plain run (nice 0, not Ray's 15); a cluster's nodes decide
their own (``RAY_worker_niceness`` in ``ray start``'s environment).

Faults: a task whose worker process dies (killed, out of memory, node lost) is retried by Ray
(``max_retries``); what a recording's own failure raises is returned as one line and ends that
recording only. A recording is *done* when its finish task wrote the report.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from disguisor.batch.archive import Job, estimate_frames
from disguisor.batch.tasks import finish_job, frames_done, prepare_job, render_job_frames, use_threads
from disguisor.settings import PipelineConfig

log = logging.getLogger(__name__)

MAX_RETRIES = 3  # retries of a task whose worker process died
DEFAULT_CHUNK_FRAMES = 32
# a chunk of the last recordings is not cut smaller: each worker process that renders a chunk of
# a recording first builds its frame worker (~1 s at 720p, about one frame's time), which a
# chunk of 8 frames or more pays back; a shorter recording is left to one worker
MIN_TAIL_CHUNK = 8
WORKER_NICENESS = 0  # the local instance's workers (see connect)


@dataclass(frozen=True)
class EngineOptions:
    """How the batch runs. address: None starts a local Ray instance with ``workers`` CPUs
    (default: the machine's cores); ``HOST:PORT`` or ``auto`` joins a running cluster (``workers``
    then caps the tasks in flight). gpus_per_task: GPUs of each prepare and render task.
    threads_per_task: CPU threads of each task (None: see :func:`task_threads`)."""

    address: str | None = None
    workers: int | None = None
    gpus_per_task: float = 0.0
    dashboard: bool = False
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    max_retries: int = MAX_RETRIES
    log_to_driver: bool = False
    threads_per_task: int | None = None


def task_threads(options: EngineOptions) -> int:
    """CPU threads of each task: ``threads_per_task`` when given; a local instance shares the
    machine's cores among its workers (at least 1 each); on a cluster 1, Ray's own rule for a
    task of one CPU (a node runs as many tasks as it has CPUs)."""
    if options.threads_per_task:
        return options.threads_per_task
    if options.address is None:
        cores = os.cpu_count() or 1
        return max(1, cores // (options.workers or cores))
    return 1


@dataclass
class JobState:
    """What the driver knows of one recording."""

    job: Job
    config: PipelineConfig
    out: Path
    status: str = "queued"  # queued, preparing, rendering, finishing, done, failed
    error: str = ""
    frames: int | None = None
    pending: int = 0
    frames_done: int = 0
    resumed: int = 0
    failed_frames: list[int] = field(default_factory=list)
    faces_hidden: int = 0
    chunks: deque = field(default_factory=deque)
    in_flight: int = 0
    prepared: Any = None  # ObjectRef of the prepared run
    frame_key: str | None = None
    render_seconds: float = 0.0
    task_seconds: dict[str, float] = field(default_factory=dict)
    task_gpus: dict[str, list[str]] = field(default_factory=dict)  # GPU ids the tasks of each kind got
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each task, wall clock
    niceness: set = field(default_factory=set)  # the worker processes' nice values
    started: float | None = None
    ended: float | None = None
    pids: set = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def add_seconds(self, kind: str, seconds: float) -> None:
        self.task_seconds[kind] = round(self.task_seconds.get(kind, 0.0) + seconds, 3)

    def add_task(self, kind: str, result: dict[str, Any]) -> None:
        """What every task reports: its worker process, its time and the GPUs it was given."""
        self.pids.add(result.get("pid"))
        self.add_seconds(kind, result.get("seconds", 0.0))
        if "setup_seconds" in result:  # part of the render time: frame workers built
            self.add_seconds("render_setup", result["setup_seconds"])
        seen = set(self.task_gpus.get(kind, [])) | {str(g) for g in result.get("gpus", [])}
        self.task_gpus[kind] = sorted(seen)
        if result.get("span"):
            self.spans.append(tuple(result["span"]))
        if result.get("nice") is not None:
            self.niceness.add(result["nice"])


class Progress:
    """What the engine reports while it runs (the CLI draws bars from it)."""

    def start(self, recordings: int, frames: int) -> None: ...

    def update(self, recordings_done: int, frames_done: int, frames_total: int) -> None: ...

    def recording_done(self, state: JobState) -> None: ...


def _chunks(frames: list[int], size: int) -> list[list[int]]:
    """``frames`` in consecutive chunks of at most ``size``, as equal as possible."""
    if not frames:
        return []
    n = math.ceil(len(frames) / max(1, size))
    bounds = [round(i * len(frames) / n) for i in range(n + 1)]
    return [frames[bounds[i]:bounds[i + 1]] for i in range(n)]


def chunk_size(pending: int, slots: int, chunk_frames: int, last: bool) -> int:
    """Frames per render chunk of a recording just prepared with ``pending`` frames to render:
    ``chunk_frames``; for one of the last recordings (none left to start), up to one chunk per
    slot of at least MIN_TAIL_CHUNK frames (its frames spread over the workers, which then
    finish together)."""
    if not last or slots < 2:
        return chunk_frames
    n = max(1, min(slots, pending // MIN_TAIL_CHUNK))
    return min(chunk_frames, math.ceil(pending / n))


class EngineError(Exception):
    """Ray could not start (locally) or join the cluster."""


def connect(options: EngineOptions):
    """Start a local Ray instance or join ``options.address``; returns the ray module."""
    try:
        import ray
    except ImportError:
        raise EngineError("Ray is not installed (pip install 'disguisor[batch]')") from None

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    threads = str(task_threads(options))
    kwargs: dict[str, Any] = dict(include_dashboard=options.dashboard, logging_level=logging.WARNING,
                                  log_to_driver=options.log_to_driver, configure_logging=True)
    env: dict[str, str] = {}
    if options.address is None:
        kwargs["address"] = "local"  # a new instance, even where `ray start` runs one already
        kwargs["num_cpus"] = options.workers or os.cpu_count() or 1
        if options.gpus_per_task == 0:
            kwargs["num_gpus"] = 0
        # the instance's processes inherit this environment: its prestarted workers then serve the
        # first tasks at once (a runtime_env would have Ray start other workers first, ~1.4 s)
        env["OMP_NUM_THREADS"] = threads
        # the workers at a plain run's priority: Ray's default (nice 15) has them give way to any
        # other job, and on a shared machine a worker beside such a job gets a few % of its core
        env["RAY_worker_niceness"] = str(WORKER_NICENESS)
    else:
        kwargs.pop("include_dashboard")  # set by `ray start`
        kwargs["address"] = options.address
        kwargs["runtime_env"] = {"env_vars": {"OMP_NUM_THREADS": threads}}  # the nodes' workers
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        ray.init(**kwargs)
    except Exception as exc:  # noqa: BLE001 - whatever Ray raises, one line
        raise EngineError(" ".join(str(exc).split())[:400] or type(exc).__name__) from None
    finally:
        for k, v in saved.items():  # the driver's own environment as it was
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ray


class GpuError(Exception):
    """More GPUs per task than any node of the cluster has: the tasks could never start."""


def task_slots(ray, options: EngineOptions) -> int:
    """How many tasks run at once: the cluster's CPUs (and GPUs per task), capped by ``workers``.
    Raises GpuError when no node has ``gpus_per_task`` GPUs (Ray would wait for them for ever)."""
    resources = ray.cluster_resources()
    slots = max(1, int(resources.get("CPU", 1)))
    if options.gpus_per_task > 0:
        per_node = [n.get("Resources", {}).get("GPU", 0.0) for n in ray.nodes() if n.get("Alive")]
        most = max(per_node, default=0.0)
        if most < options.gpus_per_task:
            where = "the local Ray instance has" if options.address is None else "no node of the cluster has more than"
            raise GpuError(f"{options.gpus_per_task:g} GPU(s) per task asked, {where} {most:g} "
                           f"(a task's GPUs must be on one node)")
        slots = min(slots, sum(int(g / options.gpus_per_task) for g in per_node))
    if options.workers:
        slots = min(slots, options.workers)
    return slots


def _remote_functions(ray, options: EngineOptions):
    retries = dict(max_retries=options.max_retries, retry_exceptions=False)
    gpus = dict(num_gpus=options.gpus_per_task) if options.gpus_per_task > 0 else {}
    threads = task_threads(options)

    def gpu_ids() -> list[str]:  # the GPUs Ray gave this task (CUDA_VISIBLE_DEVICES is set to them)
        return [str(g) for g in ray.get_gpu_ids()]

    @ray.remote(num_returns=2, num_cpus=1, **retries, **gpus)
    def disguisor_prepare(job, out_root, config):
        t0 = time.time()
        use_threads(threads)
        info, shipped = prepare_job(job, out_root, config)
        info.update(gpus=gpu_ids(), span=(t0, time.time()), nice=os.nice(0))
        return info, shipped

    @ray.remote(num_cpus=1, **retries, **gpus)
    def disguisor_render(out, frame_key, frames, prepared):
        t0 = time.time()
        use_threads(threads)
        result = render_job_frames(out, frame_key, frames, lambda: ray.get(prepared[0]))
        result.update(gpus=gpu_ids(), span=(t0, time.time()), nice=os.nice(0))
        return result

    @ray.remote(num_cpus=1, **retries)
    def disguisor_finish(out, frame_key, resumed, render_seconds, prepared):
        t0 = time.time()
        use_threads(threads)
        result = finish_job(out, frame_key, resumed, render_seconds, lambda: ray.get(prepared[0]))
        result.update(gpus=gpu_ids(), span=(t0, time.time()), nice=os.nice(0))
        return result

    return disguisor_prepare, disguisor_render, disguisor_finish


def run_jobs(jobs: list[tuple[Job, PipelineConfig]], out_root: Path, options: EngineOptions,
             progress: Progress | None = None, ray_module=None) -> tuple[list[JobState], dict[str, Any]]:
    """Run every job to the end on Ray; returns the states (in the jobs' order) and engine facts."""
    progress = progress or Progress()
    out_root = Path(out_root).resolve()
    states = [JobState(job, config, out_root / job.name, frames=estimate_frames(job)) for job, config in jobs]
    ray = ray_module
    own = ray is None
    t_connect = time.perf_counter()
    if own:
        ray = connect(options)
    connect_seconds = time.perf_counter() - t_connect
    try:
        slots = task_slots(ray, options)
        facts = {"address": options.address or "local", "slots": slots, "nodes": len(ray.nodes()),
                 "threads_per_task": task_threads(options),
                 "connect_seconds": round(connect_seconds, 3), "ray": ray.__version__}
        started = time.time()
        _Scheduler(ray, states, out_root, options, slots, progress).run()
        facts["timeline"] = timeline(states, slots, started, time.time())
        facts["worker_niceness"] = sorted({n for state in states for n in state.niceness})
    finally:
        if own:
            ray.shutdown()
    return states, facts


def timeline(states: list[JobState], slots: int, started: float, ended: float) -> dict[str, float]:
    """How busy the task slots were, from the tasks' own start and end times (worker clocks):
    first_task_s (from the scheduler's start to the first task's: worker process start and
    imports), busy_s (the tasks' summed time), span_s (first task start to last task end),
    utilization (busy / (slots x span)), tail_s (last task end to the scheduler's end)."""
    spans = [s for state in states for s in state.spans]
    if not spans:
        return {}
    first, last = min(a for a, _ in spans), max(b for _, b in spans)
    busy = sum(b - a for a, b in spans)
    span = max(last - first, 1e-9)
    return {"first_task_s": round(first - started, 3), "busy_s": round(busy, 3), "span_s": round(span, 3),
            "utilization": round(busy / (slots * span), 3), "tail_s": round(ended - last, 3)}


class _Scheduler:
    def __init__(self, ray, states: list[JobState], out_root: Path, options: EngineOptions, slots: int,
                 progress: Progress):
        self.ray, self.states, self.out_root, self.options, self.slots = ray, states, out_root, options, slots
        self.progress = progress
        self.prepare, self.render, self.finish = _remote_functions(ray, options)
        self.in_flight: dict[Any, tuple[str, JobState, Any]] = {}
        self.queue = deque(states)

    # -- progress -------------------------------------------------------------------------------
    def _report(self) -> None:
        done = sum(s.status in ("done", "failed") for s in self.states)
        frames_total = sum(s.frames or 0 for s in self.states)
        frames_done = sum(s.frames_done for s in self.states)
        self.progress.update(done, frames_done, frames_total)

    # -- submitting -----------------------------------------------------------------------------
    def _submit(self, kind: str, state: JobState, ref, extra: Any = None) -> None:
        self.in_flight[ref] = (kind, state, extra)
        state.in_flight += 1

    def _next(self) -> bool:
        """Submit the most urgent piece of work; False when there is none."""
        for state in self.states:
            if state.status == "rendering" and state.chunks:
                frames = state.chunks.popleft()
                ref = self.render.remote(str(state.out), state.frame_key, frames, [state.prepared])
                self._submit("render", state, ref, frames)
                return True
        open_jobs = sum(s.status in ("preparing", "rendering", "finishing") for s in self.states)
        if self.queue and open_jobs < self.slots + 1:
            state = self.queue.popleft()
            state.status, state.started = "preparing", time.time()
            info_ref, prepared_ref = self.prepare.remote(state.job, self.out_root, state.config)
            state.prepared = prepared_ref
            self._submit("prepare", state, info_ref)
            return True
        return False

    def _maybe_finish(self, state: JobState) -> None:
        if state.status == "rendering" and not state.chunks and state.in_flight == 0:
            state.status = "finishing"
            ref = self.finish.remote(str(state.out), state.frame_key, state.resumed, state.render_seconds,
                                     [state.prepared])
            self._submit("finish", state, ref)

    def _fail(self, state: JobState, error: str) -> None:
        if state.status == "failed":
            return
        state.status, state.error, state.ended = "failed", error, time.time()
        state.chunks.clear()
        state.frames_done = max(state.frames_done, frames_done(state.out, state.frame_key))
        state.prepared = None
        self.progress.recording_done(state)

    # -- results --------------------------------------------------------------------------------
    def _handle(self, ref) -> None:
        kind, state, extra = self.in_flight.pop(ref)
        state.in_flight -= 1
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:  # the worker died more often than the retries allow
            text = " ".join(str(exc).split())[:300]
            self._fail(state, f"error: {kind} task lost after {self.options.max_retries} retries: {text}")
            return
        if state.status == "failed":
            return
        if kind == "prepare":
            info, result = result, None
            self._prepared(state, info)
        else:
            state.add_task(kind, result)
            if not result.get("ok"):
                self._fail(state, result.get("error") or f"{kind} failed")
                return
            if kind == "render":
                state.frames_done += result["frames"]
                state.resumed += result.get("resumed", 0)
                state.render_seconds += result.get("seconds", 0.0)
                state.failed_frames += result.get("failed", [])
                self._maybe_finish(state)
            else:
                state.status, state.ended = "done", time.time()
                state.faces_hidden = result["faces_hidden"]
                state.failed_frames = sorted(result["failed_frames"])
                state.frames = result["frames"]
                state.warnings = result.get("warnings", [])
                state.prepared = None
                self.progress.recording_done(state)

    def _prepared(self, state: JobState, info: dict[str, Any]) -> None:
        state.add_task("prepare", info)
        if not info.get("ok"):
            self._fail(state, info.get("error") or "prepare failed")
            return
        state.frames = len(info["frames"])
        state.frame_key = info["frame_key"]
        pending = info["pending"]
        state.pending = len(pending)
        state.frames_done = state.resumed = state.frames - len(pending)
        state.warnings = info.get("warnings", [])
        state.chunks = deque(_chunks(pending, chunk_size(len(pending), self.slots, self.options.chunk_frames,
                                                         last=not self.queue)))
        state.status = "rendering"
        self._maybe_finish(state)

    def run(self) -> None:
        self.progress.start(len(self.states), sum(s.frames or 0 for s in self.states))
        while any(s.status not in ("done", "failed") for s in self.states):
            while len(self.in_flight) < self.slots and self._next():
                pass
            if not self.in_flight:
                raise RuntimeError("batch scheduler: open recordings but no task in flight")  # a bug
            ready, _ = self.ray.wait(list(self.in_flight), num_returns=1, timeout=0.5)
            for ref in ready:
                self._handle(ref)
            self._report()
        self._report()

