"""Commands that measure or compare: eval, baseline, quality; and anonymize-images (2D only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from disguisor.cli.base import _progress, _say, app, console
from disguisor.errors import InputError


@app.command("eval")
def eval_cmd(
    gt: Annotated[Path, typer.Option("--gt", help="Ground-truth faces, COCO style with camera and frame per image "
                                                  "and person_id per box.")],
    pred: Annotated[Optional[Path], typer.Option("--pred", help="Detections, COCO results format (a list, or an "
                                                "object with 'annotations'). Optional with --anonymized.")] = None,
    iou: Annotated[float, typer.Option("--iou", help="Minimum IoU of a matched pair (0-1].")] = 0.4,
    coverage: Annotated[float, typer.Option("--coverage", help="Share of a ground-truth box that predicted boxes "
                                            "must cover for the 'covered' columns (0-1].")] = 0.9,
    min_visible: Annotated[Optional[float], typer.Option("--min-visible", help="Box metrics: ground-truth boxes "
                           "with a visible_fraction below this (0-1) are don't-care (neither required nor counted "
                           "against the predictions on them); default: every box counts.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write every number to this JSON file.")]
    = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write PNG bar charts of recall and holistic "
                                                                "recall into this folder.")] = None,
    calibration: Annotated[Optional[Path], typer.Option("--calibration", help="calibration.json giving the "
                                                        "camera roles for images without a 'role'.")] = None,
    original: Annotated[Optional[Path], typer.Option("--original", help="The original recording (with "
                                                     "--anonymized).")] = None,
    anonymized: Annotated[Optional[Path], typer.Option("--anonymized", help="Anonymized output folder "
                          "(<camera>/<frame>.jpg): also report the share of ground-truth face boxes whose pixels "
                          "changed (> 6 grey levels on >= 50% of the box), per view and holistically.")] = None,
) -> None:
    """Face-localization evaluation: recall, precision, F1 and holistic recall (Hungarian matching);
    with --original/--anonymized, the faces actually hidden in the pixels."""
    from disguisor.evaluate import evaluate, load_camera_roles, load_ground_truth, load_predictions
    from disguisor.evaluate.report import results_table, write_json, write_plots

    if not 0.0 < iou <= 1.0:
        raise InputError(None, f"must be in (0, 1], not {iou:g}", field="--iou")
    if json_out is not None and json_out.is_dir():
        raise InputError(json_out, "is a folder; give a file name", field="--json")
    if plot is not None and plot.exists() and not plot.is_dir():
        raise InputError(plot, "exists and is not a folder", field="--plot")
    if pred is None and anonymized is None:
        raise InputError(None, "give --pred (box metrics) and/or --original with --anonymized (pixel check)",
                         field="--pred")
    if (original is None) != (anonymized is None):
        raise InputError(None, "--original and --anonymized go together",
                         field="--original" if original is None else "--anonymized")
    if plot is not None and pred is None:
        raise InputError(None, "the plots show box metrics and need --pred", field="--plot")
    truth = load_ground_truth(gt)
    roles = load_camera_roles(calibration, truth) if calibration is not None else None
    if not 0.0 < coverage <= 1.0:
        raise InputError(None, f"must be in (0, 1], not {coverage:g}", field="--coverage")
    if min_visible is not None and not 0.0 <= min_visible <= 1.0:
        raise InputError(None, f"must be in [0, 1], not {min_visible:g}", field="--min-visible")
    result = None
    if pred is not None:
        result = evaluate(truth, load_predictions(pred, truth), iou_threshold=iou, camera_roles=roles,
                          coverage_threshold=coverage, min_visible=min_visible)
        console.print(results_table(result))
        if min_visible is not None:
            _say(f"don't care (visible fraction < {min_visible:g}): {result.dont_care_boxes} ground-truth box(es), "
                 f"{result.dont_care_predictions} prediction(s) on them")
        if result.ignored_annotations or result.ignored_predictions:
            _say(f"ignored (category other than face): {result.ignored_annotations} ground-truth box(es), "
                 f"{result.ignored_predictions} prediction(s)")
    pixels = None
    if original is not None and anonymized is not None:
        from disguisor.evaluate.pixels import measure_pixel_privacy, pixel_result_to_json, pixel_table

        with _progress("pixel check", len({f.image_id for f in truth.faces})) as update:
            checked = measure_pixel_privacy(truth, original, anonymized, progress=update)
        console.print(pixel_table(checked))
        pixels = pixel_result_to_json(checked, original, anonymized)
    if json_out is not None:
        write_json(result, json_out, ground_truth=gt, predictions=pred, pixels=pixels)
        _say(f"wrote {json_out}")
    if plot is not None and result is not None:
        for path in write_plots(result, plot):
            _say(f"wrote {path}")


@app.command("baseline")
def baseline_cmd(
    recording: Annotated[Path, typer.Argument(help="Recording folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (written as a whole at the end).")],
    detector: Annotated[str, typer.Option(help="Face detector: centerface, blazeface, dlib, dlib-cnn, dsfd.")]
    = "centerface",
    method: Annotated[str, typer.Option(help="How faces are hidden: blur, pixelate, blacken.")] = "blur",
    weights: Annotated[Optional[Path], typer.Option(help="Model file for --detector dsfd "
                                                         "(WIDERFace_DSFD_RES152.pth).")] = None,
    score_threshold: Annotated[Optional[float], typer.Option(help="Minimum detector score 0-1 (default: the "
                                                                  "detector's own).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")] = False,
) -> None:
    """Per-image 2D face detection and classical obfuscation (the baselines): images + detections.json."""
    from disguisor.baselines.command import run_baseline

    report = run_baseline(recording, out, detector, method, weights=weights, score_threshold=score_threshold,
                          overwrite=overwrite, progress=_progress)
    _say(f"wrote {out}: {report.images} image(s), {report.faces} face(s) hidden by {report.detector} + "
         f"{report.method}, {1000 * report.seconds_per_image:.0f} ms/image detection")


@app.command("anonymize-images")
def anonymize_images_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Images, videos (PyAV) and folders of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (written as a whole at the end).")],
    method: Annotated[str, typer.Option(help="template (posed on the detector's landmarks; faces without "
                                              "reliable landmarks are blurred), blur, pixelate, blacken.")]
    = "template",
    template: Annotated[str, typer.Option(help="Template name for every face, or auto (nearest skin tone).")]
    = "auto",
    detector: Annotated[str, typer.Option(help="Face detector (templates need landmarks: scrfd).")] = "scrfd",
    score_threshold: Annotated[Optional[float], typer.Option(help="Minimum detector score 0-1.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the per-face template variation: the same seed gives "
                                           "the same faces (it is written to anonymize.json).")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")] = False,
) -> None:
    """Anonymize faces in plain images and videos (no calibration): templates or blur + detections.json."""
    from disguisor.images.anonymize import ImagesParams, anonymize_paths

    params = ImagesParams(detector=detector, score_threshold=score_threshold, method=method, template=template,
                          seed=seed)
    report = anonymize_paths(paths, out, params, overwrite=overwrite, progress=_progress)
    how = ", ".join(f"{n} by {k}" for k, n in sorted(report.hidden_by.items())) or "none"
    _say(f"wrote {out}: {report.images} image(s), {report.videos} video(s), {report.faces} face(s) hidden ({how})")


@app.command("quality")
def quality_cmd(
    original: Annotated[Path, typer.Option("--original", help="The original recording folder.")],
    anonymized: Annotated[Path, typer.Option("--anonymized", help="Output folder of run or baseline "
                                                                  "(<camera>/<frame>.jpg).")],
    gt: Annotated[Path, typer.Option("--gt", help="Ground-truth face boxes (annotations.json).")],
    weights_dir: Annotated[Optional[Path], typer.Option("--weights-dir", help="Folder with backbone weights "
                                                        "(alexnet*.pth or vgg16*.pth, torchvision layout) and "
                                                        "LPIPS alex.pth/vgg.pth: adds LPIPS and DPS; "
                                                        "pt_inception-2015-12-05-*.pth (pytorch-fid): the "
                                                        "standard FID.")] = None,
    backbone: Annotated[Optional[str], typer.Option(help="alex or vgg (default: whichever is in --weights-dir).")]
    = None,
    identity: Annotated[bool, typer.Option("--identity/--no-identity", help="Measure identity leakage (dlib).")]
    = True,
    identity_at_box: Annotated[bool, typer.Option("--identity-at-box", help="Diagnostic: embed originals dlib cannot "
                                                  "find at their ground-truth box (context-dominated).")] = False,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write every number to this JSON file.")]
    = None,
) -> None:
    """Image quality (SSIM, LPIPS, DPS, FID) and identity leakage of anonymized ground-truth faces."""
    from disguisor.quality.command import measure_quality, report_rows, write_report
    from disguisor.quality.params import QualityParams

    if backbone not in (None, "alex", "vgg"):
        raise InputError(None, f"must be alex or vgg, not {backbone!r}", field="--backbone")
    if json_out is not None and json_out.is_dir():
        raise InputError(json_out, "is a folder; give a file name", field="--json")
    with _progress("faces", None) as update:
        report = measure_quality(original, anonymized, gt, weights_dir=weights_dir, backbone=backbone,
                                 identity=identity, params=QualityParams(identity_at_box=identity_at_box),
                                 progress=update)
    table = Table(title=f"quality of {anonymized}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report_rows(report):
        table.add_row(name, value)
    console.print(table)
    if json_out is not None:
        write_report(report, json_out, original=original, anonymized=anonymized, gt=gt, weights_dir=weights_dir)
        _say(f"wrote {json_out}")
