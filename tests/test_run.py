"""`disguisor run` end to end on a small synthetic recording: outputs, recall against the ground
truth, determinism, resume, fail-closed frames, missing depth, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from disguisor.errors import InputError
from disguisor.evaluate import evaluate, load_ground_truth, load_predictions
from disguisor.pose2d.params import KeypointsParams
from disguisor.run.fallbacks import full_blur
from disguisor.run.params import FailClosedParams, RunParams
from disguisor.run.pipeline import run_pipeline
from disguisor.settings import PipelineConfig
from disguisor.synth.or_scene import generate_or_recording
from tests.conftest import disguisor_cli

pytestmark = pytest.mark.slow  # whole pipeline runs / subprocesses: `pytest -m "not slow"` skips them

FRAMES = 3


def with_keypoints(path: Path, **sections) -> PipelineConfig:
    """The default configuration reading 2D keypoints from ``path``."""
    return PipelineConfig(keypoints=KeypointsParams(file=path), **sections)


@pytest.fixture(scope="module")
def synth_rec(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "rec"
    generate_or_recording(out, scenario="easy", frames=FRAMES, size=(640, 360), seed=3)
    return out


@pytest.fixture(scope="module")
def first_run(synth_rec, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("run_out") / "out"
    report = run_pipeline(synth_rec, out, with_keypoints(synth_rec / "keypoints2d.json"))
    return out, report


def cli(*args) -> subprocess.CompletedProcess:
    return disguisor_cli(*args, cwd=None)


def _images(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.glob("*/*.jpg"))}


def test_outputs_complete_and_faces_found(synth_rec, first_run):
    out, report = first_run
    cams = json.loads((synth_rec / "calibration.json").read_text())["cameras"]
    assert len(_images(out)) == FRAMES * len(cams)
    assert not report.failed_frames
    for name in ("detections.json", "images.json", "report.json", "summary.txt", "stages/poses3d.json",
                 "stages/bodies.json", "stages/keypoints2d.json"):
        assert (out / name).is_file(), name
    gt = load_ground_truth(synth_rec / "annotations.json")
    result = evaluate(gt, load_predictions(out / "detections.json", gt), iou_threshold=0.4)
    overall = result.overall
    # every visible face of the easy scenario is covered by a rendered face (IoU >= 0.4)
    assert overall.recall >= 0.9, overall
    assert overall.holistic_recall >= 0.8, overall
    # each detection names its person and image; ids match the ground truth's images
    dets = json.loads((out / "detections.json").read_text())
    images = {im["id"]: im for im in json.loads((out / "images.json").read_text())["images"]}
    assert dets and all(d["image_id"] in images and d["category_id"] == 1 for d in dets)
    assert all(images[d["image_id"]]["camera"] == d["camera"] for d in dets)
    # the report counts the hidden face-views by what found them, as detections.json lists them
    by_source: dict[str, int] = {}
    for d in dets:
        by_source[d["source"]] = by_source.get(d["source"], 0) + 1
    assert report.faces_by_source == by_source and sum(by_source.values()) == report.faces_hidden
    assert json.loads((out / "report.json").read_text())["faces_by_source"] == by_source
    assert f"3d {by_source['3d']}" in (out / "summary.txt").read_text()
    # slivers (run.report_min_face_px) and faces seen from behind (run.report_away_*) are painted but
    # not listed; the report counts them
    assert all(d["bbox"][2] * d["bbox"][3] >= RunParams().report_min_face_px for d in dets if d["source"] == "3d")
    detail = json.loads((out / "report.json").read_text())["frames_detail"]
    assert report.faces_painted_unlisted == sum(len(v.get("painted_unlisted", [])) for f in detail
                                                for v in f["views"].values())
    reasons = [u["reason"] for f in detail for v in f["views"].values() for u in v.get("painted_unlisted", [])]
    assert report.faces_painted_unlisted_by_reason == {r: reasons.count(r) for r in sorted(set(reasons))}
    if reasons:
        assert f"{reasons[0]} {reasons.count(reasons[0])}" in (out / "summary.txt").read_text()
    assert report.spheres_unlisted == sum(len(v.get("spheres_unlisted", [])) for f in detail
                                          for v in f["views"].values())
    assert report.turned_feet_unlisted == sum(v.get("turned_2d_feet", 0) for f in detail for v in f["views"].values())
    # a head sphere is listed with a face-sized box inside the painted sphere
    for d in dets:
        if d["source"] == "head-sphere":
            (x, y, w, h), (px, py, pw, ph) = d["bbox"], d["painted_bbox"]
            assert w * h < pw * ph and px <= x + w / 2 <= px + pw and py <= y + h / 2 <= py + ph


def test_faces_are_changed_in_the_images(synth_rec, first_run):
    out, _ = first_run
    gt = json.loads((synth_rec / "annotations.json").read_text())
    images = {im["id"]: im for im in gt["images"]}
    changed = []
    for ann in gt["annotations"]:
        if ann["bbox"][2] * ann["bbox"][3] < 100:
            continue
        im = images[ann["image_id"]]
        x, y, w, h = (int(round(v)) for v in ann["bbox"])
        before = cv2.imread(str(synth_rec / im["file_name"]))[y:y + h, x:x + w].astype(float)
        after = cv2.imread(str(out / im["camera"] / Path(im["file_name"]).name))[y:y + h, x:x + w].astype(float)
        changed.append(np.abs(before - after).mean())
    assert changed and np.median(changed) > 10.0, changed


def test_same_inputs_same_outputs(synth_rec, first_run, tmp_path):
    out, _ = first_run
    again = tmp_path / "again"
    run_pipeline(synth_rec, again, with_keypoints(synth_rec / "keypoints2d.json"))
    assert _images(again) == _images(out)
    assert (again / "detections.json").read_bytes() == (out / "detections.json").read_bytes()


def test_resume_redoes_only_unfinished_frames(synth_rec, first_run, tmp_path):
    out0, _ = first_run
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    before = _images(out)
    # an interruption after frame 0: the records of frames 1-2 and one of their images are gone
    for f in range(1, FRAMES):
        (out / "stages" / "frames" / f"{f:06d}.json").unlink()
    next(iter(sorted(out.glob("*/000002.jpg")))).unlink()
    report = run_pipeline(synth_rec, out, with_keypoints(synth_rec / "keypoints2d.json"))
    assert report.resumed_frames == 1
    assert report.stage_seconds["fit"] == 0.0 and report.stage_seconds["pose3d"] == 0.0
    assert _images(out) == before
    # a different method reruns only the render stage
    report = run_pipeline(synth_rec, out, with_keypoints(synth_rec / "keypoints2d.json",
                                                         run=RunParams(method="blacken")))
    assert report.resumed_frames == 0 and report.stage_seconds["fit"] == 0.0
    assert _images(out) != before


def test_failed_frame_is_blurred_not_leaked(synth_rec, tmp_path):
    rec = tmp_path / "rec"
    shutil.copytree(synth_rec, rec)
    broken = rec / "wfc1" / "color" / "000001.jpg"
    broken.write_bytes(b"not a jpeg")
    result = cli("--quiet", "run", rec, "-o", tmp_path / "out", "--keypoints", rec / "keypoints2d.json")
    assert result.returncode == 3, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["frame"] for f in report["failed_frames"]] == [1]
    out = tmp_path / "out"
    assert not (out / "wfc1" / "000001.jpg").exists()          # undecodable: withheld
    for cam in ("wfc2", "sc1", "sc2"):
        original = cv2.imread(str(rec / cam / "color" / "000001.jpg"))
        written = cv2.imread(str(out / cam / "000001.jpg"))
        expected = full_blur(original, FailClosedParams().full_blur_width_px)
        assert np.abs(written.astype(float) - expected).mean() < 3.0   # JPEG noise only
        # nothing of the original's detail survives: high frequencies are gone
        assert cv2.Laplacian(written, cv2.CV_64F).var() < 0.05 * cv2.Laplacian(original, cv2.CV_64F).var()
    assert (out / "wfc1" / "000000.jpg").exists() and (out / "wfc1" / "000002.jpg").exists()


def test_face_without_depth_is_still_anonymized(synth_rec, first_run, tmp_path):
    rec = tmp_path / "rec"
    shutil.copytree(synth_rec, rec)
    # one camera loses all depth readings (e.g. out of the depth field of view)
    for p in (rec / "wfc1" / "depth").glob("*.png"):
        depth = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(p), np.zeros_like(depth))
    out = tmp_path / "out"
    run_pipeline(rec, out, with_keypoints(rec / "keypoints2d.json"))
    gt = load_ground_truth(rec / "annotations.json")
    result = evaluate(gt, load_predictions(out / "detections.json", gt), iou_threshold=0.4)
    assert result.per_camera["wfc1"].recall >= 0.9, result.per_camera["wfc1"]


def test_bad_input_is_refused_without_output(synth_rec, tmp_path):
    with pytest.raises(InputError, match="keypoints"):
        run_pipeline(synth_rec, tmp_path / "out", with_keypoints(tmp_path / "missing.json"))
    result = cli("run", synth_rec, "-o", synth_rec / "out", "--keypoints", synth_rec / "keypoints2d.json")
    assert result.returncode == 2 and "inside the recording" in result.stderr, result.stderr
    assert not (synth_rec / "out").exists()


def test_refine_stage_alone_matches_the_run(synth_rec, first_run, tmp_path):
    """`disguisor refine` on the run's bodies.json and poses3d.json gives the faces the run rendered."""
    from disguisor.refine.faces_io import load_faces

    out, _ = first_run
    stages = out / "stages"
    res = cli("refine", synth_rec, "--bodies", stages / "bodies.json", "--poses", stages / "poses3d.json",
              "-o", tmp_path / "faces.json")
    assert res.returncode == 0, res.stderr
    faces = load_faces(tmp_path / "faces.json")
    for frame in range(FRAMES):
        record = json.loads((out / "stages" / "frames" / f"{frame:06d}.json").read_text())
        from_run = {p["person_id"]: p["face_centre_m"] for p in record["people"] if "face_centre_m" in p}
        alone = {face.person_id: face.centre for face, _ in faces[frame]}
        assert set(alone) == set(from_run) and len(alone) >= 3
        for pid, centre in alone.items():
            assert np.linalg.norm(np.asarray(from_run[pid]) - centre) < 1e-3


def test_frame_records_hold_the_final_head_joints(synth_rec, first_run):
    """Each fitted person's record has the head's five COCO joints after refinement, close to the
    generator's joints of the person whose face it is (the same body model's keypoints)."""
    out, _ = first_run
    gt = {f["frame"]: f["people"] for f in json.loads((synth_rec / "gt_poses3d.json").read_text())["frames"]}
    errors = []
    for frame in range(FRAMES):
        record = json.loads((out / "stages" / "frames" / f"{frame:06d}.json").read_text())
        for p in (p for p in record["people"] if "face_centre_m" in p):
            head = np.asarray(p["head_joints_m"])
            assert head.shape == (5, 3)
            # the nose lies in front of the face centre, not far from it
            assert np.linalg.norm(head[0] - np.asarray(p["face_centre_m"])) < 0.08
            truth = min((np.asarray(q["joints"])[:5] for q in gt[frame]),
                        key=lambda j: np.linalg.norm(j[0] - head[0]))
            errors.append(np.linalg.norm(head - truth, axis=1).mean())
    assert len(errors) >= 3 * FRAMES
    assert np.median(errors) < 0.04, np.round(errors, 3)

def test_run_on_an_imported_kinect_recording(kinect_sample, tmp_path):
    """A user recording from the Azure Kinect importer: one camera, the default 2D detector; the
    run switches the 2D face detector on (no 3D people from one view) and says so."""
    from disguisor.io.kinect import import_kinect

    rec = tmp_path / "kinect"
    import_kinect([kinect_sample], rec)
    # the default detector: no person in the sample, nothing hidden but what the face detector finds
    res = cli("run", rec, "-o", tmp_path / "default")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "default" / "report.json").read_text())
    assert any("only one camera" in w for w in report["warnings"])
    assert {d["source"] for d in json.loads((tmp_path / "default" / "detections.json").read_text())} <= {
        "2d:centerface", "2d-head"}
    # BlazePose, which takes a drawing for a person
    res = cli("run", rec, "-o", tmp_path / "out", "--detector", "blazepose")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert any("only one camera" in w for w in report["warnings"])
    images = sorted((tmp_path / "out").glob("*/*.jpg"))
    assert len(images) == len(sorted(rec.glob("*/color/*")))
    original = cv2.imread(str(sorted(rec.glob("*/color/*"))[0]))
    written = cv2.imread(str(images[0]))
    # the sample shows a room without people, but BlazePose takes the cartoon girl on the mug
    # for a person: one camera sees her, no 3D person explains her, so her head is blurred
    # (privacy first: from one view a drawing and a person look alike); nothing else is hidden
    dets = json.loads((tmp_path / "out" / "detections.json").read_text())
    kp = json.loads((tmp_path / "out" / "stages" / "keypoints2d.json").read_text())["annotations"]
    with_head = [a for a in kp if sum(v >= 0.3 for v in a["keypoints"][2:15:3]) >= 2]
    assert {d["source"] for d in dets} <= {"2d-head"} and len(dets) == len(with_head) >= 1
    for d in dets:
        x, y, w, h = d["bbox"]
        assert any(np.hypot(a["keypoints"][0] - (x + w / 2), a["keypoints"][1] - (y + h / 2)) < max(w, h)
                   for a in kp)
    outside = np.ones(written.shape[:2], bool)
    for d in dets:
        x, y, w, h = (int(round(v)) for v in d["bbox"])
        outside[max(y - 40, 0):y + h + 40, max(x - 40, 0):x + w + 40] = False  # the blur kernel's reach
    assert np.abs(written.astype(float) - original)[outside].mean() < 3.0


def test_render_settings_from_the_command_line(synth_rec, first_run, tmp_path):
    # a wider dilation, resumed onto the first run's stages: only the render reruns, more is painted
    out0, report0 = first_run
    out = tmp_path / "wide"
    shutil.copytree(out0, out)
    result = cli("run", synth_rec, "-o", out, "--keypoints", synth_rec / "keypoints2d.json",
                 "--set", "render.dilate_m=0.12", "--set", "render.dilate_px=6")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["stage_seconds"]["fit"] == 0.0 and report["resumed_frames"] == 0
    assert report["config"]["render"]["dilate_px"] == 6
    painted = {}
    for name, folder in (("default", out0), ("wide", out)):
        dets = json.loads((folder / "detections.json").read_text())
        painted[name] = sum(d["painted_bbox"][2] * d["painted_bbox"][3] for d in dets if "painted_bbox" in d)
    assert painted["wide"] > 1.2 * painted["default"]
    bad = cli("run", synth_rec, "-o", tmp_path / "x", "--keypoints", synth_rec / "keypoints2d.json",
              "--set", "render.dilate=3")
    assert bad.returncode == 2 and "render.dilate" in bad.stderr and not (tmp_path / "x").exists()


def test_person_seen_by_one_camera_only_has_the_head_blurred(synth_rec, tmp_path):
    """A 2D detection that no 3D person explains (a person only one camera sees) gets its head
    blurred in that view; detections of people found in 3D never do."""
    kp = json.loads((synth_rec / "keypoints2d.json").read_text())
    image = kp["images"][0]
    # a person in the top-left corner of the first image, where nobody is in 3D
    head = {0: (60.0, 40.0), 1: (66.0, 34.0), 2: (54.0, 34.0), 3: (74.0, 38.0), 4: (46.0, 38.0)}
    joints = [0.0] * 51
    for j, (x, y) in head.items():
        joints[3 * j:3 * j + 3] = [x, y, 0.9]
    joints[15:21] = [84.0, 80.0, 0.8, 36.0, 80.0, 0.8]  # shoulders
    kp["annotations"].append({"id": 10_000, "image_id": image["id"], "category_id": 1, "keypoints": joints,
                              "num_keypoints": 7, "score": 0.9, "person_id": -2})
    kp_file = tmp_path / "keypoints2d.json"
    kp_file.write_text(json.dumps(kp))
    out = tmp_path / "out"
    run_pipeline(synth_rec, out, with_keypoints(kp_file))
    dets = json.loads((out / "detections.json").read_text())
    extra = [d for d in dets if d["source"] == "2d-head"]
    ours = [d for d in extra if d["camera"] == image["camera"] and d["frame"] == image["frame"]
            and abs(d["bbox"][0] + d["bbox"][2] / 2 - 60) < 3 and abs(d["bbox"][1] + d["bbox"][3] / 2 - 36) < 6]
    assert len(ours) == 1 and ours[0]["bbox"][2] >= 2 * 28 - 2  # radius: the ears' spread (28 px)
    # the other unexplained heads are the simulated false detections (person_id -1), never a real person
    false_views = {(im["camera"], im["frame"]) for im in kp["images"]
                   for a in kp["annotations"] if a["image_id"] == im["id"] and a.get("person_id") == -1}
    assert all((d["camera"], d["frame"]) in false_views for d in extra if d not in ours)
    # the head region is blurred in the written image, the rest of the corner untouched
    original = cv2.imread(str(synth_rec / image["file_name"]))
    written = cv2.imread(str(out / image["camera"] / Path(image["file_name"]).name))
    diff = np.abs(original.astype(int) - written.astype(int)).sum(axis=2)
    assert diff[30:44, 52:68].mean() > diff[150:200, 150:200].mean()


def test_from_stage_and_changed_settings_rerun_what_follows(synth_rec, first_run, tmp_path):
    """--from STAGE rewrites that stage and every frame; a changed setting reruns its stage and what
    follows (by the files' contents and times), and nothing before it."""
    import os
    import time

    out0, _ = first_run
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    kp = synth_rec / "keypoints2d.json"
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    time.sleep(0.05)
    report = run_pipeline(synth_rec, out, with_keypoints(kp), from_stage="render")
    assert report.resumed_frames == 0 and report.stage_seconds["pose3d"] == 0.0
    images = sorted(out.glob("*/*.jpg"))
    assert all(p.stat().st_mtime_ns > stamp[p] for p in images)            # every frame rewritten
    assert _images(out) == _images(out0)                                     # with the same result
    assert (out / "stages" / "poses3d.json").stat().st_mtime_ns == stamp[out / "stages" / "poses3d.json"]
    # a tracking setting: pose3d, fit and every frame rerun, keypoints not
    cfg = with_keypoints(kp)
    cfg = replace(cfg, tracking=replace(cfg.tracking, max_smoothing_shift_m=0.01))
    report = run_pipeline(synth_rec, out, cfg)
    assert report.stage_seconds["keypoints"] == 0.0
    assert report.stage_seconds["pose3d"] > 0 and report.stage_seconds["fit"] > 0 and report.resumed_frames == 0
    assert (out / "stages" / "poses3d.json").read_bytes() != (out0 / "stages" / "poses3d.json").read_bytes()
    # unchanged settings again: everything is up to date
    report = run_pipeline(synth_rec, out, cfg)
    assert report.resumed_frames == FRAMES and sum(report.stage_seconds[s] for s in ("keypoints", "pose3d",
                                                                                     "fit")) == 0.0
    assert os.path.getsize(out / "report.json") > 0


def test_turned_faces_fall_back_to_blazeface_without_scrfd_weights(synth_rec, monkeypatch, tmp_path, caplog):
    """SCRFD's weights are installed, not shipped: where the file is missing the faces turned below
    a ceiling camera are still looked for, by BlazeFace, with a warning in the log and the report
    (never a failed frame)."""
    import disguisor.facedet.scrfd as scrfd
    from disguisor.geometry import looking_down_deg
    from disguisor.io.recording import open_recording
    from disguisor.run.frames import FrameWorker
    from disguisor.run.pipeline import _model_warnings

    assert _model_warnings(PipelineConfig()) == [] or not scrfd.MODEL_FILE.is_file()
    monkeypatch.setattr(scrfd, "MODEL_FILE", tmp_path / "missing" / "scrfd.onnx")
    (warning,) = _model_warnings(PipelineConfig())
    assert "scrfd.onnx is missing" in warning and "make install" in warning
    off = PipelineConfig(run=replace(RunParams(), turned_faces=None))
    assert _model_warnings(off) == []
    worker = object.__new__(FrameWorker)         # only the turned-face search: no stages needed
    worker.params, worker._turned = RunParams(), None
    rec = open_recording(synth_rec)
    cam = max(rec.cameras, key=looking_down_deg)
    assert RunParams().turned_faces == "scrfd" and looking_down_deg(cam) >= RunParams().turned_faces_min_down_deg
    rgb = np.ascontiguousarray(rec.read_color(cam, 0)[..., ::-1])
    with caplog.at_level("DEBUG"):
        boxes = worker.turned_faces(cam, rgb, rec.read_depth(cam, 0))
    assert boxes.shape[1] == 5
    assert worker._turned.base.name == "blazeface" and "BlazeFace looks for turned faces" in caplog.text
    worker._turned.close()


@contextmanager
def first_frame_faces(synth_rec, first_run):
    """The run's worker on frame 0 of the synthetic recording (simulated keypoints): (run, worker,
    frame, cameras, depths by camera, faces, fallback spheres); the worker is closed afterwards."""
    from disguisor.run.frames import FrameOutcome
    from disguisor.run.pipeline import prepare_run

    out, _ = first_run
    run = prepare_run(synth_rec, out, with_keypoints(synth_rec / "keypoints2d.json"))
    worker = run.worker()
    try:
        frame = 0
        cams = run.rec.cameras_at(frame)
        depths = {c.name: run.rec.read_depth(c, frame) for c in cams}
        faces, fallback = worker.faces(frame, {c.name: (c, depths[c.name]) for c in cams}, FrameOutcome(frame, "ok"))
        yield run, worker, frame, cams, depths, faces, fallback
    finally:
        worker.close()


def test_a_face_the_depth_disputes_is_painted_but_not_listed(synth_rec, first_run):
    """A face whose placement the depth disputes (FaceSurface.disputed) is painted exactly as
    before, but listed in detections.json only with run.report_disputed_faces."""
    from dataclasses import replace

    with first_frame_faces(synth_rec, first_run) as (run, worker, frame, cams, depths, faces, fallback):
        # the picture's vote (report_disputed_seen_score) is tested in test_fallbacks.py
        worker.params = replace(worker.params, report_disputed_seen_score=None)
        tried = 0
        for cam in cams:
            original = run.rec.read_color(cam, frame)
            image, info, dets = worker.render_view(cam, original, depths[cam.name], faces, fallback, frame,
                                                   turned=np.zeros((0, 5)))
            listed = {d["person_id"] for d in dets if d["source"] == "3d"}
            if not listed:
                continue
            pid = sorted(listed)[0]
            tried += 1
            marked = [replace(f, disputed=True) if f.person_id == pid else f for f in faces]
            image2, info2, dets2 = worker.render_view(cam, original, depths[cam.name], marked, fallback, frame,
                                                      turned=np.zeros((0, 5)))
            assert np.array_equal(image2, image) and pid in info2["faces"]
            entry = [u for u in info2["painted_unlisted"] if u["person_id"] == pid]
            assert len(entry) == 1 and entry[0]["reason"] == "disputed"
            assert entry[0]["bbox"] == [round(v, 1) for v in next(d["bbox"] for d in dets if d["person_id"] == pid)]
            assert {d["person_id"] for d in dets2 if d["source"] == "3d"} == listed - {pid}
            worker.params = replace(worker.params, report_disputed_faces=True)
            _, _, dets3 = worker.render_view(cam, original, depths[cam.name], marked, fallback, frame,
                                             turned=np.zeros((0, 5)))
            worker.params = replace(worker.params, report_disputed_faces=False)
            assert dets3 == dets
        assert tried > 0, "no view listed a face"


def test_a_depth_head_over_a_drawn_face_leaves_the_face_as_drawn(synth_rec, first_run):
    """The detector-free floor's blur (a depth head) skips the pixels a face template was drawn
    on: a blur that wide would average the template back towards the face it replaced."""
    from disguisor.pose2d.floor import HeadRegion

    with first_frame_faces(synth_rec, first_run) as (run, worker, frame, cams, depths, faces, fallback):
        tried = blurred_beside = 0
        for cam in cams:
            original = run.rec.read_color(cam, frame)
            plain, info, _ = worker.render_view(cam, original, depths[cam.name], faces, fallback, frame,
                                                turned=np.zeros((0, 5)))
            drawn = np.any(plain != original, axis=2)  # every pixel painted before the floor's heads
            for face in faces:
                if int(face.person_id) not in info["faces"]:
                    continue
                # wider than the face and its margin: it reaches the hair, the cap and the room behind
                head = HeadRegion(center=np.asarray(face.centre, float), radius=0.3, top_z=float(face.centre[2]) + 0.3,
                                  points=100, frame=frame)
                with_head, info2, dets = worker.render_view(cam, original, depths[cam.name], faces, fallback, frame,
                                                            [head], turned=np.zeros((0, 5)))
                if info2.get("depth_heads", 0) == 0:
                    continue
                tried += 1
                assert any(d["source"] == "depth-head" for d in dets)
                assert np.array_equal(with_head[drawn], plain[drawn])
                blurred_beside += int(np.any(with_head[~drawn] != plain[~drawn]))
        assert tried > 0, "no view drew a face to test against"
        assert blurred_beside > 0  # the depth heads did blur the pixels around the faces
