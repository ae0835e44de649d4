"""Input stage: takes the pixel stream, checks its framing, writes the x ring, feeds projection.

Beats are SIMD channels of one pixel, pixels in raster order; ``first`` (tuser) marks the first
beat of a frame and ``last`` (tlast) the last beat of each row.  A beat whose marks disagree with
the position the stage expects sets the sticky ``error`` bit (docs/architecture.md).  The ring
slot of pixel n is n mod depth; a pixel is only started when ``space`` says the consumers have
finished with the pixel that used that slot before.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import Geometry, ceil_log2
from .streams import beat_stream, chunk_stream
from .util import wrap_inc


class InputStage(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        super().__init__({
            "i": In(beat_stream(geo.in_bits)),
            "chunk": Out(chunk_stream(geo.in_bits, max(1, ceil_log2(geo.ci_chunks)))),
            "space": In(1),          # the ring slot of the next pixel is free
            "enable": In(1),         # parameters are loaded
            "pixel": Out(geo.count_bits),  # index of the pixel being received
            "x_addr": Out(max(1, ceil_log2(geo.x_words))),
            "x_data": Out(geo.in_bits),
            "x_en": Out(1),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg = self.geo, self.geo.cfg
        ci = Signal(range(geo.ci_chunks))
        col = Signal(range(cfg.w))
        row = Signal(range(cfg.h))
        at_pixel_start = ci == 0
        go = self.enable & (~at_pixel_start | self.space)
        m.d.comb += [
            self.chunk.valid.eq(self.i.valid & go),
            self.i.ready.eq(self.chunk.ready & go),
            self.chunk.p.data.eq(self.i.p.data),
            self.chunk.p.index.eq(ci),
            self.chunk.p.end.eq(ci == geo.ci_chunks - 1),
            self.x_data.eq(self.i.p.data),
            self.x_en.eq(self.i.valid & self.i.ready),
            self.x_addr.eq(Cat(ci[:geo.chunk_bits], self.pixel[:geo.addr_bits])),
        ]
        with m.If(self.i.valid & self.i.ready):
            expect_first = (row == 0) & (col == 0) & (ci == 0)
            expect_last = (col == cfg.w - 1) & (ci == geo.ci_chunks - 1)
            with m.If((self.i.p.first != expect_first) | (self.i.p.last != expect_last)):
                m.d.sync += self.error.eq(1)
            with m.If(ci == geo.ci_chunks - 1):
                m.d.sync += [ci.eq(0), self.pixel.eq(self.pixel + 1)]
                with m.If(col == cfg.w - 1):
                    m.d.sync += [col.eq(0), row.eq(wrap_inc(row, cfg.h - 1))]
                with m.Else():
                    m.d.sync += col.eq(col + 1)
            with m.Else():
                m.d.sync += ci.eq(ci + 1)
        return m
