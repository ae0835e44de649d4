"""Bit-accurate fixed-point model of the plain K x K convolution + BN that X-volution replaces
(``attention="conv"``, the baseline; docs/fixed-point.md).

Re-parameterized (S7), the layer is the static convolution y = sum_{d in Delta_K} W'_d x_{p+d}
+ b with W'_d = gamma / sigma W_d: X-volution's S9 without the z tap.  Per pixel p, with x the
int input (``data_bits``) and W'_d int (``weight_bits``):

1. MAC array (S9):     acc_c = sum_{d in Delta_K} W'_d x_{p+d}
2. output requant:     y = SAT((acc_c * m_c + bias + 2^(s_out-1)) >> s_out)

Both are PSSA's steps 4 and 5 (``golden.fixed``), and the scales are chosen as PSSA's output
stage (``golden.quantize.output_stage``).  numpy only at import; quantizing needs torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import XvConfig
from .fixed import OutputStage, check_frame, conv_accumulator, output_requant


@dataclass
class QuantizedConvLayer(OutputStage):
    """Integer parameters of the plain convolution: exactly the output stage every form shares
    (``w_conv`` (K*K, C_out, C_in), ``m_c`` and ``bias`` (C_out,), ``s_out``, the scales)."""


@dataclass
class ConvTrace:
    acc_c: np.ndarray    # (H, W, C_out) convolution accumulators
    y: np.ndarray        # (H, W, C_out)


def forward_fixed_conv(cfg: XvConfig, layer: QuantizedConvLayer, x: np.ndarray) -> ConvTrace:
    """One frame (H, W, C_in) through the integer plain convolution (module docstring)."""
    if cfg.attention != "conv":
        raise ValueError(f"attention: forward_fixed_conv needs 'conv', got {cfg.attention!r}")
    acc_c = conv_accumulator(cfg, layer.w_conv, check_frame(cfg, x))
    return ConvTrace(acc_c=acc_c, y=output_requant(cfg, layer, acc_c))


def quantize_conv_layer(dyn, calib) -> QuantizedConvLayer:
    """Scales of the plain convolution from its folded weights (S7) and float calibration
    frames (NCHW): x and y per tensor, W'_d per output channel, as PSSA's output stage."""
    import torch

    from .quantize import float64_cpu, input_scale, output_stage, symmetric_scale

    dyn = float64_cpu(dyn)
    cfg = dyn.cfg
    if cfg.attention != "conv":
        raise ValueError(f"attention: quantize_conv_layer needs 'conv', got {cfg.attention!r}")
    s_x, x_seen = input_scale(dyn, calib)
    with torch.no_grad():
        s_y = float(symmetric_scale(dyn.forward_factored(x_seen), cfg.fmt.data_bits))
    layer = QuantizedConvLayer(**output_stage(dyn, s_x, s_y))
    layer.check(cfg)
    return layer
