"""Loading torch weights the user supplies (backbones, LPIPS layers, Inception): one checked loader."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from disguisor.errors import InputError


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """The parameter tensors of a torch checkpoint (``module.`` prefixes removed)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # many error types for non-torch files
        first = (str(exc).splitlines() or [""])[0][:120]
        raise InputError(path, f"not a readable torch checkpoint ({type(exc).__name__}: {first})") from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise InputError(path, "expected a state_dict (parameter names to tensors)")
    return {k.removeprefix("module."): v for k, v in data.items() if isinstance(v, torch.Tensor)}


def load_into(module: nn.Module, state: dict[str, torch.Tensor], path: Path, prefix_filter: str = "",
              ignore_other_keys: bool = False) -> None:
    """Load the entries of ``state`` whose names start with ``prefix_filter`` into ``module``; a
    missing key, a shape that does not fit or (unless ``ignore_other_keys``) an unexpected key
    is an :class:`InputError` naming the key."""
    own = module.state_dict()
    picked = {k: v for k, v in state.items() if k.startswith(prefix_filter) and (k in own or not ignore_other_keys)}
    for key, value in own.items():
        if key not in picked:
            raise InputError(path, "key missing from the weights file", field=key)
        if tuple(picked[key].shape) != tuple(value.shape):
            raise InputError(path, f"shape {tuple(picked[key].shape)} where the network has {tuple(value.shape)}",
                             field=key)
    extra = sorted(set(picked) - set(own))
    if extra:
        raise InputError(path, "unexpected key in the weights file", field=extra[0])
    module.load_state_dict(picked, strict=True)
