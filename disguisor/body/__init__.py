"""Parametric body models behind one small interface.

``anny`` (default): the free Anny model (Apache-2.0, assets ship in its wheel). SMPL comes in
as a second backend with the fitting stage. Units: metres, world z up.
"""

from disguisor.body.anny_model import COCO17_NAMES, AnnyBody, BodyOutput, load_anny, rotation

__all__ = ["COCO17_NAMES", "AnnyBody", "BodyOutput", "load_anny", "rotation"]
