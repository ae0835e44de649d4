"""Involution's kernel unit (S5): h_p = RQ(W_2 u_p, m_2, s_2), G x K^2 values a pixel.

u_p = ReLU(RQ(W'_1 x_p + b_1)) comes from the projection unit (its rows are W'_1) through the u
ring.  One kernel value a cycle, without bubbles between pixels: the ring answers u_p, the
``w_kg`` memory row r of W_2 and ``m_kg`` its multiplier; C/reduction multipliers and an adder
tree form the dot product, and a requantizer writes h_p[r] into the kernel bank (``SLOTS``
pixels), where the aggregation unit reads it.  Pixel p starts once the pixels of its K x K
window are projected (the aggregation reads their x) and its bank slot is free (the aggregation
unit has issued pixel p - SLOTS).  The same pipeline as PSSA's logit unit (``dot_requantize``):

    issue (u.addr, w.addr) -> register -> products -> dot product -> requantizer -> bank
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..geometry import SLOTS, Geometry, Region, ceil_log2
from ..ports import read_port, region_read_port, write_port
from ..util import PixelCursor, dot_requantize, lanes, register, row_sequencer


def kernel_rows(cfg) -> int:
    """The G x K^2 kernel values generated a pixel (S5)."""
    return cfg.groups * cfg.k * cfg.k


def hidden(cfg) -> int:
    """Channels of the kernel generator's hidden layer: C / reduction."""
    return cfg.c_in // cfg.reduction


def bank_row_bits(cfg) -> int:
    return ceil_log2(kernel_rows(cfg))


def kernel_regions(cfg) -> tuple[Region, ...]:
    """``w_kg``: W_2, G*K^2 words of C/reduction lanes; ``m_kg``: m_2, one a word."""
    f = cfg.fmt
    return (Region("w_kg", kernel_rows(cfg), hidden(cfg), f.weight_bits),
            Region("m_kg", kernel_rows(cfg), 1, f.mult_bits))


class KernelUnit(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        cfg, f = geo.cfg, geo.cfg.fmt
        w_kg, m_kg = kernel_regions(cfg)
        super().__init__({
            "avail": In(geo.count_bits),       # pixels projected (u and x written)
            "agg_issued": In(geo.count_bits),  # pixels the aggregation unit has finished reading
            "u": read_port(geo.addr_bits, hidden(cfg) * f.data_bits),
            "w": region_read_port(w_kg),
            "m": region_read_port(m_kg),       # the multiplier of row w.addr
            "s_2": In(f.shift_bits),
            "bank": write_port(bank_row_bits(cfg) + ceil_log2(SLOTS), f.data_bits),
            "count": Out(geo.count_bits),      # pixels whose kernel is in the bank
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        db, rows = f.data_bits, kernel_rows(cfg)
        cur = PixelCursor(geo, "kgen")
        start = (cur.window_ready(m, self.avail, geo.reach)
                 & (cur.ahead_of(self.agg_issued) < SLOTS))
        r, issue = row_sequencer(m, cur, rows, start)
        m.d.comb += [self.u.addr.eq(cur.pixel[:geo.addr_bits]), self.w.addr.eq(r),
                     self.m.addr.eq(r)]
        s0 = register(m, {"valid": issue, "r": r, "bank": cur.pixel[:ceil_log2(SLOTS)]}, "s0")
        s1 = register(m, {**s0, "u": self.u.data, "w": self.w.data, "m": self.m.data}, "s1")
        valid, out, result = dot_requantize(
            m, {k: v for k, v in s1.items() if k not in ("u", "w")},
            list(zip(lanes(s1["w"], hidden(cfg), f.weight_bits),
                     lanes(s1["u"], hidden(cfg), db))),
            cfg.accumulators.projection,  # hidden <= C_in terms: fits
            db, f, "m", self.s_2, platform=platform)
        m.d.comb += [self.bank.en.eq(valid), self.bank.data.eq(result),
                     self.bank.addr.eq(Cat(out["r"][:bank_row_bits(cfg)], out["bank"]))]
        with m.If(valid & (out["r"] == rows - 1)):
            m.d.sync += self.count.eq(self.count + 1)
        return m
