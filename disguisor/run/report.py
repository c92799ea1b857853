"""The report of ``disguisor run``: ``report.json``, ``summary.txt``, and the collected
``detections.json`` / ``images.json`` written at the end of a run."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from disguisor.io.atomic import atomic_write_text
from disguisor.io.detections import image_ids, write_detections
from disguisor.io.recording import Recording
from disguisor.run import outputs
from disguisor.settings import PipelineConfig, config_dict


@dataclass
class RunReport:
    """Summary of a run (also written as report.json)."""

    recording: str
    out: str
    frames: int
    cameras: list[str]
    failed_frames: list[dict[str, Any]]
    faces_hidden: int
    faces_skipped: dict[str, int]
    people_per_frame: dict[str, float]
    stage_seconds: dict[str, float]
    per_frame_seconds: dict[str, float]
    resumed_frames: int
    warnings: list[str] = field(default_factory=list)
    # face-views hidden per source: 3d, head-sphere, 2d-head, depth-head, 2d-turned, 2d-lifted, border,
    # 2d:<detector>
    faces_by_source: dict[str, int] = field(default_factory=dict)
    # face-views painted but not listed in detections.json (run.report_min_face_px, report_away_*,
    # report_back_angle_deg, duplicates, report_disputed_faces, report_guessed_faces)
    faces_painted_unlisted: int = 0
    # the same by reason (small, border, back, turned away, duplicate, disputed, looking up, guessed;
    # "unlisted" for the frame records of older runs, which gave person ids only)
    faces_painted_unlisted_by_reason: dict[str, int] = field(default_factory=dict)
    # head spheres blurred around a face placed but not listed in that view (a safety margin)
    spheres_unlisted: int = 0
    # faces found at quarter turns that lie on a 3D person's legs (feet): blurred, not listed
    turned_feet_unlisted: int = 0
    # faces a 2D detector sees (nose, an eye) that nothing covered in that view: blurred, not listed
    unpainted_2d_faces: int = 0




def write_report(rec: Recording, out: Path, config: PipelineConfig, records: list[dict[str, Any]],
                 stage_seconds: dict[str, float], resumed: int, warnings: list[str]) -> RunReport:
    """Write detections.json, images.json, report.json (with the effective configuration),
    summary.txt and, with ``run.video``, the videos; returns the report."""
    detections = [d for r in records for d in (r.get("detections") or [])]
    write_detections(out, detections, rec, image_ids(rec))
    skipped: dict[str, int] = {}
    for r in records:
        for view in (r.get("views") or {}).values():
            for s in view.get("skipped", []):
                reason = s["reason"].split("(")[0].split(":")[0].strip()
                skipped[reason] = skipped.get(reason, 0) + 1
    people = [len(r.get("people") or []) for r in records]
    per_frame: dict[str, list[float]] = {}
    for r in records:
        for k, v in (r.get("seconds") or {}).items():
            per_frame.setdefault(k, []).append(v)
    report = RunReport(
        recording=str(rec.root), out=str(out), frames=len(records), cameras=[c.name for c in rec.cameras],
        failed_frames=[{"frame": r["frame"], "error": r["error"], "views": r["views"]} for r in records
                       if r["status"] == "failed"],
        faces_hidden=len(detections), faces_skipped=skipped,
        people_per_frame={"mean": float(np.mean(people)) if people else 0.0, "max": max(people, default=0)},
        stage_seconds={k: round(v, 3) for k, v in stage_seconds.items()},
        per_frame_seconds={k: round(float(np.median(v)), 4) for k, v in per_frame.items()},
        resumed_frames=resumed, warnings=warnings,
        faces_by_source=dict(sorted(Counter(str(d.get("source", "")) for d in detections).items())),
        faces_painted_unlisted=sum(len(v.get("painted_unlisted", [])) for r in records
                                   for v in (r.get("views") or {}).values()),
        faces_painted_unlisted_by_reason=dict(sorted(Counter(
            u["reason"] if isinstance(u, dict) else "unlisted" for r in records
            for v in (r.get("views") or {}).values() for u in v.get("painted_unlisted", [])).items())),
        spheres_unlisted=sum(len(v.get("spheres_unlisted", [])) for r in records
                             for v in (r.get("views") or {}).values()),
        turned_feet_unlisted=sum(int(v.get("turned_2d_feet", 0)) for r in records
                                 for v in (r.get("views") or {}).values()),
        unpainted_2d_faces=sum(int(v.get("unpainted_2d_faces", 0)) for r in records
                               for v in (r.get("views") or {}).values()))
    frames_doc = [{"frame": r["frame"], "status": r["status"], "people": r["people"], "views": r["views"]}
                  for r in records]
    outputs.write_json(out / "report.json", {**asdict(report), "config": config_dict(config),
                                             "frames_detail": frames_doc})
    atomic_write_text(out / "summary.txt", summary_text(report))
    if config.run.video:
        from disguisor.run.video import write_videos

        write_videos(rec, out)
    return report


def summary_text(report: RunReport) -> str:
    """Human-readable summary of a run."""
    lines = [f"disguisor run: {report.recording} -> {report.out}",
             f"frames: {report.frames} ({report.resumed_frames} already done), cameras: {', '.join(report.cameras)}",
             f"people per frame: mean {report.people_per_frame['mean']:.1f}, max {report.people_per_frame['max']}",
             f"faces hidden (face-views): {report.faces_hidden}"
             + (" (" + ", ".join(f"{k} {v}" for k, v in report.faces_by_source.items()) + ")"
                if report.faces_by_source else "")
             + (f"; {report.faces_painted_unlisted} more painted, not listed ("
                + ", ".join(f"{k} {v}" for k, v in report.faces_painted_unlisted_by_reason.items()) + ")"
                if report.faces_painted_unlisted else "")
             + (f"; {report.spheres_unlisted} head spheres blurred around faces not listed"
                if report.spheres_unlisted else "")
             + (f"; {report.turned_feet_unlisted} feet taken for faces blurred, not listed"
                if report.turned_feet_unlisted else "")
             + (f"; {report.unpainted_2d_faces} faces a 2D detector saw uncovered blurred, not listed"
                if report.unpainted_2d_faces else "")]
    if report.faces_skipped:
        lines.append("face-views not painted: "
                     + ", ".join(f"{k}: {v}" for k, v in sorted(report.faces_skipped.items())))
    if report.failed_frames:
        lines.append(f"FAILED frames ({len(report.failed_frames)}), written fully blurred or withheld:")
        lines += [f"  frame {f['frame']}: {f['error']}" for f in report.failed_frames]
    else:
        lines.append("failed frames: none")
    lines += [f"WARNING: {w}" for w in report.warnings]
    lines.append("time per stage (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report.stage_seconds.items()))
    lines.append("median time per frame (s): " + ", ".join(f"{k} {v:.3f}" for k, v in report.per_frame_seconds.items()))
    return "\n".join(lines) + "\n"
