"""q/k projections (S2): q = RQ(W_q x_p, m_q, s_q), k = RQ(W_k x_p, m_k, s_k).

A pipeline without bubbles, fed by the input chunks (SIMD channels of a pixel) as they arrive.
Each chunk is held for 2D / PJ cycles (``Geometry.proj_groups``); each cycle multiplies it by
one group of PJ rows of [W_q; W_k] (PJ x SIMD multipliers) into PJ accumulators.  A row group's
final sum (last chunk) goes straight into PJ requantizers; when the last group of the pixel comes
out, q and k of the pixel are written, packed in one word, at the pixel's ring slot and the pixel
is counted as projected.

Involution (S5) uses the same unit for its kernel generator's first layer: the rows are W'_1
(``Geometry.proj_rows``), the requantizers add b_1 * m_1 (the ``b_qk`` memory, read with the
multipliers) and a ReLU follows; the word written is u_p.

    issue (w_addr) -> register -> products -> row sums (m_addr) -> accumulate -> register
    -> requantizer (``Requantizer.LATENCY``) -> write
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import Geometry, ceil_log2
from .requant import Requantizer
from .streams import chunk_stream
from .util import delay, lanes, register, wrap_inc


class Projection(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        cfg, f = geo.cfg, geo.cfg.fmt
        pj, groups = geo.proj_lanes, geo.proj_groups
        super().__init__({
            "chunk": In(chunk_stream(geo.in_bits, max(1, ceil_log2(geo.ci_chunks)))),
            "w_addr": Out(max(1, ceil_log2(geo.ci_chunks * groups))),
            "w_data": In(pj * cfg.simd * f.weight_bits),
            "m_addr": Out(max(1, ceil_log2(groups))),
            "m_data": In(pj * f.mult_bits),
            "s_q": In(f.shift_bits),
            "s_k": In(f.shift_bits),
            "qk_addr": Out(geo.addr_bits),
            "qk_data": Out(geo.proj_rows * f.data_bits),
            "qk_en": Out(1),
            "count": Out(geo.count_bits),  # pixels whose q and k are in the ring
            **({"b_data": In(pj * geo.proj_bias_bits)} if cfg.attention == "involution"
               else {}),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        pj, groups, simd = geo.proj_lanes, geo.proj_groups, cfg.simd
        g = Signal(range(groups))

        # issue: the chunk stays on the stream until its last row group is issued
        issue = self.chunk.valid
        m.d.comb += self.chunk.ready.eq(g == groups - 1)
        with m.If(issue):  # chunks arrive in order: the weight address is a running counter
            m.d.sync += [g.eq(wrap_inc(g, groups - 1)),
                         self.w_addr.eq(wrap_inc(self.w_addr, geo.ci_chunks * groups - 1))]
        s0 = register(m, {"valid": issue, "g": g, "first": self.chunk.p.index == 0,
                          "last": self.chunk.p.end, "x": self.chunk.p.data}, "s0")
        s1 = register(m, {**s0, "w": self.w_data}, "s1")  # memory output registered

        # products, then one sum per row
        weights = lanes(s1["w"], pj * simd, f.weight_bits)
        xs = lanes(s1["x"], simd, f.data_bits)
        s2 = register(m, {k: v for k, v in s1.items() if k not in ("x", "w")}, "s2")
        prods = [[Signal(signed(f.data_bits + f.weight_bits), name=f"prod{l}_{s}")
                  for s in range(simd)] for l in range(pj)]
        for l in range(pj):
            m.d.sync += [prods[l][s].eq(weights[l * simd + s] * xs[s]) for s in range(simd)]
        s3 = register(m, s2, "s3")
        sums = [Signal(signed(f.acc_bits), name=f"row_sum{l}") for l in range(pj)]
        m.d.sync += [sm.eq(sum(row)) for sm, row in zip(sums, prods)]
        m.d.comb += self.m_addr.eq(s2["g"])  # multipliers of the group arrive with its sums

        # accumulate over chunks; the last chunk's totals go to the requantizers
        acc = [Array(Signal(signed(f.acc_bits), name=f"acc{l}_{i}") for i in range(groups))
               for l in range(pj)]
        totals = [sm + Mux(s3["first"], 0, a[s3["g"]]) for sm, a in zip(sums, acc)]
        with m.If(s3["valid"] & ~s3["last"]):
            m.d.sync += [a[s3["g"]].eq(t) for a, t in zip(acc, totals)]
        involution = cfg.attention == "involution"
        bias = {"b": self.b_data} if involution else {}
        s4 = register(m, {"valid": s3["valid"] & s3["last"], "g": s3["g"],
                          "m": self.m_data, **bias, **{f"t{l}": t[:f.acc_bits]
                                                       for l, t in enumerate(totals)}}, "s4")
        width = cfg.accumulator_bits()["projection (q, k)"]  # the sums fit: exact slices
        bias_bits = geo.proj_bias_bits if involution else 0
        biases = lanes(s4["b"], pj, bias_bits) if involution else [None] * pj
        results = []
        for l, mult in enumerate(lanes(s4["m"], pj, f.mult_bits, signed_lanes=False)):
            rq = Requantizer(acc_bits=width, mult_bits=f.mult_bits, shift_bits=f.shift_bits,
                             out_bits=f.data_bits, bias_bits=bias_bits,
                             sum_bits=width + f.mult_bits + 3 if involution else None)
            m.submodules[f"rq{l}"] = rq
            is_q = s4["g"] * pj + l < cfg.d
            m.d.comb += [rq.acc0.eq(s4[f"t{l}"][:width].as_signed()), rq.mult0.eq(mult),
                         rq.shift.eq(Mux(is_q, self.s_q, self.s_k))]
            if involution:  # u = ReLU(RQ(W'_1 x + b_1)): the bias comes pre-multiplied
                m.d.comb += rq.bias.eq(biases[l])
                results.append(Mux(rq.result < 0, 0, rq.result))
            else:
                results.append(rq.result)
        done, out = delay(m, s4["valid"], {"g": s4["g"]}, Requantizer.LATENCY, "rq")
        done_g = out["g"]

        # collect the groups of a pixel; write the word as its last group comes out
        held = [Array(Signal(f.data_bits, name=f"qk{l}_{i}") for i in range(groups))
                for l in range(pj)]
        with m.If(done):
            m.d.sync += [h[done_g].eq(r) for h, r in zip(held, results)]
        word = [results[l] if i == groups - 1 else held[l][i]
                for i in range(groups) for l in range(pj)]
        m.d.comb += [self.qk_addr.eq(self.count[:geo.addr_bits]), self.qk_data.eq(Cat(*word)),
                     self.qk_en.eq(done & (done_g == groups - 1))]
        with m.If(self.qk_en):
            m.d.sync += self.count.eq(self.count + 1)
        return m
