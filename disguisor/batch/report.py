"""``OUT/batch_report.json`` and the summary table of a batch.

batch_report.json::

    {"version": 1, "archive": ..., "out": ..., "started": ISO time, "seconds": wall time,
     "engine": {"address": "local" | HOST:PORT, "slots": tasks at once, "nodes": ..., "ray": version,
                "threads_per_task": ..., "chunk_frames": ..., "max_retries": ..., "gpus_per_task": ...,
                "connect_seconds": ..., "timeline": {"first_task_s", "busy_s", "span_s", "utilization", "tail_s"},
                "worker_niceness": [the tasks' worker processes' nice values]},
     "totals": {"recordings", "done", "failed", "frames", "frames_done", "faces_hidden", "failed_frames"},
     "recordings": [{"name", "source", "kind", "output", "status": "done" | "failed", "error": one line,
                     "frames", "frames_done", "resumed_frames", "faces_hidden", "failed_frames": [frame...],
                     "seconds": wall time, "task_seconds": {"prepare", "render", "finish",
                                      "render_setup": part of render spent building frame workers},
                     "task_gpus": {"prepare", "render", "finish": GPU ids its tasks were given},
                     "workers": how many worker processes ran its tasks, "warnings": [...]}]}

``OUT/batch_summary.txt`` holds the table the command prints.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from disguisor.batch.engine import EngineOptions, JobState
from disguisor.io.atomic import atomic_write_text

REPORT_NAME = "batch_report.json"
SUMMARY_NAME = "batch_summary.txt"


def recording_entry(state: JobState) -> dict[str, Any]:
    seconds = (state.ended - state.started) if state.started and state.ended else 0.0
    return {
        "name": state.job.name, "source": str(state.job.source), "kind": state.job.kind, "output": str(state.out),
        "status": state.status if state.status in ("done", "failed") else "unfinished", "error": state.error,
        "frames": state.frames, "frames_done": state.frames_done, "resumed_frames": state.resumed,
        "faces_hidden": state.faces_hidden, "failed_frames": sorted(state.failed_frames),
        "seconds": round(seconds, 3), "task_seconds": state.task_seconds, "task_gpus": state.task_gpus,
        "workers": len({p for p in state.pids if p is not None}), "warnings": state.warnings,
    }


def build_report(archive: Path, out: Path, states: list[JobState], facts: dict[str, Any], options: EngineOptions,
                 started: float, seconds: float) -> dict[str, Any]:
    entries = [recording_entry(s) for s in states]
    totals = {
        "recordings": len(entries), "done": sum(e["status"] == "done" for e in entries),
        "failed": sum(e["status"] != "done" for e in entries),
        "frames": sum(e["frames"] or 0 for e in entries), "frames_done": sum(e["frames_done"] for e in entries),
        "faces_hidden": sum(e["faces_hidden"] for e in entries),
        "failed_frames": sum(len(e["failed_frames"]) for e in entries),
    }
    engine = {**facts, "chunk_frames": options.chunk_frames, "max_retries": options.max_retries,
              "gpus_per_task": options.gpus_per_task}
    return {"version": 1, "archive": str(archive), "out": str(out),
            "started": datetime.fromtimestamp(started).isoformat(timespec="seconds"), "seconds": round(seconds, 3),
            "engine": engine, "totals": totals, "recordings": entries}


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    """The table's rows (header first): one per recording."""
    rows = [["recording", "status", "frames", "faces hidden", "failed frames", "time (s)", "error"]]
    for e in report["recordings"]:
        frames = f"{e['frames_done']}/{e['frames'] if e['frames'] is not None else '?'}"
        rows.append([e["name"], e["status"], frames, str(e["faces_hidden"]), str(len(e["failed_frames"])),
                     f"{e['seconds']:.1f}", e["error"]])
    return rows


def summary_text(report: dict[str, Any]) -> str:
    rows = summary_rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)).rstrip()
             + (f"  {r[-1]}" if r[-1] else "") for r in rows]
    t = report["totals"]
    lines.append(f"{t['done']} of {t['recordings']} recording(s) done, {t['failed']} failed; "
                 f"{t['frames_done']} of {t['frames']} frame(s); {t['faces_hidden']} face(s) hidden; "
                 f"{t['failed_frames']} failed frame(s); {report['seconds']:.1f} s on {report['engine']['slots']} "
                 f"worker(s) ({report['engine']['address']})")
    return "\n".join(lines) + "\n"


def write_batch_report(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / REPORT_NAME, json.dumps(report, indent=1) + "\n")
    atomic_write_text(out / SUMMARY_NAME, summary_text(report))
