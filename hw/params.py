"""Pack a quantized layer into the engine's parameter stream (order: ``Geometry.regions``)."""
from __future__ import annotations

import numpy as np

from golden.config import XvConfig

from .geometry import Geometry


def region_images(cfg: XvConfig, layer) -> dict[str, np.ndarray]:
    """Each region's values as (depth, lanes) arrays, in memory order."""
    geo = Geometry(cfg)
    simd, pe, ci_n, co_n = cfg.simd, cfg.pe, geo.ci_chunks, geo.co_groups
    # w_mac[og, t, ci][pe, s] = W_t[og*PE + pe, ci*SIMD + s]; with attention t = K^2 is W'_v
    taps = np.concatenate([layer.w_conv, layer.w_v[None]], 0) if cfg.has_attention \
        else np.asarray(layer.w_conv)                                   # (taps, C_out, C_in)
    w_mac = taps.reshape(cfg.taps, co_n, pe, ci_n, simd).transpose(1, 0, 3, 2, 4)
    images = {
        "w_mac": w_mac.reshape(-1, pe * simd),
        **geo.form.images(geo, layer),
        "m_c": np.asarray(layer.m_c).reshape(co_n, pe),
        "bias": np.asarray(layer.bias).reshape(co_n, pe),
        "scalars": np.array([getattr(layer, name) for name in geo.scalar_order]).reshape(-1, 1),
    }
    if cfg.has_attention:
        images["m_v"] = np.asarray(layer.m_v).reshape(co_n, pe)
    for r in geo.regions:
        if images[r.name].shape != (r.depth, r.lanes):
            raise ValueError(f"{r.name}: image of shape {images[r.name].shape}, the engine's "
                             f"memory holds {(r.depth, r.lanes)}")
    return images


def param_words(cfg: XvConfig, layer) -> list[int]:
    """The parameter stream as unsigned ``param_bits`` words, two's complement."""
    geo = Geometry(cfg)
    mask = (1 << geo.param_bits) - 1
    images = region_images(cfg, layer)
    return [int(v) & mask for r in geo.regions for v in images[r.name].ravel()]
