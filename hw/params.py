"""Pack a quantized layer into the engine's parameter stream (order: ``Geometry.regions``)."""
from __future__ import annotations

import numpy as np

from golden.config import XvConfig

from .geometry import Geometry


def region_images(cfg: XvConfig, layer) -> dict[str, np.ndarray]:
    """Each region's values as (depth, lanes) arrays, in memory order."""
    geo = Geometry(cfg)
    simd, pe, ci_n, co_n = cfg.simd, cfg.pe, geo.ci_chunks, geo.co_groups
    kk = cfg.k * cfg.k
    # w_mac[og, t, ci][pe, s] = W_t[og*PE + pe, ci*SIMD + s], t = K^2 is W'_v
    taps = np.concatenate([layer.w_conv, layer.w_v[None]], 0)          # (K^2+1, C_out, C_in)
    w_mac = taps.reshape(kk + 1, co_n, pe, ci_n, simd).transpose(1, 0, 3, 2, 4)
    # w_qk[ci, g][l, s] = P[g*PJ + l, ci*SIMD + s], P = [W_q; W_k] or involution's W'_1
    pj = geo.proj_lanes
    involution = cfg.attention == "involution"
    rows = layer.w_1 if involution else np.concatenate([layer.w_q, layer.w_k], 0)
    row_mults = layer.m_1 if involution else np.concatenate([layer.m_q, layer.m_k])
    w_qk = rows.reshape(geo.proj_groups, pj, ci_n, simd).transpose(2, 0, 1, 3)
    images = {
        "w_mac": w_mac.reshape(-1, pe * simd),
        "w_qk": w_qk.reshape(-1, pj * simd),
        "m_qk": row_mults.reshape(-1, pj),
        "m_c": layer.m_c.reshape(co_n, pe),
        "m_v": layer.m_v.reshape(co_n, pe),
        "bias": layer.bias.reshape(co_n, pe),
        "scalars": np.array([getattr(layer, name) for name in geo.scalar_order]).reshape(-1, 1),
    }
    if involution:  # the requantizer adds b_1 * m_1: (acc + b_1) m_1 exactly
        images["b_qk"] = (layer.b_1 * layer.m_1).reshape(-1, pj)
        images["w_kg"] = layer.w_2
        images["m_kg"] = layer.m_2.reshape(-1, 1)
    for r in geo.regions:
        assert images[r.name].shape == (r.depth, r.lanes), (r.name, images[r.name].shape)
    return images


def param_words(cfg: XvConfig, layer) -> list[int]:
    """The parameter stream as unsigned ``param_bits`` words, two's complement."""
    geo = Geometry(cfg)
    mask = (1 << geo.param_bits) - 1
    images = region_images(cfg, layer)
    return [int(v) & mask for r in geo.regions for v in images[r.name].ravel()]
