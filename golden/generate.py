"""Make layers and input frames, run every form of the model on them, and build vector sets.

Shared by the command line (``python -m golden``), the tests and the benchmarks, so that a figure
in the docs and the test that bounds it come from the same code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import XvConfig
from .fixed import OutputStage, QuantizedLayer, forward_fixed, sqnr_db
from .forms import golden_form
from .model import DynamicXVolution, XVolution, random_model, reparameterize
from .quantize import dequantize_input, float64_cpu, quantize_input, quantize_layer
from .vectors import VectorSet

SOURCES = ("random", "image")


def random_frames(cfg: XvConfig, frames: int, seed: int) -> torch.Tensor:
    """Standard-normal float64 frames, NCHW."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(frames, cfg.c_in, cfg.h, cfg.w, dtype=torch.float64, generator=g)


def image_frames(cfg: XvConfig, frames: int, seed: int) -> torch.Tensor:
    """Feature maps from scikit-learn's sample photographs (no download).

    Each frame is a crop of one photograph (alternating china.jpg / flower.jpg), area-resized to
    H x W, normalized, and passed through a fixed random 3x3 convolution stem (3 -> C_in
    channels) standing in for the layers in front of an X-volution.
    """
    from sklearn.datasets import load_sample_images

    photos = [torch.from_numpy(im.astype(np.float64) / 255.0).permute(2, 0, 1)
              for im in load_sample_images().images]
    g = torch.Generator().manual_seed(seed)
    stem = torch.randn(cfg.c_in, 3, 3, 3, dtype=torch.float64, generator=g) / 3.0
    out = []
    for i in range(frames):
        photo = photos[i % len(photos)]
        _, ph, pw = photo.shape
        side = int(min(ph, pw) * (0.5 + 0.5 * torch.rand(1, generator=g).item()))
        top = int(torch.randint(0, ph - side + 1, (1,), generator=g))
        left = int(torch.randint(0, pw - side + 1, (1,), generator=g))
        crop = photo[:, top:top + side, left:left + side][None]
        small = F.interpolate(crop, size=(cfg.h, cfg.w), mode="area")
        small = (small - small.mean()) / (small.std() + 1e-12)
        out.append(F.conv2d(small, stem, padding=1)[0])
    return torch.stack(out)


def frames_from(source: str, cfg: XvConfig, frames: int, seed: int) -> torch.Tensor:
    if source not in SOURCES:
        raise ValueError(f"source: {source!r} is not one of {SOURCES}")
    return (random_frames if source == "random" else image_frames)(cfg, frames, seed)


@dataclass
class Equivalence:
    """Largest |difference| between forms, relative to the output's largest magnitude."""

    s8_vs_training: float
    s9_vs_training: float


@torch.no_grad()
def check_equivalence(model: XVolution, x: torch.Tensor) -> Equivalence:
    """Training form (eval mode) against S8 and S9, in float64."""
    model = model.double().eval()
    dyn = reparameterize(model)
    y_train = model(x)
    scale = float(y_train.abs().max())
    return Equivalence(float((dyn(x) - y_train).abs().max()) / scale,
                       float((dyn.forward_factored(x) - y_train).abs().max()) / scale)


@dataclass
class FixedPointError:
    """Fixed-point golden against float S8 on the same (quantized) input."""

    sqnr_db: float
    max_lsb: float
    frames: int


def quantize_form(dyn: DynamicXVolution, calib: torch.Tensor) -> OutputStage:
    """The fixed-point layer of any form (golden.forms)."""
    return golden_form(dyn.cfg).quantize(dyn, calib)


def forward_form(cfg: XvConfig, layer: OutputStage, x: np.ndarray) -> np.ndarray:
    """Integer output (H, W, C_out) of one frame through the fixed-point model of cfg's form."""
    return golden_form(cfg).forward(cfg, layer, x).y


def quantized_run(cfg: XvConfig, dyn: DynamicXVolution, x: torch.Tensor, layer=None):
    """Quantize (calibrating on ``x`` unless a layer is given) and run the fixed-point model of
    the configuration's attention form.

    Returns (layer, integer inputs NHWC, integer outputs NHWC, float S8 outputs NHWC).
    The float reference runs on the dequantized integer input: the error is the engine's.
    """
    dyn = float64_cpu(dyn)  # the float reference in float64, whatever the model's dtype
    layer = layer or quantize_form(dyn, x)
    xi = quantize_input(x, layer.x_scale, cfg)
    yi = np.stack([forward_form(cfg, layer, frame) for frame in xi])
    with torch.no_grad():
        # S9 stands for S8 here: equal to 1e-9 (tests), and it does not materialize K_p.
        y_float = dyn.forward_factored(dequantize_input(xi, layer.x_scale))
        y_float = y_float.numpy().transpose(0, 2, 3, 1)
    return layer, xi, yi, y_float


def fixed_point_error(cfg: XvConfig, source: str = "random", frames: int = 4,
                      seed: int = 0) -> FixedPointError:
    """Measure the fixed-point error of a random layer on random or photograph frames."""
    dyn = reparameterize(random_model(cfg, seed))
    x = frames_from(source, cfg, frames, seed + 100)
    layer, _, yi, y_float = quantized_run(cfg, dyn, x)
    y_hat = yi * layer.y_scale
    return FixedPointError(sqnr_db(y_float, y_hat),
                           float(np.abs(y_float - y_hat).max() / layer.y_scale), frames)


def make_vector_set(cfg: XvConfig, frames: int = 2, seed: int = 0,
                    source: str = "random") -> VectorSet:
    """A random trained-looking layer (non-trivial BN statistics), quantized and run."""
    if frames < 1:
        raise ValueError(f"frames: must be >= 1, got {frames}")
    dyn = reparameterize(random_model(cfg, seed))
    x = frames_from(source, cfg, frames, seed + 100)
    layer, xi, yi, _ = quantized_run(cfg, dyn, x)
    return VectorSet(cfg=cfg, layer=layer, x=xi, y=yi, seed=seed, source=source)


EXTREMES = ("max", "min", "alternating")


def _extreme_values(pattern: str, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    """An array at the ends of [lo, hi]: all hi, all lo, or hi/lo alternating along the flat
    index (a checkerboard in every axis when the last axis is odd, stripes otherwise)."""
    if pattern not in EXTREMES:
        raise ValueError(f"pattern: {pattern!r} is not one of {EXTREMES}")
    if pattern == "alternating":
        return np.where(np.arange(int(np.prod(shape))).reshape(shape) % 2 == 0, hi, lo)
    return np.full(shape, hi if pattern == "max" else lo, dtype=np.int64)


def extreme_layer(cfg: XvConfig, weights: str, bias: str | None = None,
                  seed: int = 0) -> QuantizedLayer:
    """A layer whose weights all sit at an end of their range (``weights`` in ``EXTREMES``),
    with every requantization multiplier at its largest value, so every stage's accumulator
    reaches its extreme.  ``bias`` None leaves the bias 0 (outputs then show every stage);
    a pattern puts it at the largest magnitude the output requantizer takes (the widest sum
    S9's requantizer must hold without wrapping).  The shifts come from a calibrated random
    layer, so outputs mix saturated and exact values."""
    base = quantize_layer(reparameterize(random_model(cfg, seed)),
                          random_frames(cfg, 1, seed + 100))
    f = cfg.fmt
    w_lo, w_hi = -f.weight_max - 1, f.weight_max
    m_hi = (1 << f.mult_bits) - 1
    b_hi = (1 << (cfg.requant_bits - 2)) - 1
    values = {name: _extreme_values(weights, shape, w_lo, w_hi)
              for name, shape in base.expected_shapes(cfg).items()
              if name.startswith("w_")}
    values.update({name: np.full(shape, m_hi, dtype=np.int64)
                   for name, shape in base.expected_shapes(cfg).items() if name.startswith("m_")})
    values["bias"] = (np.zeros(cfg.c_out, dtype=np.int64) if bias is None
                      else _extreme_values(bias, (cfg.c_out,), -b_hi, b_hi))
    layer = QuantizedLayer(**{**base.as_dict(), **values, "m_a": m_hi, "m_z": m_hi})
    layer.check(cfg)
    return layer


def extreme_vector_set(cfg: XvConfig, weights: str, bias: str | None = None,
                       seed: int = 0) -> VectorSet:
    """Saturation vectors: an ``extreme_layer`` and three frames, all max, all min and
    alternating max/min inputs (docs/verification.md)."""
    f = cfg.fmt
    shape = (cfg.h, cfg.w, cfg.c_in)
    x = np.stack([_extreme_values(p, shape, f.data_min, f.data_max) for p in EXTREMES])
    layer = extreme_layer(cfg, weights, bias, seed)
    y = np.stack([forward_fixed(cfg, layer, frame).y for frame in x])
    return VectorSet(cfg=cfg, layer=layer, x=x, y=y, seed=seed,
                     source=f"extreme-{weights}-bias-{bias or 'zero'}")
