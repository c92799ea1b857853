"""The one pipeline configuration: sources (defaults, TOML, --set), checks, round trip, CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from disguisor.errors import InputError
from disguisor.pose2d.params import HeightBand
from disguisor.settings import SECTIONS, PipelineConfig, apply_sets, config_toml, make_config


def test_every_stage_has_a_section():
    assert SECTIONS == ("recording", "fusion", "keypoints", "pose3d", "tracking", "fit", "refine", "floor",
                        "render", "run", "quality")


def test_set_changes_nested_fields_of_every_type():
    cfg = apply_sets(PipelineConfig(), [
        "render.dilate_m=0.05", "render.self_occlusion_margin_m=none", "render.blend=paste",
        "keypoints.proposals.cell_m=0.04", "keypoints.every=3", "run.video=true", "run.template=fair",
        "keypoints.onnx.rtmpose_input_hw=[384, 288]", "fit.model=smpl", "keypoints.file=/tmp/k.json",
        "tracking.max_gap_frames=4"])
    assert cfg.render.dilate_m == 0.05 and cfg.render.self_occlusion_margin_m is None
    assert cfg.render.blend == "paste" and cfg.keypoints.proposals.cell_m == 0.04
    assert cfg.keypoints.every == 3 and cfg.run.video is True and cfg.run.template == "fair"
    assert cfg.keypoints.onnx.rtmpose_input_hw == (384, 288) and cfg.fit.model == "smpl"
    assert cfg.keypoints.file == Path("/tmp/k.json") and cfg.tracking.max_gap_frames == 4
    # untouched sections keep their defaults
    assert cfg.pose3d == PipelineConfig().pose3d
    off = apply_sets(PipelineConfig(), ["pose3d.free_space_margin_m=none", "pose3d.free_space_min_joints=4"])
    assert off.pose3d.free_space_margin_m is None and off.pose3d.free_space_min_joints == 4


@pytest.mark.parametrize("item, field, why", [
    ("nope.x=1", "nope.x", "unknown section"),
    ("render.dilate=3", "render.dilate", "unknown setting"),
    ("render.dilate_px=1.5", "render.dilate_px", "not an integer"),
    ("render.dilate_m=wide", "render.dilate_m", "not a number"),
    ("render.dilate_m=nan", "render.dilate_m", "finite"),
    ("render.dilate_m=-0.1", "render.dilate_m", ">= 0"),
    ("run.method=smear", "run.method", "not one of"),
    ("run.jpeg_quality=101", "run.jpeg_quality", "1-100"),
    ("run.turned_faces=faceless", "run.turned_faces", "blazeface"),
    ("run.turned_faces=dsfd", "run.turned_faces", "not 'dsfd'"),
    ("run.turned_faces_tiles=0", "run.turned_faces_tiles", ">= 1"),
    ("run.turned_face_min_m=0.5", "run.turned_face_min_m", "below"),
    ("run.fail_closed.explained_share=1.5", "run.fail_closed.explained_share", "[0, 1]"),
    ("keypoints.every=0", "keypoints.every", ">= 1"),
    ("keypoints.proposals.lying_length_m=[4.0,1.6]", "keypoints.proposals.lying_length_m", "low < high"),
    ("keypoints.proposals.lying_z_m=[1.6,1.6]", "keypoints.proposals.lying_z_m", "low < high"),
    ("floor.static_ring_m=[0.3,0.2]", "floor.static_ring_m", "inner < outer"),
    ("floor.static_min_top_z_m=2.5", "floor.static_min_top_z_m", "must lie below"),
    ("refine.far_moves=[[0.04,1.5]]", "refine.far_moves", "fitness in [0, 1]"),
    ("refine.far_moves=[[-0.04,0.6]]", "refine.far_moves", "distance m >= 0"),
    ("refine.far_moves_min_torso_deg=120", "refine.far_moves_min_torso_deg", "[-90, 90]"),
    ("refine.reorient_min_shift_m=-0.05", "refine.reorient_min_shift_m", "must be >= 0"),
    ("refine.nearby_frames=-1", "refine.nearby_frames", "must be >= 0"),
    ("pose3d.free_space_margin_m=-0.1", "pose3d.free_space_margin_m", "must be >= 0"),
    ("pose3d.free_space_min_share=1.5", "pose3d.free_space_min_share", "[0, 1]"),
    ("refine.nearby_frames=1.5", "refine.nearby_frames", "not an integer"),
    ("run.video=maybe", "run.video", "true or false"),
    ("render.margin_fill=halo", "render.margin_fill", "not one of"),
    ("run.attire_colours=blue", "run.attire_colours", "true or false"),
    ("render", "render", "SECTION.FIELD=VALUE"),
    ("render.obfuscation=3", "render.obfuscation", "a table"),
])
def test_bad_settings_are_refused_naming_the_field(item, field, why):
    with pytest.raises(InputError) as info:
        apply_sets(PipelineConfig(), [item])
    text = str(info.value)
    assert field in text and why in text, text
    assert "np.float64" not in text


def test_toml_round_trip_and_precedence(tmp_path):
    cfg = apply_sets(PipelineConfig(), ["render.dilate_m=0.04", "keypoints.proposals.bands=[{\"z_min\": 1.0, "
                                        "\"z_max\": 2.0, \"max_footprint_m\": 1.1}]", "run.template=none"])
    assert cfg.keypoints.proposals.bands == (HeightBand(1.0, 2.0, 1.1),)
    path = tmp_path / "c.toml"
    path.write_text(config_toml(cfg))
    back = make_config(path)
    assert back == cfg
    assert config_toml(back) == config_toml(cfg)
    # --set wins over the file
    assert make_config(path, ["render.dilate_m=0.01"]).render.dilate_m == 0.01


def test_bad_config_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[render]\ndilate_m = 'x'\n")
    with pytest.raises(InputError, match=r"bad.toml: render.dilate_m: 'x' is not a number"):
        make_config(bad)
    bad.write_text("[rendr]\ndilate_m = 1\n")
    with pytest.raises(InputError, match="rendr: unknown section"):
        make_config(bad)
    bad.write_text("[render\n")
    with pytest.raises(InputError, match="not valid TOML"):
        make_config(bad)
    with pytest.raises(InputError, match="not found"):
        make_config(tmp_path / "missing.toml")


def test_config_show_cli(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "disguisor", "config", "show", *args], capture_output=True,
                              text=True, timeout=120)

    shown = cli("--set", "render.dilate_px=7")
    assert shown.returncode == 0, shown.stderr
    assert "[render]" in shown.stdout and "dilate_px = 7" in shown.stdout
    (tmp_path / "c.toml").write_text(shown.stdout)
    again = cli("--config", tmp_path / "c.toml")
    assert again.returncode == 0 and again.stdout == shown.stdout
    bad = cli("--set", "render.dilate_px=x")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:") and "render.dilate_px" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
