"""q/k projections (S2): q = RQ(W_q x_p, m_q, s_q), k = RQ(W_k x_p, m_k, s_k).

Works on the input chunks as they arrive: for each chunk of SIMD channels it runs the 2D rows of
[W_q; W_k] through SIMD multipliers, one row a cycle, into 2D accumulators.  After the last chunk
of the pixel it requantizes the 2D sums (one a cycle) and writes q and k of the pixel, packed in
one word, into the q/k ring at the pixel's slot, then counts the pixel as projected.
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import Geometry, ceil_log2
from .requant import Requantizer
from .streams import chunk_stream
from .util import delay, lanes


class Projection(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        cfg, f = geo.cfg, geo.cfg.fmt
        rows = 2 * cfg.d
        super().__init__({
            "chunk": In(chunk_stream(geo.in_bits, max(1, ceil_log2(geo.ci_chunks)))),
            "w_addr": Out(max(1, ceil_log2(geo.ci_chunks * rows))),
            "w_data": In(cfg.simd * f.weight_bits),
            "m_addr": Out(max(1, ceil_log2(rows))),
            "m_data": In(f.mult_bits),
            "s_q": In(f.shift_bits),
            "s_k": In(f.shift_bits),
            "qk_addr": Out(geo.addr_bits),
            "qk_data": Out(rows * f.data_bits),
            "qk_en": Out(1),
            "count": Out(geo.count_bits),  # pixels whose q and k are in the ring
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        rows = 2 * cfg.d
        m.submodules.rq = rq = Requantizer(acc_bits=f.acc_bits, mult_bits=f.mult_bits,
                                           shift_bits=f.shift_bits, out_bits=f.data_bits)
        acc = Array(Signal(signed(f.acc_bits), name=f"acc{j}") for j in range(rows))
        x = Signal(geo.in_bits)
        base = Signal.like(self.w_addr)
        first_chunk = Signal()
        end_chunk = Signal()
        j = Signal(range(rows))
        drain = Signal(range(4))

        # MAC pipeline: issue (w_addr) -> products and sum -> accumulate
        issue = Signal()
        s1_valid, s1_j, s1_first = Signal(), Signal.like(j), Signal()
        s2_valid, s2_j, s2_first = Signal(), Signal.like(j), Signal()
        s2_sum = Signal(signed(f.acc_bits))
        m.d.comb += self.w_addr.eq(base + j)
        m.d.sync += [s1_valid.eq(issue), s1_j.eq(j), s1_first.eq(first_chunk)]
        products = [w * v for w, v in zip(lanes(self.w_data, cfg.simd, f.weight_bits),
                                          lanes(x, cfg.simd, f.data_bits))]
        m.d.sync += [s2_valid.eq(s1_valid), s2_j.eq(s1_j), s2_first.eq(s1_first),
                     s2_sum.eq(sum(products))]
        with m.If(s2_valid):
            m.d.sync += acc[s2_j].eq(s2_sum + Mux(s2_first, 0, acc[s2_j]))

        # requantization pipeline: issue (m_addr, acc) -> requantizer (2 cycles) -> collect
        req_issue = Signal()
        r1_valid, r1_j = Signal(), Signal.like(j)
        r1_acc = Signal(signed(f.acc_bits))
        m.d.comb += self.m_addr.eq(j)
        m.d.sync += [r1_valid.eq(req_issue), r1_j.eq(j), r1_acc.eq(acc[j])]
        m.d.comb += [rq.acc0.eq(r1_acc), rq.mult0.eq(self.m_data),
                     rq.shift.eq(Mux(r1_j < cfg.d, self.s_q, self.s_k))]
        out_valid, out_j = delay(m, r1_valid, r1_j, Requantizer.LATENCY, "rq")
        word = Array(Signal(f.data_bits, name=f"qk{i}") for i in range(rows))
        with m.If(out_valid):
            m.d.sync += word[out_j].eq(rq.result)
        m.d.comb += [self.qk_addr.eq(self.count[:geo.addr_bits]), self.qk_data.eq(Cat(*word))]

        with m.FSM():
            with m.State("ACCEPT"):
                m.d.comb += self.chunk.ready.eq(1)
                with m.If(self.chunk.valid):
                    m.d.sync += [x.eq(self.chunk.p.data), base.eq(self.chunk.p.index * rows),
                                 first_chunk.eq(self.chunk.p.index == 0),
                                 end_chunk.eq(self.chunk.p.end), j.eq(0)]
                    m.next = "MAC"
            with m.State("MAC"):
                m.d.comb += issue.eq(1)
                m.d.sync += j.eq(j + 1)
                with m.If(j == rows - 1):
                    m.d.sync += [j.eq(0), drain.eq(0)]
                    with m.If(end_chunk):
                        m.next = "DRAIN"
                    with m.Else():
                        m.next = "ACCEPT"
            with m.State("DRAIN"):  # let the last accumulations land before reading them
                m.d.sync += drain.eq(drain + 1)
                with m.If(drain == 2):
                    m.next = "REQUANT"
            with m.State("REQUANT"):
                m.d.comb += req_issue.eq(1)
                m.d.sync += j.eq(j + 1)
                with m.If(j == rows - 1):
                    m.d.sync += j.eq(0)
                    m.next = "COLLECT"
            with m.State("COLLECT"):
                with m.If(out_valid & (out_j == rows - 1)):
                    m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += self.qk_en.eq(1)
                m.d.sync += self.count.eq(self.count + 1)
                m.next = "ACCEPT"
        return m
