"""The requantizer of docs/fixed-point.md: y = SAT((sum_i acc_i * m_i + bias + 2^(s-1)) >> s).

One lane; the engine instantiates as many as it needs.  Eight pipeline stages (``LATENCY``),
each short enough for the ECP5 at 100 MHz and more: registered inputs, registered again beside
the DSP blocks (the operands cross the chip in two steps); partial products, one 18 x 18 DSP
block each (an accumulator wider than 18 bits is split in two); the products from their
partials, and bias plus rounding constant; the sum; the arithmetic right shift in two steps
(by the shift's high bits, then its low bits: three multiplexer levels each); the saturation.
There is no handshake: a caller delays its own tags by ``LATENCY`` cycles; no register here is
reset (the values are data, read only with the caller's valid).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .dsp import DSP_BITS, data_register, in_dsp, multiply
from .kept_register import kept_copies


SPLIT = DSP_BITS - 1  # low bits of a split accumulator, as an unsigned operand


def dsp_blocks(acc_width: int) -> int:
    """DSP blocks a product of an accumulator this wide takes: two when it is split."""
    return 1 if acc_width <= DSP_BITS else 2


class Requantizer(wiring.Component):
    LATENCY = 8

    def __init__(self, *, acc_bits, mult_bits: int, shift_bits: int, out_bits: int,
                 bias_bits: int = 0, sum_bits: int | None = None):
        """``acc_bits``: the width of each term's accumulator (an int for one term, a tuple for
        several): the worst-case width the configuration computes, so that a product fits as
        few DSP blocks as it can."""
        widths = (acc_bits,) if isinstance(acc_bits, int) else tuple(acc_bits)
        self._acc_widths, self._mult_bits, self._out_bits = widths, mult_bits, out_bits
        self._terms, self._bias_bits = len(widths), bias_bits
        self._sum_bits = sum_bits or (max(widths) + mult_bits + 2)
        members = {"shift": In(shift_bits), "result": Out(signed(out_bits))}
        for i, width in enumerate(widths):
            members[f"acc{i}"] = In(signed(width))
            members[f"mult{i}"] = In(unsigned(mult_bits))
        if bias_bits:
            members["bias"] = In(signed(bias_bits))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        hi, lo = (1 << (self._out_bits - 1)) - 1, -(1 << (self._out_bits - 1))
        # stage 1: register the inputs
        shift1 = Signal.like(self.shift, reset_less=True)
        bias1 = Signal(signed(max(self._bias_bits, 1)), reset_less=True)
        m.d.sync += [shift1.eq(self.shift), bias1.eq(self.bias if self._bias_bits else 0)]
        terms = []
        for i, width in enumerate(self._acc_widths):
            acc = Signal(signed(width), name=f"acc{i}_r", reset_less=True)
            mult = Signal(signed(self._mult_bits + 1), name=f"mult{i}_r",  # unsigned -> signed
                          reset_less=True)
            m.d.sync += [acc.eq(getattr(self, f"acc{i}")),
                         mult.eq(Cat(getattr(self, f"mult{i}"), Const(0, 1)).as_signed())]
            # stage 2: again, beside the DSP blocks: the operands cross the chip in two steps
            # (in the ECP5 form this register is the DSP blocks' own, ``hw.dsp``)
            if in_dsp(platform):
                terms.append((acc, [mult] * dsp_blocks(width)))
                continue
            acc_d = Signal.like(acc, name=f"acc{i}_d", reset_less=True)
            m.d.sync += acc_d.eq(acc)
            terms.append((acc_d, self._multiplier_copies(m, i, mult, width)))
        shift1, bias1 = self._delayed(m, shift1, "shift1d"), self._delayed(m, bias1, "bias1d")
        # stage 3: partial products, each one DSP block: an accumulator wider than a DSP
        # operand is split into its low SPLIT bits (unsigned) and the rest (signed)
        partials = []
        for i, (acc, mults) in enumerate(terms):
            pieces = [(acc, 0)] if dsp_blocks(acc.shape().width) == 1 else \
                [(Cat(acc[:SPLIT], Const(0, 1)).as_signed(), 0), (acc[SPLIT:].as_signed(), SPLIT)]
            for k, ((piece, offset), mult) in enumerate(zip(pieces, mults)):
                p = Signal(signed(piece.shape().width + mult.shape().width), name=f"prod{i}_{k}")
                multiply(m, platform, p, piece, mult, f"mul{i}_{k}")
                partials.append((p, offset))
        shift2 = Signal.like(shift1, reset_less=True)
        bias2 = Signal.like(bias1, reset_less=True)
        rounding = Signal(self._sum_bits, reset_less=True)
        m.d.sync += [shift2.eq(shift1), bias2.eq(bias1),
                     rounding.eq((Const(1, 1) << shift1) >> 1)]
        # stage 4: each term's product from its partial products; bias plus rounding
        prods = [Signal(signed(width + self._mult_bits + 1), name=f"prod{i}", reset_less=True)
                 for i, width in enumerate(self._acc_widths)]
        parts = iter(partials)
        for prod, width in zip(prods, self._acc_widths):
            m.d.sync += prod.eq(sum(p << offset for p, offset in
                                    (next(parts) for _ in range(dsp_blocks(width)))))
        offset3 = Signal(signed(self._sum_bits), reset_less=True)
        shift3 = Signal.like(shift1, reset_less=True)
        m.d.sync += [offset3.eq(bias2 + rounding), shift3.eq(shift2)]
        # stage 5: sum
        total = Signal(signed(self._sum_bits), reset_less=True)
        shift4 = Signal.like(shift1, reset_less=True)
        m.d.sync += [total.eq(sum(prods) + offset3), shift4.eq(shift3)]
        # stages 6 and 7: arithmetic right shift (total is signed), by the shift's high bits
        # then by its low bits: (x >> a) >> b = x >> (a + b) for an arithmetic shift
        fine_bits = (len(shift4) + 1) // 2
        coarse = Signal(signed(self._sum_bits), reset_less=True)
        shifted = Signal(signed(self._sum_bits), reset_less=True)
        fine = Signal(fine_bits, reset_less=True)
        m.d.sync += [coarse.eq(total >> Cat(Const(0, fine_bits), shift4[fine_bits:])),
                     fine.eq(shift4[:fine_bits]), shifted.eq(coarse >> fine)]
        # stage 8: saturate
        data_register(m, self.result, Mux(shifted > hi, hi, Mux(shifted < lo, lo, shifted)),
                      "saturated")
        return m

    @staticmethod
    def _multiplier_copies(m, i: int, mult, acc_width: int) -> list:
        """The stage-2 register of term i's multiplier, one copy for each DSP block its
        product takes (two for a split accumulator): each a kept module, which Yosys cannot
        merge back, so the placer puts it beside its own DSP block."""
        names = [f"mult{i}_{k}" for k in range(dsp_blocks(acc_width))]
        return [copy.as_signed() for copy in kept_copies(m, mult, names, reset_less=True)]

    @staticmethod
    def _delayed(m, value, name: str):
        reg = Signal.like(value, name=name, reset_less=True)
        m.d.sync += reg.eq(value)
        return reg
