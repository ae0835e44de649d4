"""Full SA's softmax unit (S4): logits of a query against every pixel, their max,
the sum of exponentials and its reciprocal (golden/fixed_forms.py, steps 2-3).

A query pixel p starts once its whole frame is projected (every k_j is in the q/k ring) and a
logit-bank slot is free (the aggregation unit has issued pixel p - SA_SLOTS).  Then:

1. pass 1, N cycles: k_j for j = 0..N-1 of p's frame, D multipliers and an adder tree,
   t_pj = RQ(<q_p, k_j>, m_t, s_t) (``logit_bits``) into the bank, and the running max;
2. ``DRAIN_1`` cycles until the last logit is written;
3. pass 2, N cycles: e_pj = exp2_table(max - t_pj) from the bank, summed into S_p;
4. ``DRAIN_2`` cycles, then the reciprocal R_p = floor(2^31 / S_p), ``Reciprocal.LATENCY``
   cycles;
5. max and R_p of the slot are held for the aggregation unit, the pixel is counted.

So a pixel takes 2N + ``span_extra`` cycles; the aggregation unit recomputes e_pj from the bank
and the slot's max as it sums e_pj x_j (recomputing is a 16-word table, cheaper than storing e).
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import EXP_FRAC_BITS, EXP_STEPS, sa_logit_bits
from golden.fixed_forms import DELTA_MAX, EXP_TABLE

from ..geometry import Geometry, ceil_log2
from ..ports import read_port, write_port
from .sa_reciprocal import RECIP_BITS, Reciprocal
from ..requant import Requantizer
from ..util import NEAR_DSP, PixelCursor, dot_requantize, dot_sum_cycles, lanes, register
from .qk import qk_members

EXP_BITS = EXP_FRAC_BITS + 1               # e in 0..2^15, unsigned
#: Query pixels the logit bank holds (the softmax unit may run this far ahead of the
#: aggregation unit).
SA_SLOTS = 2

#: cycles from pass 1's last issue to pass 2's first: operands beside the DSP blocks, products,
#: dot product (of D <= ``DOT_ONE_CYCLE_TERMS`` products; ``drain_1``), requantizer, write
DRAIN_1 = 4 + NEAR_DSP + Requantizer.LATENCY
#: cycles from pass 2's last issue to the reciprocal's start: bank read, register, delta, e, sum
DRAIN_2 = 4


def drain_1(cfg) -> int:
    """``DRAIN_1`` with the dot product's sum over D products (``dot_sum_cycles``)."""
    return DRAIN_1 + dot_sum_cycles(cfg.d) - 1


def span_extra(cfg) -> int:
    """A pixel's cycles beyond its 2N issue cycles: start, the two drains, the reciprocal's
    start and latency."""
    return 1 + drain_1(cfg) + DRAIN_2 + 1 + Reciprocal.LATENCY


#: width of a clamped max-subtracted logit difference
DELTA_BITS = ceil_log2(DELTA_MAX + 1)


def clamped_delta(top, t):
    """min(top - t, DELTA_MAX) for a logit t <= top: the table's index range."""
    delta = (top - t).as_unsigned()
    return Mux(delta > DELTA_MAX, DELTA_MAX, delta)[:DELTA_BITS]


def exp2_of(d):
    """e = 2^(-d/16) in Q0.15 by table and shift (golden.fixed_forms.exp2_table), d clamped.
    A stage of its own: after a registered ``clamped_delta`` (the subtract, the table and the
    shifter in one cycle set the SA engine's clock)."""
    steps = ceil_log2(EXP_STEPS)
    table = Array(Const(v, unsigned(EXP_BITS)) for v in EXP_TABLE)
    return table[d[:steps]] >> d[steps:]


def key_bits(cfg) -> int:
    """Bits of a key index j within a frame."""
    return max(1, ceil_log2(cfg.n_pixels))


def bank_addr_bits(cfg) -> int:
    """The logit bank: SA_SLOTS query pixels of 2^key_bits logits."""
    return key_bits(cfg) + ceil_log2(SA_SLOTS)


def sum_bits(cfg) -> int:
    """Width of S_p = sum_j e_pj <= N * 2^15."""
    return EXP_FRAC_BITS + 1 + key_bits(cfg)


class SoftmaxUnit(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        cfg, f = geo.cfg, geo.cfg.fmt
        lb, bank_addr = sa_logit_bits(cfg), bank_addr_bits(cfg)
        super().__init__({
            **qk_members(geo),
            "m_t": In(f.mult_bits), "s_t": In(f.shift_bits),
            "bank_w": write_port(bank_addr, lb),   # logit bank write
            "bank_r": read_port(bank_addr, lb),    # logit bank read
            "maxes": Out(SA_SLOTS * lb),        # per bank slot: max_j t_pj
            "recips": Out(SA_SLOTS * RECIP_BITS),  # per bank slot: R_p
            "count": Out(geo.count_bits),      # pixels whose max and R_p are held
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        n, db, lb, kb = cfg.n_pixels, f.data_bits, sa_logit_bits(cfg), key_bits(cfg)
        cur = PixelCursor(geo, "smax")
        j = Signal(range(n))
        wait = Signal(range(drain_1(cfg) + 1))
        slot = cur.pixel[:ceil_log2(SA_SLOTS)]
        key = (cur.pixel[:geo.addr_bits] - cur.pos + j)[:geo.addr_bits]  # pixel j of the frame
        m.d.comb += [self.q.addr.eq(cur.pixel[:geo.addr_bits]), self.k.addr.eq(key),
                     self.bank_r.addr.eq(Cat(j[:kb], slot))]
        start = (cur.window_ready(m, self.avail, n)
                 & (cur.ahead_of(self.agg_issued) < SA_SLOTS))
        issue1, issue2 = Signal(), Signal()
        m.submodules.recip = recip = Reciprocal(sum_bits(cfg))
        total = Signal(sum_bits(cfg), reset_less=True)
        mx = Signal(signed(lb))
        maxes = [Signal(signed(lb), name=f"max{s}") for s in range(SA_SLOTS)]
        recips = [Signal(RECIP_BITS, name=f"recip{s}") for s in range(SA_SLOTS)]
        m.d.comb += [self.maxes.eq(Cat(*maxes)), self.recips.eq(Cat(*recips)),
                     recip.denom.eq(total)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += j.eq(0)
                    m.next = "PASS1"
            # a pass issues j = 0..N-1, one a cycle, then waits for its pipeline to drain
            for state, issue, drain, after in (("PASS1", issue1, drain_1(cfg), "PASS2"),
                                               ("PASS2", issue2, DRAIN_2, "RECIP")):
                with m.State(state):
                    m.d.comb += issue.eq(1)
                    m.d.sync += j.eq(j + 1)
                    with m.If(j == n - 1):
                        m.d.sync += [j.eq(0), wait.eq(drain - 1)]
                        m.next = f"{state}_DRAIN"
                with m.State(f"{state}_DRAIN"):
                    m.d.sync += wait.eq(wait - 1)
                    with m.If(wait == 0):
                        m.next = after
            with m.State("RECIP"):
                m.d.comb += recip.start.eq(1)
                m.next = "NORM"
            with m.State("NORM"):
                with m.If(recip.done):
                    with m.Switch(slot):
                        for s in range(SA_SLOTS):
                            with m.Case(s):
                                m.d.sync += [maxes[s].eq(mx), recips[s].eq(recip.result)]
                    m.d.sync += self.count.eq(self.count + 1)
                    cur.step(m)
                    m.next = "IDLE"

        # pass 1: issue -> memory register -> products -> dot product -> requantizer -> bank
        s0 = register(m, {"valid": issue1, "j": j}, "p1s0")
        s1 = register(m, {**s0, "q": self.q.data, "k": self.k.data}, "p1s1")
        valid, out, result = dot_requantize(
            m, {"valid": s1["valid"], "j": s1["j"]},
            list(zip(lanes(s1["q"], cfg.d, db), lanes(s1["k"], cfg.d, db))),
            cfg.accumulators.logit, lb, f, self.m_t, self.s_t, platform=platform)
        m.d.comb += [self.bank_w.en.eq(valid), self.bank_w.addr.eq(Cat(out["j"][:kb], slot)),
                     self.bank_w.data.eq(result)]
        with m.If(valid):
            m.d.sync += mx.eq(Mux((out["j"] == 0) | (result > mx), result, mx))

        # pass 2: issue -> bank read -> register -> delta -> e -> sum; the max (held through
        # pass 2) travels with the tags, so the subtract reads a register beside it, not the
        # running max beside pass 1's compare (mx -> delta, 3.2 + 7.6 ns, C = 64 full SA 7 x 7)
        r0 = register(m, {"valid": issue2, "first": j == 0, "top": mx}, "p2s0")
        r1 = register(m, {**r0, "t": self.bank_r.data.as_signed()}, "p2s1")
        delta = Signal(DELTA_BITS, reset_less=True)
        m.d.sync += delta.eq(clamped_delta(r1["top"], r1["t"]))
        r2 = register(m, {"valid": r1["valid"], "first": r1["first"]}, "p2s2")
        e = Signal(EXP_BITS, reset_less=True)
        m.d.sync += e.eq(exp2_of(delta))
        r3 = register(m, r2, "p2s3")
        with m.If(r3["valid"]):
            m.d.sync += total.eq(e + Mux(r3["first"], 0, total))
        return m
