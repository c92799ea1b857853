"""Image-quality and identity-leakage metrics: SSIM against scikit-image, LPIPS / DPS / FID
properties with randomly initialised weights in the public file formats, identity leakage on a
real face photo, and the ``quality`` command end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from typer.testing import CliRunner

from disguisor.baselines.command import run_baseline
from disguisor.cli import app
from disguisor.errors import InputError
from disguisor.quality.command import measure_quality
from disguisor.quality.deep import (
    Backbone,
    LinearHeads,
    fid,
    frechet_distance,
    load_deep_metrics,
    pair_distances,
    random_weights,
)
from disguisor.quality.identity import IdentityModel, face_identity
from disguisor.quality.params import QualityParams
from disguisor.quality.ssim import ssim, to_gray
from disguisor.render.obfuscate import box_mask, obfuscate
from disguisor.render.params import RenderParams
from tests.face_fixture import camera_image, face_box, iou, photo, write_face_recording


def _noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def _crops(n: int = 12, size: int = 64) -> np.ndarray:
    """n different 64x64 crops of the photo."""
    p = photo()
    rng = np.random.default_rng(1)
    out = []
    for _ in range(n):
        x, y = rng.integers(0, p.shape[1] - 2 * size, 2)
        out.append(cv2.resize(p[y:y + 2 * size, x:x + 2 * size], (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(out)


# --- SSIM -----------------------------------------------------------------------------------------

def test_ssim_matches_scikit_image_and_orders_distortions():
    a = photo()[40:168, 100:228]
    assert ssim(a, a) == pytest.approx(1.0)
    values = []
    for sigma in (5, 20, 60):
        b = _noisy(a, sigma)
        ref = structural_similarity(to_gray(a), to_gray(b), gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
        assert ssim(a, b) == pytest.approx(ref, abs=1e-9)
        values.append(ssim(a, b))
    assert values[0] > values[1] > values[2]
    assert ssim(a, np.zeros_like(a)) < 0.1
    assert ssim(a, _noisy(a, 20)) == pytest.approx(ssim(_noisy(a, 20), a))  # symmetric
    with pytest.raises(ValueError):
        ssim(a[:8, :8], a[:8, :8])


# --- backbones, LPIPS, DPS, FID -------------------------------------------------------------------

def test_backbones_have_the_torchvision_layout():
    alex = {k: tuple(v.shape) for k, v in Backbone("alex").state_dict().items()}
    assert alex == {"features.0.weight": (64, 3, 11, 11), "features.0.bias": (64,),
                    "features.3.weight": (192, 64, 5, 5), "features.3.bias": (192,),
                    "features.6.weight": (384, 192, 3, 3), "features.6.bias": (384,),
                    "features.8.weight": (256, 384, 3, 3), "features.8.bias": (256,),
                    "features.10.weight": (256, 256, 3, 3), "features.10.bias": (256,)}
    vgg = Backbone("vgg")
    convs = sorted(int(k.split(".")[1]) for k in vgg.state_dict() if k.endswith(".weight"))
    assert convs == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert sum(p.numel() for p in vgg.parameters()) == 14_714_688  # VGG-16 convolutional part
    assert vgg.tap_channels == (64, 128, 256, 512, 512) and vgg.taps == (3, 8, 15, 22, 29)
    assert Backbone("alex").tap_channels == (64, 192, 384, 256, 256)
    assert list(LinearHeads((64, 192)).state_dict()) == ["lin0.model.1.weight", "lin1.model.1.weight"]


@pytest.fixture(scope="module")
def alex_dir(tmp_path_factory) -> Path:
    return random_weights(tmp_path_factory.mktemp("w") / "alex", "alex", seed=0)


def test_weights_loading_and_errors(alex_dir, tmp_path):
    metrics = load_deep_metrics(alex_dir)
    assert metrics.backbone.kind == "alex" and metrics.lpips is not None
    saved = torch.load(next(alex_dir.glob("alexnet*.pth")), weights_only=True)
    assert torch.equal(metrics.backbone.state_dict()["features.6.weight"], saved["features.6.weight"])
    # a torchvision file also holds the classifier: ignored
    full = tmp_path / "full"
    full.mkdir()
    torch.save({**saved, "classifier.1.weight": torch.zeros(4096, 9216)}, full / "alexnet-owt.pth")
    assert load_deep_metrics(full).lpips is None  # no alex.pth there: LPIPS not reported
    broken = tmp_path / "broken"
    broken.mkdir()
    torch.save({k: v for k, v in saved.items() if k != "features.8.bias"}, broken / "alexnet-x.pth")
    with pytest.raises(InputError) as err:
        load_deep_metrics(broken)
    assert err.value.field == "features.8.bias" and "alexnet-x.pth" in str(err.value)
    torch.save({"lin0.model.1.weight": torch.zeros(1, 64, 1, 1)}, broken / "alex.pth")
    torch.save(saved, broken / "alexnet-x.pth")
    with pytest.raises(InputError) as err:
        load_deep_metrics(broken)
    assert err.value.field == "lin1.model.1.weight"
    with pytest.raises(InputError, match="no backbone weights"):
        load_deep_metrics(tmp_path)


def test_deep_distances_properties(alex_dir):
    metrics = load_deep_metrics(alex_dir)
    a = _crops(6)
    same = pair_distances(metrics, a, a.copy())
    for name, values in same.items():
        assert np.allclose(values, 0.0, atol=1e-9), name
    light, heavy = pair_distances(metrics, a, _noisy(a, 8)), pair_distances(metrics, a, _noisy(a, 50))
    for name in ("lpips", "dps_spatial", "dps_mean", "dps_sort"):
        assert np.all(light[name] > 0) and np.all(heavy[name] > light[name]), name
    # the mean of a difference is never larger than its root mean square (per channel), and the
    # sorted pairing minimises the summed squared difference: dps_mean <= spatial, sort <= HW * spatial
    assert np.all(heavy["dps_mean"] <= heavy["dps_spatial"] + 1e-12)
    with torch.no_grad():
        taps = metrics.backbone(torch.zeros(1, 3, 64, 64))
    hw_max = max(t.shape[2] * t.shape[3] for t in taps)
    assert np.all(heavy["dps_sort"] <= hw_max * heavy["dps_spatial"] + 1e-9)


def test_lpips_equals_the_channel_sum_with_unit_weights(alex_dir, tmp_path):
    folder = tmp_path / "ones"
    shutil.copytree(alex_dir, folder)
    torch.save({f"lin{k}.model.1.weight": torch.ones(1, c, 1, 1)
                for k, c in enumerate(Backbone("alex").tap_channels)}, folder / "alex.pth")
    metrics = load_deep_metrics(folder)
    a = _crops(3)
    d = pair_distances(metrics, a, _noisy(a, 30))
    with torch.no_grad():
        taps = metrics.backbone(torch.zeros(1, 3, 64, 64))
    # independently: per tap, spatial mean over (c, h, w) times C equals LPIPS's mean over (h, w) of the channel sum
    fa = [t / (t.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
          for t in metrics.backbone(torch.from_numpy(a).float().permute(0, 3, 1, 2) / 127.5 - 1)]
    fb = [t / (t.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
          for t in metrics.backbone(torch.from_numpy(_noisy(a, 30)).float().permute(0, 3, 1, 2) / 127.5 - 1)]
    manual = sum(((x - y) ** 2).sum(1).mean((1, 2)) for x, y in zip(fa, fb, strict=True)).detach().numpy()
    assert len(taps) == 5
    assert np.allclose(d["lpips"], manual, rtol=1e-5)


def test_frechet_distance_known_answer_and_fid_properties(alex_dir):
    base = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    fa = base * np.sqrt(1.5)  # mean 0, sample covariance I (ddof 1: 2 * 1.5 / 3)
    fb = 2 * fa + np.array([1.0, 0.0])  # mean (1, 0), covariance 4 I
    # ||mu||^2 + tr(I + 4I - 2 * 2I) = 1 + 2
    assert frechet_distance(fa, fb) == pytest.approx(3.0, abs=1e-6)
    assert frechet_distance(fa, fa) == pytest.approx(0.0, abs=1e-6)
    metrics = load_deep_metrics(alex_dir)
    a = _crops(16)
    same = fid(metrics, a, a.copy())
    light, heavy = fid(metrics, a, _noisy(a, 10)), fid(metrics, a, _noisy(a, 60))
    assert same < 1e-3 * heavy and light < heavy


# --- standard FID on InceptionV3 pool3 -------------------------------------------------------------

@pytest.fixture(scope="module")
def inception_dir(tmp_path_factory) -> Path:
    from disguisor.quality.inception import random_inception_weights

    folder = tmp_path_factory.mktemp("inception")
    random_inception_weights(folder)
    return folder


def test_inception_has_the_fid_layout():
    from disguisor.quality.inception import InceptionV3

    net = InceptionV3()
    # torchvision's inception_v3 has 27,161,264 parameters; without its auxiliary classifier
    # (3,326,696) and its 1000-class fc (2,049,000) what remains are pool3's 21,785,568
    assert sum(p.numel() for p in net.parameters()) == 21_785_568
    keys = net.state_dict().keys()
    assert {"Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch_pool.bn.running_var", "Mixed_7c.branch3x3dbl_3b.conv.weight"
            } <= set(keys)
    assert all(m.eps == 0.001 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.slow
def test_inception_fid_loading_properties_and_errors(inception_dir, tmp_path):
    from disguisor.quality.inception import FEATURE_DIM, inception_features

    metrics = load_deep_metrics(inception_dir)  # the Inception file alone: FID only
    assert metrics.backbone is None and metrics.inception is not None
    assert metrics.fid_features == "InceptionV3 pool3"
    a = _crops(8)
    f = inception_features(metrics.inception, a)
    assert f.shape == (8, FEATURE_DIM) and np.isfinite(f).all() and f.std(axis=0).max() > 0
    # any input size: resized to 299 first
    assert np.allclose(inception_features(metrics.inception, a[:2]), f[:2], atol=1e-4)
    same, light, heavy = fid(metrics, a, a.copy()), fid(metrics, a, _noisy(a, 10)), fid(metrics, a, _noisy(a, 80))
    assert same < 1e-3 * heavy and light < heavy
    # a broken file names the key
    state = torch.load(next(inception_dir.glob("pt_inception*.pth")), weights_only=True)
    state["Mixed_6b.branch7x7_2.conv.weight"] = torch.zeros(128, 128, 7, 1)
    bad = tmp_path / "bad"
    bad.mkdir()
    torch.save(state, bad / "pt_inception-bad.pth")
    with pytest.raises(InputError, match="Mixed_6b.branch7x7_2.conv.weight"):
        load_deep_metrics(bad)
    del state["Mixed_6b.branch7x7_2.conv.weight"]
    torch.save(state, bad / "pt_inception-bad.pth")
    with pytest.raises(InputError, match="key missing"):
        load_deep_metrics(bad)


@pytest.mark.slow
def test_quality_command_reports_inception_fid(face_rec, alex_dir, inception_dir, tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(alex_dir, weights)
    for f in inception_dir.iterdir():
        shutil.copy(f, weights / f.name)
    out = _copy_as_output(face_rec, tmp_path / "same")
    report = measure_quality(face_rec, out, face_rec / "annotations.json", weights_dir=weights, identity=False)
    # both backbones: the perceptual distances on AlexNet, the FID on Inception
    assert report.backbone == "alex" and report.fid_features == "InceptionV3 pool3" and "dps_spatial" in report.deep
    assert report.faces >= 2 and report.fid is not None and report.fid < 1e-3


# --- identity leakage -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def id_model() -> IdentityModel:
    return IdentityModel()


def test_identity_identical_leaks_and_blackened_does_not(id_model):
    img, box = camera_image("c1"), face_box("c1")
    same = face_identity(id_model, img, img.copy(), box)
    assert same.embeddable and same.detected
    assert same.distance_detected == pytest.approx(0.0, abs=1e-6) and same.distance_forced == pytest.approx(0.0,
                                                                                                           abs=1e-6)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 40])
    recompressed = face_identity(id_model, img, cv2.imdecode(buf, cv2.IMREAD_COLOR), box)
    assert recompressed.detected and 0 < recompressed.distance_detected < 0.6  # still the same person

    black = obfuscate(img, box_mask(img.shape[:2], np.array([box])), "blacken")
    hidden = face_identity(id_model, img, black, box)
    assert hidden.embeddable and not hidden.detected and hidden.distance_detected is None
    assert hidden.distance_forced > 0.6


def _face_surface_on_photo(cam):
    """Anny's rest face scaled and placed over the photo's face in ``cam`` (c1), facing the camera,
    5 cm in front of the photo plane (2 m)."""
    from disguisor.body.anny_model import load_anny
    from disguisor.refine.face import extract_face, face_triangles

    x, y, w, h = face_box("c1")
    anny = load_anny()
    V, idx = anny.rest_vertices.astype(float), anny.regions["face"]
    z = 1.95
    f = cam.K[0, 0]
    scale = (w * z / f) / np.ptp(V[idx, 0])
    centre = np.array([(x + w / 2 - cam.K[0, 2]) * z / f, (y + 0.55 * h - cam.K[1, 2]) * z / cam.K[1, 1], z])
    # rest pose: +x the person's left, facing -y, up +z -> camera: x right, facing -z, up -y
    to_cam = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    world = cam.camera_to_world((V - V[idx].mean(0)) * scale @ to_cam.T + centre)
    origin = cam.camera_to_world(np.zeros((1, 3)))[0]
    facing = cam.camera_to_world(np.array([[0, 0, -1.0]]))[0] - origin
    up = cam.camera_to_world(np.array([[0, -1.0, 0]]))[0] - origin
    return extract_face(0, world, idx, face_triangles(anny.faces, idx), facing, up)


def test_template_replacement_removes_a_real_identity(id_model, face_rec):
    """On a real face (the astronaut photo): the face template Poisson-blended with the template's
    gradients only leaves nothing dlib recognises, nor does pasting; 'mixed' blending keeps the
    original's strong edges (eyes, mouth) and dlib still recognises the person."""
    from disguisor.io.recording import open_recording
    from disguisor.render.faces import FaceRenderer
    from disguisor.render.templates import load_templates
    from disguisor.render.variation import choose_template

    rec = open_recording(face_rec)
    cam = rec.calibration.camera("c1")
    img = np.ascontiguousarray(rec.read_color(cam, 0)[..., ::-1])
    face = _face_surface_on_photo(cam)
    box = tuple(face_box("c1"))
    tpl = {0: choose_template(0, load_templates())}
    outcome = {}
    for blend in ("poisson", "paste", "mixed"):
        with FaceRenderer([cam], RenderParams(blend=blend)) as r:
            res = r.anonymize_view(img, rec.read_depth(cam, 0), cam, [face], tpl)
        assert len(res.faces) == 1 and res.faces[0].visible_fraction > 0.95
        assert iou(res.faces[0].bbox, box) > 0.6
        outcome[blend] = face_identity(id_model, img, res.image, box)
    t = QualityParams().identity_threshold
    for blend in ("poisson", "paste"):
        o = outcome[blend]
        # the template itself may be found as a face (a bigger painted region is a whole face); it
        # must not be the original person
        assert o.original_found and o.distance_forced > t, (blend, o)
        assert not o.detected or o.distance_detected > t, (blend, o)
    leak = outcome["mixed"]
    assert leak.detected and leak.distance_forced < t < outcome["poisson"].distance_forced


def test_identity_counts_unembeddable_originals(id_model):
    plain = np.full((360, 640, 3), 128, np.uint8)
    out = face_identity(id_model, plain, plain, (300.0, 150.0, 60.0, 60.0))
    assert not out.embeddable and out.distance_forced is None
    at_box = face_identity(IdentityModel(QualityParams(identity_at_box=True)), plain, plain, (300.0, 150.0, 60.0, 60.0))
    assert at_box.embeddable and not at_box.original_found and at_box.distance_forced == pytest.approx(0.0, abs=1e-6)
    assert at_box.distance_detected is None  # nothing to detect in the anonymized window either


# --- the quality command ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def face_rec(tmp_path_factory) -> Path:
    return write_face_recording(tmp_path_factory.mktemp("faces") / "rec")


def _copy_as_output(rec: Path, out: Path) -> Path:
    for cam in ("c1", "c2"):
        (out / cam).mkdir(parents=True)
        cv2.imwrite(str(out / cam / "000000.png"), cv2.imread(str(rec / cam / "color" / "000000.png")))
    return out


def test_quality_command_identical_vs_blackened(face_rec, alex_dir, tmp_path):
    ident = _copy_as_output(face_rec, tmp_path / "identity")
    r_same = measure_quality(face_rec, ident, face_rec / "annotations.json", weights_dir=alex_dir)
    assert r_same.faces == 2 and r_same.ssim == pytest.approx(1.0)
    assert r_same.deep["lpips"] == pytest.approx(0.0, abs=1e-9) and r_same.fid == pytest.approx(0.0, abs=1e-6)
    assert r_same.identity.leak_detected == 1.0 and r_same.identity.leak_forced == 1.0
    assert r_same.identity.not_embeddable == 0

    black = tmp_path / "black"
    run_baseline(face_rec, black, "centerface", "blacken")
    r_black = measure_quality(face_rec, black, face_rec / "annotations.json", weights_dir=alex_dir)
    assert r_black.ssim < 0.5 and r_black.deep["lpips"] > 0.0 and r_black.deep["dps_sort"] > 0.0
    assert r_black.identity.leak_detected == 0.0 and r_black.identity.anonymized_detected == 0.0

    blur = tmp_path / "blur"
    run_baseline(face_rec, blur, "centerface", "blur")
    r_blur = measure_quality(face_rec, blur, face_rec / "annotations.json", identity=False)
    assert r_black.ssim < r_blur.ssim < 1.0 and r_blur.identity is None and r_blur.deep == {}


def test_quality_cli(face_rec, alex_dir, tmp_path):
    out = _copy_as_output(face_rec, tmp_path / "anon")
    runner = CliRunner()
    js = tmp_path / "q.json"
    res = runner.invoke(app, ["quality", "--original", str(face_rec), "--anonymized", str(out), "--gt",
                              str(face_rec / "annotations.json"), "--weights-dir", str(alex_dir), "--json", str(js)])
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    assert data["faces"] == 2 and len(data["per_face"]) == 2 and data["backbone"] == "alex"
    (out / "c2" / "000000.png").unlink()
    with pytest.raises(InputError) as err:
        measure_quality(face_rec, out, face_rec / "annotations.json", identity=False)
    assert "c2" in str(err.value) and err.value.field == "--anonymized"
