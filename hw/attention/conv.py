"""The plain K x K convolution + BN that X-volution replaces: no attention branch (its
re-parameterized form is a static convolution, y = RQ(sum_d W'_d x_{p+d})).  The baseline form.

Its attention component only takes the input chunks (one a cycle: the input stage writes them
into the x ring) and counts the pixels; it writes no z, and the MAC array, whose taps are the
K^2 window alone (``XvConfig.taps``), never waits for one.
"""
from __future__ import annotations

from amaranth.hdl import Module

from ..input_stage import RING_WRITE_DELAY
from ..util import delay
from .base import AttentionComponent, AttentionTiming, EngineForm

#: cycles from the last chunk of a pixel to its count: the ring's write, the count register
COUNT_DONE = RING_WRITE_DELAY + 1


class ConvAttention(AttentionComponent):
    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.chunk.ready.eq(1), self.z.en.eq(0), self.z_count.eq(self.projected)]
        # the pixel counts once its last word is in the ring, where the MAC array reads it
        written, _ = delay(m, self.chunk.valid & self.chunk.p.end, {}, RING_WRITE_DELAY, "written")
        with m.If(written):
            m.d.sync += self.projected.eq(self.projected + 1)
        return m


class ConvForm(EngineForm):
    name = "conv"

    def timing(self, geo):
        return AttentionTiming(proj_span=geo.ci_chunks, proj_done=COUNT_DONE, chunk_cycles=1)

    def component(self, geo, poisoned=False):
        return ConvAttention(geo, poisoned)


FORM = ConvForm()
