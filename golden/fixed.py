"""Bit-accurate fixed-point model of the PSSA X-volution engine (S9 in integers).

This is exactly what the hardware computes, stage by stage, in exact int64 arithmetic (numpy);
docs/fixed-point.md describes the formats and works one pixel through by hand.  The module needs
no torch: ``golden.quantize`` turns a float model into the ``QuantizedLayer`` used here.  Step 5
(``OutputStage``, ``output_requant``) is shared by every form: the SA and involution models
(``golden.fixed_forms``) and the plain convolution (``golden.conv``) build on it.

Per pixel p, with x the int input (``data_bits``) and every weight int (``weight_bits``):

1. projections (S2):   q = RQ(W_q x_p, m_q, s_q),  k = RQ(W_k x_p, m_k, s_k)
2. logits (S3):         a(d) = RQ(<q_p, k_{p+d}>, m_a, s_a)          for d in Delta_L
3. aggregation (S9):    z = RQ(sum_d a(d) x_{p+d}, m_z, s_z)
4. MAC array (S9):      acc_c = sum_{d in Delta_K} W'_d x_{p+d},  acc_a = W'_v z
5. output requant:      y = SAT((acc_c * m_c + acc_a * m_v + bias + 2^(s_o-1)) >> s_o)

RQ(acc, m, s) = SAT((acc * m + 2^(s-1)) >> s): multiply by an unsigned ``mult_bits`` integer,
round half up, arithmetic shift right, saturate to ``data_bits``.  Pixels outside the frame are
zero (x = 0 and so k = 0 there).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .config import XvConfig

INT = np.int64


def saturate(v: np.ndarray, bits: int) -> np.ndarray:
    """Clamp to the signed ``bits``-bit range."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(v, lo, hi).astype(INT)


def round_shift(v: np.ndarray, shift: int) -> np.ndarray:
    """(v + 2^(shift-1)) >> shift: round half towards +infinity, as the RTL's adder and shifter."""
    return (np.asarray(v, dtype=INT) + (1 << (shift - 1))) >> shift


def requantize(acc: np.ndarray, mult, shift: int, bits: int) -> np.ndarray:
    """RQ(acc, m, s) of the module docstring; ``mult`` broadcasts over the last axis."""
    return saturate(round_shift(np.asarray(acc, dtype=INT) * np.asarray(mult, dtype=INT), shift),
                    bits)


def padded(x: np.ndarray, r: int) -> np.ndarray:
    """Zero-pad an (H, W, C) map by r pixels on every side."""
    return np.pad(x, ((r, r), (r, r), (0, 0)))


def window(xp: np.ndarray, r: int, di: int, dj: int, h: int, w: int) -> np.ndarray:
    """x_{p+d} for every p, from a map padded by r: shape (H, W, C)."""
    return xp[r + di:r + di + h, r + dj:r + dj + w]


@dataclass
class OutputStage:
    """The output stage every form shares (S9, step 5), and the methods of every quantized layer.

    Alone it is the plain convolution's layer (``golden.conv``): ``w_conv`` (K*K, C_out, C_in)
    in ``cfg.conv_offsets`` order, per-channel multipliers ``m_c`` with one shift ``s_out``, and
    ``bias`` in the output accumulator's units (scaled by 2^s_out).  ``x_scale`` and ``y_scale``
    are the real values of one LSB at input and output.  Each subclass adds its fields after
    these and extends ARRAYS (numpy arrays), WEIGHTS, MULTIPLIERS and SHIFTS.
    """

    w_conv: np.ndarray
    m_c: np.ndarray
    bias: np.ndarray
    s_out: int
    x_scale: float
    y_scale: float

    ARRAYS = ("w_conv", "m_c", "bias")
    WEIGHTS = ("w_conv",)
    MULTIPLIERS = ("m_c",)
    SHIFTS = ("s_out",)

    def expected_shapes(self, cfg: XvConfig) -> dict[str, tuple[int, ...]]:
        return {"w_conv": (cfg.k * cfg.k, cfg.c_out, cfg.c_in), "m_c": (cfg.c_out,),
                "bias": (cfg.c_out,)}

    def check(self, cfg: XvConfig) -> None:
        """Raise ``ValueError`` if a parameter has the wrong shape or does not fit its width."""
        check_layer(self, cfg)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict):
        values = {}
        for f in fields(cls):
            if f.name not in data:
                raise ValueError(f"quantized layer: missing parameter {f.name!r}")
            v = np.asarray(data[f.name])
            values[f.name] = (v.astype(INT) if f.name in cls.ARRAYS else
                              float(v) if f.name.endswith("scale") else int(v))
        return cls(**values)


@dataclass
class AttentionOutputStage(OutputStage):
    """The output stage of X-volution: the convolution taps plus the z tap W'_v z (S9), with
    its own per-channel multipliers ``m_v`` (``w_v`` is (C_out, C_in))."""

    w_v: np.ndarray
    m_v: np.ndarray

    ARRAYS = OutputStage.ARRAYS + ("w_v", "m_v")
    WEIGHTS = OutputStage.WEIGHTS + ("w_v",)
    MULTIPLIERS = OutputStage.MULTIPLIERS + ("m_v",)

    def expected_shapes(self, cfg: XvConfig) -> dict[str, tuple[int, ...]]:
        return {**super().expected_shapes(cfg), "w_v": (cfg.c_out, cfg.c_in),
                "m_v": (cfg.c_out,)}


@dataclass
class ProjectionLayer(AttentionOutputStage):
    """The q, k projections PSSA and full SA share (S2): ``w_q`` and ``w_k`` (D, C_in), each
    requantized by per-row multipliers and one shift."""

    w_q: np.ndarray
    w_k: np.ndarray
    m_q: np.ndarray
    s_q: int
    m_k: np.ndarray
    s_k: int

    ARRAYS = AttentionOutputStage.ARRAYS + ("w_q", "w_k", "m_q", "m_k")
    WEIGHTS = AttentionOutputStage.WEIGHTS + ("w_q", "w_k")
    MULTIPLIERS = AttentionOutputStage.MULTIPLIERS + ("m_q", "m_k")
    SHIFTS = AttentionOutputStage.SHIFTS + ("s_q", "s_k")

    def expected_shapes(self, cfg: XvConfig) -> dict[str, tuple[int, ...]]:
        return {**super().expected_shapes(cfg), "w_q": (cfg.d, cfg.c_in),
                "w_k": (cfg.d, cfg.c_in), "m_q": (cfg.d,), "m_k": (cfg.d,)}


@dataclass
class QuantizedLayer(ProjectionLayer):
    """Integer parameters of one PSSA X-volution layer, as loaded into the engine: the output
    stage and projections of the base classes, and the logit (m_a, s_a) and aggregation
    (m_z, s_z) requantizers (steps 2 and 3 of the module docstring)."""

    m_a: int
    s_a: int
    m_z: int
    s_z: int

    MULTIPLIERS = ProjectionLayer.MULTIPLIERS + ("m_a", "m_z")
    SHIFTS = ProjectionLayer.SHIFTS + ("s_a", "s_z")


def check_layer(layer, cfg: XvConfig) -> None:
    """Raise ``ValueError`` if a parameter of a quantized layer (any form: its class names
    its WEIGHTS, MULTIPLIERS and SHIFTS) has the wrong shape or does not fit its width."""
    f = cfg.fmt
    for name, shape in layer.expected_shapes(cfg).items():
        arr = np.asarray(getattr(layer, name))
        if arr.shape != shape:
            raise ValueError(f"{name}: shape {arr.shape}, expected {shape} for {cfg.name}")
    wmax = f.weight_max
    for name in layer.WEIGHTS:
        arr = getattr(layer, name)
        if arr.min() < -wmax - 1 or arr.max() > wmax:
            raise ValueError(f"{name}: values outside int{f.weight_bits}")
    for name in layer.MULTIPLIERS:
        arr = np.asarray(getattr(layer, name))
        if arr.min() < 0 or arr.max() >= 1 << f.mult_bits:
            raise ValueError(f"{name}: multiplier outside unsigned {f.mult_bits} bits")
    for name in layer.SHIFTS:
        if not 1 <= getattr(layer, name) <= f.max_shift:
            raise ValueError(f"{name}: shift {getattr(layer, name)} outside 1..{f.max_shift}")
    limit = 1 << (cfg.requant_bits - 2)
    if np.abs(layer.bias).max() >= limit:
        raise ValueError(f"bias: exceeds the requantizer's {cfg.requant_bits - 1} bits")


@dataclass
class FixedTrace:
    """Every intermediate of one frame, (H, W, ...) arrays, for block-level checks."""

    q: np.ndarray
    k: np.ndarray
    logit_acc: np.ndarray
    a: np.ndarray
    z_acc: np.ndarray
    z: np.ndarray
    acc_c: np.ndarray
    acc_a: np.ndarray
    y: np.ndarray


def _check_range(name: str, acc: np.ndarray, bits: int) -> None:
    if acc.size and (acc.min() < -(1 << (bits - 1)) or acc.max() >= 1 << (bits - 1)):
        raise OverflowError(f"{name} accumulator overflows {bits} bits (configuration bug)")


def check_frame(cfg: XvConfig, x: np.ndarray) -> np.ndarray:
    """One input frame as int64 (H, W, C_in); ValueError if its dtype, shape or range is wrong
    (float frames are refused, not truncated: they go through ``golden.quantize`` first)."""
    f = cfg.fmt
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"input: dtype {x.dtype}, expected integers (quantize float frames "
                         f"with golden.quantize.quantize_input)")
    x = x.astype(INT)
    if x.shape != (cfg.h, cfg.w, cfg.c_in):
        raise ValueError(f"input: shape {x.shape}, expected {(cfg.h, cfg.w, cfg.c_in)}")
    if x.min() < f.data_min or x.max() > f.data_max:
        raise ValueError(f"input: values outside int{f.data_bits}")
    return x


def conv_accumulator(cfg: XvConfig, w_conv: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_{d in Delta_K} W'_d x_{p+d}: (H, W, C_out), exact."""
    r = cfg.radius
    xp = padded(x, r)
    return sum(window(xp, r, di, dj, cfg.h, cfg.w) @ w_conv[t].T
               for t, (di, dj) in enumerate(cfg.conv_offsets))


def output_requant(cfg: XvConfig, layer: OutputStage, acc_c: np.ndarray,
                   acc_a: np.ndarray | None = None) -> np.ndarray:
    """Step 5, the output requantizer of every form:
    y = SAT((acc_c * m_c + acc_a * m_v + bias + 2^(s_out-1)) >> s_out), where acc_a = W'_v z is
    the z tap's accumulator (None for the plain convolution, which has no z tap).  The range
    checks guard the widths ``XvConfig`` derived; they fail only on a configuration bug."""
    _check_range("convolution", acc_c, cfg.fmt.acc_bits)
    total = acc_c * np.asarray(layer.m_c, INT) + np.asarray(layer.bias, INT)
    if acc_a is not None:
        _check_range("attention tap", acc_a, cfg.fmt.acc_bits)
        total = total + acc_a * np.asarray(layer.m_v, INT)
    _check_range("requantizer", total + (1 << (layer.s_out - 1)), cfg.requant_bits)
    return saturate(round_shift(total, layer.s_out), cfg.fmt.data_bits)


def forward_fixed(cfg: XvConfig, layer: QuantizedLayer, x: np.ndarray) -> FixedTrace:
    """Run one frame, x of shape (H, W, C_in) in int ``data_bits``, through the integer S9."""
    if cfg.attention != "pssa":
        raise ValueError(f"attention: forward_fixed is the PSSA model (golden.forms has every "
                         f"form), got {cfg.attention!r}")
    f = cfg.fmt
    x = check_frame(cfg, x)
    h, w, r = cfg.h, cfg.w, cfg.radius
    acc = f.acc_bits

    q_acc, k_acc = x @ layer.w_q.T, x @ layer.w_k.T  # 1. projections
    _check_range("projection", q_acc, acc)
    _check_range("projection", k_acc, acc)
    q = requantize(q_acc, layer.m_q, layer.s_q, f.data_bits)
    k = requantize(k_acc, layer.m_k, layer.s_k, f.data_bits)

    kp, xp = padded(k, r), padded(x, r)  # 2. logits a(d) = <q_p, k_{p+d}>
    logit_acc = np.stack([(q * window(kp, r, di, dj, h, w)).sum(-1)
                          for di, dj in cfg.shift_offsets], -1)
    _check_range("logit", logit_acc, acc)
    a = requantize(logit_acc, layer.m_a, layer.s_a, f.data_bits)

    z_acc = sum(a[..., i:i + 1] * window(xp, r, di, dj, h, w)  # 3. aggregation
                for i, (di, dj) in enumerate(cfg.shift_offsets))
    _check_range("aggregation", z_acc, acc)
    z = requantize(z_acc, layer.m_z, layer.s_z, f.data_bits)

    acc_c = conv_accumulator(cfg, layer.w_conv, x)  # 4. MAC array
    acc_a = z @ layer.w_v.T
    y = output_requant(cfg, layer, acc_c, acc_a)  # 5. output requantization
    return FixedTrace(q=q, k=k, logit_acc=logit_acc, a=a, z_acc=z_acc, z=z, acc_c=acc_c,
                      acc_a=acc_a, y=y)


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio 10 log10(sum ref^2 / sum (ref - approx)^2)."""
    noise = float(np.sum((np.asarray(reference, float) - np.asarray(approx, float)) ** 2))
    signal = float(np.sum(np.asarray(reference, float) ** 2))
    return float("inf") if noise == 0 else 10.0 * np.log10(signal / noise)
