"""Involution kernel unit (S5): h_p = RQ(W_2 u_p, m_2, s_2), G x K^2 values a pixel.

u_p = ReLU(RQ(W'_1 x_p + b_1)) comes from the projection unit (its rows are W'_1 for
involution) through the u ring.  One kernel value a cycle, without bubbles between pixels: the
ring answers u_p, the ``w_kg`` memory row r of W_2 and ``m_kg`` its multiplier; C/reduction
multipliers and an adder tree form the dot product, and a requantizer writes h_p[r] into the
kernel bank (``SLOTS`` pixels), where the aggregation unit reads it.  Pixel p starts once the
pixels of its K x K window are projected (the aggregation reads their x) and its bank slot is
free (the aggregation unit has issued pixel p - SLOTS).  The same pipeline as the PSSA logit
unit, so the same latency:

    issue (u_addr, w_addr) -> register -> products -> dot product -> requantizer -> bank
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import SLOTS, Geometry, ceil_log2
from .util import PixelCursor, dot_requantize, lanes, register, wrap_inc


class KernelUnit(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        cfg, f = geo.cfg, geo.cfg.fmt
        hidden = cfg.c_in // cfg.reduction
        super().__init__({
            "avail": In(geo.count_bits),       # pixels projected (u and x written)
            "agg_issued": In(geo.count_bits),  # pixels the aggregation unit has finished reading
            "u_addr": Out(geo.addr_bits),
            "u_data": In(hidden * f.data_bits),
            "w_addr": Out(max(1, ceil_log2(geo.kernel_rows))),
            "w_data": In(hidden * f.weight_bits),
            "m_data": In(f.mult_bits),         # the multiplier of row w_addr
            "s_2": In(f.shift_bits),
            "a_addr": Out(ceil_log2(geo.bank_words)),
            "a_data": Out(f.data_bits),
            "a_en": Out(1),
            "count": Out(geo.count_bits),      # pixels whose kernel is in the bank
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        db, hidden, last_r = f.data_bits, cfg.c_in // cfg.reduction, geo.kernel_rows - 1
        cur = PixelCursor(geo, "kgen")
        r = Signal(range(geo.kernel_rows))
        start = (cur.window_ready(self.avail, geo.reach)
                 & (cur.ahead_of(self.agg_issued) < SLOTS))
        issue = Mux(r == 0, start, 1)
        with m.If(issue):
            m.d.sync += r.eq(wrap_inc(r, last_r))
            with m.If(r == last_r):
                cur.step(m)
        m.d.comb += [self.u_addr.eq(cur.pixel[:geo.addr_bits]), self.w_addr.eq(r)]
        s0 = register(m, {"valid": issue, "r": r, "bank": cur.pixel[:ceil_log2(SLOTS)]}, "s0")
        s1 = register(m, {**s0, "u": self.u_data, "w": self.w_data, "m": self.m_data}, "s1")
        valid, out, result = dot_requantize(
            m, {k: v for k, v in s1.items() if k not in ("u", "w")},
            list(zip(lanes(s1["w"], hidden, f.weight_bits), lanes(s1["u"], hidden, db))),
            cfg.accumulator_bits()["projection (q, k)"],  # hidden <= C_in terms: fits
            db, f, "m", self.s_2)
        m.d.comb += [self.a_en.eq(valid), self.a_data.eq(result),
                     self.a_addr.eq(Cat(out["r"][:geo.bank_row_bits], out["bank"]))]
        with m.If(valid & (out["r"] == last_r)):
            m.d.sync += self.count.eq(self.count + 1)
        return m
