"""Projection unit (S2, S5): rows of a weight matrix times each input pixel, requantized.

q = RQ(W_q x_p, m_q, s_q) and k = RQ(W_k x_p, m_k, s_k) for the forms with queries and keys; the
kernel generator's hidden layer u = ReLU(RQ(W'_1 x_p + b_1, m_1, s_1)) for a form that asks for
a bias and a ReLU.  The rows are split into named outputs (``outputs``: (name, rows) pairs, in
row order), each written through its own write port into its ring at the pixel's slot, each
requantized with its own shift (``shifts``).

A pipeline without bubbles, fed by the input chunks (SIMD channels of a pixel) as they arrive.
Each chunk is held for rows / PJ cycles (``Geometry.proj_groups``); each cycle multiplies it by
one group of PJ rows (PJ x SIMD multipliers) into PJ accumulators.  A row group's final sum (last
chunk) goes straight into PJ requantizers; when the last group of the pixel comes out, the
pixel's outputs are written at its ring slot and the pixel is counted as projected.

    issue (w.addr) -> register -> register beside the DSP blocks -> products -> pair sums (m.addr)
    -> row sums -> accumulate -> register
    -> requantizer (``Requantizer.LATENCY``) -> write
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .dsp import in_dsp, multiply
from .ports import region_read_port, write_port
from .geometry import Geometry, Region
from .requant import Requantizer
from .streams import chunk_stream
from .util import NEAR_DSP, delay, lanes, register, sum_in_two_steps, wrap_inc

#: cycles from the last issue of a pixel to its count: issue, memory register, operands beside
#: the DSP blocks, products, pair sums, sums, accumulate, register, requantizer
PROJ_DONE = 7 + NEAR_DSP + Requantizer.LATENCY


def projection_regions(geo: Geometry, bias: bool = False) -> tuple[Region, ...]:
    """The projection's memories: ``w_qk`` (for ci, row group g: PJ x SIMD weights, lane
    l*SIMD + s = P[g*PJ + l][ci*SIMD + s]), ``m_qk`` (per group, PJ multipliers) and, with a
    bias, ``b_qk`` (per group, PJ values of b * m in the requantizer's units)."""
    cfg, f = geo.cfg, geo.cfg.fmt
    pj, groups = geo.proj_lanes, geo.proj_groups
    out = (Region("w_qk", geo.ci_chunks * groups, pj * cfg.simd, f.weight_bits),
           Region("m_qk", groups, pj, f.mult_bits))
    return out + ((Region("b_qk", groups, pj, proj_bias_bits(cfg)),) if bias else ())


def proj_bias_bits(cfg) -> int:
    """b * m, the bias the projection's requantizers add."""
    return cfg.accumulators.projection + cfg.fmt.mult_bits + 1


def projection_images(geo: Geometry, rows, mults, bias=None) -> dict:
    """The ``projection_regions`` images of a (rows, C_in) weight matrix, its per-row
    multipliers and (optionally) its per-row bias."""
    cfg, pj = geo.cfg, geo.proj_lanes
    w = rows.reshape(geo.proj_groups, pj, geo.ci_chunks, cfg.simd).transpose(2, 0, 1, 3)
    out = {"w_qk": w.reshape(-1, pj * cfg.simd), "m_qk": mults.reshape(-1, pj)}
    if bias is not None:  # the requantizer adds b * m: (acc + b) m exactly
        out["b_qk"] = (bias * mults).reshape(-1, pj)
    return out


class Projection(wiring.Component):
    def __init__(self, geo: Geometry, outputs: tuple[tuple[str, int], ...], relu: bool = False):
        self.geo, self.outputs, self.relu = geo, outputs, relu
        f = geo.cfg.fmt
        regions = {r.name: r for r in projection_regions(geo, bias=relu)}
        super().__init__({
            "chunk": In(chunk_stream(geo.in_bits, geo.chunk_index_bits)),
            "w": region_read_port(regions["w_qk"]),
            "m": region_read_port(regions["m_qk"]),
            **({"b": region_read_port(regions["b_qk"])} if relu else {}),
            "shifts": In(len(outputs) * f.shift_bits),  # one per output, in order
            **{name: write_port(geo.addr_bits, rows * f.data_bits) for name, rows in outputs},
            "count": Out(geo.count_bits),  # pixels whose outputs are in their rings
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
                         self.w.addr.eq(wrap_inc(self.w.addr, geo.ci_chunks * groups - 1))]
        s0 = register(m, {"valid": issue, "g": g, "first": self.chunk.p.index == 0,
                          "last": self.chunk.p.end, "x": self.chunk.p.data}, "s0")
        s1 = register(m, {**s0, "w": self.w.data}, "s1")  # memory output registered
        # again, beside the DSP blocks (``NEAR_DSP``; in the ECP5 form the operands' register
        # is the DSP blocks' own, ``hw.dsp``)
        operands = {k: s1.pop(k) for k in ("x", "w")} if in_dsp(platform) else {}
        s1 = {**register(m, s1, "s1d"), **operands}

        # products, then one sum per row
        weights = lanes(s1["w"], pj * simd, f.weight_bits)
        xs = lanes(s1["x"], simd, f.data_bits)
        s2 = register(m, {k: v for k, v in s1.items() if k not in ("x", "w")}, "s2")
        prods = [[Signal(signed(f.data_bits + f.weight_bits), name=f"prod{l}_{s}")
                  for s in range(simd)] for l in range(pj)]
        for l in range(pj):
            for s in range(simd):
                multiply(m, platform, prods[l][s], weights[l * simd + s], xs[s], f"mul{l}_{s}")
        # each row's SIMD products summed in two registered steps (pairs, then the row)
        s3a = register(m, s2, "s3a")
        s3 = register(m, s3a, "s3")
        sums = [Signal(signed(f.acc_bits), name=f"row_sum{l}", reset_less=True)
                for l in range(pj)]
        for l, (sm, row) in enumerate(zip(sums, prods)):
            sum_in_two_steps(m, sm, row, f"pair{l}")
        m.d.comb += self.m.addr.eq(s3a["g"])  # multipliers of the group arrive with its sums
        if self.relu:
            m.d.comb += self.b.addr.eq(s3a["g"])

        # accumulate over chunks; the last chunk's totals go to the requantizers.  The row
        # groups come in turn (0, 1, .., groups - 1, 0, ..), so each lane's partial sums wait in
        # a chain of ``groups`` registers that moves on with every valid cycle: the group's own
        # sum is always at the chain's head, and no indexed register file (a groups:1 read
        # multiplexer and a decoded write) sits in the accumulate cycle.
        acc = [[Signal(signed(f.acc_bits), name=f"acc{l}_{i}", reset_less=True)  # data: "first"
                for i in range(groups)] for l in range(pj)]
        totals = [sm + Mux(s3["first"], 0, a[0]) for sm, a in zip(sums, acc)]
        with m.If(s3["valid"]):
            m.d.sync += [a[i].eq(a[i + 1] if i < groups - 1 else t[:f.acc_bits])
                         for a, t in zip(acc, totals) for i in range(groups)]
        bias = {"b": self.b.data} if self.relu else {}
        s4 = register(m, {"valid": s3["valid"] & s3["last"], "g": s3["g"],
                          "m": self.m.data, **bias, **{f"t{l}": t[:f.acc_bits]
                                                       for l, t in enumerate(totals)}}, "s4")
        results = self._requantize(m, s4)
        done, out = delay(m, s4["valid"], {"g": s4["g"]}, Requantizer.LATENCY, "rq")
        done_g = out["g"]

        # collect the groups of a pixel; write the words as its last group comes out
        held = [Array(Signal(f.data_bits, name=f"held{l}_{i}", reset_less=True)
                      for i in range(groups)) for l in range(pj)]
        with m.If(done):
            m.d.sync += [h[done_g].eq(r) for h, r in zip(held, results)]
        rows = [results[l] if i == groups - 1 else held[l][i]
                for i in range(groups) for l in range(pj)]
        write = done & (done_g == groups - 1)
        first = 0
        for name, count in self.outputs:
            port = getattr(self, name)
            m.d.comb += [port.addr.eq(self.count[:geo.addr_bits]), port.en.eq(write),
                         port.data.eq(Cat(*rows[first:first + count]))]
            first += count
        with m.If(write):
            m.d.sync += self.count.eq(self.count + 1)
        return m

    def _requantize(self, m, s4) -> list:
        """PJ requantizers of the group's totals, each with the shift of its row's output
        (and, with ``relu``, the pre-multiplied bias and a ReLU after)."""
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        pj = geo.proj_lanes
        width = cfg.accumulators.projection  # the sums fit: exact slices
        bias_bits = proj_bias_bits(cfg) if self.relu else 0
        biases = lanes(s4["b"], pj, bias_bits) if self.relu else [None] * pj
        shifts = lanes(self.shifts, len(self.outputs), f.shift_bits, signed_lanes=False)
        results = []
        for l, mult in enumerate(lanes(s4["m"], pj, f.mult_bits, signed_lanes=False)):
            rq = Requantizer(acc_bits=width, mult_bits=f.mult_bits, shift_bits=f.shift_bits,
                             out_bits=f.data_bits, bias_bits=bias_bits,
                             sum_bits=width + f.mult_bits + 3 if self.relu else None)
            m.submodules[f"rq{l}"] = rq
            row = s4["g"] * pj + l
            shift = shifts[-1]  # the shift of the output the row belongs to
            for i in reversed(range(len(self.outputs) - 1)):
                shift = Mux(row < sum(c for _, c in self.outputs[:i + 1]), shifts[i], shift)
            m.d.comb += [rq.acc0.eq(s4[f"t{l}"][:width].as_signed()), rq.mult0.eq(mult),
                         rq.shift.eq(shift)]
            if self.relu:  # u = ReLU(RQ(W'_1 x + b_1)): the bias comes pre-multiplied
                m.d.comb += rq.bias.eq(biases[l])
                results.append(Mux(rq.result < 0, 0, rq.result))
            else:
                results.append(rq.result)
        return results
