"""The requantizer of docs/fixed-point.md: y = SAT((sum_i acc_i * m_i + bias + 2^(s-1)) >> s).

One lane; the engine instantiates as many as it needs.  Two pipeline stages (``LATENCY``):
the products are registered (a DSP multiplier each), then the sum, rounding constant,
arithmetic right shift and saturation.  There is no handshake: a caller delays its own tags
by ``LATENCY`` cycles.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class Requantizer(wiring.Component):
    LATENCY = 2

    def __init__(self, *, acc_bits: int, mult_bits: int, shift_bits: int, out_bits: int,
                 terms: int = 1, bias_bits: int = 0, sum_bits: int | None = None):
        self._acc_bits, self._mult_bits, self._out_bits = acc_bits, mult_bits, out_bits
        self._terms, self._bias_bits = terms, bias_bits
        self._sum_bits = sum_bits or (acc_bits + mult_bits + 2)
        members = {"shift": In(shift_bits), "result": Out(signed(out_bits))}
        for i in range(terms):
            members[f"acc{i}"] = In(signed(acc_bits))
            members[f"mult{i}"] = In(unsigned(mult_bits))
        if bias_bits:
            members["bias"] = In(signed(bias_bits))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        prods = []
        for i in range(self._terms):
            prod = Signal(signed(self._acc_bits + self._mult_bits + 1), name=f"prod{i}")
            mult = Cat(getattr(self, f"mult{i}"), Const(0, 1)).as_signed()  # unsigned -> signed
            m.d.sync += prod.eq(getattr(self, f"acc{i}") * mult)
            prods.append(prod)
        shift = Signal.like(self.shift)
        bias = Signal(signed(max(self._bias_bits, 1)))
        m.d.sync += [shift.eq(self.shift), bias.eq(self.bias if self._bias_bits else 0)]

        total = Signal(signed(self._sum_bits))
        rounding = (Const(1, 1) << shift) >> 1  # 2^(s-1) for s >= 1
        m.d.comb += total.eq(sum(prods) + bias + rounding)
        shifted = Signal(signed(self._sum_bits))
        m.d.comb += shifted.eq(total >> shift)  # arithmetic: total is signed
        hi, lo = (1 << (self._out_bits - 1)) - 1, -(1 << (self._out_bits - 1))
        m.d.sync += self.result.eq(Mux(shifted > hi, hi, Mux(shifted < lo, lo, shifted)))
        return m
