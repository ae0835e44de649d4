"""Full SA's aggregation unit (S4, S9): z_p = SAT((sum_j e_pj x_j) R_p >> 31).

For each chunk ci of SIMD channels, N cycles, one key pixel j of p's frame each: the x ring
answers x_j, the logit bank t_pj; e_pj = exp2_table(max_p - t_pj) (the slot's max from the
softmax unit), SIMD multipliers accumulate e_pj x_j.  After the N-th, the SIMD sums are
normalized by R_p (a requantizer with multiplier R_p and shift 31) and written into the z
buffer, where the MAC array reads them as its last tap, exactly as in the window aggregation
(the same ports and tail: ``aggregation_members``, ``requantize_into_z``).  Pixel p starts once
the softmax unit has counted it and its z slot is free (the MAC array has finished reading pixel
p - SLOTS).  No bubbles between chunks or pixels.

    issue (x.addr, a.addr) -> register -> max - t -> e -> products -> accumulate
    -> requantizer -> z write
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from golden.config import RECIP_SHIFT, sa_logit_bits

from ..aggregation import aggregation_members, requantize_into_z
from ..geometry import Geometry, ceil_log2
from ..requant import Requantizer
from ..util import PixelCursor, lanes, register, wrap_inc
from .sa_softmax import (DELTA_BITS, EXP_BITS, RECIP_BITS, SA_SLOTS, bank_addr_bits,
                         clamped_delta, exp2_of, key_bits)

#: cycles from the last issue of a pixel to its count: the window aggregation's, plus two
#: stages (max - t, the exponential) before the products
SA_AGG_DONE = 7 + Requantizer.LATENCY


def sa_zacc_bits(cfg) -> int:
    """Width of the sum sum_j e_pj x_j: e < 2^16 unsigned, |x| <= 2^(db-1)."""
    return cfg.fmt.data_bits + EXP_BITS + max(1, ceil_log2(cfg.n_pixels)) + 1


class SaAggregation(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        lb = sa_logit_bits(geo.cfg)
        super().__init__({
            **aggregation_members(geo, bank_addr_bits(geo.cfg), lb),
            "maxes": In(SA_SLOTS * lb),
            "recips": In(SA_SLOTS * RECIP_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        db, simd, n, lb = f.data_bits, cfg.simd, cfg.n_pixels, sa_logit_bits(cfg)
        cur = PixelCursor(geo, "saagg")
        j = Signal(range(n))
        ci = Signal(range(geo.ci_chunks))
        bslot = cur.pixel[:ceil_log2(SA_SLOTS)]
        zslot = cur.pixel[:geo.z_slot_bits]
        start = ((cur.behind(self.logit_count) != 0)
                 & (cur.ahead_of(self.mac_count) < geo.z_slots))
        issue = Mux((j == 0) & (ci == 0), start, 1)
        pixel_done = issue & (j == n - 1) & (ci == geo.ci_chunks - 1)
        with m.If(issue):
            m.d.sync += j.eq(wrap_inc(j, n - 1))
            with m.If(j == n - 1):
                m.d.sync += ci.eq(wrap_inc(ci, geo.ci_chunks - 1))
        with m.If(pixel_done):
            cur.step(m)
        key = self._frame_key(m, cur, j, issue, pixel_done)
        m.d.comb += [self.issued.eq(cur.pixel),
                     self.x.addr.eq(Cat(ci[:geo.chunk_bits], key)),
                     self.a.addr.eq(Cat(j[:key_bits(cfg)], bslot))]

        # the slot's max is taken at the issue, beside this unit's own tags: the subtract of the
        # delta stage then reads registers of its own, not the softmax unit's (a route across
        # the chip, the C = 64 full SA engine's worst path)
        maxes = Array(lanes(self.maxes, SA_SLOTS, lb))
        tags = {"valid": issue, "first": j == 0, "last": j == n - 1, "ci": ci, "zslot": zslot,
                "bslot": bslot, "top": maxes[bslot]}
        s0 = register(m, tags, "s0")
        s1 = register(m, {**s0, "t": self.a.data, "x": self.x.data}, "s1")  # memory outputs
        delta = Signal(DELTA_BITS, reset_less=True)
        m.d.sync += delta.eq(clamped_delta(s1["top"], s1["t"].as_signed()))
        s2 = register(m, {k: v for k, v in s1.items() if k not in ("t", "top")}, "s2")
        e = Signal(EXP_BITS, reset_less=True)
        m.d.sync += e.eq(exp2_of(delta))
        s2e = register(m, s2, "s2e")
        prods = [Signal(signed(EXP_BITS + db + 1), name=f"ex{s}", reset_less=True)
                 for s in range(simd)]
        e_signed = Cat(e, Const(0, 1)).as_signed()
        m.d.sync += [p.eq(e_signed * xv) for p, xv in zip(prods, lanes(s2e["x"], simd, db))]
        s3 = register(m, {k: v for k, v in s2e.items() if k != "x"}, "s3")
        width = sa_zacc_bits(cfg)
        z_acc = [Signal(signed(width), name=f"zacc{s}", reset_less=True) for s in range(simd)]
        with m.If(s3["valid"]):
            m.d.sync += [za.eq(p + Mux(s3["first"], 0, za)) for za, p in zip(z_acc, prods)]
        s4 = register(m, {"valid": s3["valid"] & s3["last"], "ci": s3["ci"],
                          "slot": s3["zslot"], "bslot": s3["bslot"]}, "s4")
        recips = Array(lanes(self.recips, SA_SLOTS, RECIP_BITS, signed_lanes=False))
        requantize_into_z(m, self, s4, z_acc, width, recips[s4["bslot"]], RECIP_SHIFT,
                          RECIP_BITS, RECIP_SHIFT.bit_length(), interval=n)
        return m

    def _frame_key(self, m, cur: PixelCursor, j, issue, pixel_done):
        """The x ring slot of key pixel j of the cursor's frame (the frame's first pixel plus
        j) as a register that the issue moves on: the x ring's address starts at a register,
        not behind pixel - pos + j (the C = 64 full SA engine's placed critical path ran from
        the cursor's position through that sum into the x ring's read)."""
        geo, n = self.geo, self.geo.cfg.n_pixels
        base = Signal(geo.addr_bits, name="saagg_frame_base")  # the frame's first pixel
        key = Signal(geo.addr_bits, name="saagg_key")
        frame_done = pixel_done & (cur.pos == n - 1)
        next_base = Mux(frame_done, cur.pixel[:geo.addr_bits] + 1, base)
        with m.If(issue):
            m.d.sync += key.eq(Mux(j == n - 1, next_base, key + 1))
        with m.If(frame_done):
            m.d.sync += base.eq(next_base)
        return key
