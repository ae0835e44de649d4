"""Bit-accurate fixed-point models of the other two attention forms: full SA (S4) and
involution (S5), in the factored form S9 like ``golden.fixed`` (docs/fixed-point.md, "SA and
involution").  numpy only; ``golden.quantize`` makes the layers from float models.

Full SA, per frame (x int ``data_bits``, q/k/conv/W'_v as in PSSA):

1. q, k = RQ(W_q x, m_q, s_q), RQ(W_k x, m_k, s_k)                          (S2)
2. t_pj = SAT_logit((<q_p, k_j> * m_t + 2^(s_t-1)) >> s_t)  for all N pixels j: the logit in
   units of 1/EXP_STEPS of a binary octave (m_t folds 1/sqrt(D) and log2(e)), LOGIT_BITS wide
3. softmax by shift-and-table, max-subtracted (S4):
       delta = min(max_j t_pj - t_pj, DELTA_MAX)
       e_pj  = EXP_TABLE[delta mod EXP_STEPS] >> (delta div EXP_STEPS)   (2^-delta/16 in Q0.15)
       S_p   = sum_j e_pj;  R_p = floor(2^RECIP_SHIFT / S_p)              (one division a pixel)
4. z_p = SAT((sum_j e_pj x_j) * R_p + 2^(RECIP_SHIFT-1)) >> RECIP_SHIFT): the convex
   combination of the x_j, in x's own scale
5. y = SAT((acc_c * m_c + (W'_v z) * m_v + bias + 2^(s_out-1)) >> s_out)    as PSSA

Involution, per pixel (C_in = C_out = C, G groups, R = C / reduction hidden channels):

1. u = ReLU(RQ(W'_1 x_p + b_1, m_1, s_1))         (S5 with BN_r folded, S7)
2. h = RQ(W_2 u, m_2, s_2)                        G x K^2 kernel values
3. z_c = RQ(sum_{d in Delta_K} h[g(c), d] x_{p+d}[c], m_z, s_z)   (depthwise)
4. y = SAT((acc_c * m_c + (W_v z) * m_v + bias + 2^(s_out-1)) >> s_out) with
   W_v = diag(+-weight_max), the signs of BN_a's folded scale g'_c (S8), and m_v ~ |g'_c|: the
   PSSA engine's z tap and output requantizer, unchanged (docs/fixed-point.md)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import EXP_FRAC_BITS, EXP_STEPS, RECIP_SHIFT, XvConfig
from .config import sa_logit_bits as logit_bits
from .fixed import (INT, AttentionOutputStage, ProjectionLayer, check_frame, conv_accumulator,
                    output_requant, padded, requantize, round_shift, saturate, window)

EXP_TABLE = tuple(round((1 << EXP_FRAC_BITS) * 2.0 ** (-i / EXP_STEPS)) for i in range(EXP_STEPS))
DELTA_MAX = EXP_STEPS * (EXP_FRAC_BITS + 1) - 1   # beyond it e = 0 anyway


def exp2_table(delta: np.ndarray) -> np.ndarray:
    """e = 2^(-delta/16) in Q0.15 by table and shift, delta >= 0 (clamped to DELTA_MAX)."""
    d = np.minimum(np.asarray(delta, dtype=INT), DELTA_MAX)
    return np.asarray(EXP_TABLE, dtype=INT)[d % EXP_STEPS] >> (d // EXP_STEPS)


@dataclass
class QuantizedSALayer(ProjectionLayer):
    """Integer parameters of a full-SA layer; as ``golden.fixed.QuantizedLayer`` but the logit
    requantizer (m_t, s_t) replaces PSSA's (m_a, s_a) and z needs no requantizer (step 4)."""

    m_t: int
    s_t: int

    MULTIPLIERS = ProjectionLayer.MULTIPLIERS + ("m_t",)
    SHIFTS = ProjectionLayer.SHIFTS + ("s_t",)


@dataclass
class QuantizedInvolutionLayer(AttentionOutputStage):
    """Integer parameters of an involution layer: the output stage (``w_conv`` (K*K, C, C),
    ``w_v`` = diag(+-weight_max), ``m_c``, ``m_v``, ``bias``), and ``w_1`` (R, C) with ``b_1``
    (R,) in the accumulator's units, ``w_2`` (G*K*K, R), per-row multipliers ``m_1``, ``m_2``
    and the z requantizer (m_z, s_z)."""

    w_1: np.ndarray
    b_1: np.ndarray
    m_1: np.ndarray
    s_1: int
    w_2: np.ndarray
    m_2: np.ndarray
    s_2: int
    m_z: int
    s_z: int

    ARRAYS = AttentionOutputStage.ARRAYS + ("w_1", "b_1", "m_1", "w_2", "m_2")
    WEIGHTS = AttentionOutputStage.WEIGHTS + ("w_1", "w_2")
    MULTIPLIERS = AttentionOutputStage.MULTIPLIERS + ("m_1", "m_2", "m_z")
    SHIFTS = AttentionOutputStage.SHIFTS + ("s_1", "s_2", "s_z")

    def expected_shapes(self, cfg: XvConfig) -> dict[str, tuple[int, ...]]:
        c, r, gk = cfg.c_in, cfg.c_in // cfg.reduction, cfg.groups * cfg.k ** 2
        return {**super().expected_shapes(cfg), "w_1": (r, c), "b_1": (r,), "m_1": (r,),
                "w_2": (gk, r), "m_2": (gk,)}

    def check(self, cfg: XvConfig) -> None:
        super().check(cfg)
        limit = 1 << (cfg.accumulators.projection - 1)
        if np.abs(self.b_1).max() >= limit:
            raise ValueError(f"b_1: exceeds the projection accumulator's range (+-{limit})")


@dataclass
class SATrace:
    q: np.ndarray
    k: np.ndarray
    t: np.ndarray        # (N, N) logits
    e: np.ndarray        # (N, N) exponentials
    recip: np.ndarray    # (N,) R_p
    z: np.ndarray        # (H, W, C_in)
    y: np.ndarray


def forward_fixed_sa(cfg: XvConfig, layer: QuantizedSALayer, x: np.ndarray) -> SATrace:
    """One frame (H, W, C_in) through the integer full-SA X-volution (module docstring)."""
    if cfg.attention != "sa":
        raise ValueError(f"attention: forward_fixed_sa needs 'sa', got {cfg.attention!r}")
    db = cfg.fmt.data_bits
    x = check_frame(cfg, x)
    q = requantize(x @ layer.w_q.T, layer.m_q, layer.s_q, db).reshape(cfg.n_pixels, cfg.d)
    k = requantize(x @ layer.w_k.T, layer.m_k, layer.s_k, db).reshape(cfg.n_pixels, cfg.d)
    t = requantize(q @ k.T, layer.m_t, layer.s_t, logit_bits(cfg))
    e = exp2_table(t.max(axis=1, keepdims=True) - t)
    recip = (1 << RECIP_SHIFT) // e.sum(axis=1)
    z_acc = e @ x.reshape(cfg.n_pixels, cfg.c_in)
    z = saturate(round_shift(z_acc * recip[:, None], RECIP_SHIFT), db)
    acc_a = (z @ layer.w_v.T).reshape(cfg.h, cfg.w, cfg.c_out)
    y = output_requant(cfg, layer, conv_accumulator(cfg, layer.w_conv, x), acc_a)
    return SATrace(q=q, k=k, t=t, e=e, recip=recip, z=z.reshape(cfg.h, cfg.w, cfg.c_in), y=y)


@dataclass
class InvolutionTrace:
    u: np.ndarray        # (H, W, R) hidden
    h: np.ndarray        # (H, W, G, K*K) kernels
    t: np.ndarray        # (H, W, C) attention accumulators
    z: np.ndarray        # (H, W, C) requantized
    y: np.ndarray


def forward_fixed_involution(cfg: XvConfig, layer: QuantizedInvolutionLayer,
                             x: np.ndarray) -> InvolutionTrace:
    """One frame (H, W, C) through the integer involution X-volution (module docstring)."""
    if cfg.attention != "involution":
        raise ValueError(f"attention: forward_fixed_involution needs 'involution', got "
                         f"{cfg.attention!r}")
    db = cfg.fmt.data_bits
    x = check_frame(cfg, x)
    u = np.maximum(requantize(x @ layer.w_1.T + layer.b_1, layer.m_1, layer.s_1, db), 0)
    h = requantize(u @ layer.w_2.T, layer.m_2, layer.s_2, db)
    h = h.reshape(cfg.h, cfg.w, cfg.groups, cfg.k * cfg.k)
    hc = np.repeat(h, cfg.c_in // cfg.groups, axis=2)  # (H, W, C, K*K): g(c) = c // gc
    r = cfg.radius
    xp = padded(x, r)
    t = sum(hc[..., i] * window(xp, r, di, dj, cfg.h, cfg.w)
            for i, (di, dj) in enumerate(cfg.conv_offsets))
    z = requantize(t, layer.m_z, layer.s_z, db)
    y = output_requant(cfg, layer, conv_accumulator(cfg, layer.w_conv, x), z @ layer.w_v.T)
    return InvolutionTrace(u=u, h=h, t=t, z=z, y=y)
