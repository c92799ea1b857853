"""2D human keypoints per view: the ``keypoints2d.json`` file (COCO-17 keypoints, COCO style).

>>> kp = load_keypoints("keypoints2d.json", calibration)   # doctest: +SKIP
>>> kp.views(frame=0)["wfc1"][0].keypoints.shape            # doctest: +SKIP
(17, 3)
"""

from disguisor.pose2d.keypoints_io import (
    COCO_KEYPOINTS,
    COCO_SKELETON,
    HEAD_JOINTS,
    NUM_JOINTS,
    PERSON_CATEGORY_ID,
    Detection,
    KeypointImage,
    Keypoints2D,
    keypoints_from_json,
    keypoints_to_json,
    load_keypoints,
    save_keypoints,
)

__all__ = ["COCO_KEYPOINTS", "COCO_SKELETON", "HEAD_JOINTS", "NUM_JOINTS", "PERSON_CATEGORY_ID", "Detection",
           "KeypointImage", "Keypoints2D", "keypoints_from_json", "keypoints_to_json", "load_keypoints",
           "save_keypoints"]
