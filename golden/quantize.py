"""Quantize a re-parameterized float X-volution (S8) into the engine's integers (golden.fixed).

Scales (docs/fixed-point.md):
- weights: symmetric per output channel, scale = max|w| / (2^(weight_bits-1) - 1), with W'_d
  over all K*K taps of a channel sharing one scale;
- activations (x, q, k, a, z, y): symmetric per tensor, scale = max|v| / (2^(data_bits-1) - 1)
  over the calibration frames, computed in float64 from the float model;
- every requantization factor f = (scale in) / (scale out) becomes an unsigned ``mult_bits``
  multiplier m and a right shift s with m / 2^s ~ f: s is the largest shift (<= max_shift) for
  which the stage's largest multiplier still fits.
"""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch

from .config import XvConfig
from .fixed import QuantizedLayer, INT
from .model import DynamicXVolution, pssa_logits


def symmetric_scale(values: torch.Tensor, bits: int, dim=None) -> torch.Tensor:
    """max|v| / (2^(bits-1) - 1), over all of v or per index of ``dim``; 1.0 where v is all 0."""
    qmax = (1 << (bits - 1)) - 1
    if dim is None:
        peak = values.abs().max()
    else:
        other = [i for i in range(values.dim()) if i != dim]
        peak = values.abs().amax(dim=other)
    return torch.where(peak > 0, peak / qmax, torch.ones_like(peak))


def quantize_tensor(values: torch.Tensor, scale: torch.Tensor, bits: int) -> np.ndarray:
    """round(v / scale) saturated to signed ``bits`` (round half to even, as torch.round)."""
    qmax = (1 << (bits - 1)) - 1
    return torch.clamp(torch.round(values / scale), -qmax - 1, qmax).to(torch.int64).numpy()


def multiplier(factors, mult_bits: int, max_shift: int, stage: str) -> tuple[np.ndarray, int]:
    """Unsigned multipliers m (< 2^mult_bits) and one shift s with m / 2^s ~ factors."""
    f = np.atleast_1d(np.asarray(factors, dtype=np.float64))
    if np.any(f < 0) or not np.all(np.isfinite(f)):
        raise ValueError(f"{stage}: requantization factors must be finite and >= 0")
    peak = float(f.max())
    shift = max_shift if peak == 0 else math.floor(math.log2(((1 << mult_bits) - 1) / peak))
    shift = min(shift, max_shift)
    if shift < 1:
        raise ValueError(f"{stage}: requantization factor {peak:.3g} is too large for "
                         f"{mult_bits}-bit multipliers (scales of this layer are inconsistent)")
    m = np.round(f * (1 << shift)).astype(INT)
    return m, shift


def float_intermediates(dyn: DynamicXVolution, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """q, k, a_p(d), z and y of the float model (S8/S9), all NCHW float64."""
    with torch.no_grad():
        q, k = dyn.projections(x)
        a = pssa_logits(q, k, dyn.cfg.shift_offsets)
        z = dyn.aggregate(x)
        y = dyn.forward_factored(x)
    return {"q": q, "k": k, "a": a, "z": z, "y": y}


class SaturationWarning(UserWarning):
    """Input values beyond the calibration range were clamped to the integer range."""


def float_frames(x, cfg: XvConfig, any_size: bool = False) -> torch.Tensor:
    """Float frames (N, C_in, H, W) as float64 on the CPU; ValueError naming the expected shape
    (one C_in x H x W frame needs its batch dimension: ``x[None]``).  ``any_size``: any H x W
    (calibration frames: the layer is convolutional)."""
    x = torch.as_tensor(x)
    want = (cfg.c_in,) if any_size else (cfg.c_in, cfg.h, cfg.w)
    if x.dim() != 4 or tuple(x.shape[1:1 + len(want)]) != want:
        expected = f"(N, {cfg.c_in}, H, W)" if any_size else f"(N, {cfg.c_in}, {cfg.h}, {cfg.w})"
        hint = "; add the batch dimension (x[None])" if x.dim() == 3 else ""
        raise ValueError(f"x: shape {tuple(x.shape)}, expected float frames N x C_in x H x W "
                         f"{expected}{hint}")
    return x.detach().to("cpu", torch.float64)


def saturated_fraction(x, scale: float, cfg: XvConfig) -> float:
    """Fraction of the values of float frames x that ``quantize_input`` clamps: those whose
    round(x / scale) lies outside signed ``data_bits`` (inputs beyond the calibration range)."""
    q = torch.round(float_frames(x, cfg) / scale)
    qmax = cfg.fmt.data_max
    return float(((q > qmax) | (q < -qmax - 1)).double().mean()) if q.numel() else 0.0


def _to_int_nhwc(x: torch.Tensor, scale: float, cfg: XvConfig) -> np.ndarray:
    xi = quantize_tensor(x, torch.tensor(scale, dtype=torch.float64), cfg.fmt.data_bits)
    return np.ascontiguousarray(xi.transpose(0, 2, 3, 1))


def quantize_input(x: torch.Tensor, scale: float, cfg: XvConfig) -> np.ndarray:
    """Float NCHW frames (N, C_in, H, W; a single C H W frame is refused, add its batch
    dimension) to int ``data_bits`` NHWC frames (the engine's raster stream order).

    Values beyond the calibration range saturate, as in the engine; a ``SaturationWarning``
    says what fraction did (``saturated_fraction`` returns it)."""
    x = float_frames(x, cfg)
    clamped = saturated_fraction(x, scale, cfg)
    if clamped > 0:
        warnings.warn(f"x: {100 * clamped:.2f}% of the input values lie outside the "
                      f"calibration range (+-{scale * cfg.fmt.data_max:.4g}) and saturate to "
                      f"int{cfg.fmt.data_bits}", SaturationWarning, stacklevel=2)
    return _to_int_nhwc(x, scale, cfg)


def dequantize_input(xi: np.ndarray, scale: float) -> torch.Tensor:
    """Int NHWC frames back to float64 NCHW."""
    return torch.from_numpy(xi.transpose(0, 3, 1, 2).astype(np.float64) * scale)


def quantize_layer(dyn: DynamicXVolution, calib: torch.Tensor) -> QuantizedLayer:
    """Choose every scale of the PSSA path from the weights and from float calibration frames
    (NCHW)."""
    dyn = float64_cpu(dyn)
    cfg = dyn.cfg
    if cfg.attention != "pssa":
        raise ValueError(f"attention: quantize_layer is PSSA's (golden.forms has every form's "
                         f"quantizer), got {cfg.attention!r}")
    f = cfg.fmt
    db, wb, mb, ms = f.data_bits, f.weight_bits, f.mult_bits, f.max_shift
    s_x, x_seen = input_scale(dyn, calib)
    act = float_intermediates(dyn, x_seen)
    s = {name: float(symmetric_scale(v, db)) for name, v in act.items()}
    s_wq, w_q = _weights(dyn.w_q, wb)
    s_wk, w_k = _weights(dyn.w_k, wb)
    s_wv, w_v = _weights(dyn.w_v, wb)
    m_q, s_q = multiplier(s_wq.numpy() * s_x / s["q"], mb, ms, "q projection")
    m_k, s_k = multiplier(s_wk.numpy() * s_x / s["k"], mb, ms, "k projection")
    m_a, s_a = multiplier(s["q"] * s["k"] / math.sqrt(cfg.d) / s["a"], mb, ms, "logit")
    m_z, s_z = multiplier(s["a"] * s_x / s["z"], mb, ms, "aggregation")
    layer = QuantizedLayer(
        **output_stage(dyn, s_x, s["y"], tap_factors=s_wv.numpy() * s["z"]),
        w_v=w_v, w_q=w_q, w_k=w_k, m_q=m_q, s_q=s_q, m_k=m_k, s_k=s_k, m_a=int(m_a[0]), s_a=s_a,
        m_z=int(m_z[0]), s_z=s_z)
    layer.check(cfg)
    return layer


def _weights(w: torch.Tensor, bits: int):
    """Per-row symmetric scale and the integer weights of a 2-D weight matrix."""
    w = w.detach().double()
    scale = symmetric_scale(w, bits, dim=0)
    return scale, quantize_tensor(w, scale[:, None], bits)


def _conv_taps(dyn: DynamicXVolution, bits: int):
    """Per-output-channel scale of W'_d (one over all K*K taps of a channel) and the integer
    taps (K*K, C_out, C_in) in ``cfg.conv_offsets`` order."""
    cfg = dyn.cfg
    w_conv = dyn.w_conv.detach().double()
    s_wc = symmetric_scale(w_conv, bits, dim=0)
    taps = w_conv.permute(2, 3, 0, 1).reshape(cfg.k * cfg.k, cfg.c_out, cfg.c_in)
    return s_wc, quantize_tensor(taps, s_wc[None, :, None], bits)


def input_scale(dyn: DynamicXVolution, calib: torch.Tensor):
    """s_x, and the calibration input as the engine sees it (already quantized): every
    intermediate is calibrated on that input, not on the float one."""
    calib = float_frames(calib, dyn.cfg, any_size=True)
    s_x = float(symmetric_scale(calib, dyn.cfg.fmt.data_bits))
    return s_x, dequantize_input(_to_int_nhwc(calib, s_x, dyn.cfg), s_x)


def float64_cpu(dyn: DynamicXVolution) -> DynamicXVolution:
    """The model every quantizer works on: its scales are computed in float64 on the CPU (numpy
    underneath), so a float32 or GPU model is copied there; the caller's model is unchanged."""
    p = dyn.w_conv
    if p.dtype == torch.float64 and p.device.type == "cpu":
        return dyn
    return copy.deepcopy(dyn).to("cpu", torch.float64)


def output_stage(dyn: DynamicXVolution, s_x: float, s_y: float, tap_factors=None) -> dict:
    """The integer fields of the output stage every form shares (``golden.fixed.OutputStage``,
    S9 step 5): W'_d, per-channel multipliers m_c (and m_v for the z tap, whose real LSB per
    output channel is ``tap_factors``; None for the plain convolution, which has no z tap),
    one shift s_out for all of them, and the bias in the requantizer's units."""
    cfg, f = dyn.cfg, dyn.cfg.fmt
    s_wc, w_conv = _conv_taps(dyn, f.weight_bits)
    factors = s_wc.numpy() * s_x / s_y
    if tap_factors is not None:
        factors = np.concatenate([factors, tap_factors / s_y])
    m_out, s_out = multiplier(factors, f.mult_bits, f.max_shift, "output")
    bias = np.round(dyn.bias.detach().double().numpy() / s_y * (1 << s_out)).astype(INT)
    stage = dict(w_conv=w_conv, m_c=m_out[:cfg.c_out], bias=bias, s_out=s_out, x_scale=s_x,
                 y_scale=s_y)
    if tap_factors is not None:
        stage["m_v"] = m_out[cfg.c_out:]
    return stage


def quantize_sa_layer(dyn: DynamicXVolution, calib: torch.Tensor):
    """Scales of the full-SA fixed-point path (golden.fixed_forms): as PSSA for q, k, the
    convolution and the output; the logit multiplier folds 1/sqrt(D), log2(e) and the table's
    EXP_STEPS steps an octave; z keeps x's scale (a convex combination of x)."""
    from .fixed_forms import EXP_STEPS, QuantizedSALayer

    dyn = float64_cpu(dyn)
    cfg, f = dyn.cfg, dyn.cfg.fmt
    db, wb, mb, ms = f.data_bits, f.weight_bits, f.mult_bits, f.max_shift
    s_x, x_seen = input_scale(dyn, calib)
    with torch.no_grad():
        q, k = dyn.projections(x_seen)
        y = dyn.forward_factored(x_seen)
    s_q, s_k, s_y = (float(symmetric_scale(v, db)) for v in (q, k, y))
    s_wq, w_q = _weights(dyn.w_q, wb)
    s_wk, w_k = _weights(dyn.w_k, wb)
    s_wv, w_v = _weights(dyn.w_v, wb)
    m_q, sh_q = multiplier(s_wq.numpy() * s_x / s_q, mb, ms, "q projection")
    m_k, sh_k = multiplier(s_wk.numpy() * s_x / s_k, mb, ms, "k projection")
    m_t, sh_t = multiplier(s_q * s_k / math.sqrt(cfg.d) * math.log2(math.e) * EXP_STEPS,
                           mb, ms, "logit")
    return QuantizedSALayer(**output_stage(dyn, s_x, s_y, tap_factors=s_wv.numpy() * s_x),
                            w_v=w_v, w_q=w_q, w_k=w_k, m_q=m_q, s_q=sh_q, m_k=m_k, s_k=sh_k,
                            m_t=int(m_t[0]), s_t=sh_t)


def quantize_involution_layer(dyn: DynamicXVolution, calib: torch.Tensor):
    """Scales of the involution fixed-point path (golden.fixed_forms): per-row weights, the
    hidden layer u, the kernels h and z per tensor; BN_a's folded scale g'_c goes into the
    output multiplier m_v (magnitude) and W_v = diag(sign g'_c) * weight_max."""
    from .model import involution_sum
    from .fixed_forms import QuantizedInvolutionLayer

    dyn = float64_cpu(dyn)
    cfg, f = dyn.cfg, dyn.cfg.fmt
    db, wb, mb, ms = f.data_bits, f.weight_bits, f.mult_bits, f.max_shift
    s_x, x_seen = input_scale(dyn, calib)
    with torch.no_grad():
        hidden = torch.relu(torch.einsum("rc,nchw->nrhw", dyn.w_1, x_seen)
                            + dyn.b_1[None, :, None, None])
        h = dyn.involution_kernel(x_seen)
        z = involution_sum(x_seen, h, cfg)
        y = dyn.forward_factored(x_seen)
    s_u, s_h, sc_z, s_y = (float(symmetric_scale(v, db)) for v in (hidden, h, z, y))
    s_w1, w_1 = _weights(dyn.w_1, wb)
    s_w2, w_2 = _weights(dyn.w_2, wb)
    # b_1 in the accumulator's units, kept inside its range (a BN shift that large would
    # saturate u anyway)
    b_limit = (1 << (cfg.accumulators.projection - 1)) - 1
    b_1 = np.clip(np.round(dyn.b_1.detach().double().numpy() / (s_w1.numpy() * s_x)),
                  -b_limit, b_limit).astype(INT)
    m_1, s_1 = multiplier(s_w1.numpy() * s_x / s_u, mb, ms, "involution hidden layer")
    m_2, s_2 = multiplier(s_w2.numpy() * s_u / s_h, mb, ms, "involution kernel")
    m_z, s_z = multiplier(s_h * s_x / sc_z, mb, ms, "involution sum")
    g = dyn.g_scale.detach().double().numpy()
    # W_v = diag(sign g) * weight_max: the z tap then has a weight-sized scale like the
    # convolution taps, so one output shift serves both (with +-1, m_c would lose its bits)
    wmax = f.weight_max
    layer = QuantizedInvolutionLayer(
        **output_stage(dyn, s_x, s_y, tap_factors=np.abs(g) * sc_z / wmax),
        w_v=np.diag(np.where(g < 0, -wmax, wmax)).astype(INT), w_1=w_1, b_1=b_1, m_1=m_1,
        s_1=s_1, w_2=w_2, m_2=m_2, s_2=s_2, m_z=int(m_z[0]), s_z=s_z)
    layer.check(cfg)
    return layer
