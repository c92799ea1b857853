"""Face templates: project-drawn replacement faces in canonical face UV space.

A template is an RGB image of a frontal face laid out in the canonical face UV space of
:mod:`disguisor.refine.surface` (column = u, row = v; the image spans FACE_UV_WIDTH_M x
FACE_UV_HEIGHT_M = 0.20 x 0.26 m of the face, so one pixel is 0.625 mm at 320 x 416 px).
Feature positions come from Anny's rest face in that space: eyes at u = 0.35 / 0.65, v = 0.41;
nose tip v = 0.52; mouth v = 0.655; chin v = 0.85. Note that u grows from the person's *left*
ear (u = 0) to the right, so the image is the face as seen in a mirror; the drawings are
left-right symmetric up to small deliberate asymmetries, which makes no visible difference.

Every template is drawn here from geometric primitives and seeded noise: no photograph, scan
or real person is involved, and no template reproduces the look of a synthetic person of
:mod:`disguisor.synth.people` (different skin tones, mask and cap colours, and drawn features).
They ship inside the package (``disguisor/assets/templates``: one PNG per template and
``templates.json`` with name, description, skin tone, mask, cap, size) and are rebuilt byte for
byte by the drawing tool :mod:`disguisor.render.template_drawing`::

    python -m disguisor.render.template_drawing disguisor/assets/templates

Licence: project-made, same licence as the project (Apache-2.0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from disguisor.errors import InputError

TEMPLATE_SIZE = (320, 416)  # width, height in pixels (0.625 mm per pixel over 0.20 x 0.26 m)
DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "assets" / "templates"  # package data
INDEX_FILE = "templates.json"

# Feature layout in canonical UV (from Anny's rest face; see module doc).
EYE_U, EYE_V = 0.35, 0.41
BROW_V = 0.345
NOSE_TIP_V = 0.525
MOUTH_V = 0.655
CHIN_V = 0.85


@dataclass(frozen=True)
class TemplateSpec:
    """How one template is drawn. Colours are sRGB 0-255.

    skin: base skin tone. iris: eye colour. hair: brows (and hairline) colour. lips: lip tint.
    mask: surgical mask colour or None. cap: surgical cap colour or None. seed: noise seed.
    """

    name: str
    description: str
    skin: tuple[int, int, int]
    iris: tuple[int, int, int]
    hair: tuple[int, int, int]
    lips: tuple[int, int, int]
    mask: tuple[int, int, int] | None = None
    cap: tuple[int, int, int] | None = None
    seed: int = 0


@dataclass
class Template:
    """A face template. image: (H, W, 3) uint8 RGB in canonical face UV space (row 0 = v 0 =
    crown side). name: its id. info: its metadata from templates.json."""

    name: str
    image: np.ndarray
    info: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# Loading and choosing


def load_templates(folder: Path | None = None) -> dict[str, Template]:
    """Templates listed in ``folder``/templates.json (default: the package's assets/templates/).

    Raises InputError naming the file and field when the index or an image is missing or bad."""
    folder = Path(folder) if folder is not None else DEFAULT_FOLDER
    index_path = folder / INDEX_FILE
    if not index_path.is_file():
        raise InputError(index_path, "face template index not found (rebuild with "
                         "`python -m disguisor.render.template_drawing`)")
    try:
        doc = json.loads(index_path.read_text())
        entries = doc["templates"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(index_path, f"not a template index: {exc}", field="templates") from exc
    out: dict[str, Template] = {}
    for i, entry in enumerate(entries):
        name, file = entry.get("name"), entry.get("file")
        if not isinstance(name, str) or not isinstance(file, str):
            raise InputError(index_path, "needs a name and a file", field=f"templates[{i}]")
        img = cv2.imread(str(folder / file), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(folder / file, "missing or not an image", field=f"templates[{i}].file")
        out[name] = Template(name, np.ascontiguousarray(img[..., ::-1]), dict(entry))
    if not out:
        raise InputError(index_path, "lists no templates", field="templates")
    return out
