"""A word of requantizer lanes through fewer requantizers: ``lanes / steps`` of them, one step of
lanes a cycle, ``steps`` cycles a word.

A unit whose results arrive as a word of many lanes but seldom (the output stage: PE results once
an output group, every taps x input-chunks cycles; an aggregation unit: SIMD sums once a chunk,
every window-taps cycles) would leave one requantizer a lane idle nearly all the time, each of
them one or two DSP blocks a term.  ``Geometry.requant_steps`` chooses ``steps``, the largest
divisor of the lane count that the word's interval allows, so the unit keeps up and the MAC array
stays the slowest unit.

At ``valid`` the first step's lanes go to the requantizers straight from the inputs and the rest
of the word is latched; each later cycle the latched word shifts down by one step's lanes.  The
results are collected the same way, and the whole word comes out with ``out_valid``
``latency`` = ``Requantizer.LATENCY + steps - 1`` cycles after ``valid``.  The caller keeps its
words at least ``steps`` cycles apart (a word arriving while the previous one is stepping would
corrupt it).  With ``steps`` = 1 this is ``lanes`` requantizers side by side.

Every latched bit is a two-way multiplexer that ``valid`` selects: where the latch is wide (the
output stage at stage2, 15 latched lanes of 131 bits, placed: 12.3 ns of routing from ``valid``
to the farthest of them) the caller asks for ``split_load`` and hands in ``load``,
``load_copies`` copies of ``valid`` (kept registers, ``hw.kept_register``), each selecting the
lanes of its own part of the latch.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .requant import Requantizer
from .util import delay, lanes as split_lanes

#: the most latch bits one register selects before the latch's select is split over copies
LOAD_FANOUT = 256


class RequantLanes(wiring.Component):
    def __init__(self, *, lanes: int, steps: int, acc_bits: tuple, mult_bits: int,
                 shared_mult: bool, shift_bits: int, out_bits: int, bias_bits: int = 0,
                 sum_bits: int | None = None, split_load: bool = False):
        """``acc_bits``: the width of each term's accumulator; ``shared_mult``: one multiplier
        a term for every lane (else one a lane); ``bias_bits`` 0: no bias; ``split_load``: the
        caller can hand in copies of ``valid`` (``load_copies``, the ``load`` port)."""
        if lanes % steps:
            raise ValueError(f"steps ({steps}) must divide lanes ({lanes})")
        self.lanes, self.steps, self.per_step = lanes, steps, lanes // steps
        self.acc_bits, self.mult_bits, self.shared_mult = tuple(acc_bits), mult_bits, shared_mult
        self.out_bits, self.bias_bits = out_bits, bias_bits
        self.shift_bits, self.sum_bits, self.split_load = shift_bits, sum_bits, split_load
        members = {"valid": In(1), "shift": In(shift_bits),
                   "out_valid": Out(1), "result": Out(lanes * out_bits)}
        for i, width in enumerate(self.acc_bits):
            members[f"acc{i}"] = In(lanes * width)
            members[f"mult{i}"] = In(mult_bits if shared_mult else lanes * mult_bits)
        if bias_bits:
            members["bias"] = In(lanes * bias_bits)
        if self.load_copies > 1:
            members["load"] = In(self.load_copies)  # each bit a copy of ``valid``
        super().__init__(members)

    @property
    def held_lanes(self) -> int:
        """Lanes the latch holds: all but the first step's."""
        return self.lanes - self.per_step

    @property
    def load_copies(self) -> int:
        """Copies of ``valid`` the latch's select takes (the ``load`` port where more than one):
        with ``split_load``, one for each latched lane where the latch is wider than
        ``LOAD_FANOUT`` bits."""
        lane_bits = sum(self.acc_bits) + self.bias_bits \
            + (0 if self.shared_mult else self.mult_bits * len(self.acc_bits))
        wide = self.split_load and self.steps > 1 and self.held_lanes * lane_bits > LOAD_FANOUT
        return self.held_lanes if wide else 1

    @property
    def latency(self) -> int:
        return Requantizer.LATENCY + self.steps - 1

    def elaborate(self, platform):
        m = Module()
        per, steps = self.per_step, self.steps
        busy = Signal()  # stepping through a word's later lanes
        step = Signal(range(steps))
        if steps > 1:
            with m.If(self.valid):
                m.d.sync += [busy.eq(1), step.eq(1)]
            with m.Elif(busy):
                m.d.sync += step.eq(step + 1)
                with m.If(step == steps - 1):
                    m.d.sync += [busy.eq(0), step.eq(0)]

        def current(word, lane_bits: int, shared: bool = False):
            """The lanes of this cycle's step: from the input at ``valid``, else latched (a
            ``shared`` value, one for all lanes, is held through the word)."""
            if steps == 1:
                return word
            held = Signal(len(word) if shared else len(word) - per * lane_bits,
                          name=f"held_{word.name}", reset_less=True)  # data, as ``busy`` says
            if shared:
                with m.If(self.valid):
                    m.d.sync += held.eq(word)
                return Mux(busy, held, word)
            # the latch loads at valid and shifts otherwise (harmless between words), so
            # ``busy`` selects only one step's lanes, not the whole word
            step_bits = per * lane_bits
            if self.load_copies == 1:
                m.d.sync += held.eq(Mux(self.valid, word[step_bits:], held[step_bits:]))
            else:  # lane j of the latch selected by its own copy of valid
                m.d.sync += held.eq(Cat(*(
                    Mux(self.load[j], word[step_bits:][j * lane_bits:(j + 1) * lane_bits],
                        held[step_bits:][j * lane_bits:(j + 1) * lane_bits])
                    for j in range(self.held_lanes))))
            return Mux(busy, held[:step_bits], word[:step_bits])

        rqs = []
        for r in range(per):
            rq = Requantizer(acc_bits=self.acc_bits, mult_bits=self.mult_bits,
                             shift_bits=self.shift_bits, out_bits=self.out_bits,
                             bias_bits=self.bias_bits, sum_bits=self.sum_bits)
            m.submodules[f"rq{r}"] = rq
            rqs.append(rq)
        for i, width in enumerate(self.acc_bits):
            accs = split_lanes(current(getattr(self, f"acc{i}"), width), per, width)
            mult = getattr(self, f"mult{i}")
            mults = [current(mult, self.mult_bits, shared=True)] * per if self.shared_mult \
                else split_lanes(current(mult, self.mult_bits), per, self.mult_bits, False)
            for rq, acc, mu in zip(rqs, accs, mults):
                m.d.comb += [getattr(rq, f"acc{i}").eq(acc), getattr(rq, f"mult{i}").eq(mu)]
        if self.bias_bits:
            biases = split_lanes(current(self.bias, self.bias_bits), per, self.bias_bits)
            m.d.comb += [rq.bias.eq(b) for rq, b in zip(rqs, biases)]
        shift = current(self.shift, self.shift_bits, shared=True)
        m.d.comb += [rq.shift.eq(shift) for rq in rqs]

        # the word's last step leaves the requantizers LATENCY cycles after it entered them
        fire = self.valid | busy
        last = self.valid if steps == 1 else busy & (step == steps - 1)
        out_fire, out = delay(m, fire, {"last": last}, Requantizer.LATENCY, "rq")
        results = Cat(*(rq.result for rq in rqs))
        if steps == 1:
            m.d.comb += [self.out_valid.eq(out_fire), self.result.eq(results)]
            return m
        # earlier steps, oldest lowest (data: ``out_valid`` says when)
        collected = Signal((steps - 1) * per * self.out_bits, reset_less=True)
        with m.If(out_fire):
            m.d.sync += collected.eq(Cat(collected, results)[per * self.out_bits:])
        m.d.comb += [self.out_valid.eq(out_fire & out["last"]),
                     self.result.eq(Cat(collected, results))]
        return m
