import tracemalloc

import cv2
import numpy as np
import pytest

from disguisor.config import RecordingParams
from disguisor.errors import InputError
from disguisor.io.recording import open_recording
from disguisor.synth.generate import write_box_room


def test_opens_and_reads_views(box_room):
    rec = open_recording(box_room)
    assert rec.frames == [0, 1, 2]
    assert [c.name for c in rec.cameras] == ["wfc1", "wfc2", "sc1", "sc2"]
    views = rec.views(1)
    assert len(views) == 4
    for v in views:
        assert v.color.shape == (180, 320, 3) and v.color.dtype == np.uint8
        assert v.depth.shape == (180, 320) and v.depth.dtype == np.float32
        seen = v.depth[v.depth > 0]
        # the synthetic room is within 0.3-8 m of every camera, and most pixels see it
        assert seen.size > 0.5 * v.depth.size and 0.3 < seen.min() and seen.max() < 8.0


def test_inputs_are_not_modified(box_room):
    before = {p: p.read_bytes() for p in box_room.rglob("*") if p.is_file()}
    rec = open_recording(box_room)
    for _frame, _views in rec.iter_frames():
        pass
    after = {p: p.read_bytes() for p in box_room.rglob("*") if p.is_file()}
    assert before == after


def _drop_frame(root, camera, frame):
    (root / camera / "color" / f"{frame:06d}.jpg").unlink()
    (root / camera / "depth" / f"{frame:06d}.png").unlink()


def test_missing_frame_policies(box_room):
    _drop_frame(box_room, "sc1", 1)
    partial = open_recording(box_room)
    assert partial.frames == [0, 1, 2]
    assert partial.missing == {"sc1": [1]}
    assert [c.name for c in partial.cameras_at(1)] == ["wfc1", "wfc2", "sc2"]
    assert len(partial.views(1)) == 3

    drop = open_recording(box_room, RecordingParams(missing_frames="drop"))
    assert drop.frames == [0, 2]

    with pytest.raises(InputError) as exc:
        open_recording(box_room, RecordingParams(missing_frames="error"))
    assert "sc1" in str(exc.value) and "frame 1" in str(exc.value)


def test_colour_without_depth_is_refused(box_room):
    (box_room / "wfc2" / "depth" / "000002.png").unlink()
    with pytest.raises(InputError) as exc:
        open_recording(box_room)
    assert "wfc2" in str(exc.value) and "no depth frame" in str(exc.value)


def test_wrong_image_size(box_room):
    path = box_room / "wfc1" / "color" / "000000.jpg"
    cv2.imwrite(str(path), np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(InputError) as exc:
        open_recording(box_room)
    assert str(path) in str(exc.value) and "100x100" in str(exc.value) and exc.value.field == "width/height"


def test_depth_must_be_16_bit(box_room):
    path = box_room / "sc2" / "depth" / "000000.png"
    cv2.imwrite(str(path), np.full((180, 320), 7, np.uint8))
    with pytest.raises(InputError) as exc:
        open_recording(box_room)
    assert str(path) in str(exc.value) and "16-bit" in str(exc.value)


def test_corrupt_image(box_room):
    path = box_room / "wfc1" / "color" / "000001.jpg"
    path.write_bytes(b"\xff\xd8 this is not a jpeg")
    rec = open_recording(box_room)  # only the first frame is decoded when opening
    with pytest.raises(InputError) as exc:
        rec.views(1)
    assert str(path) in str(exc.value) and "cannot decode" in str(exc.value)


def test_bad_frame_file_name_and_missing_folder(box_room):
    (box_room / "wfc1" / "color" / "first.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="integer frame numbers"):
        open_recording(box_room)
    (box_room / "wfc1" / "color" / "first.jpg").unlink()
    import shutil
    shutil.rmtree(box_room / "sc2" / "depth")
    with pytest.raises(InputError, match="folder missing for camera 'sc2'"):
        open_recording(box_room)


def test_memory_does_not_grow_with_length(tmp_path):
    """Reading frame after frame keeps one frame in memory, whatever the length."""
    rec_path = tmp_path / "long"
    write_box_room(rec_path, frames=12, n_cameras=2, size=(320, 180), depth_noise=False)
    rec = open_recording(rec_path)

    def peak(n_frames: int) -> int:
        tracemalloc.start()
        for frame in rec.frames[:n_frames]:
            views = rec.views(frame)
            del views
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short, long = peak(2), peak(12)
    one_frame = 2 * (320 * 180 * 3 + 320 * 180 * 4)
    assert long < short + one_frame, (short, long)


def test_outputs_get_ordinary_permissions(tmp_path):
    """Atomic writes go through private temporary files; the results must not stay private."""
    import os
    import stat

    rec = tmp_path / "perm"
    write_box_room(rec, frames=1, n_cameras=1, size=(64, 36), depth_noise=False)
    umask = os.umask(0)
    os.umask(umask)
    for path in [rec, rec / "calibration.json", *rec.rglob("*.png")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert mode == expected, (path, oct(mode))
