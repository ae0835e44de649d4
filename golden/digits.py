"""A small CNN on scikit-learn's handwritten digits whose middle layer is an X-volution.

The network: stem (3x3 conv 1 -> C, BN, ReLU) -> middle layer (C -> C on the 8 x 8 map) -> ReLU,
2x2 average pool, linear classifier.  The middle layer is one of ``MIDDLES``: a plain 3x3
convolution with BN (the baseline), or the X-volution training form (S6) with PSSA, full SA or
involution attention.  The layer's shape is the spec's ``digits`` workload.

The data is ``sklearn.datasets.load_digits`` (1,797 8 x 8 images, 0..16, no download), split
75/25 with a fixed seed.  Training is seeded and takes seconds on a CPU; ``train`` caches the
weights so a second run only evaluates.  No hardware here: reports/demo.py runs the middle layer
through the RTL.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .config import XvConfig, preset
from .model import XVolution

MIDDLES = ("conv", "pssa", "sa", "involution")
CLASSES = 10


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 40
    batch: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def key(self, middle: str, cfg: XvConfig) -> str:
        text = json.dumps([middle, cfg.to_dict(), asdict(self)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def layer_config(**overrides) -> XvConfig:
    """The middle layer: the ``digits`` workload (8 x 8, C = 16, D = 4, K = 3, L = 1) on an
    8 x 8 MAC array, the engine's fast point for simulating hundreds of images."""
    return preset("digits", **{"simd": 8, "pe": 8, **overrides})


@dataclass
class DigitsData:
    x_train: torch.Tensor  # (N, 1, 8, 8) float64 in [0, 1]
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_data(seed: int = 0) -> DigitsData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float64) / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target, test_size=0.25,
                                              random_state=seed, stratify=digits.target)
    as_x = lambda a: torch.from_numpy(a[:, None])  # noqa: E731
    as_y = lambda a: torch.from_numpy(a.astype(np.int64))  # noqa: E731
    return DigitsData(as_x(x_tr), as_y(y_tr), as_x(x_te), as_y(y_te))


class DigitsNet(nn.Module):
    def __init__(self, middle: str, cfg: XvConfig):
        super().__init__()
        if middle not in MIDDLES:
            raise ValueError(f"middle: {middle!r} is not one of {MIDDLES}")
        c = cfg.c_in
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU())
        if middle == "conv":
            self.middle = nn.Sequential(nn.Conv2d(c, cfg.c_out, cfg.k, padding=cfg.k // 2,
                                                  bias=False), nn.BatchNorm2d(cfg.c_out))
        else:
            self.middle = XVolution(cfg.replace(attention=middle))
        self.head = nn.Sequential(nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                                  nn.Linear(cfg.c_out * (cfg.h // 2) * (cfg.w // 2), CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.middle(self.stem(x)))


def train(middle: str, cfg: XvConfig, data: DigitsData, settings: TrainSettings,
          cache: Path | None = None, progress: Callable | None = None) -> DigitsNet:
    """Train (or load from ``cache``) the network with the given middle layer; eval mode,
    float64.  ``progress`` wraps the epoch range (a tqdm)."""
    torch.manual_seed(settings.seed)
    net = DigitsNet(middle, cfg)
    path = cache / f"digits-{middle}-{settings.key(middle, cfg)}.pt" if cache else None
    if path is not None and path.exists():
        net.load_state_dict(torch.load(path))
        return net.double().eval()
    generator = torch.Generator().manual_seed(settings.seed)
    opt = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.epochs)
    x, y = data.x_train.float(), data.y_train
    epochs = range(settings.epochs)
    for _ in (progress(epochs) if progress else epochs):
        net.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), settings.batch):
            batch = order[start:start + settings.batch]
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[batch]), y[batch]).backward()
            opt.step()
        sched.step()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), path)
    return net.double().eval()


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).double().mean())
