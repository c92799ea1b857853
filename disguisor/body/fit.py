"""Body fit: a body model (Anny or SMPL) fitted to every tracked 3D skeleton of ``poses3d.json``.

Per person track, the shape is fitted once, to the track's median limb lengths (and head
widths); then every person-frame's pose (root rotation and position, and the rotations of the
model's fitted bones) is fitted to its confidence-weighted COCO-17 joints with a robust loss,
a pose prior and temporal smoothness between neighbouring frames of a track. All person-frames
of all tracks are optimized together (batched Levenberg-Marquardt in numpy; the shape by torch
L-BFGS) through the reduced rig of :mod:`disguisor.body.rig`. Missing joints (null in
poses3d.json, confidence 0) do not count; a person-frame with fewer than
``FitParams.min_joints`` joints gets no fit (the run then hides the head sphere instead).

Settings: :class:`disguisor.body.params.FitParams`; the file: :mod:`disguisor.body.bodies_io`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from disguisor.body.bodies_io import BodyFits, PersonFit
from disguisor.body.model import BodyModel
from disguisor.body.params import FitParams
from disguisor.body.rig import forward_kinematics, keypoint_parts, subtree_matrix
from disguisor.body.threads import one_torch_thread
from disguisor.pose3d.poses import Poses3D

# pose-invariant distances between COCO-17 joints: limbs, torso, head widths
SEGMENTS = ((5, 6), (11, 12), (5, 11), (6, 12), (5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14),
            (14, 16), (3, 4), (1, 2), (0, 3), (0, 4), (1, 3), (2, 4))
TORSO_AND_HEAD = (0, 1, 2, 3, 4, 5, 6, 11, 12)  # rigid enough to place the root before the fit
NOSE, FACE_POINTS, EARS = 0, [0, 1, 2], [3, 4]    # COCO-17: nose, nose and eyes, ears
HEAD_POINTS = [0, 1, 2, 3, 4]


@dataclass
class PosedBody:
    """A fitted body at one frame: vertices (V, 3) and COCO-17 keypoints (17, 3) in world metres;
    head_rotation (3, 3): rotation of the head from the model's rest axes to the world, so the
    face points along ``head_rotation @ model.rest_facing``."""

    person_id: int
    vertices: np.ndarray
    keypoints: np.ndarray
    head_rotation: np.ndarray


# ------------------------------------------------------------------------------------------------
# shape


def observed_segments(joints: np.ndarray, confidence: np.ndarray, min_confidence: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Median lengths (S,) metres of SEGMENTS over a track (F, 17, 3) and the fraction of frames
    (S,) that saw each (0 = never: not used)."""
    ok = np.isfinite(joints[..., 0]) & (confidence >= min_confidence)
    lengths, seen = np.zeros(len(SEGMENTS)), np.zeros(len(SEGMENTS))
    for s, (a, b) in enumerate(SEGMENTS):
        both = ok[:, a] & ok[:, b]
        if both.any():
            lengths[s] = float(np.median(np.linalg.norm(joints[both, a] - joints[both, b], axis=1)))
            seen[s] = both.mean()
    return lengths, seen


def fit_shapes(model: BodyModel, lengths: np.ndarray, seen: np.ndarray, params: FitParams) -> np.ndarray:
    """Shapes (T, S) for T tracks whose median segment lengths (T, SEG) were seen (T, SEG) > 0."""
    import torch

    z0 = torch.tensor(model.shape_to_unbounded(model.default_shape()), dtype=torch.float32)
    z = z0.repeat(len(lengths), 1).clone().requires_grad_(True)
    target = torch.tensor(lengths, dtype=torch.float32)
    w = torch.tensor(seen > 0, dtype=torch.float32)
    a = torch.tensor([s[0] for s in SEGMENTS])
    b = torch.tensor([s[1] for s in SEGMENTS])

    def segments(kp):
        return (kp[:, a] - kp[:, b]).norm(dim=-1)

    # every torch operation of the shape fit on one thread: the numbers do not depend on the
    # caller's thread count (a reduction split over threads sums in another order), and tiny
    # tensors gain nothing from more threads (they only cost, badly so on a loaded machine)
    with one_torch_thread():
        # the fast rest-pose keypoints, corrected by their segment-length difference to the
        # identity pose (which the pose fit starts from) at the mean shape
        with torch.no_grad():
            mean = model.shape_from_unbounded(z0)[None]
            bias = segments(model.identity_keypoints(mean)) - segments(model.shape_keypoints(mean))
        opt = torch.optim.LBFGS([z], max_iter=params.shape_iterations, history_size=10,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            d = segments(model.shape_keypoints(model.shape_from_unbounded(z))) + bias
            loss = (w * ((d - target) / params.shape_length_scale_m) ** 2).sum() + \
                params.shape_prior * ((z - z0) ** 2).sum()
            loss.backward()
            return loss

        if (seen > 0).any():
            opt.step(closure)
        with torch.no_grad():
            return model.shape_from_unbounded(z).double().numpy()


# ------------------------------------------------------------------------------------------------
# pose


def kabsch(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation c minimizing sum w |R src + c - dst|^2 (points (N, 3))."""
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    H = ((src - ms) * w[:, None]).T @ (dst - md)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    return R, md - R @ ms


@dataclass
class _Sample:
    track: int      # index into the track list
    person_id: int
    frame: int
    order: int      # position of the frame in poses.frames
    joints: np.ndarray
    weight: np.ndarray


def _bone_prior_weights(bones: tuple[str, ...], params: FitParams) -> np.ndarray:
    w = np.full(len(bones), params.pose_prior)
    w[0] = 0.0  # the root is free
    for j, name in enumerate(bones[1:], start=1):
        for prefix, factor in params.bone_prior:
            if name.startswith(prefix):
                w[j] *= factor
    return w


def _skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices."""
    z = np.zeros(v.shape[:-1])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([z, -w, y, w, z, -x, -y, x, z], -1).reshape(v.shape + (3,))


def _rotvec(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(R.reshape(-1, 3, 3)).as_rotvec().reshape(R.shape[:-2] + (3,))


def _exp(w: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(w.reshape(-1, 3)).as_matrix().reshape(w.shape + (3,))


class _Batch:
    """Person-frames solved together by batched Levenberg-Marquardt (one 3 + 3J system each).

    Joint residuals are confidence-weighted and robust (pseudo-Huber, by reweighting); the pose
    prior pulls every non-root bone rotation towards the identity pose; temporal terms tie a
    sample to its neighbouring frames of the same track, held at their current values during
    each step (block Jacobi), so every sample's system stays small and independent.
    """

    def __init__(self, rigs: list, samples: list[_Sample], identity_kp: np.ndarray, prior_w: np.ndarray,
                 params: FitParams):
        self.p = params
        self.parents = rigs[0].parents
        self.sub = subtree_matrix(self.parents)
        ridx = np.array([s.track for s in samples])
        self.heads = np.stack([r.heads for r in rigs])[ridx]                       # (N, J, 3)
        self.A = np.stack([r.keypoint_weights for r in rigs])[ridx]                # (N, K, J, 4)
        self.obs = np.stack([np.nan_to_num(s.joints) for s in samples])            # (N, K, 3)
        self.conf = np.stack([s.weight for s in samples])                          # (N, K)
        self.prior = np.sqrt(prior_w)                                              # (J,)
        n, J = len(samples), len(self.parents)
        pos = {(s.person_id, s.order): i for i, s in enumerate(samples)}
        self.prev = np.array([pos.get((s.person_id, s.order - 1), -1) for s in samples])
        self.next = np.array([pos.get((s.person_id, s.order + 1), -1) for s in samples])
        # temporal weight of each neighbour: 1 / gap^2 in frames (motion grows with the gap, so
        # sparse frames are tied loosely); 0 where there is none
        frame = np.array([s.frame for s in samples], float)
        self.nb_w = [np.where(nb >= 0, 1.0 / np.maximum(np.abs(frame[nb] - frame), 1.0) ** 2, 0.0)
                     * self._motion_factor(nb) for nb in (self.prev, self.next)]
        # root initialization: torso and head joints of the identity pose onto the observed ones
        self.rot = np.broadcast_to(np.eye(3), (n, J, 3, 3)).copy()
        self.trans = np.zeros((n, 3))
        for i, s in enumerate(samples):
            use = [k for k in TORSO_AND_HEAD if s.weight[k] > 0]
            if len(use) < 3:
                use = [k for k in range(17) if s.weight[k] > 0]
            R, c = kabsch(identity_kp[s.track][use], s.joints[use], s.weight[use])
            h0 = self.heads[i, 0]
            self.rot[i, 0], self.trans[i] = R, c - h0 + R @ h0

    def _motion_factor(self, nb: np.ndarray) -> np.ndarray:
        """(N,) temporal weight factor from the observed motion between each sample and its
        neighbour ``nb`` (-1 = none): 1 for a still person, small for a sudden large motion."""
        out = np.ones(len(nb))
        for i in np.nonzero(nb >= 0)[0]:
            both = (self.conf[i] > 0) & (self.conf[nb[i]] > 0)
            if both.any():
                d = float(np.median(np.linalg.norm(self.obs[i, both] - self.obs[nb[i], both], axis=1)))
                out[i] = 1.0 / (1.0 + (d / self.p.smooth_motion_scale_m) ** 2)
        return out

    def evaluate(self, rot, trans):
        """Keypoints (N, K, 3), world bone rotations and translations."""
        R, t = forward_kinematics(self.parents, self.heads, rot, trans)
        return keypoint_parts(self.A, R, t), R, t

    def cost(self, kp, rot, kp_nb, rv_nb):
        """Per-sample cost (N,) with the neighbours' keypoints and rotation vectors held fixed."""
        p, d2 = self.p, self.p.robust_scale_m ** 2
        r2 = ((kp - self.obs) ** 2).sum(-1)
        c = (self.conf * 2 * d2 * (np.sqrt(1 + r2 / d2) - 1)).sum(-1)
        rv = _rotvec(rot[:, 1:])
        c += ((self.prior[1:, None] * rv) ** 2).sum((1, 2))
        for w, kpn, rvn in zip(self.nb_w, kp_nb, rv_nb, strict=True):
            c += w * (p.smooth_joints * ((kp - kpn) ** 2).sum((1, 2))
                        + p.smooth_rotations * ((rv - rvn) ** 2).sum((1, 2)))
        return c

    def solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.p
        n, K, J = self.A.shape[:3]
        lam = np.full(n, 1e-3)
        eye3 = np.eye(3)
        stalled = 0
        for _ in range(p.iterations):
            parts, R, t = self.evaluate(self.rot, self.trans)
            kp = parts.sum(2)
            rv = _rotvec(self.rot[:, 1:])
            kp_nb = [np.where((nb >= 0)[:, None, None], kp[nb], kp) for nb in (self.prev, self.next)]
            rv_nb = [np.where((nb >= 0)[:, None, None], rv[nb], rv) for nb in (self.prev, self.next)]
            cost = self.cost(kp, self.rot, kp_nb, rv_nb)
            # Jacobian of every keypoint w.r.t. a world-axis rotation increment at each bone's head
            heads_w = np.einsum("njab,njb->nja", R, self.heads) + t
            S = self.sub @ parts                                                   # (N, K, J, 3)
            a = self.A[..., 3] @ self.sub.T                                        # (N, K, J)
            lever = S - heads_w[:, None] * a[..., None]
            Jk = np.concatenate([-_skew(lever).transpose(0, 1, 3, 2, 4).reshape(n, K, 3, 3 * J),
                                 a[:, :, 0, None, None] * eye3], -1)               # (N, K, 3, P)
            res = kp - self.obs
            d2 = p.robust_scale_m ** 2
            w = self.conf / np.sqrt(1 + (res ** 2).sum(-1) / d2)                   # IRLS pseudo-Huber
            Jf = Jk.reshape(n, K * 3, -1)
            wf = np.repeat(w, 3, axis=1)
            ntemp = self.nb_w[0] + self.nb_w[1]
            # data and joint-smoothness terms share the Jacobian: one weighted normal matrix (BLAS)
            JfT = Jf.transpose(0, 2, 1)
            H = (JfT * (wf + p.smooth_joints * ntemp[:, None])[:, None]) @ Jf
            rhs_k = wf * res.reshape(n, -1)
            for w, kpn in zip(self.nb_w, kp_nb, strict=True):
                rhs_k = rhs_k + p.smooth_joints * w[:, None] * (kp - kpn).reshape(n, -1)
            g = (JfT @ rhs_k[..., None])[..., 0]
            # prior and rotation smoothness act on D_j; a world increment w at bone j changes
            # D_j by R_parent^T w (to first order)
            Rp = R[:, self.parents[1:]].transpose(0, 1, 3, 2)                      # (N, J-1, 3, 3)
            coef = self.prior[1:] ** 2 + p.smooth_rotations * ntemp[:, None]       # (N, J-1)
            rhs = self.prior[1:, None] ** 2 * rv
            for w, rvn in zip(self.nb_w, rv_nb, strict=True):
                rhs = rhs + p.smooth_rotations * w[:, None, None] * (rv - rvn)
            for j in range(1, J):
                sl = slice(3 * j, 3 * j + 3)
                H[:, sl, sl] += coef[:, j - 1, None, None] * np.einsum("nba,nbc->nac", Rp[:, j - 1], Rp[:, j - 1])
                g[:, sl] += np.einsum("nba,nb->na", Rp[:, j - 1], rhs[:, j - 1])
            diag = np.einsum("npp->np", H)
            step = -np.linalg.solve(H + (lam[:, None] * (diag + 1e-6))[..., None] * np.eye(H.shape[-1]),
                                    g[..., None])[..., 0]
            w_rot = step[:, :3 * J].reshape(n, J, 3)
            inc = np.einsum("njab,njb->nja", np.concatenate([np.broadcast_to(eye3, (n, 1, 3, 3)), Rp], 1), w_rot)
            new_rot = _exp(inc) @ self.rot
            new_trans = self.trans + step[:, 3 * J:]
            new_parts, _, _ = self.evaluate(new_rot, new_trans)
            new_cost = self.cost(new_parts.sum(2), new_rot, kp_nb, rv_nb)
            better = new_cost <= cost
            self.rot[better], self.trans[better] = new_rot[better], new_trans[better]
            lam = np.where(better, lam / 3, lam * 4).clip(1e-7, 1e7)
            # converged: the batch's cost stopped falling (a few steps in a row, so that a sample
            # whose damping is still growing gets its chance)
            gain = float((cost - np.minimum(new_cost, cost)).sum())
            stalled = stalled + 1 if gain <= p.tolerance * float(cost.sum()) else 0
            if stalled >= p.patience:
                break
        parts, _, _ = self.evaluate(self.rot, self.trans)
        return self.rot, self.trans, parts.sum(2)


def fit_bodies(poses: Poses3D, model: BodyModel, params: FitParams = FitParams(),
               progress: Callable[[int], None] | None = None) -> BodyFits:
    """Fit ``model`` to every person-frame of ``poses`` (see module doc). progress(done) counts
    fitted person-frames."""
    ids = poses.ids
    tracks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for pid in ids:
        joints = poses.track(pid)
        conf = np.zeros(joints.shape[:2])
        for k, f in enumerate(poses.frames):
            p = f.person(pid)
            if p is not None:
                conf[k] = np.where(np.isfinite(p.joints[:, 0]), p.confidence, 0.0)
        tracks[pid] = (joints, conf)
    fits = BodyFits(model.name, tuple(model.fit_bones), tuple(model.shape_names), {},
                    {f.frame: [] for f in poses.frames})
    if not ids:
        return fits
    seg = [observed_segments(j, c, params.shape_min_confidence) for j, c in tracks.values()]
    shapes = fit_shapes(model, np.stack([s[0] for s in seg]), np.stack([s[1] for s in seg]), params)
    shapes = np.round(shapes, 6)  # as saved: the rig cache and a reloaded file agree exactly
    fits.shapes = {pid: shapes[i] for i, pid in enumerate(ids)}
    rigs = [model.rig(s) for s in shapes]
    identity_kp = np.stack([r.keypoint_weights[..., :3].sum(1) for r in rigs])  # every D_j = I, t = 0
    samples = []
    for ti, pid in enumerate(ids):
        joints, conf = tracks[pid]
        for k, f in enumerate(poses.frames):
            w = np.where(np.isfinite(joints[k, :, 0]) & (conf[k] >= params.min_confidence), conf[k], 0.0)
            if _collapsed_face(joints[k], w, params.collapsed_face_m):
                w[FACE_POINTS] = 0.0
            w[HEAD_POINTS] *= params.head_weight
            if (w > 0).sum() >= params.min_joints:
                samples.append(_Sample(ti, pid, f.frame, k, joints[k], w))
    prior_w = _bone_prior_weights(model.fit_bones, params)
    done = 0
    for start in range(0, len(samples), params.batch):
        batch = samples[start:start + params.batch]
        rots, ts, kps = _Batch(rigs, batch, identity_kp, prior_w, params).solve()
        for s, rot, t, kp in zip(batch, rots, ts, kps, strict=True):
            used = s.weight > 0
            err = float(np.linalg.norm(kp[used] - s.joints[used], axis=1).mean())
            fits.frames[s.frame].append(PersonFit(s.person_id, _rotvec(rot), t, err, int(used.sum())))
        done += len(batch)
        if progress is not None:
            progress(done)
    return fits


def _collapsed_face(joints: np.ndarray, weight: np.ndarray, distance_m: float | None) -> bool:
    """Whether the nose of ``joints`` (17, 3) world metres lies within ``distance_m`` of the
    ears' midpoint (nose and both ears used: ``weight`` > 0)."""
    if distance_m is None or not (weight[[NOSE, *EARS]] > 0).all():
        return False
    return float(np.linalg.norm(joints[NOSE] - joints[EARS].mean(0))) < distance_m


def posed_people(model: BodyModel, fits: BodyFits, frame: int) -> list[PosedBody]:
    """Every fitted person of ``frame`` posed: world vertices, keypoints and head rotation."""
    from scipy.spatial.transform import Rotation

    head = list(model.fit_bones).index(model.head_bone)
    out = []
    for p in fits.frames.get(frame, []):
        rot = Rotation.from_rotvec(p.rotations).as_matrix()
        verts, kp, world = model.posed_vertices(fits.shapes[p.person_id], rot, p.translation)
        out.append(PosedBody(p.person_id, verts, kp, world[head]))
    return out
