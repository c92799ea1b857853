"""Offscreen OpenGL rendering (pyrender) through calibrated OpenCV cameras, lens distortion included.

OpenGL renders a pinhole image; real lenses distort. Each camera is rendered on a slightly
larger pinhole "canvas" with the same focal length, then resampled into the distorted image
with a per-pixel lookup built from the undistorted pixel rays, so rendered colour, depth and
labels line up with :func:`disguisor.geometry.project_points` to a fraction of a pixel.

Depth comes back as distance along the optical axis in metres (0 = nothing rendered), like a
depth sensor. Labels are integer ids per pixel from pyrender's segmentation pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Must be chosen before OpenGL is imported anywhere. EGL works with the Mesa libraries that
# `make install` provides; set DISGUISOR_GL=osmesa to use OSMesa instead.
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ.get("DISGUISOR_GL", "egl"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from disguisor.geometry import pixel_rays  # noqa: E402
from disguisor.io.calibration import Camera  # noqa: E402

# OpenCV camera axes (x right, y down, z forward) -> OpenGL camera axes (x right, y up, z back).
CV_TO_GL = np.diag([1.0, -1.0, -1.0])


def camera_pose_gl(camera: Camera) -> np.ndarray:
    """4x4 camera-to-world pose of an OpenCV camera, in OpenGL's camera-axis convention."""
    pose = np.eye(4)
    pose[:3, :3] = camera.R @ CV_TO_GL
    pose[:3, 3] = camera.t
    return pose


@dataclass(frozen=True)
class Canvas:
    """The pinhole image rendered for one camera, and how it maps onto the distorted image.

    width/height: canvas size in pixels; fx, fy, cx, cy: its pinhole intrinsics (OpenCV pixel
    centres); map_x/map_y: (H, W) float32 canvas coordinates of every camera pixel, or None when
    the camera has no distortion (canvas = image).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    map_x: np.ndarray | None
    map_y: np.ndarray | None


def make_canvas(camera: Camera, margin_px: int = 2) -> Canvas:
    K = camera.K
    if camera.dist is None or not np.any(camera.dist):
        return Canvas(camera.width, camera.height, K[0, 0], K[1, 1], K[0, 2], K[1, 2], None, None)
    rays = pixel_rays(K, camera.dist, camera.width, camera.height).astype(np.float64)
    u = K[0, 0] * rays[..., 0] + K[0, 1] * rays[..., 1]
    v = K[1, 1] * rays[..., 1]
    cx = -np.floor(u.min()) + margin_px
    cy = -np.floor(v.min()) + margin_px
    width = int(np.ceil(u.max() + cx)) + margin_px + 1
    height = int(np.ceil(v.max() + cy)) + margin_px + 1
    return Canvas(width, height, K[0, 0], K[1, 1], float(cx), float(cy),
                  (u + cx).astype(np.float32), (v + cy).astype(np.float32))


class CameraRenderer:
    """Renders pyrender scenes through the cameras of a calibration.

    One OpenGL context is shared by all cameras; canvases are computed once per camera.
    """

    def __init__(self, cameras):
        import pyrender

        self._pyrender = pyrender
        self.cameras = list(cameras)
        self.canvases = {c.name: make_canvas(c) for c in self.cameras}
        w = max(cv.width for cv in self.canvases.values())
        h = max(cv.height for cv in self.canvases.values())
        self.renderer = pyrender.OffscreenRenderer(w, h)
        _keep_shared_display(self.renderer)
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.renderer.delete()

    def __enter__(self) -> CameraRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _camera_node(self, scene, camera: Camera):
        cv = self.canvases[camera.name]
        # pyrender's principal point counts from the pixel corner: OpenCV's centre + 0.5
        gl_cam = self._pyrender.IntrinsicsCamera(cv.fx, cv.fy, cv.cx + 0.5, cv.cy + 0.5, znear=0.05, zfar=30.0)
        return scene.add(gl_cam, pose=camera_pose_gl(camera))

    def _to_image(self, camera: Camera, image: np.ndarray, nearest: bool) -> np.ndarray:
        cv = self.canvases[camera.name]
        if cv.map_x is None:
            return image
        interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.remap(image, cv.map_x, cv.map_y, interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def render(self, scene, camera: Camera, flags: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Colour (H, W, 3) uint8 RGB and depth (H, W) float32 metres of ``scene`` seen by ``camera``."""
        pr = self._pyrender
        cv = self.canvases[camera.name]
        node = self._camera_node(scene, camera)
        try:
            self.renderer.viewport_width, self.renderer.viewport_height = cv.width, cv.height
            color, depth = self.renderer.render(scene, flags=pr.RenderFlags.NONE if flags is None else flags)
        finally:
            scene.remove_node(node)
        return self._to_image(camera, color, nearest=False), self._to_image(camera, depth, nearest=True)

    def render_labels(self, scene, camera: Camera, node_labels: dict) -> np.ndarray:
        """Per-pixel integer label (H, W) int32 of the nearest surface; 0 where nothing with a
        label is visible. ``node_labels`` maps pyrender nodes to positive ints < 2**24; nodes
        left out still occlude (they render as label 0)."""
        pr = self._pyrender
        seg_map = {n: _label_to_rgb(lbl) for n, lbl in node_labels.items()}
        for n in scene.mesh_nodes:
            seg_map.setdefault(n, (0, 0, 0))
        cv = self.canvases[camera.name]
        node = self._camera_node(scene, camera)
        try:
            self.renderer.viewport_width, self.renderer.viewport_height = cv.width, cv.height
            rgb, _ = self.renderer.render(scene, flags=pr.RenderFlags.SEG, seg_node_map=seg_map)
        finally:
            scene.remove_node(node)
        rgb = rgb.astype(np.int32)
        labels = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        return self._to_image(camera, labels, nearest=True)


    def render_window(self, scene, camera: Camera, box: tuple[int, int, int, int], node_labels: dict | None = None,
                      rgba: bool = False, depth_only: bool = False,
                      ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
        """Colour, depth and (when ``node_labels`` is given) labels of the image window
        ``box`` = (x0, y0, x1, y1) pixels (x1, y1 exclusive), rendering only the part of the
        canvas that window needs: the cost follows the window, not the image size.

        Returns arrays of the window's shape: colour (h, w, 3) uint8 RGB (with ``rgba``: (h, w, 4),
        alpha = coverage, colour premultiplied by it), depth (h, w) float32 metres along the
        optical axis (0 = nothing), labels (h, w) int32 or None. With ``depth_only`` the colour is
        not rendered (None)."""
        pr = self._pyrender
        cv = self.canvases[camera.name]
        x0, y0, x1, y1 = box
        if cv.map_x is None:
            wx0, wy0, wx1, wy1 = x0, y0, x1, y1
            mx = my = None
        else:
            mx, my = cv.map_x[y0:y1, x0:x1], cv.map_y[y0:y1, x0:x1]
            # +-2 px: bilinear neighbours of the remap
            wx0, wy0 = max(int(np.floor(mx.min())) - 2, 0), max(int(np.floor(my.min())) - 2, 0)
            wx1, wy1 = min(int(np.ceil(mx.max())) + 3, cv.width), min(int(np.ceil(my.max())) + 3, cv.height)
            mx, my = mx - np.float32(wx0), my - np.float32(wy0)
        gl_cam = pr.IntrinsicsCamera(cv.fx, cv.fy, cv.cx - wx0 + 0.5, cv.cy - wy0 + 0.5, znear=0.05, zfar=30.0)
        node = scene.add(gl_cam, pose=camera_pose_gl(camera))
        try:
            self.renderer.viewport_width, self.renderer.viewport_height = wx1 - wx0, wy1 - wy0
            if depth_only:
                color, depth = None, self.renderer.render(scene, flags=pr.RenderFlags.DEPTH_ONLY)
            else:
                color, depth = self.renderer.render(scene, flags=pr.RenderFlags.RGBA if rgba else pr.RenderFlags.NONE)
            labels = None
            if node_labels is not None:
                seg_map = {n: _label_to_rgb(lbl) for n, lbl in node_labels.items()}
                for n in scene.mesh_nodes:
                    seg_map.setdefault(n, (0, 0, 0))
                rgb, _ = self.renderer.render(scene, flags=pr.RenderFlags.SEG, seg_node_map=seg_map)
                rgb = rgb.astype(np.int32)
                labels = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        finally:
            scene.remove_node(node)
        if mx is None:
            return color, depth, labels
        border = {"borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
        if color is not None:
            color = cv2.remap(color, mx, my, cv2.INTER_LINEAR, **border)
        depth = cv2.remap(depth, mx, my, cv2.INTER_NEAREST, **border)
        if labels is not None:
            labels = cv2.remap(labels, mx, my, cv2.INTER_NEAREST, **border)
        return color, depth, labels


_open_egl_platforms: set[int] = set()


def _keep_shared_display(renderer) -> None:
    """All EGL renderers of a process share one EGL display, and pyrender terminates it when any
    renderer is deleted, which breaks every other open renderer. Terminate it only when the
    last open renderer closes."""
    platform = getattr(renderer, "_platform", None)
    if platform is None or not hasattr(platform, "_egl_display"):
        return
    _open_egl_platforms.add(id(platform))
    terminate_and_destroy = platform.delete_context

    def delete_context() -> None:
        _open_egl_platforms.discard(id(platform))
        if _open_egl_platforms:
            from OpenGL.EGL import eglDestroyContext

            if platform._egl_display is not None and platform._egl_context is not None:
                eglDestroyContext(platform._egl_display, platform._egl_context)
            platform._egl_context = platform._egl_display = None
        else:
            terminate_and_destroy()

    platform.delete_context = delete_context


def _label_to_rgb(label: int) -> tuple[int, int, int]:
    if not 0 < label < 1 << 24:
        raise ValueError(f"label {label} out of range")
    return (label >> 16) & 255, (label >> 8) & 255, label & 255
