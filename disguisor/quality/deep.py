"""Deep image metrics on a user-supplied ImageNet backbone: LPIPS, deep perceptual similarity
(spatial, mean, sort) and a Fréchet distance of backbone features.

No backbone weights ship in any package, so the user supplies them (``--weights-dir``; a
folder with only the Inception file gives the FID alone):

- the backbone: torchvision's ImageNet AlexNet (``alexnet-owt-7be5be79.pth``) or VGG-16
  (``vgg16-397923af.pth``); any file whose name starts with ``alexnet`` / ``vgg16`` and holds
  the ``features.*`` parameters of that network (``classifier.*`` is ignored);
- optionally the LPIPS linear layers (``alex.pth`` / ``vgg.pth`` of the LPIPS v0.1 release,
  keys ``lin0.model.1.weight`` ... ``lin4.model.1.weight``, shapes (1, C, 1, 1)). Without them
  LPIPS is not reported (the spatial DPS below is the unweighted LPIPS).

Networks are written here in plain torch (torchvision does not import on these machines) with
the key names of those files. Features are taken after the ReLUs that LPIPS uses (AlexNet:
relu1-relu5; VGG-16: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3), from inputs scaled to
[-1, 1] and shifted/scaled per channel as LPIPS does.

Definitions (x, x0 two images; p_l the unit-normalised channel vectors of tap l; C_l, H_l, W_l):

- LPIPS: sum_l mean_hw sum_c w_lc (p_l(x) - p_l(x0))^2 with the learned weights w_l.
- DPS spatial: sum_l 1/(C_l H_l W_l) sum_chw (p_l(x) - p_l(x0))^2.
- DPS mean:    sum_l 1/C_l sum_c (mean_hw p_lc(x) - mean_hw p_lc(x0))^2.
- DPS sort:    sum_l 1/C_l sum_c ||sort_desc p_lc(x) - sort_desc p_lc(x0)||^2 (per channel, the
  positions are paired by rank, not by place: translation invariant).
  (Sjögren et al., "Identifying and mitigating flaws of deep perceptual similarity metrics";
  f = squared difference, channel-wise unit normalisation as in their BAPPS evaluation.)
- FID: with ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's port of the TensorFlow
  InceptionV3) in the folder, the standard FID on its 2048-d pool3 features
  (:mod:`disguisor.quality.inception`), comparable with published values; without it, the
  Fréchet distance of the globally average-pooled last tap of the *same backbone* (256-d for
  AlexNet, 512-d for VGG-16), comparable only between methods measured here. With fewer faces
  than feature dimensions the covariances are singular and the value is noisy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from disguisor.errors import InputError
from disguisor.quality.frechet import frechet_distance
from disguisor.quality.inception import InceptionV3, find_inception, inception_features, load_inception
from disguisor.quality.weights import load_into, load_state  # noqa: F401  (used by callers)

# (out_channels, kernel, stride, padding) per convolution, "M" = 3x3/2 max pool (AlexNet) or 2x2/2 (VGG)
_ALEX = [(64, 11, 4, 2), "M", (192, 5, 1, 2), "M", (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1)]
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
# LPIPS input normalisation (applied to images in [-1, 1])
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10


class Backbone(nn.Module):
    """AlexNet or VGG-16 ``features`` (torchvision layout); forward returns the five LPIPS taps."""

    def __init__(self, kind: str):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        taps: list[int] = []
        if kind == "alex":
            for spec in _ALEX:
                if spec == "M":
                    layers.append(nn.MaxPool2d(3, 2))
                    continue
                out, k, s, p = spec  # type: ignore[misc]
                layers += [nn.Conv2d(in_ch, out, k, s, p), nn.ReLU()]
                taps.append(len(layers) - 1)
                in_ch = out
        elif kind == "vgg":
            for i, spec in enumerate(_VGG16):
                if spec == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                    continue
                layers += [nn.Conv2d(in_ch, int(spec), 3, 1, 1), nn.ReLU()]
                # the tap is the last ReLU before each pool, and the final one
                if i + 1 == len(_VGG16) or _VGG16[i + 1] == "M":
                    taps.append(len(layers) - 1)
                in_ch = int(spec)
        else:
            raise ValueError(f"unknown backbone {kind!r}")
        self.kind = kind
        self.features = nn.Sequential(*layers)
        self.taps = tuple(taps)
        self.channels = tuple(m.out_channels for m in layers if isinstance(m, nn.Conv2d))
        self.tap_channels = tuple(self.features[t - 1].out_channels for t in taps)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """images: (N, 3, H, W) RGB in [-1, 1]."""
        x = (images - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x)
            if i == self.taps[-1]:
                break
        return out


class LinearHeads(nn.Module):
    """LPIPS's 1x1 weights per tap (keys ``linK.model.1.weight``; ``model.0`` is a dropout)."""

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        for k, c in enumerate(channels):
            self.add_module(f"lin{k}", nn.Module())
            getattr(self, f"lin{k}").model = nn.Sequential(nn.Dropout(), nn.Conv2d(c, 1, 1, bias=False))

    def weight(self, k: int) -> torch.Tensor:
        return getattr(self, f"lin{k}").model[1].weight.view(1, -1, 1, 1)


@dataclass
class DeepMetrics:
    """The loaded networks: ``backbone`` (None with only Inception weights), ``lpips`` (None
    without the linear-layer file), ``inception`` (None without ``pt_inception*.pth``)."""

    backbone: Backbone | None
    lpips: LinearHeads | None
    backbone_file: Path | None
    lpips_file: Path | None
    inception: InceptionV3 | None = None
    inception_file: Path | None = None

    @property
    def fid_features(self) -> str:
        """What the FID is computed on (for reports)."""
        if self.inception is not None:
            return "InceptionV3 pool3"
        return f"{self.backbone.kind if self.backbone is not None else '?'} pooled features"


def find_weights(weights_dir: str | Path, backbone: str | None = None) -> tuple[str, Path, Path | None]:
    """(backbone kind, backbone file, LPIPS linear file or None) found in ``weights_dir``."""
    folder = Path(weights_dir)
    if not folder.is_dir():
        raise InputError(folder, "weights folder not found", field="--weights-dir")
    kinds = [backbone] if backbone else ["alex", "vgg"]
    for kind in kinds:
        stem = "alexnet" if kind == "alex" else "vgg16"
        files = sorted(p for p in folder.iterdir() if p.name.lower().startswith(stem) and p.suffix == ".pth")
        if files:
            lin = folder / f"{kind}.pth"
            return kind, files[0], lin if lin.is_file() else None
    want = " or ".join("alexnet*.pth" if k == "alex" else "vgg16*.pth" for k in kinds)
    raise InputError(folder, f"no backbone weights ({want}, torchvision ImageNet layout)", field="--weights-dir")


def load_deep_metrics(weights_dir: str | Path, backbone: str | None = None) -> DeepMetrics:
    """Load what ``weights_dir`` holds: the backbone (and LPIPS heads when present) and the FID
    Inception (``pt_inception*.pth``, see :mod:`disguisor.quality.inception`); at least one of
    the two backbones must be there."""
    folder = Path(weights_dir)
    inception_file = find_inception(folder) if folder.is_dir() else None
    inception = load_inception(inception_file) if inception_file is not None else None
    try:
        kind, bfile, lfile = find_weights(weights_dir, backbone)
    except InputError:
        if inception is None or backbone is not None:
            raise
        return DeepMetrics(None, None, None, None, inception, inception_file)
    net = Backbone(kind)
    load_into(net, load_state(bfile), bfile, "features.")
    heads = None
    if lfile is not None:
        heads = LinearHeads(net.tap_channels)
        load_into(heads, load_state(lfile), lfile, "lin")
    return DeepMetrics(net.eval(), heads.eval() if heads is not None else None, bfile, lfile, inception,
                       inception_file)


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().permute(0, 3, 1, 2)
    return x / 127.5 - 1.0


def _unit(f: torch.Tensor) -> torch.Tensor:
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + EPS)


@torch.no_grad()
def features(metrics: DeepMetrics, images: np.ndarray, batch: int = 16) -> list[list[torch.Tensor]]:
    """Unit-normalised taps per batch of images."""
    out = []
    for i in range(0, len(images), batch):
        out.append([_unit(f) for f in metrics.backbone(_to_tensor(images[i:i + batch]))])
    return out


@torch.no_grad()
def pair_distances(metrics: DeepMetrics, a: np.ndarray, b: np.ndarray, batch: int = 16) -> dict[str, np.ndarray]:
    """Per-pair LPIPS (when loaded) and DPS spatial / mean / sort (+ spatial+mean, spatial+sort)
    of two (N, H, W, 3) uint8 RGB stacks of the same size."""
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"need two image stacks of one shape, got {a.shape} and {b.shape}")
    res: dict[str, list[torch.Tensor]] = {"dps_spatial": [], "dps_mean": [], "dps_sort": []}
    if metrics.lpips is not None:
        res["lpips"] = []
    for i in range(0, len(a), batch):
        fa = [_unit(f) for f in metrics.backbone(_to_tensor(a[i:i + batch]))]
        fb = [_unit(f) for f in metrics.backbone(_to_tensor(b[i:i + batch]))]
        n = fa[0].shape[0]
        spatial, mean, sort, lp = torch.zeros(n), torch.zeros(n), torch.zeros(n), torch.zeros(n)
        for k, (x, y) in enumerate(zip(fa, fb, strict=True)):
            d2 = (x - y).pow(2)
            spatial += d2.mean(dim=(1, 2, 3))
            mean += (x.mean(dim=(2, 3)) - y.mean(dim=(2, 3))).pow(2).mean(dim=1)
            xs = x.flatten(2).sort(dim=2, descending=True).values
            ys = y.flatten(2).sort(dim=2, descending=True).values
            sort += (xs - ys).pow(2).sum(dim=2).mean(dim=1)
            if metrics.lpips is not None:
                lp += (d2 * metrics.lpips.weight(k)).sum(dim=1).mean(dim=(1, 2))
        res["dps_spatial"].append(spatial)
        res["dps_mean"].append(mean)
        res["dps_sort"].append(sort)
        if metrics.lpips is not None:
            res["lpips"].append(lp)
    out = {k: torch.cat(v).numpy().astype(float) for k, v in res.items()}
    out["dps_spatial+mean"] = out["dps_spatial"] + out["dps_mean"]
    out["dps_spatial+sort"] = out["dps_spatial"] + out["dps_sort"]
    return out


@torch.no_grad()
def pooled_features(metrics: DeepMetrics, images: np.ndarray, batch: int = 16) -> np.ndarray:
    """(N, C) global average pool of the last tap (not normalised), for the Fréchet distance."""
    out = []
    for i in range(0, len(images), batch):
        out.append(metrics.backbone(_to_tensor(images[i:i + batch]))[-1].mean(dim=(2, 3)))
    return torch.cat(out).numpy().astype(np.float64)


def fid(metrics: DeepMetrics, a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of two image sets: on InceptionV3 pool3 features (the standard FID) when
    those weights are loaded, else on the backbone's pooled features (see module docstring)."""
    if metrics.inception is not None:
        return frechet_distance(inception_features(metrics.inception, a), inception_features(metrics.inception, b))
    return frechet_distance(pooled_features(metrics, a), pooled_features(metrics, b))


def random_weights(folder: str | Path, kind: str = "alex", seed: int = 0, lpips: bool = True) -> Path:
    """Write randomly initialised weight files in the public formats (for tests and trying the
    command without the real files): ``alexnet-random.pth`` / ``vgg16-random.pth`` and ``alex.pth`` /
    ``vgg.pth``. Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    net = Backbone(kind)
    state = {f"features.{k}": v for k, v in net.features.state_dict().items()}
    torch.save(state, folder / f"{'alexnet' if kind == 'alex' else 'vgg16'}-random.pth")
    if lpips:
        heads = LinearHeads(net.tap_channels)
        with torch.no_grad():  # LPIPS weights are non-negative
            for k in range(len(net.tap_channels)):
                heads.weight(k).abs_()
        torch.save(heads.state_dict(), folder / f"{kind}.pth")
    return folder
