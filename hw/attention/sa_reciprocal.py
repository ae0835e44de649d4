"""Sequential reciprocal for full SA's normalization: R = floor(2^RECIP_SHIFT / S).

One quotient bit a cycle (restoring division), RECIP_BITS cycles: the softmax unit needs one
reciprocal a query pixel, against 2N cycles of logits, so a divider array would be wasted area.
S >= 2^EXP_FRAC_BITS (the largest exponential is exactly 1.0), so R < 2^RECIP_BITS.

    start (denominator latched) -> RECIP_BITS iterations -> done (one cycle), result held
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import EXP_FRAC_BITS, RECIP_SHIFT

RECIP_BITS = RECIP_SHIFT - EXP_FRAC_BITS + 1  # R = 2^31 // S <= 2^16, unsigned


class Reciprocal(wiring.Component):
    #: cycles from ``start`` to ``done``
    LATENCY = RECIP_BITS + 1

    def __init__(self, denom_bits: int):
        self.denom_bits = denom_bits
        super().__init__({
            "start": In(1),
            "denom": In(denom_bits),
            "done": Out(1),
            "result": Out(RECIP_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        rem = Signal(RECIP_SHIFT + 1)
        divisor = Signal(self.denom_bits + RECIP_BITS)  # S shifted to the current quotient bit
        step = Signal(range(RECIP_BITS + 1))
        m.d.sync += self.done.eq(0)
        with m.If(self.start):
            m.d.sync += [rem.eq(1 << RECIP_SHIFT), divisor.eq(self.denom << (RECIP_BITS - 1)),
                         step.eq(RECIP_BITS), self.result.eq(0)]
        with m.Elif(step != 0):
            fits = rem >= divisor
            m.d.sync += [self.result.eq((self.result << 1) | fits), divisor.eq(divisor >> 1),
                         step.eq(step - 1), self.done.eq(step == 1)]
            with m.If(fits):
                m.d.sync += rem.eq(rem - divisor)
        return m
