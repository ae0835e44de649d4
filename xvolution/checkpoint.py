"""Checkpoints and frame files for the command line (docs/deploy.md)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from golden.config import XvConfig
from golden.model import XVolution

from .errors import DeployError, require

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def save_checkpoint(module: XVolution, path) -> Path:
    """A checkpoint the command line reads: the layer's configuration and its state dict."""
    path = Path(path)
    torch.save({"config": module.cfg.to_dict(), "state_dict": module.state_dict()}, path)
    return path


def load_checkpoint(path) -> XVolution:
    """The training-form layer of a checkpoint (``save_checkpoint``'s format)."""
    path = Path(path)
    require(path.is_file(), "checkpoint", f"no such file {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a file that is not a checkpoint
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DeployError(f"checkpoint: {path} is not a torch checkpoint ({reason})") from None
    missing = [k for k in ("config", "state_dict") if not isinstance(data, dict) or k not in data]
    require(not missing, "checkpoint", f"{path} lacks {missing} (expected "
            "{'config': XvConfig.to_dict(), 'state_dict': module.state_dict()})")
    cfg = XvConfig.from_dict(data["config"])
    module = XVolution(cfg).double()
    try:
        module.load_state_dict(data["state_dict"])
    except RuntimeError as err:  # missing/unexpected keys or shapes: say which, in one line
        first = str(err).splitlines()
        raise DeployError(f"checkpoint: its state_dict does not fit {cfg.describe()}: "
                          f"{' '.join(line.strip() for line in first[:3])}") from None
    return module


def load_frames(paths, cfg: XvConfig, what: str) -> np.ndarray:
    """Float frames N C H W from one .npy file or from image files (scaled to [0, 1], resized
    to the layer's W x H, their channels the layer's C_in)."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    for p in paths:
        require(p.is_file(), what, f"no such file {p}")
    if len(paths) == 1 and paths[0].suffix == ".npy":
        try:
            frames = np.load(paths[0])
        except (OSError, ValueError) as err:
            raise DeployError(f"{what}: {paths[0]} is not a .npy array ({err})") from None
        require(np.issubdtype(frames.dtype, np.floating), what,
                f"{paths[0]} holds {frames.dtype}, expected float frames")
        return frames
    require(all(p.suffix.lower() in IMAGE_SUFFIXES for p in paths), what,
            f"expected one .npy file or image files ({', '.join(IMAGE_SUFFIXES)})")
    return np.stack([_image(p, cfg, what) for p in paths])


def _image(path: Path, cfg: XvConfig, what: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        mode = {1: "L", 3: "RGB"}.get(cfg.c_in)
        require(mode is not None, what, f"image files give 1 or 3 channels; this layer takes "
                f"C_in = {cfg.c_in} (use a .npy file)")
        pixels = np.asarray(image.convert(mode).resize((cfg.w, cfg.h)), dtype=np.float64)
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    return pixels.transpose(2, 0, 1) / 255.0
