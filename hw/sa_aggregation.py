"""Aggregation unit of the full-SA engine (S4, S9): z_p = SAT((sum_j e_pj x_j) R_p >> 31).

For each chunk ci of SIMD channels, N cycles, one key pixel j of p's frame each: the x ring
answers x_j, the logit bank t_pj; e_pj = exp2_table(max_p - t_pj) (the slot's max from the
softmax unit), SIMD multipliers accumulate e_pj x_j.  After the N-th, the SIMD sums are
normalized by R_p (a requantizer with multiplier R_p and shift 31) and written into the z
buffer, where the MAC array reads them as its last tap, exactly as in the PSSA engine.  Pixel p
starts once the softmax unit has counted it and its z slot is free (the MAC array has finished
reading pixel p - SLOTS).  No bubbles between chunks or pixels.

    issue (x_addr, a_addr) -> register -> max - t -> e -> products -> accumulate
    -> requantizer -> z write
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import RECIP_SHIFT

from .geometry import EXP_BITS, RECIP_BITS, SA_SLOTS, SLOTS, Geometry, ceil_log2, sa_zacc_bits
from .requant import Requantizer
from .softmax import DELTA_BITS, clamped_delta, exp2_of
from .util import PixelCursor, delay, lanes, register, wrap_inc


class SaAggregation(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        lb = geo.logit_bits
        super().__init__({
            "softmax_count": In(geo.count_bits),  # pixels whose max and R_p are held
            "mac_count": In(geo.count_bits),      # pixels the MAC array has finished reading
            "x_addr": Out(max(1, ceil_log2(geo.x_words))),
            "x_data": In(geo.in_bits),
            "a_addr": Out(ceil_log2(geo.bank_words)),
            "a_data": In(lb),
            "maxes": In(SA_SLOTS * lb),
            "recips": In(SA_SLOTS * RECIP_BITS),
            "z_addr": Out(max(1, ceil_log2(geo.z_words))),
            "z_data": Out(geo.in_bits),
            "z_en": Out(1),
            "issued": Out(geo.count_bits),        # pixels whose reads are all issued
            "count": Out(geo.count_bits),         # pixels whose z is in the buffer
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f, lb = self.geo, self.geo.cfg, self.geo.cfg.fmt, self.geo.logit_bits
        db, simd, n = f.data_bits, cfg.simd, cfg.n_pixels
        cur = PixelCursor(geo, "saagg")
        j = Signal(range(n))
        ci = Signal(range(geo.ci_chunks))
        bslot = cur.pixel[:ceil_log2(SA_SLOTS)]
        zslot = cur.pixel[:ceil_log2(SLOTS)]
        key = (cur.pixel[:geo.addr_bits] - cur.pos + j)[:geo.addr_bits]  # pixel j of the frame
        start = (cur.behind(self.softmax_count) != 0) & (cur.ahead_of(self.mac_count) < SLOTS)
        issue = Mux((j == 0) & (ci == 0), start, 1)
        pixel_done = issue & (j == n - 1) & (ci == geo.ci_chunks - 1)
        with m.If(issue):
            m.d.sync += j.eq(wrap_inc(j, n - 1))
            with m.If(j == n - 1):
                m.d.sync += ci.eq(wrap_inc(ci, geo.ci_chunks - 1))
        with m.If(pixel_done):
            cur.step(m)
        m.d.comb += [self.issued.eq(cur.pixel),
                     self.x_addr.eq(Cat(ci[:geo.chunk_bits], key)),
                     self.a_addr.eq(Cat(j[:geo.key_bits], bslot))]

        tags = {"valid": issue, "first": j == 0, "last": j == n - 1, "ci": ci, "zslot": zslot,
                "bslot": bslot}
        s0 = register(m, tags, "s0")
        s1 = register(m, {**s0, "t": self.a_data, "x": self.x_data}, "s1")  # memory outputs
        maxes = Array(lanes(self.maxes, SA_SLOTS, lb))
        delta = Signal(DELTA_BITS)
        m.d.sync += delta.eq(clamped_delta(maxes[s1["bslot"]], s1["t"].as_signed()))
        s2 = register(m, {k: v for k, v in s1.items() if k != "t"}, "s2")
        e = Signal(EXP_BITS)
        m.d.sync += e.eq(exp2_of(delta))
        s2e = register(m, s2, "s2e")
        prods = [Signal(signed(EXP_BITS + db + 1), name=f"ex{s}") for s in range(simd)]
        e_signed = Cat(e, Const(0, 1)).as_signed()
        m.d.sync += [p.eq(e_signed * xv) for p, xv in zip(prods, lanes(s2e["x"], simd, db))]
        s3 = register(m, {k: v for k, v in s2e.items() if k != "x"}, "s3")
        width = sa_zacc_bits(cfg)
        z_acc = [Signal(signed(width), name=f"zacc{s}") for s in range(simd)]
        with m.If(s3["valid"]):
            m.d.sync += [za.eq(p + Mux(s3["first"], 0, za)) for za, p in zip(z_acc, prods)]
        s4 = register(m, {"valid": s3["valid"] & s3["last"], "ci": s3["ci"],
                          "zslot": s3["zslot"], "bslot": s3["bslot"]}, "s4")
        recips = Array(lanes(self.recips, SA_SLOTS, RECIP_BITS, signed_lanes=False))
        z_out = []
        for s, za in enumerate(z_acc):
            rq = Requantizer(acc_bits=width, mult_bits=RECIP_BITS,
                             shift_bits=RECIP_SHIFT.bit_length(), out_bits=db)
            m.submodules[f"rq{s}"] = rq
            m.d.comb += [rq.acc0.eq(za), rq.mult0.eq(recips[s4["bslot"]]),
                         rq.shift.eq(RECIP_SHIFT)]
            z_out.append(rq.result)
        valid, out = delay(m, s4["valid"], {"ci": s4["ci"], "zslot": s4["zslot"]},
                           Requantizer.LATENCY, "rq")
        m.d.comb += [self.z_en.eq(valid), self.z_data.eq(Cat(*z_out)),
                     self.z_addr.eq(Cat(out["ci"][:geo.chunk_bits], out["zslot"]))]
        with m.If(valid & (out["ci"] == geo.ci_chunks - 1)):
            m.d.sync += self.count.eq(self.count + 1)
        return m
