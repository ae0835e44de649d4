"""A register that stays a module of its own in synthesis: one copy of a fanned-out operand for
each group of consumers.

The MAC array's input operand feeds every PE lane's multipliers (PE x SIMD DSP blocks, the sign
bit of each lane onto the upper pins of each).  Copies of the register inside one module are
identical cells, and Yosys's ``opt_merge`` folds them back into one whatever attribute the signal
carries.  A copy that is a module marked ``keep_hierarchy`` (``hw.build`` adds the attribute to
every module whose name starts with ``KEPT_PREFIX``) is not flattened, so it is not merged either:
the placer puts each copy beside its own row of multipliers.

Where the consumers spread over the whole DSP area (stage2's 16 PE lanes), one register driving
every lane's copy is itself a route across the chip (placed: 11.5 ns of routing from the operand
register to the farthest copy).  ``kept_tree`` puts levels of copies between them, none driving
more than ``FANOUT`` copies of the next level, so each route spans a part of the distance.
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

#: the submodule names that ``hw.build`` marks ``keep_hierarchy`` in the generated Verilog
KEPT_PREFIX = "kept_"


class KeptRegister(wiring.Component):
    """``q`` is ``d`` one cycle later: reset to 0, or, with ``reset_less`` (a copy of data that
    is read only with its valid), not reset at all."""

    def __init__(self, width: int, reset_less: bool = False):
        self._reset_less = reset_less
        super().__init__({"d": In(width), "q": Out(width)})

    def elaborate(self, platform):
        m = Module()
        reg = Signal(len(self.d), name="r", reset_less=self._reset_less)
        m.d.sync += reg.eq(self.d)
        m.d.comb += self.q.eq(reg)
        return m


#: the most copies of the next level one register of a ``kept_tree`` drives
FANOUT = 4


def tree_levels(leaves: int) -> int:
    """Register levels of a ``kept_tree`` with this many leaves: one (the leaves themselves)
    up to ``FANOUT`` leaves, one more for each further factor of ``FANOUT``."""
    levels, reach = 1, FANOUT
    while reach < leaves:
        levels, reach = levels + 1, reach * FANOUT
    return levels


def tree_copies(leaves: int) -> int:
    """Copies a ``kept_tree`` with this many leaves makes, its intermediate levels counted."""
    levels = tree_levels(leaves)
    return sum(-(-leaves // FANOUT ** level) for level in range(levels))


def kept_copies(m, value, names, reset_less: bool = False) -> list:
    """One ``KeptRegister`` of ``value`` for each name (submodule ``KEPT_PREFIX + name``),
    each to sit beside its own consumers; returns the copies' outputs, in the order of
    ``names``.  ``reset_less``: ``value`` is data (``KeptRegister``)."""
    copies = []
    for name in names:
        copy = m.submodules[KEPT_PREFIX + name] = KeptRegister(len(value), reset_less)
        m.d.comb += copy.d.eq(value)
        copies.append(copy.q)
    return copies


def kept_tree(m, value, name: str, leaves: int, reset_less: bool = False) -> list:
    """``leaves`` copies of ``value`` (submodules ``KEPT_PREFIX + name + "{i}"``), through
    ``tree_levels(leaves) - 1`` levels of intermediate copies (``... name + "_l{level}_{i}"``):
    leaf i hangs from copy i // FANOUT of the level above, and so on up to ``value``.  Every
    leaf is ``tree_levels(leaves)`` cycles after ``value``; returns the leaves in order."""
    levels = tree_levels(leaves)
    sources = [value]
    for level in range(1, levels):
        count = -(-leaves // FANOUT ** (levels - level))
        sources = [kept_copies(m, sources[i // FANOUT], [f"{name}_l{level}_{i}"],
                               reset_less)[0] for i in range(count)]
    return [kept_copies(m, sources[i // FANOUT], [f"{name}{i}"], reset_less)[0]
            for i in range(leaves)]
