"""The attention side of S9 for one pixel at a time: logits a_p(d) (S3) and the aggregate z_p.

For pixel p, once the q/k ring holds every pixel up to p + L*W + L (or the end of the frame):

1. logit unit: a(d) = RQ(<q_p, k_{p+d}>, m_a, s_a) for the nine d in Delta_L, one d a cycle
   through D multipliers and an adder tree; a neighbour outside the frame has k = 0, so a = 0;
2. aggregation: for each chunk of SIMD channels, z = RQ(sum_d a(d) x_{p+d}, m_z, s_z), one d a
   cycle through SIMD multipliers, written into the z double buffer (slot p mod 2).

It runs at most one pixel ahead of the MAC array (the z double buffer), which reads z_p while
this unit computes z_{p+1}.
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import Geometry, ceil_log2
from .requant import Requantizer
from .util import delay, lanes, neighbour, offset_table, window_ready, wrap_inc


class Attention(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        cfg, f = geo.cfg, geo.cfg.fmt
        super().__init__({
            "avail": In(geo.count_bits),      # pixels projected
            "mac_count": In(geo.count_bits),  # pixels the MAC array has finished reading
            "qk_addr": Out(geo.addr_bits),
            "qk_data": In(2 * cfg.d * f.data_bits),
            "x_addr": Out(max(1, ceil_log2(geo.depth * geo.ci_chunks))),
            "x_data": In(geo.in_bits),
            "m_a": In(f.mult_bits), "s_a": In(f.shift_bits),
            "m_z": In(f.mult_bits), "s_z": In(f.shift_bits),
            "z_addr": Out(max(1, ceil_log2(2 * geo.ci_chunks))),
            "z_data": Out(geo.in_bits),
            "z_en": Out(1),
            "count": Out(geo.count_bits),     # pixels whose z is in the double buffer
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        db, dd = f.data_bits, cfg.d
        offsets = cfg.shift_offsets
        di_rom, dj_rom, dist_rom = offset_table(offsets, cfg.w)
        row, col = Signal(range(cfg.h)), Signal(range(cfg.w))
        pos = Signal(range(cfg.n_pixels))
        t = Signal(range(len(offsets)))
        ci = Signal(range(geo.ci_chunks))
        slot, inside = neighbour(geo, self.count, row, col, di_rom[t], dj_rom[t], dist_rom[t])

        # ---------------------------------------------------------------- logit pipeline
        q = Signal(dd * db)
        a = Array(Signal(signed(db), name=f"a{i}") for i in range(len(offsets)))
        logit_issue = Signal()
        l1_valid, l1_t, l1_inside = Signal(), Signal.like(t), Signal()
        l2_valid, l2_t = Signal(), Signal.like(t)
        l2_sum = Signal(signed(f.acc_bits))
        m.d.sync += [l1_valid.eq(logit_issue), l1_t.eq(t), l1_inside.eq(inside)]
        k = lanes(self.qk_data[dd * db:], dd, db)
        dot = sum(qv * kv for qv, kv in zip(lanes(q, dd, db), k))
        m.d.sync += [l2_valid.eq(l1_valid), l2_t.eq(l1_t), l2_sum.eq(Mux(l1_inside, dot, 0))]
        m.submodules.rq_a = rq_a = Requantizer(acc_bits=f.acc_bits, mult_bits=f.mult_bits,
                                               shift_bits=f.shift_bits, out_bits=db)
        m.d.comb += [rq_a.acc0.eq(l2_sum), rq_a.mult0.eq(self.m_a), rq_a.shift.eq(self.s_a)]
        a_valid, a_t = delay(m, l2_valid, l2_t, Requantizer.LATENCY, "la")
        with m.If(a_valid):
            m.d.sync += a[a_t].eq(rq_a.result)

        # ---------------------------------------------------------------- aggregation pipeline
        agg_issue = Signal()
        g1_valid, g1_t, g1_ci, g1_inside = Signal(), Signal.like(t), Signal.like(ci), Signal()
        m.d.sync += [g1_valid.eq(agg_issue), g1_t.eq(t), g1_ci.eq(ci), g1_inside.eq(inside)]
        g2_valid, g2_t, g2_ci = Signal(), Signal.like(t), Signal.like(ci)
        prods = [Signal(signed(2 * db), name=f"ax{s}") for s in range(cfg.simd)]
        m.d.sync += [g2_valid.eq(g1_valid), g2_t.eq(g1_t), g2_ci.eq(g1_ci)]
        for p, xv in zip(prods, lanes(self.x_data, cfg.simd, db)):
            m.d.sync += p.eq(Mux(g1_inside, a[g1_t] * xv, 0))
        z_acc = [Signal(signed(f.acc_bits), name=f"zacc{s}") for s in range(cfg.simd)]
        with m.If(g2_valid):
            m.d.sync += [za.eq(p + Mux(g2_t == 0, 0, za)) for za, p in zip(z_acc, prods)]
        g3_valid, g3_ci = Signal(), Signal.like(ci)
        m.d.sync += [g3_valid.eq(g2_valid & (g2_t == len(offsets) - 1)), g3_ci.eq(g2_ci)]
        z_out = []
        for s, za in enumerate(z_acc):
            rq = Requantizer(acc_bits=f.acc_bits, mult_bits=f.mult_bits,
                             shift_bits=f.shift_bits, out_bits=db)
            m.submodules[f"rq_z{s}"] = rq
            m.d.comb += [rq.acc0.eq(za), rq.mult0.eq(self.m_z), rq.shift.eq(self.s_z)]
            z_out.append(rq.result)
        z_valid, z_ci = delay(m, g3_valid, g3_ci, Requantizer.LATENCY, "gz")
        m.d.comb += [
            self.z_en.eq(z_valid),
            self.z_addr.eq(self.count[0] * geo.ci_chunks + z_ci),
            self.z_data.eq(Cat(*z_out)),
            self.x_addr.eq(slot * geo.ci_chunks + ci),
            self.qk_addr.eq(Mux(logit_issue, slot, self.count[:geo.addr_bits])),
        ]

        # ---------------------------------------------------------------- sequencing
        ready = (window_ready(self.avail, self.count, pos, cfg.shift * cfg.w + cfg.shift,
                              cfg.n_pixels)
                 & ((self.count - self.mac_count)[:geo.count_bits] < 2))
        last_t = len(offsets) - 1
        with m.FSM():
            with m.State("WAIT"):
                with m.If(ready):  # qk_addr shows q_p's slot now: q arrives next cycle
                    m.d.sync += t.eq(0)
                    m.next = "LOGITS"
            with m.State("LOGITS"):
                m.d.comb += logit_issue.eq(1)
                with m.If(t == 0):
                    m.d.sync += q.eq(self.qk_data[:dd * db])
                m.d.sync += t.eq(t + 1)
                with m.If(t == last_t):
                    m.d.sync += t.eq(0)
                    m.next = "LOGITS_DRAIN"
            with m.State("LOGITS_DRAIN"):
                with m.If(a_valid & (a_t == last_t)):
                    m.d.sync += [t.eq(0), ci.eq(0)]
                    m.next = "AGGREGATE"
            with m.State("AGGREGATE"):
                m.d.comb += agg_issue.eq(1)
                m.d.sync += t.eq(wrap_inc(t, last_t))
                with m.If(t == last_t):
                    m.d.sync += ci.eq(wrap_inc(ci, geo.ci_chunks - 1))
                    with m.If(ci == geo.ci_chunks - 1):
                        m.next = "AGGREGATE_DRAIN"
            with m.State("AGGREGATE_DRAIN"):
                with m.If(z_valid & (z_ci == geo.ci_chunks - 1)):
                    m.d.sync += [self.count.eq(self.count + 1),
                                 pos.eq(wrap_inc(pos, cfg.n_pixels - 1)),
                                 col.eq(wrap_inc(col, cfg.w - 1))]
                    with m.If(col == cfg.w - 1):
                        m.d.sync += row.eq(wrap_inc(row, cfg.h - 1))
                    m.next = "WAIT"
        return m

