"""One frozen configuration object for an X-volution layer and the engine that computes it.

The golden model, the vector writer, the RTL generator, the cycle model and the testbenches all
read this object; no value is written twice.  This module is deliberately free of torch (and of
numpy) so that generating hardware needs neither.

Equation numbers (S1..S9) refer to docs/spec.md.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: The forms of the layer: the three attention forms of X-volution, and ``conv``, the plain
#: K x K convolution + BN that X-volution replaces (no attention branch; the baseline).
ATTENTION_FORMS = ("pssa", "sa", "involution", "conv")

#: PSSA's offset set Delta_L in units of L (S3): the 3 x 3 grid {-1, 0, 1}^2 in raster order.
SHIFT_GRID = tuple((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1))
#: Number of offsets in Delta_L: logits a pixel, terms of PSSA's aggregation sum.
SHIFT_TAPS = len(SHIFT_GRID)

#: Where the MAC array's weights live: on chip (loaded through the parameter stream), or in
#: external memory, fetched tile by tile over AXI4 (docs/external-memory.md).
WEIGHT_PLACES = ("onchip", "external")
AXI_DATA_BITS = (32, 64, 128, 256, 512, 1024)
AXI_BOUNDARY = 4096  # an AXI4 burst never crosses a 4 KB boundary

#: Largest width the golden model's int64 arithmetic (and the requantizer) may need.
MAX_REQUANT_BITS = 63

#: Full SA's softmax (golden/fixed_forms.py, docs/fixed-point.md): logits in 1/EXP_STEPS of an
#: octave, exponentials in Q0.EXP_FRAC_BITS, one reciprocal floor(2^RECIP_SHIFT / S) a pixel.
EXP_STEPS = 16
EXP_FRAC_BITS = 15
RECIP_SHIFT = 2 * EXP_FRAC_BITS + 1


def sa_logit_bits(cfg: "XvConfig") -> int:
    """Width of the SA logit t: data_bits + 8 (a 2^8 larger range than the activations, so
    that the max-subtracted differences, not the logits, saturate)."""
    return cfg.fmt.data_bits + 8


def signed_bits_for(max_abs: int) -> int:
    """Width of a two's-complement signal that holds every value in [-max_abs, max_abs]."""
    return max(1, int(max_abs).bit_length() + 1)


@dataclass(frozen=True)
class AccumulatorWidths:
    """Worst-case signed width of every accumulator of the fixed-point path (S9), per layer."""

    projection: int      # W_q x, W_k x (and involution's W'_1 x): C_in terms
    logit: int           # <q, k>: D terms
    aggregation: int     # sum a(d) x_{p+d}: SHIFT_TAPS terms (involution: K^2)
    convolution: int     # sum W'_d x_{p+d}: K^2 C_in terms
    attention_tap: int   # W'_v z: C_in terms

    #: what each accumulator sums, for messages
    DESCRIPTIONS = {"projection": "projection (q, k)", "logit": "logit <q, k>",
                    "aggregation": "aggregation sum a x", "convolution": "convolution",
                    "attention_tap": "attention tap W'_v z"}

    def described(self) -> dict[str, int]:
        """{description: bits}, in field order."""
        return {text: getattr(self, name) for name, text in self.DESCRIPTIONS.items()}


def _require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{name}: {message}")


@dataclass(frozen=True)
class FixedPointFormat:
    """Integer formats of every value the engine stores or multiplies (docs/fixed-point.md).

    All activations (x, q, k, the logits a, the aggregate z and the output y) are signed
    ``data_bits`` integers, all weights signed ``weight_bits`` integers, both symmetric with zero
    point 0 (so zero padding is the integer 0).  Accumulators are ``acc_bits`` wide; each
    requantization multiplies by an unsigned ``mult_bits`` integer and shifts right by at most
    ``max_shift``.
    """

    data_bits: int = 8
    weight_bits: int = 8
    acc_bits: int = 32
    mult_bits: int = 16
    max_shift: int = 47

    def validate(self) -> None:
        _require(2 <= self.data_bits <= 16, "data_bits", f"must be in 2..16, got {self.data_bits}")
        _require(2 <= self.weight_bits <= 16, "weight_bits",
                 f"must be in 2..16, got {self.weight_bits}")
        _require(8 <= self.acc_bits <= 48, "acc_bits", f"must be in 8..48, got {self.acc_bits}")
        _require(4 <= self.mult_bits <= 24, "mult_bits", f"must be in 4..24, got {self.mult_bits}")
        _require(1 <= self.max_shift <= 62, "max_shift", f"must be in 1..62, got {self.max_shift}")

    @property
    def data_max(self) -> int:
        return (1 << (self.data_bits - 1)) - 1

    @property
    def data_min(self) -> int:
        return -(1 << (self.data_bits - 1))

    @property
    def weight_max(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def shift_bits(self) -> int:
        """Width of a runtime shift register able to hold 0..max_shift."""
        return self.max_shift.bit_length()

    def product_max_abs(self) -> int:
        """Largest |data * weight| (both at their most negative value)."""
        return (1 << (self.data_bits - 1)) * (1 << (self.weight_bits - 1))

    def data_product_max_abs(self) -> int:
        """Largest |data * data| (q*k logits, a*x aggregation)."""
        return (1 << (self.data_bits - 1)) ** 2


@dataclass(frozen=True)
class XvConfig:
    """An X-volution layer (S1-S9) and the parallelism of the engine that computes it.

    ``simd`` input-channel lanes times ``pe`` output-channel lanes form the MAC array (FINN's
    SIMD x PE).  The layer is stride 1 with zero padding, so the output grid equals the input grid.

    ``count_registers`` (0 or 1): registers on every pixel count one unit of the engine passes
    another (pixels projected, pixels done by the MAC array, ...; not the external weights'
    tile counts): the route between the two units and the reader's compare are then not in one
    cycle, and every wait on such a count lasts that many cycles longer.

    ``weights``: "onchip" keeps every weight in block RAM; "external" fetches the MAC array's
    weights from external memory over an AXI4 read port (``axi_bits`` wide, bursts of
    ``burst_beats``), ``co_tile`` output channels at a time (0: all of C_out), the frame's x
    and z held on chip for reuse across tiles.
    """

    h: int
    w: int
    c_in: int
    c_out: int
    d: int
    k: int = 3
    shift: int = 1
    attention: str = "pssa"
    group_channels: int = 16
    reduction: int = 4
    simd: int = 1
    pe: int = 1
    fmt: FixedPointFormat = field(default_factory=FixedPointFormat)
    weights: str = "onchip"
    co_tile: int = 0
    axi_bits: int = 64
    burst_beats: int = 16
    count_registers: int = 0
    name: str = "custom"

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that makes this configuration invalid."""
        for name in ("h", "w", "c_in", "c_out", "d", "k", "shift", "simd", "pe",
                     "group_channels", "reduction", "axi_bits", "burst_beats"):
            value = getattr(self, name)
            _require(isinstance(value, int) and not isinstance(value, bool), name,
                     f"must be an integer, got {value!r}")
            _require(value >= 1, name, f"must be >= 1, got {value}")
        _require(self.k % 2 == 1, "k", f"kernel size must be odd (centred window), got {self.k}")
        _require(self.count_registers in (0, 1) and not isinstance(self.count_registers, bool),
                 "count_registers", f"must be 0 or 1, got {self.count_registers!r}")
        _require(self.attention in ATTENTION_FORMS, "attention",
                 f"must be one of {ATTENTION_FORMS}, got {self.attention!r}")
        _require(self.h <= 4096 and self.w <= 4096, "h/w",
                 f"frame {self.h}x{self.w} exceeds the 4096 x 4096 the engine's counters hold")
        if self.attention == "involution":
            _require(self.c_in == self.c_out, "c_out",
                     f"involution needs c_in == c_out, got {self.c_in} != {self.c_out}")
            # named after the option a user changes: the group size, not the channel count
            _require(self.c_in % self.group_channels == 0, "group_channels",
                     f"involution needs c_in={self.c_in} divisible by group_channels="
                     f"{self.group_channels} (set --group-channels to a divisor of {self.c_in})")
            _require(self.c_in // self.reduction >= 1, "reduction",
                     f"c_in // reduction must be >= 1, got {self.c_in} // {self.reduction}")
        _require(self.c_in % self.simd == 0, "simd",
                 f"c_in={self.c_in} is not divisible by simd={self.simd}")
        _require(self.c_out % self.pe == 0, "pe",
                 f"c_out={self.c_out} is not divisible by pe={self.pe}")
        self.fmt.validate()
        self._validate_weights()
        self._validate_widths()

    def _validate_weights(self) -> None:
        _require(self.weights in WEIGHT_PLACES, "weights",
                 f"must be one of {WEIGHT_PLACES}, got {self.weights!r}")
        _require(isinstance(self.co_tile, int) and self.co_tile >= 0, "co_tile",
                 f"must be an integer >= 0 (0: all output channels), got {self.co_tile!r}")
        tile = self.tile_co
        _require(self.c_out % tile == 0 and tile % self.pe == 0, "co_tile",
                 f"a tile of {tile} output channels must divide c_out={self.c_out} and be a "
                 f"multiple of pe={self.pe}")
        _require(self.weights == "external" or tile == self.c_out, "co_tile",
                 f"output-channel tiles need weights='external' (on-chip weights are one tile), "
                 f"got co_tile={self.co_tile}")
        _require(self.axi_bits in AXI_DATA_BITS, "axi_bits",
                 f"AXI4 data width must be one of {AXI_DATA_BITS}, got {self.axi_bits}")
        burst = self.burst_beats * self.axi_bits // 8
        _require(1 <= self.burst_beats <= 256 and AXI_BOUNDARY % burst == 0, "burst_beats",
                 f"a burst of {self.burst_beats} x {self.axi_bits // 8} bytes = {burst} bytes "
                 f"would cross a {AXI_BOUNDARY}-byte boundary (AXI4 allows 1..256 beats and "
                 f"no burst across 4 KB: use a power of two whose bytes divide 4096)")

    def _validate_widths(self) -> None:
        f = self.fmt
        for what, bits in self.accumulators.described().items():
            _require(bits <= f.acc_bits, "fmt.acc_bits",
                     f"acc_bits={f.acc_bits} cannot hold the {what} accumulator, which needs "
                     f"{bits} bits for this layer (raise acc_bits or lower data/weight bits)")
        _require(self.requant_bits <= MAX_REQUANT_BITS, "fmt.mult_bits",
                 f"requantizer needs {self.requant_bits} bits (> {MAX_REQUANT_BITS}); lower "
                 f"mult_bits or acc_bits")

    # ------------------------------------------------------------------ geometry
    @property
    def radius(self) -> int:
        """Half-size of the window that covers U = Delta_K u Delta_L (S8)."""
        r = (self.k - 1) // 2
        if self.attention == "pssa":
            r = max(r, self.shift)
        return r

    @property
    def conv_offsets(self) -> tuple[tuple[int, int], ...]:
        """Delta_K in raster order (row offset, column offset)."""
        r = (self.k - 1) // 2
        return tuple((di, dj) for di in range(-r, r + 1) for dj in range(-r, r + 1))

    @property
    def shift_offsets(self) -> tuple[tuple[int, int], ...]:
        """Delta_L = {L*(a, b) : a, b in {-1, 0, 1}} in raster order (S3)."""
        s = self.shift
        return tuple((s * a, s * b) for a, b in SHIFT_GRID)

    @property
    def union_offsets(self) -> tuple[tuple[int, int], ...]:
        """U = Delta_K u Delta_L in raster order, the support of the PSSA dynamic kernel (S8)."""
        both = set(self.conv_offsets) | set(self.shift_offsets)
        return tuple(sorted(both))

    @property
    def n_pixels(self) -> int:
        return self.h * self.w

    @property
    def groups(self) -> int:
        """Involution groups G = C / group_channels (S5)."""
        return max(1, self.c_in // self.group_channels)

    @property
    def tile_co(self) -> int:
        """Output channels a tile (all of C_out unless ``co_tile`` says otherwise)."""
        return self.co_tile or self.c_out

    @property
    def tiles(self) -> int:
        return self.c_out // self.tile_co

    @property
    def external_weights(self) -> bool:
        return self.weights == "external"

    @property
    def has_attention(self) -> bool:
        """False for the plain convolution baseline: no attention branch, no z tap."""
        return self.attention != "conv"

    @property
    def taps(self) -> int:
        """Input vectors the MAC array consumes per pixel: K^2 window taps plus the aggregate z
        (S9's factored evaluation; the plain convolution has no z)."""
        return self.k * self.k + int(self.has_attention)

    # ------------------------------------------------------------------ widths
    @property
    def accumulators(self) -> AccumulatorWidths:
        """Worst-case signed width of every accumulator of the fixed-point path (S9)."""
        f = self.fmt
        dw, dd = f.product_max_abs(), f.data_product_max_abs()
        # PSSA: nine a(d) x terms; involution: K^2 h(d) x terms (S5)
        agg_terms = self.k * self.k if self.attention == "involution" else SHIFT_TAPS
        return AccumulatorWidths(
            projection=signed_bits_for(self.c_in * dw),
            logit=signed_bits_for(self.d * dd),
            aggregation=signed_bits_for(agg_terms * dd),
            convolution=signed_bits_for(self.k * self.k * self.c_in * dw),
            attention_tap=signed_bits_for(self.c_in * dw))

    @property
    def requant_bits(self) -> int:
        """Width of the output requantizer's sum acc_c*m_c + acc_a*m_v + bias + 2^(s_out-1)
        (docs/fixed-point.md).

        Each product needs its accumulator's worst-case width plus ``mult_bits``, and the
        rounding constant reaches 2^(max_shift-1); with B the larger of the two, the two
        products, the bias (kept below 2^(B+1)) and the rounding constant sum below 2^(B+2),
        which B + 3 signed bits hold.
        """
        acc = self.accumulators
        widest = max(acc.convolution, acc.attention_tap)
        return max(widest + self.fmt.mult_bits, self.fmt.max_shift) + 3

    # ------------------------------------------------------------------ cost
    @property
    def macs_per_pixel(self) -> int:
        """Multiply-accumulates per pixel of the factored evaluation S9 (PSSA)."""
        kk, ci, co, d = self.k * self.k, self.c_in, self.c_out, self.d
        return kk * ci * co + ci * co + SHIFT_TAPS * (ci + d) + 2 * d * ci

    @property
    def mac_array_ops_per_pixel(self) -> int:
        """Multiplies the SIMD x PE array does per pixel: (K^2 + 1) C_in C_out."""
        return self.taps * self.c_in * self.c_out

    # ------------------------------------------------------------------ (de)serialization
    def replace(self, **changes: Any) -> "XvConfig":
        fmt_changes = {k: changes.pop(k) for k in list(changes)
                       if k in {f.name for f in dataclasses.fields(FixedPointFormat)}}
        fmt = dataclasses.replace(self.fmt, **fmt_changes) if fmt_changes else self.fmt
        return dataclasses.replace(self, fmt=fmt, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "XvConfig":
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        _require(not unknown, "config", f"unknown fields {sorted(unknown)}")
        fmt = data.pop("fmt", {})
        fmt_known = {f.name for f in dataclasses.fields(FixedPointFormat)}
        _require(isinstance(fmt, dict) and not (set(fmt) - fmt_known), "config.fmt",
                 f"unknown or malformed format fields in {fmt!r}")
        return cls(fmt=FixedPointFormat(**fmt), **data)

    def describe(self) -> str:
        f = self.fmt
        form = (f"attention=involution (G={self.groups}, r={self.reduction})"
                if self.attention == "involution" else f"attention={self.attention}")
        weights = (f"weights in external memory ({self.tiles} tiles of {self.tile_co} output "
                   f"channels, AXI4 {self.axi_bits}-bit, {self.burst_beats}-beat bursts)"
                   if self.external_weights else "weights on chip")
        return (f"{self.name}: {self.h}x{self.w}, C_in={self.c_in}, C_out={self.c_out}, "
                f"D={self.d}, K={self.k}, L={self.shift}, {form}, "
                f"SIMD={self.simd} x PE={self.pe}, int{f.data_bits} data / int{f.weight_bits} "
                f"weights / {f.acc_bits}-bit accumulators, {weights}"
                + (", counts registered" if self.count_registers else ""))


def default_d(c_in: int) -> int:
    """The spec's default attention width D = C_in / 8, at least 1 (S2)."""
    return max(1, c_in // 8)


#: The spec's reference workloads (xvolution.md, "Reference workloads").
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(h=8, w=8, c_in=8, c_out=8, d=4, k=3, shift=1),
    "digits": dict(h=8, w=8, c_in=16, c_out=16, d=4, k=3, shift=1),
    "stage3": dict(h=14, w=14, c_in=256, c_out=256, d=32, k=3, shift=1),
    "stage2": dict(h=28, w=28, c_in=128, c_out=128, d=16, k=3, shift=1),
}

SWEEP_SIZES = (7, 14, 28, 56)
SWEEP_SHIFTS = (1, 2)


def preset(name: str, **overrides: Any) -> XvConfig:
    """A named reference workload, optionally with fields overridden (e.g. ``simd=4``)."""
    if name not in PRESETS:
        raise ValueError(f"workload: unknown workload {name!r}; choose one of {sorted(PRESETS)}")
    base = XvConfig(name=name, **PRESETS[name])
    return base.replace(**overrides) if overrides else base


def sweep(size: int, shift: int, **overrides: Any) -> XvConfig:
    """One point of the spec's PSSA-versus-SA sweep: size x size, C = 64, D = 8, K = 3."""
    cfg = XvConfig(name=f"sweep{size}_L{shift}", h=size, w=size, c_in=64, c_out=64, d=8, k=3,
                   shift=shift)
    return cfg.replace(**overrides) if overrides else cfg

