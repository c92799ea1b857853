"""The pixel check of ``disguisor eval --original REC --anonymized OUT``: ground-truth face boxes
whose pixels were actually changed, per view and holistically, without trusting reported boxes."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from disguisor.cli import app
from disguisor.errors import InputError
from disguisor.evaluate import load_ground_truth
from disguisor.evaluate.pixels import PixelParams, box_pixels, changed_shares, measure_pixel_privacy
from disguisor.synth.or_scene import generate_or_recording
from tests.conftest import disguisor_cli

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The real command line (errors are turned into one line by the entry point, not by typer)."""
    return disguisor_cli(*args, timeout=300)


# --- the pure function --------------------------------------------------------------------------------

def test_change_threshold_is_strictly_more_than_six_levels():
    before = np.full((20, 40), 100, np.uint8)
    after = before.copy()
    after[:, :20] += 6   # left half: exactly 6 levels, not a change
    after[:, 20:] += 7   # right half: 7 levels, a change
    shares = changed_shares(before, after, np.array([[0, 0, 20, 20], [20, 0, 20, 20], [10, 0, 20, 20]]))
    assert shares.tolist() == [0.0, 1.0, 0.5]


def test_box_pixels_cover_every_touched_pixel_and_clip():
    assert box_pixels((2.5, 3.2, 4.0, 1.0), 100, 100) == (2, 3, 7, 5)
    assert box_pixels((-3.0, 95.0, 10.0, 10.0), 100, 100) == (0, 95, 7, 100)
    before = np.zeros((10, 10, 3), np.uint8)
    after = before.copy()
    after[3:5, 2:7] = 200  # exactly the pixels box (2.5, 3.2, 4, 1) touches
    assert changed_shares(before, after, np.array([[2.5, 3.2, 4.0, 1.0]]))[0] == 1.0
    assert changed_shares(before, after, np.array([[2.0, 3.0, 5.0, 4.0]]))[0] == pytest.approx(10 / 20)


def test_colour_changes_count_through_grey():
    before = np.zeros((4, 4, 3), np.uint8)
    after = before.copy()
    after[..., 2] = 30   # red +30: grey +9 (0.299 * 30)
    assert changed_shares(before, after, np.array([[0, 0, 4, 4]]))[0] == 1.0
    after[..., 2] = 20   # grey +6: not a change
    assert changed_shares(before, after, np.array([[0, 0, 4, 4]]))[0] == 0.0


# --- a synthetic recording -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pix") / "rec"
    generate_or_recording(out, scenario="easy", frames=3, size=(320, 180), seed=2)
    return out


def _copy_outputs(rec: Path, out: Path, ext: str = ".jpg", quality: int = 95) -> None:
    """Every original colour image re-encoded into the output layout OUT/<camera>/<frame><ext>."""
    for color in sorted(rec.glob("*/color/*")):
        target = out / color.parent.parent.name / (color.stem + ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), cv2.imread(str(color)), [cv2.IMWRITE_JPEG_QUALITY, quality])


def _boxes(rec: Path) -> list[dict]:
    data = json.loads((rec / "annotations.json").read_text())
    images = {im["id"]: im for im in data["images"]}
    return [{**a, "camera": images[a["image_id"]]["camera"], "frame": images[a["image_id"]]["frame"]}
            for a in data["annotations"] if a["category_id"] == 1]


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[0] + b[2] + 1 and b[0] < a[0] + a[2] + 1 and a[1] < b[1] + b[3] + 1 and b[1] < a[1] + a[3] + 1


def _pairs(hide: list[dict], keep: list[dict]):
    """(hidden, kept) boxes of the same image."""
    return [(h, k) for h in hide for k in keep if (h["camera"], h["frame"]) == (k["camera"], k["frame"])]


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_reencoded_originals_are_not_hidden(rec, tmp_path, ext):
    _copy_outputs(rec, tmp_path / "out", ext)
    result = measure_pixel_privacy(load_ground_truth(rec / "annotations.json"), rec, tmp_path / "out")
    assert result.overall["all"].boxes == len(_boxes(rec)) > 20
    assert result.overall["all"].hidden == 0 and result.overall["all"].faces_hidden == 0
    assert max(o.share for o in result.boxes) < 0.1


def test_exact_shares_with_some_boxes_blackened(rec, tmp_path):
    boxes = _boxes(rec)
    cams = sorted({b["camera"] for b in boxes})
    per_person = defaultdict(int)
    for b in boxes:
        per_person[b["person_id"]] += 1

    def split(person, camera) -> tuple[list, list]:
        hide = [b for b in boxes if b["person_id"] == person or b["camera"] == camera]
        return hide, [b for b in boxes if b not in hide]

    # one person hidden in every view, and every face box of one camera; the expectation below is
    # exact only if no hidden box reaches into a kept one, so pick a pair where none does
    choices = [(p, c) for p in sorted(per_person, key=per_person.get, reverse=True) for c in cams
               if not any(_overlap(h["bbox"], k["bbox"]) for h, k in _pairs(*split(p, c)))]
    assert choices
    person, camera = choices[0]
    hide, keep = split(person, camera)
    out = tmp_path / "out"
    _copy_outputs(rec, out)
    for b in hide:
        path = out / b["camera"] / f"{b['frame']:06d}.jpg"
        image = cv2.imread(str(path))
        x0, y0, x1, y1 = box_pixels(b["bbox"], image.shape[1], image.shape[0])
        grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
        image[y0:y1, x0:x1] = 0 if grey.mean() > 127 else 255   # blacken (whiten dark faces)
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])

    # faces hidden in some views only: their kept boxes become barely visible (0.1), so in the
    # 'visible' subset these faces count as hidden in every view
    partly = {(b["frame"], b["person_id"]) for b in hide} & {(b["frame"], b["person_id"]) for b in keep}
    assert partly
    doc = json.loads((rec / "annotations.json").read_text())
    kept_ids = {b["id"] for b in keep if (b["frame"], b["person_id"]) in partly}
    for a in doc["annotations"]:
        if a["id"] in kept_ids:
            a["visible_fraction"] = 0.1
    for b in boxes:
        if b["id"] in kept_ids:
            b["visible_fraction"] = 0.1
    (tmp_path / "gt.json").write_text(json.dumps(doc))

    result = measure_pixel_privacy(load_ground_truth(tmp_path / "gt.json"), rec, out)
    for subset, keep_box in (("all", lambda b: True), ("visible", lambda b: b["visible_fraction"] >= 0.25)):
        chosen = [b for b in boxes if keep_box(b)]
        faces: dict[tuple, bool] = {}
        for b in chosen:
            key = (b["frame"], b["person_id"])
            faces[key] = faces.get(key, True) and (b["person_id"] == person or b["camera"] == camera)
        s = result.overall[subset]
        assert (s.boxes, s.hidden) == (len(chosen), sum(1 for b in chosen if b in hide))
        assert (s.faces, s.faces_hidden) == (len(faces), sum(faces.values()))
        assert 0 < s.faces_hidden < s.faces
        for cam in cams:
            c = result.per_camera[cam][subset]
            in_cam = [b for b in chosen if b["camera"] == cam]
            assert (c.boxes, c.hidden) == (len(in_cam), sum(1 for b in in_cam if b in hide))
        assert result.per_camera[camera][subset].hidden_share == 1.0
    assert result.overall["visible"].boxes == result.overall["all"].boxes - len(kept_ids)
    assert result.overall["visible"].faces_hidden == result.overall["all"].faces_hidden + len(partly)


def test_cli_pixel_check_with_and_without_predictions(rec, tmp_path):
    out = tmp_path / "out"
    _copy_outputs(rec, out)
    target = next(iter(sorted(out.glob("*/*.jpg"))))
    cv2.imwrite(str(target), np.zeros_like(cv2.imread(str(target))))   # one image blackened entirely
    res = runner.invoke(app, ["eval", "--gt", str(rec / "annotations.json"), "--original", str(rec),
                              "--anonymized", str(out), "--json", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output
    assert "hidden" in res.output
    data = json.loads((tmp_path / "e.json").read_text())
    blackened = [b for b in _boxes(rec) if b["camera"] == target.parent.name and b["frame"] == int(target.stem)]
    assert data["pixels"]["overall"]["all"]["hidden"] == len(blackened) > 0
    assert data["predictions"] is None and "overall" not in data
    assert len(data["pixels"]["not_hidden"]) == len(_boxes(rec)) - len(blackened)

    pred = tmp_path / "pred.json"
    pred.write_text("[]")
    res = runner.invoke(app, ["eval", "--gt", str(rec / "annotations.json"), "--pred", str(pred), "--original",
                              str(rec), "--anonymized", str(out), "--json", str(tmp_path / "both.json")])
    assert res.exit_code == 0, res.output
    both = json.loads((tmp_path / "both.json").read_text())
    assert both["overall"]["recall"] == 0.0 and both["pixels"]["overall"] == data["pixels"]["overall"]


def test_bad_inputs_one_line_exit_2(rec, tmp_path):
    out = tmp_path / "out"
    _copy_outputs(rec, out)
    gt = str(rec / "annotations.json")
    missing = sorted(out.glob("*/*.jpg"))[0]
    missing.unlink()
    for args, words in (
        (["--anonymized", str(out)], "--original and --anonymized go together"),
        ([], "give --pred"),
        (["--original", str(rec), "--anonymized", str(out)], "anonymized image missing"),
        (["--original", str(rec), "--anonymized", str(tmp_path / "nope")], "anonymized output folder not found"),
    ):
        res = _cli("eval", "--gt", gt, *args)
        assert res.returncode == 2, (res.stdout, res.stderr)
        lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], res.stderr
    shutil.copy(rec / "wfc1" / "color" / "000000.jpg", missing)  # right name, another camera's image
    small = cv2.resize(cv2.imread(str(missing)), (160, 90))
    cv2.imwrite(str(missing), small)
    with pytest.raises(InputError, match="anonymized image is 160x90"):
        measure_pixel_privacy(load_ground_truth(gt), rec, out, PixelParams())
