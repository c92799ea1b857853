"""disguisor: holistic multi-view face anonymization for RGB-D operating-room recordings.

The package follows the pipeline, one subpackage or module per stage, data flowing one way::

    recording (io) -> fusion -> pose2d -> pose3d -> body -> refine -> render -> outputs
                                                              evaluate / baselines

Conventions used everywhere: world frame in metres with +z up; camera frames follow OpenCV
(x right, y down, z forward); images are (height, width) arrays, colour in BGR uint8 as OpenCV
reads them; depth maps hold metres as float32 where 0 means "no reading".
"""

__version__ = "0.1.0"
