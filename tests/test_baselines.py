"""2D face-detector baselines: detectors on a real face photo, DSFD loading/decoding, the
``baseline`` command's outputs (images differ only inside boxes, detections.json accepted by eval,
atomic output, inputs untouched)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from disguisor.baselines.command import run_baseline
from disguisor.boxes import nms_xywh
from disguisor.cli import app
from disguisor.errors import InputError
from disguisor.evaluate import evaluate, load_ground_truth, load_predictions
from disguisor.facedet.detectors import make_face_detector, tile_windows
from disguisor.facedet.dsfd import DSFDDetector, DSFDNet, anchors, decode, dsfd_from_state, load_dsfd
from tests.face_fixture import camera_image, face_box, iou, write_face_recording

FAST_DETECTORS = ["centerface", "blazeface", "dlib", "dlib-cnn"]


@pytest.fixture(scope="module")
def face_rec(tmp_path_factory) -> Path:
    return write_face_recording(tmp_path_factory.mktemp("faces") / "rec")


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


# --- detectors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FAST_DETECTORS)
@pytest.mark.parametrize("camera", ["c1", "c2"])
def test_detector_finds_the_face(name, camera):
    det = make_face_detector(name)
    boxes = det.detect(camera_image(camera))
    assert boxes.ndim == 2 and boxes.shape[1] == 5
    assert np.all((boxes[:, 4] >= 0) & (boxes[:, 4] <= 1))
    best = max((iou(b, face_box(camera)) for b in boxes), default=0.0)
    assert best >= 0.5, f"{name} missed the face in {camera}: {boxes}"


@pytest.mark.parametrize("name", FAST_DETECTORS)
def test_detector_finds_nothing_on_a_plain_image(name):
    det = make_face_detector(name)
    assert len(det.detect(np.full((240, 320, 3), 128, np.uint8))) == 0


def test_score_threshold_is_applied():
    loose = make_face_detector("centerface", score_threshold=0.05).detect(camera_image("c1"))
    strict = make_face_detector("centerface", score_threshold=0.999999).detect(camera_image("c1"))
    assert len(strict) <= len(loose) and np.all(strict[:, 4] >= 0.999999)


def test_unknown_detector_and_missing_dsfd_weights():
    with pytest.raises(InputError, match="unknown face detector"):
        make_face_detector("yolo")
    with pytest.raises(InputError, match="weights"):
        make_face_detector("dsfd")


def test_nms_and_tiles():
    boxes = np.array([[0, 0, 10, 10, 0.9], [1, 1, 10, 10, 0.8], [50, 50, 10, 10, 0.7], [0, 0, 10, 10, 0.95]])
    kept = nms_xywh(boxes, 0.3)
    assert kept[:, 4].tolist() == [0.95, 0.7]  # the two overlapping weaker ones go
    wins = tile_windows(640, 360, 3, 0.25)
    assert len(wins) == 9
    covered = np.zeros((360, 640), bool)
    for x0, y0, x1, y1 in wins:
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360
        covered[y0:y1, x0:x1] = True
    assert covered.all()


# --- DSFD ---------------------------------------------------------------------------------------

def test_dsfd_has_the_resnet152_checkpoint_layout():
    net = DSFDNet()
    sd = net.state_dict()
    backbone = sum(v.numel() for k, v in net.named_parameters() if k.split(".")[0] in {"layer1", "layer2",
                                                                                      "layer3", "layer4"})
    assert backbone == 60_192_808 - (2048 * 1000 + 1000)  # torchvision resnet152 without its classifier
    assert sd["layer1.0.weight"].shape == (64, 3, 7, 7)
    assert sd["layer1.4.2.conv3.weight"].shape == (256, 64, 1, 1)
    assert sd["layer3.0.35.conv2.weight"].shape == (256, 256, 3, 3)
    assert sd["layer4.0.0.downsample.0.weight"].shape == (2048, 1024, 1, 1)
    assert sd["layer5.3.weight"].shape == (512, 512, 3, 3)
    assert sd["cpm7.cpm1.weight"].shape == (256, 2048, 3, 3)
    assert sd["loc.0.conv4.weight"].shape == (4, 256, 1, 1)
    assert sd["conf.1.conv4.weight"].shape == (6, 256, 1, 1)
    assert sd["conf.5.conv4.weight"].shape == (8, 256, 1, 1)


@pytest.fixture(scope="module")
def dsfd_file(tmp_path_factory) -> Path:
    """A randomly initialised DSFD checkpoint, one bottleneck per stage (the loader reads the
    depth from the keys), stored in float16 to keep the file at ~140 MB."""
    torch.manual_seed(0)
    net = DSFDNet((1, 1, 1, 1))
    path = tmp_path_factory.mktemp("dsfd") / "dsfd.pth"
    torch.save({k: v.half() for k, v in net.state_dict().items()}, path)
    return path


@pytest.mark.slow
def test_dsfd_loads_and_detects_well_formed_boxes(dsfd_file):
    net = load_dsfd(dsfd_file)
    assert [len(net.layer1[4]), len(net.layer2[0]), len(net.layer3[0]), len(net.layer4[0])] == [1, 1, 1, 1]
    ref = torch.load(dsfd_file, weights_only=True)
    assert torch.equal(net.state_dict()["cpm7.cpm1.weight"], ref["cpm7.cpm1.weight"].float())
    # PyTorch < 0.4.1 checkpoints have no batch-norm counters: loaded all the same
    old_style = dsfd_from_state({k: v for k, v in ref.items() if not k.endswith("num_batches_tracked")})
    assert torch.equal(old_style.state_dict()["loc.2.conv4.bias"], ref["loc.2.conv4.bias"].float())
    det = DSFDDetector(dsfd_file, threshold=0.3, nms_iou=0.3)
    image = camera_image("c1")[:180, :320].copy()
    boxes = det.detect(image)
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and np.isfinite(boxes).all()
    assert np.all(boxes[:, 4] >= 0.3) and np.all(boxes[:, 4] <= 1)
    assert np.all(np.diff(boxes[:, 4]) <= 0)
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 0] + boxes[:, 2] <= 320 + 1e-6)
    assert np.all(boxes[:, 1] + boxes[:, 3] <= 180 + 1e-6) and np.all(boxes[:, 2:4] > 0)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert iou(boxes[i], boxes[j]) <= 0.3 + 1e-9


def _placeholder_state(drop: str | None = None, rename: str | None = None) -> dict[str, torch.Tensor]:
    """The checkpoint's key set with 1-element tensors (small files for the key checks)."""
    keys = list(DSFDNet((1, 1, 1, 1)).state_dict())
    state = {k: torch.zeros(1) for k in keys if k != drop}
    if rename:
        state[rename + "_typo"] = state.pop(rename)
    return state


@pytest.mark.slow
def test_dsfd_key_errors_name_file_and_key(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save(_placeholder_state(drop="smooth2.weight"), path)
    with pytest.raises(InputError) as err:
        load_dsfd(path)
    assert err.value.path == str(path) and err.value.field == "smooth2.weight" and "missing" in str(err.value)

    torch.save(_placeholder_state(rename="conf.3.conv1.bias"), path)
    with pytest.raises(InputError) as err:
        load_dsfd(path)
    assert err.value.field == "conf.3.conv1.bias" and "'conf.3.conv1.bias_typo'" in str(err.value)

    torch.save({**_placeholder_state(), "fc.weight": torch.zeros(1)}, path)
    with pytest.raises(InputError) as err:
        load_dsfd(path)
    assert err.value.field == "fc.weight" and "unexpected" in str(err.value)

    torch.save(_placeholder_state(), path)  # all keys, wrong shapes
    with pytest.raises(InputError) as err:
        load_dsfd(path)
    assert err.value.field == "layer1.0.weight" and "(64, 3, 7, 7)" in str(err.value)

    old_style = {k: v for k, v in _placeholder_state().items() if not k.endswith("num_batches_tracked")}
    torch.save(old_style, path)  # PyTorch < 0.4.1 checkpoints have no batch-norm counters: not missing
    with pytest.raises(InputError) as err:
        load_dsfd(path)
    assert err.value.field == "layer1.0.weight"

    torch.save({"module." + k: v for k, v in _placeholder_state(drop="layer6.0.bias").items()}, path)
    with pytest.raises(InputError) as err:  # DataParallel prefixes are stripped before checking
        load_dsfd(path)
    assert err.value.field == "layer6.0.bias"

    path.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable torch checkpoint"):
        load_dsfd(path)
    with pytest.raises(InputError, match="not found"):
        load_dsfd(tmp_path / "absent.pth")


def test_dsfd_anchors_and_decoding():
    pri = anchors([(2, 3)], (8, 12))
    # first source: stride 4, base 16 px, aspect 1.5 (taller than wide); clipped to the image
    assert np.allclose(pri[0, :2], [2 / 12, 2 / 8])
    assert np.allclose(pri[5, :2], [10 / 12, 6 / 8])
    big = anchors([(10, 10)], (400, 400))
    assert np.allclose(big[0, 2:], [16 / 400 / np.sqrt(1.5), 16 / 400 * np.sqrt(1.5)])
    boxes = decode(np.zeros((1, 4)), np.array([[0.5, 0.5, 0.2, 0.4]]), (0.1, 0.2))
    assert np.allclose(boxes, [[0.4, 0.3, 0.6, 0.7]])
    shifted = decode(np.array([[1.0, 0.0, np.log(2) / 0.2, 0.0]]), np.array([[0.5, 0.5, 0.2, 0.4]]), (0.1, 0.2))
    assert np.allclose(shifted, [[0.32, 0.3, 0.72, 0.7]])  # centre +0.1*0.2, width doubled


# --- the baseline command -------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["blur", "pixelate", "blacken"])
def test_baseline_hides_only_inside_boxes(face_rec, tmp_path, method):
    before = _tree_digest(face_rec)
    out = tmp_path / "out"
    report = run_baseline(face_rec, out, "centerface", method)
    assert _tree_digest(face_rec) == before  # inputs untouched
    assert report.images == 2 and report.faces >= 2
    dets = json.loads((out / "detections.json").read_text())
    images = {im["id"]: im for im in json.loads((out / "images.json").read_text())["images"]}
    for cam in ("c1", "c2"):
        original = camera_image(cam)
        # the original through the same JPEG encoder: outside the 16x16 JPEG blocks that a box
        # touches (and one block around them: chroma upsampling reads the neighbours), the
        # written image must be bit-identical to it
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(original[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95])
        reference = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(int)
        written = cv2.imread(str(out / cam / "000000.jpg"))[..., ::-1].astype(int)
        boxes = [d["bbox"] for d in dets if d["camera"] == cam]
        assert boxes and all(images[d["image_id"]]["camera"] == d["camera"] for d in dets)
        inside = np.zeros(original.shape[:2], bool)
        near = np.zeros(original.shape[:2], bool)
        for x, y, w, h in boxes:
            inside[int(np.ceil(y)):int(y + h), int(np.ceil(x)):int(x + w)] = True
            bx0, by0 = max(int(x) // 16 * 16 - 16, 0), max(int(y) // 16 * 16 - 16, 0)
            near[by0:int(np.ceil((y + h) / 16)) * 16 + 16, bx0:int(np.ceil((x + w) / 16)) * 16 + 16] = True
        diff = np.abs(written - reference).max(axis=2)
        assert diff[~near].max() == 0
        assert np.abs(written - original.astype(int)).max(axis=2)[inside].mean() > 8.0
        if method == "blacken":
            assert written[inside].mean() < 6.0


def test_baseline_detections_are_accepted_by_eval(face_rec, tmp_path):
    out = tmp_path / "out"
    run_baseline(face_rec, out, "blazeface", "blur")
    gt = load_ground_truth(face_rec / "annotations.json")
    result = evaluate(gt, load_predictions(out / "detections.json", gt))
    assert result.overall.recall == pytest.approx(1.0)
    assert result.overall.holistic_recall == pytest.approx(1.0)
    dets = json.loads((out / "detections.json").read_text())
    assert all(d["category_id"] == 1 and d["frame"] == 0 and len(d["bbox"]) == 4 for d in dets)


def test_baseline_output_is_atomic(face_rec, tmp_path):
    rec = tmp_path / "rec"
    shutil.copytree(face_rec, rec)
    (rec / "c2" / "color" / "000000.png").write_bytes(b"\x89PNG broken")  # the second image fails to decode
    out = tmp_path / "out"
    with pytest.raises(InputError, match="decode"):
        run_baseline(rec, out, "centerface", "blur")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec"]  # no partial folder left behind
    with pytest.raises(InputError, match="outside the recording"):
        run_baseline(face_rec, face_rec / "anon", "centerface", "blur")
    with pytest.raises(InputError, match="--method|must be one of"):
        run_baseline(face_rec, tmp_path / "o2", "centerface", "smudge")


def test_baseline_cli(face_rec, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(app, ["baseline", str(face_rec), "-o", str(out), "--detector", "dlib", "--method",
                              "pixelate", "--score-threshold", "0.5"])
    assert res.exit_code == 0, res.output
    assert (out / "c1" / "000000.jpg").is_file() and (out / "detections.json").is_file()
    res = runner.invoke(app, ["baseline", str(face_rec), "-o", str(out), "--detector", "dlib"])
    assert res.exit_code != 0  # exists, no --overwrite
