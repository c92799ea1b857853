"""Synthetic multi-camera OR recordings with people and exact ground truth.

For every frame: the people's postures (motion.py) become Anny meshes (people.py); the room
(room.py), the people and the OR lights are rendered by every camera with OpenGL (lens
distortion included, render/gl.py); the ideal depth goes through the sensor model (sensor.py).
Ground truth comes from the same renders:

- ``annotations.json`` (COCO): one face box per person per view where the face is at least
  partly visible (MIN_VISIBLE_FACE_PIXELS), the tight box of its visible pixels, with
  ``visible_fraction`` = visible face pixels / face pixels with nothing in front (z-buffer);
- ``gt_poses3d.json``: per frame and person, COCO-17 joints (world m), face centre and facing
  direction (unit vector, from the ears' midpoint towards the nose);
- ``keypoints2d.json``: SIMULATED 2D detections made from the ground truth (pixel noise, missed
  and occluded joints, missed people, false detections), to measure the 3D stages apart from
  any 2D detector.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from disguisor.body.anny_model import COCO17_NAMES, load_anny
from disguisor.coco import head_facing
from disguisor.geometry import project_points
from disguisor.io.atomic import atomic_write_text, staged_output_dir
from disguisor.io.calibration import Calibration
from disguisor.io.recording import frame_file_name
from disguisor.io.writer import RecordingWriter
from disguisor.synth.motion import role_motion
from disguisor.synth.people import make_texture, place_root, pose_from_state, sample_appearance
from disguisor.synth.rig import default_rig
from disguisor.synth.room import TABLE_TOP_Z, build_room
from disguisor.synth.scenarios import SCENARIOS, ScenarioSpec
from disguisor.synth.sensor import DepthSensorModel, depth_fov_mask, simulate_depth

FPS = 10.0
MIN_VISIBLE_FACE_PIXELS = 16
FACE_LABEL_BASE = 1  # label of person i's face in the segmentation pass: FACE_LABEL_BASE + i
COCO_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                 [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]


@dataclass(frozen=True)
class KeypointNoise:
    """How the simulated 2D detections differ from the truth (pixels and probabilities)."""

    pixel_sigma: float = 2.0
    missed_joint: float = 0.05
    occluded_joint_dropout: float = 0.5
    missed_person: float = 0.03
    false_detection: float = 0.05
    min_visible_joints: int = 4


@dataclass
class _Person:
    role: str
    look: object
    states: list
    pelvis_z: float
    material: object = None


class _SceneMeshes:
    """pyrender nodes of the people for one frame (replaced every frame)."""

    def __init__(self):
        self.nodes: list = []


def _split_uv_seams(body):
    """Vertices split where a vertex has several UVs: (vertex index, uv) per render vertex and the faces."""
    pairs, inverse = np.unique(np.stack([body.faces.ravel(), body.face_uv_index.ravel()], 1), axis=0,
                               return_inverse=True)
    return pairs[:, 0], body.uv[pairs[:, 1]], inverse.reshape(body.faces.shape)


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    fn = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    vn = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def generate_or_recording(out: str | Path, scenario: str = "easy", frames: int = 10,
                          calibration: Calibration | None = None, size: tuple[int, int] = (1280, 720),
                          n_cameras: int = 4, seed: int = 0, noise: KeypointNoise = KeypointNoise(),
                          sensor: DepthSensorModel = DepthSensorModel(), overwrite: bool = False,
                          progress: Callable[[int], None] | None = None, spec: ScenarioSpec | None = None) -> Path:
    """Render a synthetic OR recording with ground truth into ``out`` (same seed, same recording:
    depth, ground truth and simulated keypoints byte for byte; a few colour pixels can differ by
    1-3 grey levels between runs of the offscreen renderer).

    ``spec`` replaces the named scenario's people and lights (used by tests to place a light)."""
    import pyrender

    from disguisor.render.gl import CameraRenderer

    spec = spec or SCENARIOS[scenario]
    calib = calibration or default_rig(size[0], size[1], n_cameras)
    rng = np.random.default_rng(seed)
    body = load_anny()
    seam_vertex, seam_uv, seam_faces = _split_uv_seams(body)
    face_tris = body.region_faces("face")
    in_face = np.zeros(len(body.faces), bool)
    face_set = {tuple(f) for f in face_tris.tolist()}
    in_face[[tuple(f) in face_set for f in body.faces.tolist()]] = True
    rest_tris = body.faces[~in_face]
    face_vertices = body.regions["face"]

    people: list[_Person] = []
    for role in spec.roles:
        look = sample_appearance(rng, role, spec.caps_and_gowns)
        states = role_motion(role, frames, FPS, rng)
        people.append(_Person(role, look, states, 0.0))
    # pelvis height: standing feet on the floor / lying back on the table pad
    first = [place_root(pose_from_state(p.states[0]), (0.0, 0.0), 0.0) for p in people]
    lowest = body.forward([p.look.phenotype for p in people], first).vertices[..., 2].min(axis=1)
    for p, low in zip(people, lowest, strict=True):
        p.pelvis_z = float((TABLE_TOP_Z if p.states[0].lying else 0.0) - low)
    for p in people:
        tex = make_texture(body, p.look)
        p.material = pyrender.MetallicRoughnessMaterial(
            baseColorTexture=pyrender.Texture(source=tex, source_channels="RGB"),
            metallicFactor=0.0, roughnessFactor=0.85)

    room = build_room(list(spec.lights))
    scene = pyrender.Scene(bg_color=[0, 0, 0, 0], ambient_light=[0.3, 0.3, 0.3])
    room_nodes = []
    for obj in room.objects:
        mat = pyrender.MetallicRoughnessMaterial(baseColorFactor=np.array(obj.color) / 255.0, metallicFactor=0.0,
                                                 roughnessFactor=0.9)
        room_nodes.append(scene.add(pyrender.Mesh.from_trimesh(obj.mesh, material=mat, smooth=False)))
    key_light = np.eye(4)
    key_light[:3, :3] = np.array([[1, 0, 0], [0, 0.8, -0.6], [0, 0.6, 0.8]])  # from above, tilted
    scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=1.6), pose=key_light)
    for xy in ((1.2, -1.5), (-1.2, 1.5), (0.0, -2.5)):
        lp = np.eye(4)
        lp[:3, 3] = (*xy, 2.8)
        scene.add(pyrender.PointLight(color=np.ones(3), intensity=4.0), pose=lp)
    skin_mat = pyrender.MetallicRoughnessMaterial(baseColorFactor=[1, 1, 1, 1])

    fov_masks = {c.name: depth_fov_mask(c, sensor) for c in calib.cameras}
    images, annotations, kp_annotations, poses_gt = [], [], [], []
    with staged_output_dir(Path(out), overwrite=overwrite) as stage, CameraRenderer(calib.cameras) as renderer:
        writer = RecordingWriter(stage, calib)
        for f in range(frames):
            poses = [place_root(pose_from_state(p.states[f]), p.states[f].position, p.pelvis_z) for p in people]
            out_body = body.forward([p.look.phenotype for p in people], poses)
            person_nodes, face_nodes, rest_nodes = [], [], []
            for i, p in enumerate(people):
                V = out_body.vertices[i]
                N = _vertex_normals(V, body.faces)
                prim = pyrender.Primitive(positions=V[seam_vertex], normals=N[seam_vertex], texcoord_0=seam_uv,
                                          indices=seam_faces, material=p.material)
                person_nodes.append(scene.add(pyrender.Mesh([prim])))
                face_nodes.append(pyrender.Node(mesh=pyrender.Mesh([pyrender.Primitive(
                    positions=V, indices=face_tris, material=skin_mat)])))
                rest_nodes.append(pyrender.Node(mesh=pyrender.Mesh([pyrender.Primitive(
                    positions=V, indices=rest_tris, material=skin_mat)])))
            frame_gt = []
            for i, p in enumerate(people):
                kp = out_body.keypoints[i]
                facing = head_facing(kp)
                frame_gt.append({"id": i, "role": p.role, "joints": np.round(kp, 5).tolist(),
                                 "face_center": np.round(out_body.vertices[i][face_vertices].mean(0), 5).tolist(),
                                 "facing": np.round(facing, 5).tolist()})
            poses_gt.append({"frame": f, "people": frame_gt})

            for ci, cam in enumerate(calib.cameras):
                image_id = f * len(calib.cameras) + ci + 1
                rgb, depth = renderer.render(scene, cam)
                # faces and the rest of the bodies as separate, non-overlapping meshes for labels
                for n in person_nodes:
                    scene.remove_node(n)
                for n in face_nodes + rest_nodes:
                    scene.add_node(n)
                labels = renderer.render_labels(scene, cam, {n: FACE_LABEL_BASE + i for i, n in enumerate(face_nodes)})
                for n in face_nodes + rest_nodes:
                    scene.remove_node(n)
                for n in person_nodes:
                    scene.add_node(n)
                images.append({"id": image_id, "file_name": f"{cam.name}/color/{frame_file_name(f, '.jpg')}",
                               "width": cam.width, "height": cam.height, "camera": cam.name, "frame": f,
                               "scenario": scenario, "role": cam.role})
                for i, _p in enumerate(people):
                    vis = labels == FACE_LABEL_BASE + i
                    n_vis = int(vis.sum())
                    if n_vis < MIN_VISIBLE_FACE_PIXELS:
                        continue
                    alone = pyrender.Scene()
                    alone.add_node(face_nodes[i])
                    n_all = int((renderer.render_labels(alone, cam, {face_nodes[i]: 1}) == 1).sum())
                    alone.remove_node(face_nodes[i])
                    ys, xs = np.nonzero(vis)
                    x0, y0 = int(xs.min()), int(ys.min())
                    annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                                        "bbox": [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
                                        "area": n_vis, "iscrowd": 0, "person_id": i,
                                        "visible_fraction": round(min(1.0, n_vis / max(n_all, 1)), 4)})
                kp_annotations += _simulate_keypoints(cam, image_id, out_body.keypoints, depth, rng, noise,
                                                      first_id=len(kp_annotations) + 1)
                depth_m = simulate_depth(depth, rgb, fov_masks[cam.name], rng, sensor)
                writer.write_view(cam, f, np.ascontiguousarray(rgb[..., ::-1]), depth_m)
            for n in person_nodes:
                scene.remove_node(n)
            if progress:
                progress(f + 1)

        face_cat = [{"id": 1, "name": "face"}]
        info = {"description": f"disguisor synthetic OR recording, scenario {scenario}", "seed": seed,
                "frames": frames, "fps": FPS, "people": [{"id": i, "role": p.role} for i, p in enumerate(people)]}
        atomic_write_text(stage / "annotations.json", json.dumps(
            {"info": info, "images": images, "annotations": annotations, "categories": face_cat}) + "\n")
        atomic_write_text(stage / "gt_poses3d.json", json.dumps(
            {"format": "disguisor-gt-poses3d", "version": 1, "units": "metre", "joint_names": list(COCO17_NAMES),
             "frames": poses_gt}) + "\n")
        atomic_write_text(stage / "people.json", json.dumps(people_doc(people), indent=1) + "\n")
        atomic_write_text(stage / "keypoints2d.json", json.dumps(
            {"info": {**info, "simulated": True, "noise": asdict(noise)}, "images": images,
             "annotations": kp_annotations,
             "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17_NAMES),
                             "skeleton": COCO_SKELETON}]}) + "\n")
    return Path(out)


def people_doc(people) -> dict:
    """``people.json``: what each person of the recording looks like and wears (ground truth of the
    attire estimate of ``disguisor run``). ``people``: objects with ``role`` and ``look``
    (:class:`~disguisor.synth.people.Appearance`); person id = index, as everywhere."""
    rows = []
    for i, p in enumerate(people):
        look = p.look
        rows.append({"id": i, "role": p.role, "skin_rgb": list(look.skin), "hair_rgb": list(look.hair),
                     "mask": look.mask is not None, "mask_rgb": None if look.mask is None else list(look.mask),
                     "cap": look.cap is not None, "cap_rgb": None if look.cap is None else list(look.cap),
                     "gown": look.gown is not None})
    return {"format": "disguisor-synth-people", "version": 1, "colours": "sRGB 0-255", "people": rows}


def _simulate_keypoints(cam, image_id: int, joints_world: np.ndarray, depth: np.ndarray,
                        rng: np.random.Generator, noise: KeypointNoise, first_id: int) -> list[dict]:
    """COCO-17 detections of every person in one view, made from the ground truth."""
    out = []
    found = []
    for pid, joints in enumerate(joints_world):
        pc = cam.world_to_camera(joints)
        uv = project_points(pc, cam.K, cam.dist)
        inside = np.all(np.isfinite(uv), axis=1)
        inside &= (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
        visible = inside.copy()
        for j in np.nonzero(inside)[0]:
            z = depth[int(uv[j, 1]), int(uv[j, 0])]
            # joints sit inside the body: the surface in front of them is within ~15 cm
            visible[j] = z <= 0 or z > pc[j, 2] - 0.15
        kept = inside & ~((~visible) & (rng.random(17) < noise.occluded_joint_dropout))
        kept &= rng.random(17) >= noise.missed_joint
        if kept.sum() < noise.min_visible_joints or rng.random() < noise.missed_person:
            continue
        sigma = np.where(visible, noise.pixel_sigma, 3 * noise.pixel_sigma)
        xy = uv + rng.standard_normal((17, 2)) * sigma[:, None]
        score = np.where(visible, rng.uniform(0.7, 1.0, 17), rng.uniform(0.2, 0.5, 17))
        found.append(xy[kept])
        out.append(_kp_entry(first_id + len(out), image_id, xy, np.where(kept, score, 0.0), pid))
    if found and rng.random() < noise.false_detection:
        # a ghost: a real skeleton shape pasted elsewhere, with mediocre scores
        src = found[int(rng.integers(len(found)))]
        shift = rng.uniform(-250, 250, 2)
        xy = np.zeros((17, 2))
        xy[: len(src)] = src + shift
        score = np.zeros(17)
        score[: len(src)] = rng.uniform(0.3, 0.6, len(src))
        xy[:, 0] = np.clip(xy[:, 0], 0, cam.width - 1)
        xy[:, 1] = np.clip(xy[:, 1], 0, cam.height - 1)
        out.append(_kp_entry(first_id + len(out), image_id, xy, score, -1))
    return out


def _kp_entry(ann_id: int, image_id: int, xy: np.ndarray, score: np.ndarray, person_id: int) -> dict:
    kept = score > 0
    flat = []
    for (x, y), s in zip(xy, score, strict=True):
        flat += [round(float(x), 2), round(float(y), 2), round(float(s), 3)] if s > 0 else [0.0, 0.0, 0.0]
    x0, y0 = xy[kept].min(axis=0)
    x1, y1 = xy[kept].max(axis=0)
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "keypoints": flat,
            "num_keypoints": int(kept.sum()), "score": round(float(score[kept].mean()), 3),
            "bbox": [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
            "person_id": person_id}


