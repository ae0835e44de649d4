"""Attention-logit unit (S3): a_p(d) = RQ(<q_p, k_{p+d}>, m_a, s_a) for the nine d in Delta_L.

One offset a cycle, without bubbles between pixels: the q ring answers q_p (its address stays
on the pixel), the k ring answers k_{p+d}, D multipliers and an adder tree form the dot product,
and a requantizer writes a(d) into the logit bank (``SLOTS`` pixels of nine values), where the
aggregation unit reads it.  A neighbour outside the frame has k = 0, so its logit is 0.  Pixel p
starts once the q/k ring holds every pixel up to p + L*W + L (or the frame's end) and the bank
slot is free (the aggregation unit has issued pixel p - SLOTS).

    issue (q_addr, k_addr) -> register -> products -> dot product -> requantizer -> bank
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import SLOTS, Geometry, ceil_log2
from .util import PixelCursor, dot_requantize, lanes, register, wrap_inc


class LogitUnit(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        cfg, f = geo.cfg, geo.cfg.fmt
        super().__init__({
            "avail": In(geo.count_bits),       # pixels projected
            "agg_issued": In(geo.count_bits),  # pixels the aggregation unit has finished reading
            "q_addr": Out(geo.addr_bits),
            "q_data": In(cfg.d * f.data_bits),
            "k_addr": Out(geo.addr_bits),
            "k_data": In(cfg.d * f.data_bits),
            "m_a": In(f.mult_bits), "s_a": In(f.shift_bits),
            "a_addr": Out(ceil_log2(geo.bank_words)),
            "a_data": Out(f.data_bits),
            "a_en": Out(1),
            "count": Out(geo.count_bits),      # pixels whose nine logits are in the bank
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        db, last_t = f.data_bits, 8
        cur = PixelCursor(geo, "logit")
        t = Signal(4)  # 0..8: a nibble of the logit bank address
        slot, inside = cur.neighbour(cfg.shift_offsets, t)
        start = (cur.window_ready(self.avail, cfg.shift * cfg.w + cfg.shift)
                 & (cur.ahead_of(self.agg_issued) < SLOTS))
        issue = Mux(t == 0, start, 1)
        with m.If(issue):
            m.d.sync += t.eq(wrap_inc(t, last_t))
            with m.If(t == last_t):
                cur.step(m)
        m.d.comb += [self.q_addr.eq(cur.pixel[:geo.addr_bits]), self.k_addr.eq(slot)]
        s0 = register(m, {"valid": issue, "t": t, "inside": inside,
                          "bank": cur.pixel[:ceil_log2(SLOTS)]}, "s0")
        s1 = register(m, {**s0, "q": self.q_data, "k": self.k_data}, "s1")  # memory outputs
        valid, out, result = dot_requantize(
            m, {"valid": s1["valid"], "t": s1["t"], "bank": s1["bank"]},
            list(zip(lanes(s1["q"], cfg.d, db), lanes(s1["k"], cfg.d, db))),
            cfg.accumulator_bits()["logit <q, k>"], db, f, self.m_a, self.s_a,
            zero_unless=s1["inside"])
        m.d.comb += [self.a_en.eq(valid), self.a_addr.eq(Cat(out["t"], out["bank"])),
                     self.a_data.eq(result)]
        with m.If(valid & (out["t"] == last_t)):
            m.d.sync += self.count.eq(self.count + 1)
        return m
