"""Output stage: requantizes each group of PE results and streams them out.

y = SAT((acc_c * m_c + acc_a * m_v + bias + 2^(s_out-1)) >> s_out) per lane (docs/fixed-point.md),
with m_c, m_v and bias read for the group from their memories.  Results wait in a FIFO whose
depth is the MAC array's credit count, so the array never has to stall mid-pipeline; the stream
side marks the first beat of a frame (``first``, tuser) and the last beat of each row (``last``,
tlast), and pulses ``sent`` for every beat handed on, returning a credit.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .geometry import Geometry, ceil_log2
from .requant import Requantizer
from .streams import beat_stream
from .util import PixelCursor, delay, lanes, wrap_inc


class OutputStage(wiring.Component):
    def __init__(self, geo: Geometry, credits: int):
        self.geo, self.credits = geo, credits
        cfg, f = geo.cfg, geo.cfg.fmt
        pe = cfg.pe
        super().__init__({
            "res_valid": In(1),
            "res_group": In(range(geo.co_groups)),
            "res_acc_c": In(pe * f.acc_bits),
            "res_acc_a": In(pe * f.acc_bits),
            "p_addr": Out(max(1, ceil_log2(geo.co_groups))),
            "m_c": In(pe * f.mult_bits),
            "m_v": In(pe * f.mult_bits),
            "bias": In(pe * cfg.requant_bits),
            "s_out": In(f.shift_bits),
            "o": Out(beat_stream(geo.out_bits)),
            "sent": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        pe = cfg.pe
        # the parameter memories answer one cycle after the address: hold the sums that long
        m.d.comb += self.p_addr.eq(self.res_group)
        valid1 = Signal()
        acc_c = Signal.like(self.res_acc_c)
        acc_a = Signal.like(self.res_acc_a)
        m.d.sync += [valid1.eq(self.res_valid), acc_c.eq(self.res_acc_c),
                     acc_a.eq(self.res_acc_a)]
        widths = cfg.accumulator_bits()  # the sums fit their worst-case widths: exact slices
        conv_bits, attn_bits = widths["convolution"], widths["attention tap W'_v z"]
        results = []
        for lane, (c, a, mc, mv, b) in enumerate(zip(
                lanes(acc_c, pe, f.acc_bits), lanes(acc_a, pe, f.acc_bits),
                lanes(self.m_c, pe, f.mult_bits, signed_lanes=False),
                lanes(self.m_v, pe, f.mult_bits, signed_lanes=False),
                lanes(self.bias, pe, cfg.requant_bits))):
            rq = Requantizer(acc_bits=(conv_bits, attn_bits), mult_bits=f.mult_bits,
                             shift_bits=f.shift_bits, out_bits=f.data_bits,
                             bias_bits=cfg.requant_bits, sum_bits=cfg.requant_bits)
            m.submodules[f"rq{lane}"] = rq
            m.d.comb += [rq.acc0.eq(c[:conv_bits].as_signed()), rq.mult0.eq(mc),
                         rq.acc1.eq(a[:attn_bits].as_signed()), rq.mult1.eq(mv),
                         rq.bias.eq(b), rq.shift.eq(self.s_out)]
            results.append(rq.result)
        push, _ = delay(m, valid1, {}, Requantizer.LATENCY, "push")

        m.submodules.fifo = fifo = SyncFIFOBuffered(width=geo.out_bits, depth=self.credits)
        m.d.comb += [fifo.w_data.eq(Cat(*results)), fifo.w_en.eq(push)]

        og = Signal(range(geo.co_groups))
        cur = PixelCursor(geo, "out")  # the output pixel: marks tuser and tlast
        col, row = cur.col, cur.row
        fire = self.o.valid & self.o.ready
        m.d.comb += [
            self.o.valid.eq(fifo.r_rdy),
            self.o.p.data.eq(fifo.r_data),
            self.o.p.first.eq((og == 0) & (col == 0) & (row == 0)),
            self.o.p.last.eq((og == geo.co_groups - 1) & (col == cfg.w - 1)),
            fifo.r_en.eq(self.o.ready),
            self.sent.eq(fire),
        ]
        with m.If(fire):
            m.d.sync += og.eq(wrap_inc(og, geo.co_groups - 1))
            with m.If(og == geo.co_groups - 1):
                cur.step(m)
        return m
