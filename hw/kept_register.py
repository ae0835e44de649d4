"""A register that stays a module of its own in synthesis: one copy of a fanned-out operand for
each group of consumers.

The MAC array's input operand feeds every PE lane's multipliers (PE x SIMD DSP blocks, the sign
bit of each lane onto the upper pins of each).  Copies of the register inside one module are
identical cells, and Yosys's ``opt_merge`` folds them back into one whatever attribute the signal
carries.  A copy that is a module marked ``keep_hierarchy`` (``hw.build`` adds the attribute to
every module whose name starts with ``KEPT_PREFIX``) is not flattened, so it is not merged either:
the placer puts each copy beside its own row of multipliers.
"""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

#: the submodule names that ``hw.build`` marks ``keep_hierarchy`` in the generated Verilog
KEPT_PREFIX = "kept_"


class KeptRegister(wiring.Component):
    """``q`` is ``d`` one cycle later (reset to 0, as the pipeline registers beside it)."""

    def __init__(self, width: int):
        super().__init__({"d": In(width), "q": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.d)
        return m


def kept_copies(m, value, names) -> list:
    """One ``KeptRegister`` of ``value`` for each name (submodule ``KEPT_PREFIX + name``),
    each to sit beside its own consumers; returns the copies' outputs, in the order of
    ``names``."""
    copies = []
    for name in names:
        copy = m.submodules[KEPT_PREFIX + name] = KeptRegister(len(value))
        m.d.comb += copy.d.eq(value)
        copies.append(copy.q)
    return copies
