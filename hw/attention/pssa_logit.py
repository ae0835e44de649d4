"""PSSA's logit unit (S3): a_p(d) = RQ(<q_p, k_{p+d}>, m_a, s_a) for the nine d in Delta_L.

One offset every ``logit_parts`` cycles, without bubbles between pixels: the q ring answers q_p
(its address stays on the pixel), the k ring answers k_{p+d}, D / parts multipliers and an adder
tree form a part of the dot product a cycle and the parts are summed,
and a requantizer writes a(d) into the logit bank (``SLOTS`` pixels of ``BANK_ROW_BITS`` rows),
where the aggregation unit reads it.  A neighbour outside the frame has k = 0, so its logit is 0.
Pixel p starts a cycle after the q/k ring holds every pixel up to p + L*W + L (or the frame's
end) and the bank slot is free (the aggregation unit has issued pixel p - SLOTS): the condition
is registered, so its compares are not in one cycle with the counters they enable.

    issue (q.addr, k.addr) -> register -> products -> dot product -> requantizer -> bank
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import SHIFT_TAPS

from ..geometry import SLOTS, Geometry, ceil_log2
from ..kept_register import kept_copies
from ..ports import write_port
from ..util import (DOT_PARTS_EXTRA, PixelCursor, dot_done, dot_requantize, lanes, register,
                    next_tap, registered_neighbour, row_sequencer, wrap_inc)
from .qk import qk_members

#: bits of a logit's row within its pixel's slot of the bank
BANK_ROW_BITS = ceil_log2(SHIFT_TAPS)
BANK_WORDS = SLOTS << BANK_ROW_BITS
#: the most q and k bits one copy of the part loader's select drives (``LogitUnit._part_words``)
SELECT_BITS = 64


def logit_parts(geo: Geometry) -> int:
    """Cycles a logit takes: its D products in that many parts of D / parts multipliers, the
    most (a divisor of D) that keeps the unit's SHIFT_TAPS x parts cycles a pixel within the
    MAC array's cycles on one pixel of a tile, so the MAC array stays the slowest unit."""
    d = geo.cfg.d
    return max((p for p in range(1, d + 1) if d % p == 0 and SHIFT_TAPS * p <= geo.tile_words),
               default=1)


def logit_done(geo: Geometry) -> int:
    """Cycles from a pixel's start to the count showing it."""
    parts = logit_parts(geo)
    return (SHIFT_TAPS * parts - 1 + dot_done(geo.cfg.d // parts)
            + (DOT_PARTS_EXTRA if parts > 1 else 0))


class LogitUnit(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        f = geo.cfg.fmt
        super().__init__({
            **qk_members(geo),
            "m_a": In(f.mult_bits), "s_a": In(f.shift_bits),
            "bank": write_port(ceil_log2(BANK_WORDS), f.data_bits),
            "count": Out(geo.count_bits),      # pixels whose nine logits are in the bank
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        db = f.data_bits
        cur = PixelCursor(geo, "logit")
        def start(ahead: int):  # pixel + ahead: its window is projected, its bank slot free
            return (cur.window_ready(m, self.avail, cfg.shift * cfg.w + cfg.shift, ahead)
                    & (cur.ahead_of(self.agg_issued) < SLOTS - ahead))

        parts = logit_parts(geo)
        rows = SHIFT_TAPS * parts
        row, issue = row_sequencer(m, cur, rows, start(0), start(1))
        t, j, following_tap = self._tap_and_part(m, issue, parts)
        slot, inside = registered_neighbour(m, cur, cfg.shift_offsets, issue, row == rows - 1,
                                            following_tap, name="logit")
        m.d.comb += [self.q.addr.eq(cur.pixel[:geo.addr_bits]), self.k.addr.eq(slot)]
        s0 = register(m, {"valid": issue, "t": t, "j": j, "inside": inside,
                          "bank": cur.pixel[:ceil_log2(SLOTS)]}, "s0")
        s1 = register(m, {**s0, "q": self.q.data, "k": self.k.data}, "s1")  # memory outputs
        tags = {"valid": s1["valid"], "t": s1["t"], "bank": s1["bank"]}
        q, k, dl = s1["q"], s1["k"], cfg.d // parts
        if parts > 1:  # this cycle's part of q and k, registered
            s1 = {**register(m, {key: v for key, v in s1.items() if key not in ("q", "k")},
                             "s1p"),
                  **self._parts(m, s0["j"] == 0, {"q": q, "k": k}, dl * db)}
            tags = {"valid": s1["valid"], "t": s1["t"], "bank": s1["bank"],
                    "first": s1["j"] == 0, "last": s1["j"] == parts - 1}
            q, k = s1["q"], s1["k"]
        valid, out, result = dot_requantize(
            m, tags, list(zip(lanes(q, dl, db), lanes(k, dl, db))),
            cfg.accumulators.logit, db, f, self.m_a, self.s_a, zero_unless=s1["inside"],
            platform=platform)
        m.d.comb += [self.bank.en.eq(valid), self.bank.data.eq(result),
                     self.bank.addr.eq(Cat(out["t"][:BANK_ROW_BITS], out["bank"]))]
        with m.If(valid & (out["t"] == SHIFT_TAPS - 1)):
            m.d.sync += self.count.eq(self.count + 1)
        return m

    @staticmethod
    def _parts(m, first_part, words: dict, part_bits: int) -> dict:
        """Each of ``words`` (the memory outputs' registers) a cycle later, cut to the part its
        row uses, through a shift register: a row with part j = 0 loads the word, each later
        row of the offset (they follow without a bubble: ``row_sequencer``) shifts it down by
        a part, so the row's part is always the low ``part_bits`` and no parts:1 multiplexer
        sits behind the part counter (stage2 8 x 16's placed critical path:
        ``logit.s1_j -> logit.s1p_k``, 10.3 ns of routing).  ``first_part`` (the row's j = 0,
        a cycle ahead) reaches the words through register copies, one per ``SELECT_BITS``
        bits; no register here is reset (data, as the tags' valid says)."""
        bits = sum(len(v) for v in words.values())
        loads = kept_copies(m, first_part, [f"logit_load{i}" for i in
                                            range(-(-bits // SELECT_BITS))], reset_less=True)
        parts, offset = {}, 0
        for name, value in words.items():
            word = Signal(len(value), name=f"s1p_{name}_word", reset_less=True)
            shifted = word >> part_bits
            for lo in range(0, len(value), SELECT_BITS // 2):
                hi = min(lo + SELECT_BITS // 2, len(value))
                load = loads[(offset + lo) // SELECT_BITS]
                m.d.sync += word[lo:hi].eq(Mux(load, value[lo:hi], shifted[lo:hi]))
            offset += len(value)
            parts[name] = word[:part_bits]
        return parts

    @staticmethod
    def _tap_and_part(m, issue, parts: int):
        """The offset t and the part j of its dot product a cycle issues (t steps on after
        the last part), and the tap of the pixel's next issue (``next_tap``)."""
        t = Signal(range(SHIFT_TAPS), name="logit_tap")
        j = Signal(range(parts), name="logit_part")
        with m.If(issue):
            m.d.sync += j.eq(wrap_inc(j, parts - 1))
            with m.If(j == parts - 1):
                m.d.sync += t.eq(wrap_inc(t, SHIFT_TAPS - 1))
        return t, j, next_tap(m, issue, t, j, SHIFT_TAPS, parts, "logit")
