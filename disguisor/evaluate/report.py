"""Report an :class:`~disguisor.evaluate.metrics.EvaluationResult`: a rich table, JSON, PNG bar charts.

JSON (``format: disguisor-eval``, ``version: 1``)::

    {"format": "disguisor-eval", "version": 1, "disguisor_version": "0.1.0",
     "ground_truth": "annotations.json", "predictions": "detections.json",
     "iou_threshold": 0.4, "coverage_threshold": 0.9,
     "ignored": {"gt_annotations": 0, "predictions": 0},       # other categories than face
     "overall": SCORES,
     "per_role": {"workflow": SCORES, ...},
     "per_camera": {"wfc1": SCORES + {"role": "workflow"}, ...},
     "per_scenario": {"knee_1": SCORES, ...},                  # {} when images carry no scenario
     "missed_annotations": [17, 42],                           # ground-truth ids left unmatched
     "holistic_misses": [{"scenario": "knee_1", "frame": 3, "person_id": 2,
                          "cameras": ["sc1", "wfc1"], "missed_cameras": ["sc1"]}]}

    SCORES = {"images", "gt", "predictions", "matched", "recall", "precision", "f1",
              "faces", "faces_found", "holistic_recall", "mean_iou",
              "covered", "coverage_recall", "faces_covered", "holistic_coverage"}

With ``--anonymized`` the object also holds ``"pixels"`` (the pixel check, structure in
:func:`disguisor.evaluate.pixels.pixel_result_to_json`); without ``--pred`` it holds only the
header and ``"pixels"``.

Counts are integers; ratios are floats, or ``null`` where the denominator is zero.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from disguisor import __version__
from disguisor.evaluate.metrics import EvaluationResult, Scores
from disguisor.io.atomic import atomic_write_bytes, atomic_write_text


def scores_to_json(s: Scores) -> dict[str, Any]:
    return {"images": s.images, "gt": s.gt, "predictions": s.predictions, "matched": s.matched,
            "recall": s.recall, "precision": s.precision, "f1": s.f1,
            "faces": s.faces, "faces_found": s.faces_found, "holistic_recall": s.holistic_recall,
            "mean_iou": s.mean_iou, "covered": s.covered, "coverage_recall": s.coverage_recall,
            "faces_covered": s.faces_covered, "holistic_coverage": s.holistic_coverage}


def result_to_json(result: EvaluationResult, ground_truth: str | Path | None = None,
                   predictions: str | Path | None = None) -> dict[str, Any]:
    """All numbers of ``result`` as a JSON-ready dict (structure in the module docstring)."""
    return {
        "format": "disguisor-eval",
        "version": 1,
        "disguisor_version": __version__,
        "ground_truth": None if ground_truth is None else str(ground_truth),
        "predictions": None if predictions is None else str(predictions),
        "iou_threshold": result.iou_threshold,
        "coverage_threshold": result.coverage_threshold,
        "ignored": {"gt_annotations": result.ignored_annotations, "predictions": result.ignored_predictions},
        "min_visible": result.min_visible,
        "dont_care": {"gt_boxes": result.dont_care_boxes, "predictions": result.dont_care_predictions},
        "overall": scores_to_json(result.overall),
        "per_role": {k: scores_to_json(v) for k, v in result.per_role.items()},
        "per_camera": {k: {**scores_to_json(v), "role": result.camera_roles[k]} for k, v in result.per_camera.items()},
        "per_scenario": {k: scores_to_json(v) for k, v in result.per_scenario.items()},
        "missed_annotations": list(result.missed),
        "holistic_misses": [{"scenario": m.scenario, "frame": m.frame, "person_id": m.person_id,
                             "cameras": list(m.cameras), "missed_cameras": list(m.missed_cameras)}
                            for m in result.holistic_misses],
    }


def write_json(result: EvaluationResult | None, path: str | Path, ground_truth: str | Path | None = None,
               predictions: str | Path | None = None, pixels: dict[str, Any] | None = None) -> None:
    """Write :func:`result_to_json` (``result`` None: only the header) and, when given, the pixel
    check's dict under ``"pixels"`` to ``path`` atomically."""
    if result is not None:
        data = result_to_json(result, ground_truth, predictions)
    else:
        data = {"format": "disguisor-eval", "version": 1, "disguisor_version": __version__,
                "ground_truth": None if ground_truth is None else str(ground_truth), "predictions": None}
    if pixels is not None:
        data["pixels"] = pixels
    text = json.dumps(data, indent=2, allow_nan=False)
    atomic_write_text(Path(path), text + "\n")


def _fmt(value: float | None, num: int | None = None, den: int | None = None) -> str:
    text = "-" if value is None else f"{value:.3f}"
    return text if num is None else f"{text} {num}/{den}"


def results_table(result: EvaluationResult, title: str | None = None) -> Table:
    """One table: overall, then per role, per camera and per scenario, each ratio with its counts."""
    table = Table(title=title or f"face localization (IoU >= {result.iou_threshold:g})",
                  box=box.SIMPLE_HEAD, pad_edge=False,
                  caption="recall: matched/GT boxes; precision: matched/predictions; holistic: faces found "
                          "in every view where they have a box/faces (a face = one person at one frame); "
                          f"covered: GT boxes >= {result.coverage_threshold:g} inside predicted boxes (privacy "
                          "view, ignores precision); hol. covered: faces covered in every view")
    for col in ("group", "name", "recall", "precision", "F1", "holistic", "covered", "hol. covered"):
        table.add_column(col, justify="left" if col in ("group", "name") else "right", no_wrap=col != "name")

    def rows(group: str, scores: dict[str, Scores]) -> None:
        for i, (name, s) in enumerate(scores.items()):
            label = f"{name} ({result.camera_roles[name]})" if group == "camera" else name
            table.add_row(group if i == 0 else "", label, _fmt(s.recall, s.matched, s.gt),
                          _fmt(s.precision, s.matched, s.predictions), _fmt(s.f1),
                          _fmt(s.holistic_recall, s.faces_found, s.faces),
                          _fmt(s.coverage_recall, s.covered, s.gt),
                          _fmt(s.holistic_coverage, s.faces_covered, s.faces))

    rows("overall", {"all": result.overall})
    for group, scores in (("role", result.per_role), ("camera", result.per_camera),
                          ("scenario", result.per_scenario)):
        if scores:
            table.add_section()
            rows(group, scores)
    return table


def write_plots(result: EvaluationResult, out_dir: str | Path) -> list[Path]:
    """PNG bar charts of recall and holistic recall per camera, per role and (if any) per scenario.

    Files ``recall_per_camera.png``, ``recall_per_role.png``, ``recall_per_scenario.png`` in
    ``out_dir`` (created), each written atomically; returns their paths.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for group, scores in (("camera", result.per_camera), ("role", result.per_role),
                          ("scenario", result.per_scenario)):
        if not scores:
            continue
        names = list(scores)
        fig = Figure(figsize=(max(4.0, 1.3 * len(names) + 2), 4.0), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        width = 0.38
        series = [("recall", "tab:blue", -width / 2, [(s.recall, s.matched, s.gt) for s in scores.values()]),
                  ("holistic recall", "tab:orange", width / 2,
                   [(s.holistic_recall, s.faces_found, s.faces) for s in scores.values()])]
        for label, colour, offset, values in series:
            xs = [i + offset for i in range(len(names))]
            heights = [0.0 if v is None else v for v, _, _ in values]
            bars = ax.bar(xs, heights, width, label=label, color=colour)
            ax.bar_label(bars, labels=[f"{n}/{d}" for _, n, d in values], fontsize=7, padding=2)
        ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 6 else 0, ha="right"
                      if len(names) > 6 else "center")
        ax.set_ylim(0, 1.25)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_ylabel("recall")
        ax.set_title(f"face recall per {group} (IoU >= {result.iou_threshold:g})")
        ax.legend(loc="upper center", ncol=2, fontsize=8, frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        path = out_dir / f"recall_per_{group}.png"
        atomic_write_bytes(path, buf.getvalue())
        written.append(path)
    return written
