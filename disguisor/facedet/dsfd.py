"""DSFD (Dual Shot Face Detector, Li et al. 2019) with a ResNet-152 backbone: the paper's baseline.

The network is written here in plain torch (torchvision does not import on these machines) with
the parameter names and shapes of the public WIDER FACE checkpoint (``WIDERFace_DSFD_RES152.pth``
as distributed with the ``face_detection`` package), so that file loads as it is. Weights are never
downloaded: the user supplies the file (``--weights``).

Structure (the checkpoint fixes it):

- ``layer1``: stem (7x7/2 convolution, batch norm, ReLU, 3x3/2 max pool) and ResNet stage 1
  (keys ``layer1.0`` conv, ``layer1.1`` bn, ``layer1.4.<block>``); ``layer2..4``: ResNet stages
  2-4 (``layerK.0.<block>``); bottleneck blocks ``conv1/bn1/conv2/bn2/conv3/bn3`` and
  ``downsample.0/1``, stride on the 3x3 convolution. Strides 4, 8, 16, 32.
- ``layer5``/``layer6``: extra stages (1x1 then 3x3/2 convolutions with batch norm), strides 64, 128.
- Feature pyramid: ``latlayer1..3`` (1x1) and ``smooth1..3`` (1x1); the upper map is resized
  bilinearly (corners aligned) and *multiplied* with the lateral one.
- Feature enhancement module per source (``cpm3_3, cpm4_3, cpm5_3, cpm7, cpm6_2, cpm7_2``): two
  dilated 3x3 branches concatenated to 512 channels.
- Heads ``loc.k`` / ``conf.k``: three 3x3 convolutions (256 channels) and a 1x1 output. Only the
  first shot's outputs are used at test time: 4 box channels; the class channels go through
  max-in-out (background = the maximum of three channels) and the first two are the logits.
- Anchors: one per cell, base size 16, 32, ..., 512 px on strides 4...128, aspect 1.5 (taller than
  wide), centres at cell centres, clipped to the image; offsets decoded SSD style with variances
  0.1 (centre) and 0.2 (size).
- Input: RGB minus the mean (123, 117, 104), then channels reordered to BGR; native resolution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from disguisor.boxes import clip_xywh, nms_xywh
from disguisor.errors import InputError
from disguisor.facedet.image import check_rgb

RESNET152_BLOCKS = (3, 8, 36, 3)
STAGE_WIDTHS = (64, 128, 256, 512)  # bottleneck inner widths; outputs are 4x these
SOURCE_CHANNELS = (256, 512, 1024, 2048, 512, 256)


@dataclass(frozen=True)
class DSFDParams:
    """Anchor and decoding constants of the WIDER FACE model (they belong to the weights).

    steps_px: stride of each source map; anchor_sizes_px: anchor base size per source;
    anchor_aspect: height / width of the anchors; variances: SSD box-offset scales (centre, size);
    mean_rgb: subtracted from the 0-255 input; pre_nms_top_k: best-scoring boxes kept for NMS.
    """

    steps_px: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    anchor_sizes_px: tuple[float, ...] = (16, 32, 64, 128, 256, 512)
    anchor_aspect: float = 1.5
    variances: tuple[float, float] = (0.1, 0.2)
    mean_rgb: tuple[float, float, float] = (123.0, 117.0, 104.0)
    pre_nms_top_k: int = 2000


class Bottleneck(nn.Module):
    def __init__(self, in_ch: int, width: int, stride: int):
        super().__init__()
        out_ch = width * 4
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


def _stage(in_ch: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    layers = [Bottleneck(in_ch, width, stride)] + [Bottleneck(width * 4, width, 1) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class FeatureEnhance(nn.Module):
    """DSFD's feature enhancement module: 256 + 128 + 128 = 512 output channels."""

    def __init__(self, in_ch: int):
        super().__init__()
        self.cpm1 = nn.Conv2d(in_ch, 256, 3, padding=1)
        self.cpm2 = nn.Conv2d(in_ch, 256, 3, dilation=2, padding=2)
        self.cpm3 = nn.Conv2d(256, 128, 3, padding=1)
        self.cpm4 = nn.Conv2d(256, 128, 3, dilation=2, padding=2)
        self.cpm5 = nn.Conv2d(128, 128, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.cpm1(x))
        b = F.relu(self.cpm2(x))
        c = F.relu(self.cpm3(b))
        d = F.relu(self.cpm5(F.relu(self.cpm4(b))))
        return torch.cat([a, c, d], dim=1)


class Head(nn.Module):
    def __init__(self, out_ch: int, in_ch: int = 512, mid: int = 256):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, mid, 3, padding=1)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1)
        self.conv3 = nn.Conv2d(mid, mid, 3, padding=1)
        self.conv4 = nn.Conv2d(mid, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv4(F.relu(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))))


def _extra(in_ch: int, mid: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, mid, 1), nn.BatchNorm2d(mid), nn.ReLU(),
                         nn.Conv2d(mid, out_ch, 3, stride=2, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU())


# head output channels per source: box offsets (two shots' worth, progressive anchors) and class logits
LOC_CHANNELS = (4, 8, 12, 12, 12, 12)
CONF_CHANNELS = (4, 6, 8, 8, 8, 8)


class DSFDNet(nn.Module):
    """The DSFD network; ``blocks``: bottleneck blocks per ResNet stage (ResNet-152 by default;
    a checkpoint's own counts are read from its keys by :func:`load_dsfd`)."""

    def __init__(self, blocks: tuple[int, int, int, int] = RESNET152_BLOCKS):
        super().__init__()
        stem = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                nn.MaxPool2d(3, stride=2, padding=1)]
        self.layer1 = nn.Sequential(*stem, _stage(64, STAGE_WIDTHS[0], blocks[0], 1))
        self.layer2 = nn.Sequential(_stage(256, STAGE_WIDTHS[1], blocks[1], 2))
        self.layer3 = nn.Sequential(_stage(512, STAGE_WIDTHS[2], blocks[2], 2))
        self.layer4 = nn.Sequential(_stage(1024, STAGE_WIDTHS[3], blocks[3], 2))
        self.layer5 = _extra(2048, 512, 512)
        self.layer6 = _extra(512, 128, 256)
        c = SOURCE_CHANNELS
        self.latlayer3 = nn.Conv2d(c[3], c[2], 1)
        self.latlayer2 = nn.Conv2d(c[2], c[1], 1)
        self.latlayer1 = nn.Conv2d(c[1], c[0], 1)
        self.smooth3 = nn.Conv2d(c[2], c[2], 1)
        self.smooth2 = nn.Conv2d(c[1], c[1], 1)
        self.smooth1 = nn.Conv2d(c[0], c[0], 1)
        self.cpm3_3, self.cpm4_3, self.cpm5_3 = FeatureEnhance(c[0]), FeatureEnhance(c[1]), FeatureEnhance(c[2])
        self.cpm7, self.cpm6_2, self.cpm7_2 = FeatureEnhance(c[3]), FeatureEnhance(c[4]), FeatureEnhance(c[5])
        self.loc = nn.ModuleList(Head(n) for n in LOC_CHANNELS)
        self.conf = nn.ModuleList(Head(n) for n in CONF_CHANNELS)

    @staticmethod
    def _merge(top: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        return lateral * F.interpolate(top, size=lateral.shape[2:], mode="bilinear", align_corners=True)

    @staticmethod
    def _max_in_out(logits: torch.Tensor, first: bool) -> torch.Tensor:
        """First-shot class logits (background, face): background is the max of three channels
        (on the first source; on the others the face channel is)."""
        ch = logits.unbind(1)
        pooled = torch.maximum(torch.maximum(ch[0], ch[1]), ch[2])
        pair = (pooled, ch[3]) if first else (ch[3], pooled)
        return torch.stack(pair, dim=1)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """x: (1, 3, H, W) preprocessed image. Returns per source: box offsets (1, 4, h, w) and
        class logits (1, 2, h, w) of the first shot."""
        s1 = self.layer1(x)
        s2 = self.layer2(s1)
        s3 = self.layer3(s2)
        s4 = self.layer4(s3)
        s5 = self.layer5(s4)
        s6 = self.layer6(s5)
        f3 = self._merge(self.latlayer3(s4), self.smooth3(s3))
        f2 = self._merge(self.latlayer2(f3), self.smooth2(s2))
        f1 = self._merge(self.latlayer1(f2), self.smooth1(s1))
        sources = [self.cpm3_3(f1), self.cpm4_3(f2), self.cpm5_3(f3), self.cpm7(s4), self.cpm6_2(s5), self.cpm7_2(s6)]
        out = []
        for k, src in enumerate(sources):
            out.append((self.loc[k](src)[:, :4], self._max_in_out(self.conf[k](src), first=k == 0)))
        return out


# --- loading ----------------------------------------------------------------------------------

_BLOCK_KEY = re.compile(r"^layer([1-4])\.(?:4|0)\.(\d+)\.conv1\.weight$")


def _stage_blocks(state: dict[str, torch.Tensor], path: Path) -> tuple[int, int, int, int]:
    """Bottleneck blocks per ResNet stage, read from a checkpoint's keys."""
    counts = [0, 0, 0, 0]
    for key in state:
        m = _BLOCK_KEY.match(key)
        if m and (m.group(1) == "1") == key.startswith("layer1.4."):
            stage = int(m.group(1)) - 1
            counts[stage] = max(counts[stage], int(m.group(2)) + 1)
    if 0 in counts:
        stage = counts.index(0) + 1
        want = f"layer{stage}.{'4' if stage == 1 else '0'}.0.conv1.weight"
        raise InputError(path, f"not a DSFD ResNet checkpoint: key missing (ResNet stage {stage})", field=want)
    return tuple(counts)  # type: ignore[return-value]


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(path, "DSFD weights file not found", field="--weights")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or non-torch file
        first = (str(exc).splitlines() or [""])[0][:120]
        raise InputError(path, f"not a readable torch checkpoint ({type(exc).__name__}: {first})") from None
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise InputError(path, "expected a state_dict (a mapping of parameter names to tensors)")
    # checkpoints saved from nn.DataParallel prefix every key with "module."
    if data and all(k.startswith("module.") for k in data):
        data = {k[len("module."):]: v for k, v in data.items()}
    return data


def load_dsfd(path: str | Path) -> DSFDNet:
    """Build the network for a checkpoint and load it. Any key that is missing, unexpected or of
    the wrong shape raises :class:`InputError` naming the file and the key."""
    path = Path(path)
    return dsfd_from_state(_read_state_dict(path), path)


def dsfd_from_state(state: dict[str, torch.Tensor], path: str | Path = "<state_dict>") -> DSFDNet:
    """Build and load the network from a state_dict already in memory (``path`` names it in errors)."""
    path = Path(path)
    state = dict(state)
    net = DSFDNet(_stage_blocks(state, path))
    own = net.state_dict()
    # checkpoints from PyTorch < 0.4.1 lack the batch-norm counters; load_state_dict fills them in
    missing = [k for k in own if k not in state and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if missing:
        extra = f"; first unexpected key: {unexpected[0]!r}" if unexpected else ""
        raise InputError(path, f"key missing from the DSFD checkpoint ({len(missing)} missing in all{extra})",
                         field=missing[0])
    if unexpected:
        raise InputError(path, f"unexpected key in the DSFD checkpoint ({len(unexpected)} unexpected in all)",
                         field=unexpected[0])
    for key, value in own.items():
        if key in state and tuple(state[key].shape) != tuple(value.shape):
            raise InputError(path, f"shape {tuple(state[key].shape)} where DSFD has {tuple(value.shape)}", field=key)
    for key in own:
        if key.endswith(".num_batches_tracked") and key not in state:
            state[key] = own[key]
    net.load_state_dict(state, strict=True)
    return net.eval()


# --- decoding ---------------------------------------------------------------------------------

def anchors(map_sizes: list[tuple[int, int]], image_hw: tuple[int, int], params: DSFDParams = DSFDParams()
            ) -> np.ndarray:
    """(N, 4) anchors cx, cy, w, h as fractions of the image, in the order of the flattened maps
    (source by source, row-major), clipped to [0, 1]."""
    h, w = image_hw
    out = []
    root = np.sqrt(params.anchor_aspect)
    for (mh, mw), step, size in zip(map_sizes, params.steps_px, params.anchor_sizes_px, strict=False):
        ys, xs = np.meshgrid(np.arange(mh), np.arange(mw), indexing="ij")
        cx = (xs.ravel() + 0.5) * step / w
        cy = (ys.ravel() + 0.5) * step / h
        aw = np.full_like(cx, size / w / root)
        ah = np.full_like(cx, size / h * root)
        out.append(np.stack([cx, cy, aw, ah], axis=1))
    return np.clip(np.concatenate(out), 0.0, 1.0)


def decode(offsets: np.ndarray, priors: np.ndarray, variances: tuple[float, float]) -> np.ndarray:
    """SSD decoding: (N, 4) offsets on (N, 4) cx, cy, w, h anchors -> (N, 4) x0, y0, x1, y1 (fractions)."""
    centre = priors[:, :2] + offsets[:, :2] * variances[0] * priors[:, 2:]
    size = priors[:, 2:] * np.exp(np.clip(offsets[:, 2:] * variances[1], -20, 20))
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


class DSFDDetector:
    """DSFD from a user-supplied checkpoint, on ``device`` (default: CUDA when torch sees a GPU,
    else the CPU, where ResNet-152 at 1280x720 takes tens of seconds per image)."""

    name = "dsfd"

    def __init__(self, weights: str | Path, threshold: float = 0.5, nms_iou: float = 0.3,
                 params: DSFDParams = DSFDParams(), device: str | None = None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = load_dsfd(weights).to(self.device)
        self.threshold, self.nms_iou, self.params = threshold, nms_iou, params

    @torch.no_grad()
    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        """(N, 5) x, y, w, h, score in pixels of ``image_rgb`` (uint8 RGB)."""

        check_rgb(image_rgb)
        h, w = image_rgb.shape[:2]
        x = image_rgb.astype(np.float32) - np.asarray(self.params.mean_rgb, np.float32)
        x = torch.from_numpy(np.ascontiguousarray(x[..., ::-1].transpose(2, 0, 1)))[None].to(self.device)
        outputs = [(loc.cpu(), cls.cpu()) for loc, cls in self.net(x)]
        sizes = [tuple(loc.shape[2:]) for loc, _ in outputs]
        offsets = np.concatenate([loc[0].permute(1, 2, 0).reshape(-1, 4).numpy() for loc, _ in outputs])
        logits = torch.cat([cls[0].permute(1, 2, 0).reshape(-1, 2) for _, cls in outputs])
        scores = logits.softmax(dim=1)[:, 1].numpy()
        keep = np.nonzero(scores >= self.threshold)[0]
        if len(keep) > self.params.pre_nms_top_k:
            keep = keep[np.argsort(-scores[keep], kind="stable")[:self.params.pre_nms_top_k]]
        priors = anchors(sizes, (h, w), self.params)[keep]  # type: ignore[arg-type]
        xyxy = decode(offsets[keep], priors, self.params.variances) * np.array([w, h, w, h])
        boxes = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2], scores[keep]])
        return nms_xywh(clip_xywh(boxes, w, h), self.nms_iou)
