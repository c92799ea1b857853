"""One MP4 per camera from the anonymized images (PyAV, H.264), written to a temporary name first."""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from disguisor.io.recording import Recording
from disguisor.run.outputs import output_image_path

DEFAULT_FPS = 30.0
VIDEO_CRF = "20"  # x264 constant quality: visually lossless for this content, ~10x smaller than JPEGs


def write_videos(recording: Recording, out: Path, fps: float | None = None) -> list[Path]:
    """Encode ``out/<camera>/*.jpg`` into ``out/<camera>.mp4`` in frame order.

    fps: frames per second of the video (default: ``fps`` in the recording's annotations.json /
    recording.json when present, else 30). Frames a camera lacks (withheld views) are skipped.
    """
    import av

    fps = fps or _recording_fps(recording) or DEFAULT_FPS
    written = []
    for cam in recording.cameras:
        path = out / f"{cam.name}.mp4"
        tmp = path.with_name(f".{path.name}.tmp.mp4")
        try:
            with av.open(str(tmp), mode="w") as container:
                stream = container.add_stream("libx264", rate=round(fps))
                stream.width, stream.height = cam.width - cam.width % 2, cam.height - cam.height % 2
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": VIDEO_CRF}
                for frame in recording.frames:
                    image_path = output_image_path(out, cam.name, frame)
                    if not image_path.is_file():
                        continue
                    bgr = cv2.imread(str(image_path))[: stream.height, : stream.width]
                    vf = av.VideoFrame.from_ndarray(bgr, format="bgr24")
                    for packet in stream.encode(vf):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        written.append(path)
    return written


def _recording_fps(recording: Recording) -> float | None:
    import json

    for name in ("recording.json", "annotations.json"):
        p = recording.root / name
        if p.is_file():
            try:
                data = json.loads(p.read_text())
                fps = data.get("fps") or data.get("info", {}).get("fps")
                if fps:
                    return float(fps)
            except (OSError, ValueError, AttributeError):
                pass
    return None
