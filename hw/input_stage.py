"""Input stage: takes the pixel stream, checks its framing, writes the x ring, feeds projection.

Beats are SIMD channels of one pixel, pixels in raster order; ``first`` (tuser) marks the first
beat of a frame and ``last`` (tlast) the last beat of each row.  A beat whose marks disagree with
the position the stage expects sets the sticky ``error`` bit, and the stage resynchronizes
(docs/architecture.md): a frame that ends early (tuser before its last pixel) is completed with
zero pixels, beats of a frame that runs long are dropped until the next tuser.  Either way the
engine emits exactly one frame of results per frame it counted, and the next well-formed frame
comes out exact.  The ring
slot of pixel n is n mod depth; a pixel is only started when the MAC array (``consumed``) is past
the pixels the ring holds for it.  That condition is registered (the compare is not in one cycle
with the ring's write enable), so a pixel waiting for space starts a cycle after it frees
(``REGISTERED_START_WAIT``).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import Geometry, ceil_log2
from .ports import write_port
from .streams import beat_stream, chunk_stream
from .util import PixelCursor, register, wrap_inc


#: cycles from a chunk's handshake to its word in the x ring (the write is registered): a unit
#: that reads the ring right after counting a pixel counts it this much later
RING_WRITE_DELAY = 1


class InputStage(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        super().__init__({
            "i": In(beat_stream(geo.in_bits)),
            "chunk": Out(chunk_stream(geo.in_bits, geo.chunk_index_bits)),
            "consumed": In(geo.count_bits),  # pixels the MAC array is done with
            "enable": In(1),         # parameters are loaded
            "pixel": Out(geo.count_bits),  # index of the pixel being received
            "x": write_port(ceil_log2(geo.x_words), geo.in_bits),  # the x ring
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg = self.geo, self.geo.cfg
        ci = Signal(range(geo.ci_chunks))
        cur = PixelCursor(geo, "in")
        row, col = cur.row, cur.col
        fill = Signal()  # completing a frame that ended early with zero pixels
        # at the frame's first chunk: a register moved on with the cursor (the compare of row
        # and column with 0 is not in one cycle with the handshake that steps them: the placed
        # critical path of a C = 64 sweep point, `inp.in_col -> inp.in_col`)
        at_frame_start = Signal(name="in_at_start", init=1)
        frame_end = (row == cfg.h - 1) & (col == cfg.w - 1) & (ci == geo.ci_chunks - 1)
        taken = Signal(name="in_taken")  # a chunk goes on (and into the ring) this cycle
        go = self.enable & ((ci != 0) | self._space(m, cur, ci, taken))
        # a beat without tuser where a frame must start is left over from a frame that ran
        # long: drop it; a beat with tuser inside a frame starts the next one early: hold it and
        # complete the current frame with zeros, so the beat counts downstream stay right
        stray = self.enable & ~fill & at_frame_start & ~self.i.p.first
        early = ~fill & ~at_frame_start & self.i.p.first
        take = ~fill & ~stray & ~early
        m.d.comb += [
            self.chunk.valid.eq(go & (fill | (self.i.valid & take))),
            self.i.ready.eq(stray | (take & self.chunk.ready & go)),
            self.chunk.p.data.eq(Mux(fill, 0, self.i.p.data)),
            self.chunk.p.index.eq(ci),
            self.chunk.p.end.eq(ci == geo.ci_chunks - 1),
            taken.eq(self.chunk.valid & self.chunk.ready),
            self.pixel.eq(cur.pixel),
        ]
        # the ring's write is registered (RING_WRITE_DELAY): the handshake's logic and the
        # write enable's fan-out to the ring's LUT RAMs are not in one cycle
        write = register(m, {"valid": taken, "data": self.chunk.p.data,
                             "addr": Cat(ci[:geo.chunk_bits], cur.pixel[:geo.addr_bits])}, "ring")
        m.d.comb += [self.x.en.eq(write["valid"]), self.x.data.eq(write["data"]),
                     self.x.addr.eq(write["addr"])]
        with m.If(self.i.valid & (stray | early)):
            m.d.sync += self.error.eq(1)
        with m.If(early & self.i.valid):
            m.d.sync += fill.eq(1)
        with m.If(self.i.valid & self.i.ready & take):
            expect_last = (col == cfg.w - 1) & (ci == geo.ci_chunks - 1)
            with m.If(self.i.p.last != expect_last):  # rows are counted, tlast only checked
                m.d.sync += self.error.eq(1)
        with m.If(taken):
            m.d.sync += at_frame_start.eq(frame_end)
            with m.If(frame_end):
                m.d.sync += fill.eq(0)
            m.d.sync += ci.eq(wrap_inc(ci, geo.ci_chunks - 1))
            with m.If(ci == geo.ci_chunks - 1):
                cur.step(m)
        return m

    def _space(self, m, cur, ci, taken):
        """Registered: may the cursor's pixel overwrite its ring slot (the MAC array is past
        the ``depth - hold`` pixels before it)?  In a pixel's last chunk the register takes the
        next pixel's answer, which is the one needed when that chunk is taken (with one chunk a
        pixel, whenever the ring is written)."""
        geo = self.geo

        def free(ahead: int):  # for the pixel ``ahead`` after the cursor's
            return cur.ahead_of(self.consumed) < geo.depth - geo.hold - ahead

        space = Signal(name="in_space", init=1)  # pixel 0 after reset: the ring is empty
        moving = taken if geo.ci_chunks == 1 else ci == geo.ci_chunks - 1
        m.d.sync += space.eq(Mux(moving, free(1), free(0)))
        return space
