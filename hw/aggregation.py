"""Aggregation unit (S9): z_p = RQ(sum_{d in Delta_L} a_p(d) x_{p+d}, m_z, s_z).

Involution (S5) runs the same unit over Delta_K with its kernel: z_p[c] = RQ(sum_{d in Delta_K}
h_p[g(c), d] x_{p+d}[c], m_z, s_z); a chunk of SIMD channels lies in one group g, whose K^2
values sit at rows g*K^2 .. g*K^2 + K^2 - 1 of the pixel's bank slot.

For each chunk ci of SIMD channels, nine cycles, one offset d each: the x ring answers
x_{p+d} (zero outside the frame), the logit bank answers a_p(d), SIMD multipliers accumulate;
after the ninth the SIMD sums are requantized and written into the z buffer (``SLOTS`` pixels),
where the MAC array reads them as its last tap.  No bubbles between chunks or pixels.  Pixel p
starts once its logits are in the bank and its z slot is free (the MAC array has finished
reading pixel p - SLOTS).

    issue (x_addr, a_addr) -> register -> products -> accumulate -> requantizer -> z write
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import SLOTS, Geometry, ceil_log2
from .requant import Requantizer
from .util import PixelCursor, delay, lanes, register, wrap_inc


class Aggregation(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        f = geo.cfg.fmt
        super().__init__({
            "logit_count": In(geo.count_bits),  # pixels whose logits are in the bank
            "mac_count": In(geo.count_bits),    # pixels the MAC array has finished reading
            "x_addr": Out(max(1, ceil_log2(geo.x_words))),
            "x_data": In(geo.in_bits),
            "a_addr": Out(ceil_log2(geo.bank_words)),
            "a_data": In(f.data_bits),
            "m_z": In(f.mult_bits), "s_z": In(f.shift_bits),
            "z_addr": Out(max(1, ceil_log2(geo.z_words))),
            "z_data": Out(geo.in_bits),
            "z_en": Out(1),
            "issued": Out(geo.count_bits),      # pixels whose reads are all issued
            "count": Out(geo.count_bits),       # pixels whose z is in the buffer
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        involution = cfg.attention == "involution"
        offsets = cfg.conv_offsets if involution else cfg.shift_offsets
        db, simd, last_t = f.data_bits, cfg.simd, len(offsets) - 1
        cur = PixelCursor(geo, "agg")
        t = Signal(range(len(offsets)))
        ci = Signal(range(geo.ci_chunks))
        slot, inside = cur.neighbour(offsets, t)
        bank = cur.pixel[:ceil_log2(SLOTS)]
        chunk_end = Signal()
        row = self._group_row(m, ci, chunk_end) + t if involution else t
        start = (cur.behind(self.logit_count) != 0) & (cur.ahead_of(self.mac_count) < SLOTS)
        issue = Mux((t == 0) & (ci == 0), start, 1)
        pixel_done = issue & (t == last_t) & (ci == geo.ci_chunks - 1)
        m.d.comb += chunk_end.eq(issue & (t == last_t))
        with m.If(issue):
            m.d.sync += t.eq(wrap_inc(t, last_t))
            with m.If(t == last_t):
                m.d.sync += ci.eq(wrap_inc(ci, geo.ci_chunks - 1))
        with m.If(pixel_done):
            cur.step(m)
        m.d.comb += [self.issued.eq(cur.pixel), self.x_addr.eq(Cat(ci[:geo.chunk_bits], slot)),
                     self.a_addr.eq(Cat(row[:geo.bank_row_bits], bank))]

        s0 = register(m, {"valid": issue, "t": t, "ci": ci, "inside": inside, "bank": bank}, "s0")
        s1 = register(m, {**s0, "a": self.a_data, "x": self.x_data}, "s1")  # memory outputs
        prods = [Signal(signed(2 * db), name=f"ax{s}") for s in range(simd)]
        a = s1["a"].as_signed()
        m.d.sync += [p.eq(Mux(s1["inside"], a * xv, 0))
                     for p, xv in zip(prods, lanes(s1["x"], simd, db))]
        s2 = register(m, {k: v for k, v in s1.items() if k not in ("a", "x")}, "s2")
        z_acc = [Signal(signed(f.acc_bits), name=f"zacc{s}") for s in range(simd)]
        with m.If(s2["valid"]):
            m.d.sync += [za.eq(p + Mux(s2["t"] == 0, 0, za)) for za, p in zip(z_acc, prods)]
        s3 = register(m, {"valid": s2["valid"] & (s2["t"] == last_t), "ci": s2["ci"],
                          "bank": s2["bank"]}, "s3")
        acc_width = cfg.accumulator_bits()["aggregation sum a x"]  # the sum fits: exact slice
        z_out = []
        for s, za in enumerate(z_acc):
            rq = Requantizer(acc_bits=acc_width, mult_bits=f.mult_bits,
                             shift_bits=f.shift_bits, out_bits=db)
            m.submodules[f"rq{s}"] = rq
            m.d.comb += [rq.acc0.eq(za[:acc_width].as_signed()), rq.mult0.eq(self.m_z),
                         rq.shift.eq(self.s_z)]
            z_out.append(rq.result)
        valid, out = delay(m, s3["valid"], {"ci": s3["ci"], "bank": s3["bank"]},
                           Requantizer.LATENCY, "rq")
        m.d.comb += [self.z_en.eq(valid), self.z_data.eq(Cat(*z_out)),
                     self.z_addr.eq(Cat(out["ci"][:geo.chunk_bits], out["bank"]))]
        with m.If(valid & (out["ci"] == geo.ci_chunks - 1)):
            m.d.sync += self.count.eq(self.count + 1)
        return m

    def _group_row(self, m, ci, chunk_end):
        """Involution: g(ci) * K^2, the first bank row of the chunk's group, as a register that
        steps by K^2 every chunks_per_group chunks (no multiplier in the address path)."""
        geo = self.geo
        taps = geo.cfg.k * geo.cfg.k
        base = Signal(range(geo.kernel_rows), name="group_base")
        in_group = Signal(range(geo.chunks_per_group), name="chunk_in_group")
        with m.If(chunk_end):
            with m.If(ci == geo.ci_chunks - 1):
                m.d.sync += [base.eq(0), in_group.eq(0)]
            with m.Elif(in_group == geo.chunks_per_group - 1):
                m.d.sync += [base.eq(base + taps), in_group.eq(0)]
            with m.Else():
                m.d.sync += in_group.eq(in_group + 1)
        return base
