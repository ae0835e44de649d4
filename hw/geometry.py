"""Everything the engine derives from an ``XvConfig``: buffer sizes, widths, memory maps.

Read by the RTL generator, the parameter packer, the cycle model and the testbenches, so that a
size is computed in one place.  Needs no torch and no numpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from golden.config import EXP_FRAC_BITS, RECIP_SHIFT, XvConfig, sa_logit_bits

EXP_BITS = EXP_FRAC_BITS + 1               # e in 0..2^15, unsigned
RECIP_BITS = RECIP_SHIFT - EXP_FRAC_BITS + 1  # R = 2^31 // S <= 2^16, unsigned


def ceil_log2(n: int) -> int:
    return max(0, (n - 1).bit_length())


#: The attention forms the engine builds.
ENGINE_FORMS = ("pssa", "sa", "involution")
#: Largest frame the full-SA engine buffers (its x ring holds about 2N pixels, its logit bank N
#: logits a query slot).
SA_MAX_PIXELS = 1 << 14


def check_engine(cfg: XvConfig) -> None:
    """Refuse, naming the field, what the engine cannot build (beyond XvConfig's own rules)."""
    if cfg.attention not in ENGINE_FORMS:
        raise ValueError(f"attention: the engine implements {ENGINE_FORMS}, got "
                         f"{cfg.attention!r}")
    if cfg.attention == "involution" and cfg.group_channels % cfg.simd:
        raise ValueError(f"simd: the involution engine needs a chunk of SIMD channels inside "
                         f"one group: group_channels={cfg.group_channels} is not divisible "
                         f"by simd={cfg.simd}")
    if cfg.attention == "sa":
        if cfg.n_pixels > SA_MAX_PIXELS:
            raise ValueError(f"h/w: full SA buffers the whole frame; {cfg.h}x{cfg.w} = "
                             f"{cfg.n_pixels} pixels exceeds the {SA_MAX_PIXELS} it can hold")
        width = sa_zacc_bits(cfg) + RECIP_BITS + 2
        if width > 63:
            raise ValueError(f"fmt.data_bits: the SA normalizer needs {width} bits (> 63) for "
                             f"int{cfg.fmt.data_bits} data over {cfg.n_pixels} pixels")


def sa_zacc_bits(cfg: XvConfig) -> int:
    """Width of the SA aggregation sum sum_j e_pj x_j: e < 2^16 unsigned, |x| <= 2^(db-1)."""
    return cfg.fmt.data_bits + EXP_BITS + max(1, ceil_log2(cfg.n_pixels)) + 1


@dataclass(frozen=True)
class Region:
    """One memory of the parameter map: ``depth`` words of ``lanes`` values of ``bits`` each."""

    name: str
    depth: int
    lanes: int
    bits: int

    @property
    def words(self) -> int:
        return self.depth * self.lanes


@dataclass(frozen=True)
class Geometry:
    """Derived sizes of the PSSA engine for one configuration."""

    cfg: XvConfig

    def __post_init__(self) -> None:
        check_engine(self.cfg)

    # ---------------------------------------------------------------- stream shapes
    @property
    def ci_chunks(self) -> int:
        """Input beats per pixel: C_in / SIMD."""
        return self.cfg.c_in // self.cfg.simd

    @property
    def co_groups(self) -> int:
        """Output beats per pixel: C_out / PE."""
        return self.cfg.c_out // self.cfg.pe

    @property
    def in_bits(self) -> int:
        return self.cfg.simd * self.cfg.fmt.data_bits

    @property
    def out_bits(self) -> int:
        return self.cfg.pe * self.cfg.fmt.data_bits

    # ---------------------------------------------------------------- pixel ring
    @property
    def reach(self) -> int:
        """Raster distance from a pixel to the last pixel of its window: R*W + R."""
        r = self.cfg.radius
        return r * self.cfg.w + r

    @property
    def hold(self) -> int:
        """Pixels behind the MAC array's pixel that must stay in the ring: its window's reach
        (PSSA), or its whole frame (full SA: every query attends to every pixel)."""
        return self.cfg.n_pixels if self.cfg.attention == "sa" else self.reach

    @property
    def depth(self) -> int:
        """Pixels the ring buffer holds: a power of two >= 2*reach + LOOKAHEAD + 2.

        Behind the MAC array's pixel p the ring keeps p's window (reach pixels back); ahead of
        it the projection must have reached p + reach, and the attention units, up to
        LOOKAHEAD pixels ahead of the MAC array, their own reach beyond that."""
        return 1 << ceil_log2(2 * self.hold + LOOKAHEAD + 2)

    @property
    def addr_bits(self) -> int:
        return ceil_log2(self.depth)

    # Buffer addresses are bit fields, {slot, chunk} or {slot, tap}: no multiplier in an address
    # path (a multiply by a constant lands in a DSP block and sets the clock).
    @property
    def chunk_bits(self) -> int:
        return ceil_log2(self.ci_chunks)

    @property
    def x_words(self) -> int:
        """Words of the x ring: depth pixels, 2^chunk_bits words each."""
        return self.depth << self.chunk_bits

    @property
    def z_words(self) -> int:
        return SLOTS << self.chunk_bits

    @property
    def key_bits(self) -> int:
        """Bits of a key index j within a frame (full SA)."""
        return max(1, ceil_log2(self.cfg.n_pixels))

    @property
    def kernel_rows(self) -> int:
        """Involution: the G x K^2 kernel values generated a pixel (S5)."""
        return self.cfg.groups * self.cfg.k * self.cfg.k

    @property
    def bank_row_bits(self) -> int:
        """Bits of a row within a pixel's slot of the logit bank: PSSA 9 logits (4 bits),
        involution G x K^2 kernel values."""
        return ceil_log2(self.kernel_rows) if self.cfg.attention == "involution" else 4

    @property
    def bank_words(self) -> int:
        """Words of the logit bank: PSSA / involution, SLOTS pixels of 2^bank_row_bits words;
        full SA, SA_SLOTS query pixels of 2^key_bits logits."""
        if self.cfg.attention == "sa":
            return SA_SLOTS << self.key_bits
        return SLOTS << self.bank_row_bits

    @property
    def proj_rows(self) -> int:
        """Rows the projection unit computes from x_p: [W_q; W_k] (2D), or involution's
        W'_1 (C / reduction)."""
        cfg = self.cfg
        return cfg.c_in // cfg.reduction if cfg.attention == "involution" else 2 * cfg.d

    @property
    def chunks_per_group(self) -> int:
        """Involution: input chunks per channel group."""
        return max(1, self.cfg.group_channels // self.cfg.simd)

    @property
    def logit_bits(self) -> int:
        return sa_logit_bits(self.cfg) if self.cfg.attention == "sa" else self.cfg.fmt.data_bits

    @property
    def scalar_order(self) -> tuple[str, ...]:
        """The scalar words at the end of the parameter stream."""
        return {"sa": SA_SCALAR_ORDER, "involution": INVOLUTION_SCALAR_ORDER}.get(
            self.cfg.attention, SCALAR_ORDER)

    @property
    def proj_bias_bits(self) -> int:
        """Involution: b_1 * m_1, the bias the projection's requantizers add."""
        return self.cfg.accumulator_bits()["projection (q, k)"] + self.cfg.fmt.mult_bits + 1

    @property
    def count_bits(self) -> int:
        """Width of the free-running pixel counters (they wrap; only differences matter)."""
        return 32

    @property
    def diff_bits(self) -> int:
        """Width in which two units' pixel counters are compared: any two differ by at most
        depth, so their difference modulo 2^diff_bits is exact (and the compare is short)."""
        return self.addr_bits + 2

    @property
    def proj_lanes(self) -> int:
        """Rows of [W_q; W_k] the projection computes at once: the fewest that keep its
        ci_chunks * proj_rows / lanes cycles per pixel within the MAC array's
        taps * ci_chunks * co_groups."""
        rows = self.proj_rows
        return min(n for n in range(1, rows + 1)
                   if rows % n == 0 and rows // n <= self.cfg.taps * self.co_groups)

    @property
    def proj_groups(self) -> int:
        return self.proj_rows // self.proj_lanes

    @property
    def mac_cycles_per_pixel(self) -> int:
        return self.cfg.taps * self.ci_chunks * self.co_groups

    # ---------------------------------------------------------------- widths
    @property
    def acc_bits(self) -> int:
        return self.cfg.fmt.acc_bits

    @property
    def param_bits(self) -> int:
        """tdata width of the parameter stream: the widest parameter, rounded up to bytes."""
        widest = max(r.bits for r in self.regions)
        return 8 * ((widest + 7) // 8)

    # ---------------------------------------------------------------- parameter map
    @cached_property
    def regions(self) -> tuple[Region, ...]:
        """The parameter stream, in order: each memory's image, word by word, lane by lane.

        - ``w_mac``: for og in C_out/PE, tap t in 0..K^2 (t = K^2 is W'_v), ci in C_in/SIMD:
          one word of PE x SIMD weights, lane pe*SIMD + s = W[og*PE + pe][ci*SIMD + s].
        - ``w_qk``: for ci, row group g in 0..2D/PJ-1 (PJ = ``proj_lanes``; q rows then k rows):
          PJ x SIMD weights, lane l*SIMD + s = W[g*PJ + l][ci*SIMD + s].
        - ``m_qk``: per row group g, PJ lanes: the projection multipliers (q then k).
          Involution: ``w_qk`` and ``m_qk`` hold W'_1 and m_1 (``proj_rows`` rows), then
          ``b_qk`` (b_1 * m_1 per row, like ``m_qk``), ``w_kg`` (W_2: G*K^2 words of
          C/reduction lanes) and ``m_kg`` (m_2, one a word).
        - ``m_c``, ``m_v``, ``bias``: per output group og, PE lanes.
        - ``scalars``: ``scalar_order``: s_q, s_k, m_a, s_a, m_z, s_z, s_out (PSSA) or
          s_q, s_k, m_t, s_t, s_out (full SA).
        """
        cfg, f = self.cfg, self.cfg.fmt
        involution = ()
        if cfg.attention == "involution":
            involution = (
                Region("b_qk", self.proj_groups, self.proj_lanes, self.proj_bias_bits),
                Region("w_kg", self.kernel_rows, cfg.c_in // cfg.reduction, f.weight_bits),
                Region("m_kg", self.kernel_rows, 1, f.mult_bits),
            )
        return (
            Region("w_mac", self.co_groups * cfg.taps * self.ci_chunks, cfg.pe * cfg.simd,
                   f.weight_bits),
            Region("w_qk", self.ci_chunks * self.proj_groups, self.proj_lanes * cfg.simd,
                   f.weight_bits),
            Region("m_qk", self.proj_groups, self.proj_lanes, f.mult_bits),
            *involution,
            Region("m_c", self.co_groups, cfg.pe, f.mult_bits),
            Region("m_v", self.co_groups, cfg.pe, f.mult_bits),
            Region("bias", self.co_groups, cfg.pe, cfg.requant_bits),
            Region("scalars", len(self.scalar_order), 1, max(f.mult_bits, f.shift_bits)),
        )

    @property
    def memory_regions(self) -> tuple[Region, ...]:
        """The regions that are memories (all but the scalar registers)."""
        return tuple(r for r in self.regions if r.name != "scalars")

    @property
    def param_words(self) -> int:
        return sum(r.words for r in self.regions)

    # ---------------------------------------------------------------- storage
    def buffer_bits(self) -> dict[str, int]:
        """On-chip storage of the engine in bits, by memory."""
        cfg, f = self.cfg, self.cfg.fmt
        out = {r.name: r.words * r.bits for r in self.regions}
        out["x ring"] = self.x_words * self.in_bits
        out["q/k ring" if cfg.attention != "involution" else "u ring"] = \
            self.depth * self.proj_rows * f.data_bits
        out["z buffer"] = self.z_words * self.in_bits
        out["logit bank"] = self.bank_words * self.logit_bits
        return out


#: Pixels the attention units may run ahead of the MAC array, and of each other: the z buffer
#: and the logit bank hold SLOTS pixels each (a power of two).
SLOTS = 4
LOOKAHEAD = 2 * SLOTS

#: Order of the scalar words at the end of the parameter stream.
SCALAR_ORDER = ("s_q", "s_k", "m_a", "s_a", "m_z", "s_z", "s_out")
SA_SCALAR_ORDER = ("s_q", "s_k", "m_t", "s_t", "s_out")
INVOLUTION_SCALAR_ORDER = ("s_1", "s_2", "m_z", "s_z", "s_out")
#: Query pixels the full-SA logit bank holds (the softmax unit may run this far ahead of the
#: aggregation unit).
SA_SLOTS = 2
