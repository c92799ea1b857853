"""2D face detectors (CenterFace, BlazeFace, dlib HOG/CNN, SCRFD with landmarks, DSFD with user weights): image ->
(N, 5) x, y, w, h, score boxes in pixels. Used by the baselines, the hybrid mode of ``run`` and
the identity metrics of ``quality``."""

from disguisor.facedet.detectors import DetectorParams, FaceDetector, draw_boxes, make_face_detector

__all__ = ["DetectorParams", "FaceDetector", "draw_boxes", "make_face_detector"]
