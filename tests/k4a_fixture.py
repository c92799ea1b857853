"""Fixture helper: write small fake Azure Kinect recordings (Matroska files) for tests.

The file mimics what the Azure Kinect recorder writes and what ``disguisor.io.kinect`` reads:

* a COLOR video track: ``V_MJPEG`` (each block one JPEG file) or ``V_MS/VFW/FOURCC`` with a
  BITMAPINFOHEADER naming the raw layout (``BGRA``, ``NV12`` or ``YUY2``);
* a DEPTH video track: ``V_MS/VFW/FOURCC`` with fourcc ``b16g`` (big-endian uint16 millimetres),
  which FFmpeg decodes as rawvideo ``gray16be`` exactly like the real recordings;
* optionally an IMU track (``S_K4A/IMU``, a subtitle track) of 40-byte samples ``<Q3fQ3f``;
* the calibration as the attachment ``calibration.json``;
* track names (COLOR, DEPTH, IMU) and the recorder's tags (``K4A_COLOR_TRACK`` ...).

Why a hand-written Matroska writer rather than PyAV's muxer: FFmpeg's Matroska muxer always uses
a 1 ms timestamp scale (K4A files use 1 us, so microsecond timestamps would be rounded), refuses
raw 16-bit grey unless ``allow_raw_vfw`` is set and then stores it without the ``b16g`` fourcc
(it reads back as ``rgb555le``), and cannot write a track with a custom codec such as the IMU's.
Matroska is simple for these few elements, so the writer below builds the file in memory
(EBML header, Segment with Info, Tracks, Attachments, Tags and Clusters of SimpleBlocks).
PyAV is used only to convert BGR pixels to NV12/YUY2 (FFmpeg's swscale, the same library that
converts them back when the file is decoded).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

COLOR_FORMATS = ("MJPG", "BGRA", "NV12", "YUY2")
_DEPTH_MODES = {(320, 288): "NFOV_2X2BINNED", (640, 576): "NFOV_UNBINNED",
                (512, 512): "WFOV_2X2BINNED", (1024, 1024): "WFOV_UNBINNED"}
_IMU_SAMPLE = struct.Struct("<Q3fQ3f")  # acc ts (ns), acc xyz (m/s^2), gyro ts (ns), gyro xyz (rad/s)
_IMU_SAMPLES_PER_FRAME = 4
_IMU_PERIOD_US = 625  # the Azure Kinect IMU runs at 1.6 kHz

# Matroska element IDs (https://www.matroska.org/technical/elements.html), IDs include their marker bits.
EBML, EBML_VERSION, EBML_READ_VERSION = 0x1A45DFA3, 0x4286, 0x42F7
EBML_MAX_ID_LENGTH, EBML_MAX_SIZE_LENGTH = 0x42F2, 0x42F3
DOC_TYPE, DOC_TYPE_VERSION, DOC_TYPE_READ_VERSION = 0x4282, 0x4287, 0x4285
SEGMENT = 0x18538067
INFO, TIMESTAMP_SCALE, DURATION, TITLE, MUXING_APP, WRITING_APP = (
    0x1549A966, 0x2AD7B1, 0x4489, 0x7BA9, 0x4D80, 0x5741)
TRACKS, TRACK_ENTRY, TRACK_NUMBER, TRACK_UID, TRACK_TYPE = 0x1654AE6B, 0xAE, 0xD7, 0x73C5, 0x83
FLAG_LACING, NAME, LANGUAGE, CODEC_ID, CODEC_PRIVATE = 0x9C, 0x536E, 0x22B59C, 0x86, 0x63A2
VIDEO, PIXEL_WIDTH, PIXEL_HEIGHT = 0xE0, 0xB0, 0xBA
ATTACHMENTS, ATTACHED_FILE, FILE_NAME, FILE_MIME_TYPE, FILE_DATA, FILE_UID = (
    0x1941A469, 0x61A7, 0x466E, 0x4660, 0x465C, 0x46AE)
TAGS, TAG, TARGETS, TAG_TRACK_UID, TAG_ATTACHMENT_UID = 0x1254C367, 0x7373, 0x63C0, 0x63C5, 0x63C6
SIMPLE_TAG, TAG_NAME, TAG_STRING = 0x67C8, 0x45A3, 0x4487
CLUSTER, CLUSTER_TIMESTAMP, SIMPLE_BLOCK = 0x1F43B675, 0xE7, 0xA3

TRACK_TYPE_VIDEO, TRACK_TYPE_SUBTITLE = 1, 0x11
_TIMESCALE_NS = 1000  # one timestamp tick = 1 us, as in K4A recordings


# ----------------------------------------------------------------------------------------------
# EBML primitives: an element is ID, size (a variable-length integer) and payload.


def _size(n: int) -> bytes:
    """EBML variable-length size: the shortest form (all-ones values are reserved for 'unknown')."""
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return (n | (1 << (7 * length))).to_bytes(length, "big")
    raise ValueError(f"element too large: {n} bytes")


def _el(eid: int, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + _size(len(body)) + body


def _uint(eid: int, value: int) -> bytes:
    return _el(eid, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _str(eid: int, value: str) -> bytes:
    return _el(eid, value.encode("utf-8"))


def _float(eid: int, value: float) -> bytes:
    return _el(eid, struct.pack(">d", value))


# ----------------------------------------------------------------------------------------------
# Tracks and the file layout


@dataclass
class _Track:
    number: int
    name: str
    track_type: int
    codec_id: str
    tags: dict[str, str]
    blocks: list[tuple[int, bytes]]  # (timestamp in us, payload)
    codec_private: bytes = b""
    size: tuple[int, int] | None = None  # video (width, height)
    uid: int = field(init=False)

    def __post_init__(self) -> None:
        self.uid = 0x4B3441_0000_0000 + self.number  # fixed UIDs: the files are reproducible

    def entry(self) -> bytes:
        parts = [_uint(TRACK_NUMBER, self.number), _uint(TRACK_UID, self.uid),
                 _uint(TRACK_TYPE, self.track_type), _uint(FLAG_LACING, 0), _str(NAME, self.name),
                 _str(LANGUAGE, "eng"), _str(CODEC_ID, self.codec_id)]
        if self.codec_private:
            parts.append(_el(CODEC_PRIVATE, self.codec_private))
        if self.size is not None:
            parts.append(_el(VIDEO, _uint(PIXEL_WIDTH, self.size[0]), _uint(PIXEL_HEIGHT, self.size[1])))
        return _el(TRACK_ENTRY, *parts)


def _bitmap_info_header(width: int, height: int, bit_count: int, fourcc: str, image_size: int) -> bytes:
    """The 40-byte Windows BITMAPINFOHEADER that ``V_MS/VFW/FOURCC`` tracks carry as CodecPrivate."""
    return struct.pack("<IiiHH4sIiiII", 40, width, height, 1, bit_count, fourcc.encode("ascii"),
                       image_size, 0, 0, 0, 0)


def _simple_tags(tags: dict[str, str]) -> list[bytes]:
    return [_el(SIMPLE_TAG, _str(TAG_NAME, k), _str(TAG_STRING, v)) for k, v in tags.items()]


def _clusters(tracks: Sequence[_Track]) -> bytes:
    """All blocks in timestamp order; a new cluster whenever the int16 relative time would overflow."""
    blocks = sorted((ts, t.number, data) for t in tracks for ts, data in t.blocks)
    out: list[bytes] = []
    current: list[bytes] = []
    start = 0
    for ts, number, data in blocks:
        if not current or ts - start > 32767:
            if current:
                out.append(_el(CLUSTER, *current))
            start, current = ts, [_uint(CLUSTER_TIMESTAMP, ts)]
        # SimpleBlock: track number (1-byte vint), int16 time relative to the cluster, flags (keyframe).
        current.append(_el(SIMPLE_BLOCK, bytes([0x80 | number]), struct.pack(">hB", ts - start, 0x80), data))
    if current:
        out.append(_el(CLUSTER, *current))
    return b"".join(out)


def _mkv(title: str, tracks: Sequence[_Track], attachment: tuple[str, bytes, dict[str, str]],
         global_tags: dict[str, str]) -> bytes:
    header = _el(EBML, _uint(EBML_VERSION, 1), _uint(EBML_READ_VERSION, 1), _uint(EBML_MAX_ID_LENGTH, 4),
                 _uint(EBML_MAX_SIZE_LENGTH, 8), _str(DOC_TYPE, "matroska"), _uint(DOC_TYPE_VERSION, 4),
                 _uint(DOC_TYPE_READ_VERSION, 2))
    last = max((ts for t in tracks for ts, _ in t.blocks), default=0)
    info = _el(INFO, _uint(TIMESTAMP_SCALE, _TIMESCALE_NS), _float(DURATION, float(last + 1)),
               _str(TITLE, title), _str(MUXING_APP, "disguisor test fixture"),
               _str(WRITING_APP, "disguisor test fixture"))
    name, data, attachment_tags = attachment
    attachment_uid = 0x4B3441_CA11_0001
    attachments = _el(ATTACHMENTS, _el(ATTACHED_FILE, _str(FILE_NAME, name),
                                       _str(FILE_MIME_TYPE, "application/octet-stream"),
                                       _el(FILE_DATA, data), _uint(FILE_UID, attachment_uid)))
    tags = [_el(TAG, _el(TARGETS), *_simple_tags(global_tags))]
    tags += [_el(TAG, _el(TARGETS, _uint(TAG_TRACK_UID, t.uid)), *_simple_tags(t.tags)) for t in tracks]
    tags.append(_el(TAG, _el(TARGETS, _uint(TAG_ATTACHMENT_UID, attachment_uid)),
                    *_simple_tags(attachment_tags)))
    segment = _el(SEGMENT, info, _el(TRACKS, *(t.entry() for t in tracks)), attachments,
                  _el(TAGS, *tags), _clusters(tracks))
    return header + segment


# ----------------------------------------------------------------------------------------------
# Pixel formats


def _bgr(frame: np.ndarray) -> np.ndarray:
    """A colour frame as contiguous (H, W, 3) uint8 BGR (a fourth, alpha channel is dropped)."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(f"colour frames must be (H, W, 3|4) uint8 BGR(A), got {frame.shape} {frame.dtype}")
    return np.ascontiguousarray(frame[:, :, :3])


def _encode_color(frame: np.ndarray, color_format: str) -> bytes:
    """One colour frame as the bytes of one block of the COLOR track."""
    bgr = _bgr(frame)
    if color_format == "MJPG":
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
        if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):  # the device's MJPEG is 4:2:2
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422]
        ok, jpeg = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise ValueError("JPEG encoding failed")
        return jpeg.tobytes()
    if color_format == "BGRA":
        if frame.shape[2] == 4:
            return np.ascontiguousarray(frame).tobytes()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA).tobytes()
    # NV12 (Y plane, then interleaved UV at half resolution) and YUY2 (Y0 U Y1 V): FFmpeg's own
    # conversion, BT.601 limited range, which is what the decoder assumes for untagged raw video.
    pix_fmt = {"NV12": "nv12", "YUY2": "yuyv422"}[color_format]
    converted = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format=pix_fmt)
    return np.ascontiguousarray(converted.to_ndarray()).tobytes()


def _color_codec(color_format: str, width: int, height: int) -> tuple[str, bytes]:
    """(Matroska CodecID, CodecPrivate) of the COLOR track."""
    if color_format == "MJPG":
        return "V_MJPEG", b""
    bits = {"BGRA": 32, "NV12": 12, "YUY2": 16}[color_format]
    return "V_MS/VFW/FOURCC", _bitmap_info_header(width, height, bits, color_format,
                                                  width * height * bits // 8)


# ----------------------------------------------------------------------------------------------


def write_fake_k4a_mkv(path: str | Path, color_frames: Sequence[np.ndarray], depth_frames: Sequence[np.ndarray],
                       timestamps_us: Sequence[int], calibration_json: dict, color_format: str = "MJPG",
                       depth_timestamps_us: Sequence[int] | None = None,
                       imu_accel: Sequence[float] | None = None) -> None:
    """Write an Azure-Kinect-like Matroska recording.

    Args:
        path: output file (``.mkv``), overwritten.
        color_frames: (H, W, 3) uint8 BGR images (or (H, W, 4) BGRA), all the same size; H x W should
            be a Kinect colour mode (e.g. 1280x720) for the file to be importable.
        depth_frames: (H, W) uint16 depth in millimetres, all the same size (e.g. 640x576).
        timestamps_us: presentation time of each colour frame in microseconds (>= 0); stored exactly.
        calibration_json: the device calibration, stored as the attachment ``calibration.json``.
        color_format: ``MJPG`` (JPEG frames, quality 95, 4:2:2), or raw ``BGRA``, ``NV12``, ``YUY2``
            (the last two need an even width and height; they lose chroma resolution).
        depth_timestamps_us: times of the depth frames (default: ``timestamps_us``).
        imu_accel: if given, an IMU track whose accelerometer reads this (x, y, z) in m/s^2 (gyro 0),
            a few samples at each colour timestamp.
    """
    if color_format not in COLOR_FORMATS:
        raise ValueError(f"color_format must be one of {COLOR_FORMATS}, got {color_format!r}")
    color_ts = [int(t) for t in timestamps_us]
    depth_ts = color_ts if depth_timestamps_us is None else [int(t) for t in depth_timestamps_us]
    if len(color_ts) != len(color_frames) or len(depth_ts) != len(depth_frames):
        raise ValueError("need one timestamp per colour frame and one per depth frame")
    if not color_frames or not depth_frames:
        raise ValueError("need at least one colour and one depth frame")
    if min(color_ts + depth_ts) < 0:
        raise ValueError("timestamps must be >= 0")
    color_shapes = {np.shape(f)[:2] for f in color_frames}
    depth_shapes = {np.shape(f) for f in depth_frames}
    if len(color_shapes) != 1 or len(depth_shapes) != 1:
        raise ValueError("all colour frames, and all depth frames, must have one size")
    ch, cw = color_shapes.pop()
    dh, dw = depth_shapes.pop()
    if color_format in ("NV12", "YUY2") and (cw % 2 or ch % 2):
        raise ValueError(f"{color_format} needs an even colour size, got {cw}x{ch}")
    if any(np.asarray(d).dtype != np.uint16 for d in depth_frames):
        raise ValueError("depth frames must be uint16 millimetres")

    codec_id, codec_private = _color_codec(color_format, cw, ch)
    color = _Track(1, "COLOR", TRACK_TYPE_VIDEO, codec_id, {}, codec_private=codec_private, size=(cw, ch),
                   blocks=[(t, _encode_color(np.asarray(f), color_format))
                           for t, f in zip(color_ts, color_frames, strict=True)])
    color.tags = {"K4A_COLOR_TRACK": str(color.uid), "K4A_COLOR_MODE": f"{color_format}_{ch}P"}
    depth = _Track(2, "DEPTH", TRACK_TYPE_VIDEO, "V_MS/VFW/FOURCC", {},
                   codec_private=_bitmap_info_header(dw, dh, 16, "b16g", dw * dh * 2), size=(dw, dh),
                   blocks=[(t, np.asarray(d, dtype=">u2").tobytes())  # big-endian, as 'b16g'
                           for t, d in zip(depth_ts, depth_frames, strict=True)])
    depth.tags = {"K4A_DEPTH_TRACK": str(depth.uid), "K4A_DEPTH_MODE": _DEPTH_MODES.get((dw, dh), "UNKNOWN")}
    tracks = [color, depth]
    if imu_accel is not None:
        ax, ay, az = (float(v) for v in imu_accel)
        blocks = []
        for t in color_ts:
            samples = b"".join(_IMU_SAMPLE.pack((t + i * _IMU_PERIOD_US) * 1000, ax, ay, az,
                                                (t + i * _IMU_PERIOD_US) * 1000, 0.0, 0.0, 0.0)
                               for i in range(_IMU_SAMPLES_PER_FRAME))
            blocks.append((t, samples))
        imu = _Track(3, "IMU", TRACK_TYPE_SUBTITLE, "S_K4A/IMU", {}, blocks=blocks)
        imu.tags = {"K4A_IMU_TRACK": str(imu.uid), "K4A_IMU_MODE": "ON"}
        tracks.append(imu)

    serial = str(calibration_json.get("CalibrationInformation", {}).get("Metadata", {}).get("SerialId", ""))
    global_tags = {"K4A_DEPTH_DELAY_NS": "0", "K4A_WIRED_SYNC_MODE": "STANDALONE",
                   "K4A_DEVICE_SERIAL_NUMBER": serial, "K4A_START_OFFSET_NS": str(min(color_ts + depth_ts) * 1000)}
    attachment = ("calibration.json", json.dumps(calibration_json).encode("utf-8"),
                  {"K4A_CALIBRATION_FILE": "calibration.json"})
    Path(path).write_bytes(_mkv("Azure Kinect", tracks, attachment, global_tags))
