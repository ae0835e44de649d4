"""Aggregation (S9): z_p = RQ(sum_t a_p(t) x_{p+d_t}, m_z, s_z) over a window of offsets.

The attention forms whose z is a weighted sum over a small window use this unit: one weight a_p(t)
a tap from the pixel's slot of the bank, the same for all SIMD channels of a chunk; a form whose
channels fall into groups (``grouped``) reads, for each chunk, the rows of its group
(z_p[c] = RQ(sum_t h_p[g(c), t] x_{p+d_t}[c], m_z, s_z); a chunk of SIMD channels lies in one
group g, whose taps sit at rows g*T .. g*T + T - 1 of the slot).

For each chunk ci of SIMD channels, T cycles, one offset d_t each: the x ring answers x_{p+d_t}
(zero outside the frame), the bank answers a_p(t), SIMD multipliers accumulate; after the last
tap the SIMD sums are requantized (SIMD / ``z_steps`` requantizers, a chunk's sums come every T
cycles) and written into the z buffer (``SLOTS`` pixels), where the
MAC array reads them as its last tap.  No bubbles between chunks or pixels.  Pixel p starts once
its weights are in the bank and its z slot is free (the MAC array has finished reading pixel
p - SLOTS); with ``start_wait`` (``hw.attention.base.registered_agg_start``) a cycle after, the
condition registered.

    issue (x.addr, a.addr) -> register -> register beside the DSP blocks -> products
    -> accumulate -> requantizer -> z write

``aggregation_members`` and ``requantize_into_z`` are the ports and the tail every aggregation
unit shares (this one and the frame-wide one of a form that attends to the whole frame).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .dsp import in_dsp, multiply
from .geometry import SLOTS, Geometry, ceil_log2
from .kept_register import kept_copies
from .ports import read_port, write_port
from .requant import Requantizer
from .requant_lanes import RequantLanes
from .util import (NEAR_DSP, PixelCursor, delay, lanes, near_dsp, register,
                   next_tap, registered_neighbour, wrap_inc)

#: cycles from the last issue of a pixel to its count: issue, memory register, operands beside
#: the DSP blocks, products, accumulate, requantizer, count
AGG_DONE = 5 + NEAR_DSP + Requantizer.LATENCY


def aggregation_members(geo: Geometry, bank_addr_bits: int, bank_bits: int) -> dict:
    """Ports of an aggregation unit: counts in and out, the x ring and bank reads, the z write."""
    return {
        "logit_count": In(geo.count_bits),  # pixels whose weights are in the bank
        "mac_count": In(geo.count_bits),    # pixels the MAC array has finished reading
        "x": read_port(ceil_log2(geo.x_words), geo.in_bits),
        "a": read_port(bank_addr_bits, bank_bits),
        "z": write_port(ceil_log2(geo.z_words), geo.in_bits),
        "issued": Out(geo.count_bits),      # pixels whose reads are all issued
        "count": Out(geo.count_bits),       # pixels whose z is in the buffer
    }


def z_steps(geo: Geometry, interval: int) -> int:
    """Steps of the z requantizers (``RequantLanes``) when a chunk's SIMD sums come every
    ``interval`` cycles; a unit's done-latency grows by steps - 1 (``agg_done``)."""
    return geo.requant_steps(geo.cfg.simd, interval)


def agg_done(geo: Geometry, interval: int, done: int = None) -> int:
    """Cycles from a pixel's last issue to its z counted: ``done`` (``AGG_DONE`` unless given)
    plus the requantizers' later steps."""
    return (AGG_DONE if done is None else done) + z_steps(geo, interval) - 1


def requantize_into_z(m, unit, tags: dict, sums, width: int, mult, shift, mult_bits: int,
                      shift_bits: int, interval: int) -> None:
    """The shared tail: the chunk's SIMD ``sums`` (``width`` bits, exact) requantized by
    ``mult`` and ``shift`` through ``RequantLanes`` (chunks come every ``interval`` cycles or
    more); ``tags`` ("valid", "ci" and "slot", registered with the sums' last update) are
    delayed alongside; the result is written at {slot, ci} of the z buffer and the pixel
    counted after its last chunk."""
    geo = unit.geo
    m.submodules.rq = rq = RequantLanes(
        lanes=geo.cfg.simd, steps=z_steps(geo, interval), acc_bits=(width,),
        mult_bits=mult_bits, shared_mult=True, shift_bits=shift_bits,
        out_bits=geo.cfg.fmt.data_bits)
    m.d.comb += [rq.valid.eq(tags["valid"]), rq.acc0.eq(Cat(*(acc[:width] for acc in sums))),
                 rq.mult0.eq(mult), rq.shift.eq(shift)]
    valid, out = delay(m, tags["valid"], {"ci": tags["ci"], "slot": tags["slot"]},
                       rq.latency, "rq")
    m.d.comb += [unit.z.en.eq(valid), unit.z.data.eq(rq.result),
                 unit.z.addr.eq(Cat(out["ci"][:geo.chunk_bits], out["slot"]))]
    with m.If(valid & (out["ci"] == geo.ci_chunks - 1)):
        m.d.sync += unit.count.eq(unit.count + 1)


class WindowAggregation(wiring.Component):
    def __init__(self, geo: Geometry, offsets, bank_row_bits: int, grouped: bool = False,
                 start_wait: int = 0):
        self.geo, self.offsets, self.grouped = geo, tuple(offsets), grouped
        self.start_wait = start_wait
        self.bank_row_bits = bank_row_bits
        f = geo.cfg.fmt
        super().__init__({
            **aggregation_members(geo, bank_row_bits + ceil_log2(SLOTS), f.data_bits),
            "m_z": In(f.mult_bits), "s_z": In(f.shift_bits),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        db, simd, last_t = f.data_bits, cfg.simd, len(self.offsets) - 1
        cur = PixelCursor(geo, "agg")
        t = Signal(range(len(self.offsets)))
        ci = Signal(range(geo.ci_chunks))
        bank = cur.pixel[:ceil_log2(SLOTS)]
        chunk_end = Signal()
        row = self._group_row(m, ci, chunk_end) + t if self.grouped else t
        if self.start_wait:
            pixel_done = Signal(name="agg_pixel_done")  # the pixel's last issue
            start = self._registered_start(m, cur, pixel_done)
        else:
            start = ((cur.behind(self.logit_count) != 0)
                     & (cur.ahead_of(self.mac_count) < geo.z_slots))
        issue = Mux((t == 0) & (ci == 0), start, 1)
        last_issue = issue & (t == last_t) & (ci == geo.ci_chunks - 1)
        if self.start_wait:
            m.d.comb += pixel_done.eq(last_issue)
        else:
            pixel_done = last_issue
        m.d.comb += chunk_end.eq(issue & (t == last_t))
        with m.If(issue):
            m.d.sync += t.eq(wrap_inc(t, last_t))
            with m.If(t == last_t):
                m.d.sync += ci.eq(wrap_inc(ci, geo.ci_chunks - 1))
        with m.If(pixel_done):
            cur.step(m)
        slot, inside = registered_neighbour(m, cur, self.offsets, issue, pixel_done,
                                            next_tap(m, issue, t, None, last_t + 1, 1, "agg"),
                                            name="agg")
        m.d.comb += [self.issued.eq(cur.pixel), self.x.addr.eq(Cat(ci[:geo.chunk_bits], slot)),
                     self.a.addr.eq(Cat(row[:self.bank_row_bits], bank))]

        zslot = bank if geo.z_slots == SLOTS else cur.pixel[:geo.z_slot_bits]
        s0 = register(m, {"valid": issue, "t": t, "ci": ci, "inside": inside, "bank": bank,
                          **({} if zslot is bank else {"zslot": zslot})}, "s0")
        s1 = register(m, {**s0, "x": self.x.data}, "s1")  # memory outputs
        # the weight's memory register, one copy a multiplier (kept modules, which Yosys
        # cannot merge back): each sits beside its own DSP block instead of one register
        # fanning out to SIMD blocks across the DSP row
        weights = [copy.as_signed()
                   for copy in kept_copies(m, self.a.data, [f"a{s}" for s in range(simd)],
                                            reset_less=True)]
        tags = {k: v for k, v in s1.items() if k != "x"}
        inside = tags["inside"]  # before ``near_dsp``: the ECP5 form's zero (``hw.dsp``)
        pairs, tags, _ = near_dsp(m, list(zip(weights, lanes(s1["x"], simd, db))), tags, None,
                                  "agg", platform)
        inside = inside if in_dsp(platform) else tags["inside"]
        prods = [Signal(signed(2 * db), name=f"ax{s}") for s in range(simd)]
        for s, (p, (a, xv)) in enumerate(zip(prods, pairs)):
            multiply(m, platform, p, a, xv, f"mul{s}", zero_unless=inside)
        s2 = register(m, tags, "s2")
        z_acc = [Signal(signed(f.acc_bits), name=f"zacc{s}", reset_less=True) for s in range(simd)]
        with m.If(s2["valid"]):
            m.d.sync += [za.eq(p + Mux(s2["t"] == 0, 0, za)) for za, p in zip(z_acc, prods)]
        s3 = register(m, {"valid": s2["valid"] & (s2["t"] == last_t), "ci": s2["ci"],
                          "slot": s2.get("zslot", s2["bank"])}, "s3")
        requantize_into_z(m, self, s3, z_acc, cfg.accumulators.aggregation, self.m_z,
                          self.s_z, f.mult_bits, f.shift_bits, interval=len(self.offsets))
        return m

    def _registered_start(self, m, cur, pixel_done):
        """Whether the cursor's pixel may start (its weights are in the bank: the logit count
        is past it; its z slot is free: the MAC array is less than z_slots behind), as a
        register: in a pixel's last issue it takes the next pixel's condition (as
        ``util.row_sequencer``); the counts only grow, so a condition that held still holds."""
        def may_start(ahead: int):
            return ((cur.behind(self.logit_count) > ahead)
                    & (cur.ahead_of(self.mac_count) < self.geo.z_slots - ahead))
        ready = Signal(name="agg_start_ready")
        m.d.sync += ready.eq(Mux(pixel_done, may_start(1), may_start(0)))
        return ready

    def _group_row(self, m, ci, chunk_end):
        """g(ci) * T, the first bank row of the chunk's group, as a register that steps by T
        every chunks_per_group chunks (no multiplier in the address path)."""
        geo, taps = self.geo, len(self.offsets)
        per_group = max(1, geo.cfg.group_channels // geo.cfg.simd)
        base = Signal(range(geo.cfg.groups * taps), name="group_base")
        in_group = Signal(range(per_group), name="chunk_in_group")
        with m.If(chunk_end):
            with m.If(ci == geo.ci_chunks - 1):
                m.d.sync += [base.eq(0), in_group.eq(0)]
            with m.Elif(in_group == per_group - 1):
                m.d.sync += [base.eq(base + taps), in_group.eq(0)]
            with m.Else():
                m.d.sync += in_group.eq(in_group + 1)
        return base
