import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from disguisor.config import RecordingParams
from disguisor.errors import InputError
from disguisor.io.recording import jpeg_problem, open_recording, png_problem
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
    # the error names the missing depth file (.png) and the colour frame that lacks it
    assert exc.value.path == str(box_room / "wfc2" / "depth" / "000002.png") and "(000002.jpg)" in str(exc.value)


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


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, chunks = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        chunks.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def _png_from_chunks(signature: bytes, chunks) -> bytes:
    return signature + b"".join(struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
                                for k, d in chunks)


def test_truncated_and_damaged_frames_are_caught(box_room):
    jpg = box_room / "wfc1" / "color" / "000001.jpg"
    png = box_room / "sc1" / "depth" / "000002.png"
    good_jpg, good_png = jpg.read_bytes(), png.read_bytes()
    assert jpeg_problem(good_jpg) is None and png_problem(good_png) is None
    assert jpeg_problem(good_jpg + b"\0" * 16) is None  # zero padding after the end marker is allowed
    rec = open_recording(box_room)
    assert rec.damaged_files() == []

    # a JPEG cut short: libjpeg decodes it with a warning only (grey lower half)
    jpg.write_bytes(good_jpg[:len(good_jpg) * 2 // 3])
    with pytest.raises(InputError, match="truncated: the file .* end-of-image marker FFD9") as exc:
        rec.read_color(rec.calibration.camera("wfc1"), 1)
    assert exc.value.path == str(jpg)
    # an invalid marker inside the image data (a flipped byte)
    broken = bytearray(good_jpg)
    scan = good_jpg.index(b"\xff\xda") + 20
    broken[scan:scan + 2] = b"\xff\x3c"
    assert jpeg_problem(bytes(broken)) == f"corrupt: invalid marker FF3C in the image data at byte {scan}"

    # a PNG cut short, a flipped byte (CRC), and a complete structure around an incomplete zlib stream
    assert png_problem(good_png[:-12]) == f"truncated at byte {len(good_png) - 12}: no IEND chunk"
    assert "truncated at byte" in png_problem(good_png[:len(good_png) // 2])
    flipped = bytearray(good_png)
    flipped[len(flipped) // 2] ^= 0x40
    assert "CRC mismatch in chunk 'IDAT'" in png_problem(bytes(flipped))
    chunks = _png_chunks(good_png)
    idat = b"".join(d for k, d in chunks if k == b"IDAT")
    short = [c for c in chunks if c[0] != b"IDAT"]
    short.insert(-1, (b"IDAT", idat[:len(idat) // 2]))
    png.write_bytes(_png_from_chunks(good_png[:8], short))
    assert png_problem(png.read_bytes()) == "truncated image data: the zlib stream in IDAT is incomplete"
    with pytest.raises(InputError, match="cannot decode depth image: truncated image data"):
        rec.read_depth(rec.calibration.camera("sc1"), 2)

    damaged = {(cam, frame): problem for cam, frame, _, problem in open_recording(box_room).damaged_files()}
    assert set(damaged) == {("wfc1", 1), ("sc1", 2)}
    assert damaged["wfc1", 1].startswith("truncated") and "zlib stream" in damaged["sc1", 2]


def test_damaged_first_frame_refuses_the_recording(box_room):
    path = box_room / "sc2" / "color" / "000000.jpg"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputError, match="truncated") as exc:
        open_recording(box_room)
    assert exc.value.path == str(path)


def test_cameras_without_depth(box_room):
    assert open_recording(box_room).cameras_without_depth() == []
    for path in (box_room / "wfc2" / "depth").glob("*.png"):
        cv2.imwrite(str(path), np.zeros((180, 320), np.uint16))
    assert open_recording(box_room).cameras_without_depth() == ["wfc2"]
