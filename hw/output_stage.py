"""Output stage: requantizes each group of PE results and streams them out.

The PE lanes share ``PE / Geometry.out_steps`` requantizers (``RequantLanes``): a group's results
arrive at most once every taps x ci_chunks cycles, so one requantizer a lane would idle.

y = SAT((acc_c * m_c + acc_a * m_v + bias + 2^(s_out-1)) >> s_out) per lane (docs/fixed-point.md),
with m_c, m_v and bias read for the group from their memories (without attention there is no
acc_a term and no m_v).  Results wait in a FIFO whose
depth is the MAC array's credit count, so the array never has to stall mid-pipeline; the stream
side marks the first beat of a frame (``first``, tuser) and the last beat of each row (``last``,
tlast), and pulses ``sent`` for every beat handed on, returning a credit.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .geometry import Geometry
from .kept_register import kept_copies, tree_levels
from .mac_array import result_signature
from .ports import region_read_port
from .requant import Requantizer
from .requant_lanes import RequantLanes
from .streams import beat_stream
from .util import NEAR_DSP, PixelCursor, lanes, wrap_inc

#: cycles from the MAC array's last issue of a result group to its beat on m_axis: issue, memory
#: register, operand register, operand copy, operands beside the DSP blocks, products, pair sums,
#: sums, accumulate, result, parameters, requantizer, FIFO; then ``Geometry.out_steps - 1`` more
#: (the shared lanes)
OUTPUT_DELAY = 11 + NEAR_DSP + Requantizer.LATENCY
#: the fewest result groups the output FIFO holds
MIN_CREDITS = 4


def output_delay(geo: Geometry) -> int:
    """Cycles from the MAC array's last issue of a result group to its (first) beat:
    ``OUTPUT_DELAY``, one more a level of the operand's copy tree past the first
    (``hw.kept_register.tree_levels``: many PE lanes), one more a weight address level past
    the first and the banks' data register (``Geometry.weight_read_delay``), and
    ``out_steps - 1``."""
    return (OUTPUT_DELAY + tree_levels(geo.cfg.pe) - 1 + geo.weight_read_delay
            + geo.out_steps - 1)


def output_credits(geo: Geometry) -> int:
    """Result groups the output FIFO holds: the MAC array's credits.  A group's credit comes
    back when its beat leaves, ``output_delay`` cycles after its last issue, and
    a group takes taps x ci_chunks cycles to issue: with this many credits the credit is back
    before the array reaches the group that many after it, so a stall-free sink never stops
    the array (the cycle model counts no such stall).  Only a layer whose group is a few cycles
    (K = 1, one or two channel chunks) needs more than ``MIN_CREDITS``."""
    span = geo.cfg.taps * geo.ci_chunks
    latency = output_delay(geo) + 2  # + the credit's count, + the check
    return max(MIN_CREDITS, 1 + -(-latency // span))


class OutputStage(wiring.Component):
    def __init__(self, geo: Geometry, credits: int):
        self.geo, self.credits = geo, credits
        cfg, f = geo.cfg, geo.cfg.fmt
        #: the per-group parameters: m_c, m_v (with attention) and bias
        self.param_names = ("m_c",) + (("m_v",) if cfg.has_attention else ()) + ("bias",)
        super().__init__({
            "result": In(result_signature(geo)),
            **{name: region_read_port(geo.region(name)) for name in self.param_names},
            "s_out": In(f.shift_bits),
            "o": Out(beat_stream(geo.out_bits)),
            "sent": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg, f = self.geo, self.geo.cfg, self.geo.cfg.fmt
        pe = cfg.pe
        # the parameter memories answer one cycle after the address: hold the sums that long
        res = self.result
        for name in self.param_names:
            m.d.comb += getattr(self, name).addr.eq(res.group)
        valid1 = Signal()
        acc_c = Signal.like(res.acc_c, reset_less=True)  # data, read with valid1
        acc_a = Signal.like(res.acc_a, reset_less=True)
        m.d.sync += [valid1.eq(res.valid), acc_c.eq(res.acc_c), acc_a.eq(res.acc_a)]
        # the sums fit their worst-case widths: exact slices
        widths = (cfg.accumulators.convolution,) + ((cfg.accumulators.attention_tap,)
                                                    if cfg.has_attention else ())
        m.submodules.rq = rq = RequantLanes(
            lanes=pe, steps=geo.out_steps, acc_bits=widths, mult_bits=f.mult_bits,
            shared_mult=False, shift_bits=f.shift_bits, out_bits=f.data_bits,
            bias_bits=cfg.requant_bits, sum_bits=cfg.requant_bits, split_load=True)
        terms = [(acc_c, self.m_c.data)] + ([(acc_a, self.m_v.data)] if cfg.has_attention else [])
        for i, ((accs, mults), width) in enumerate(zip(terms, widths)):
            m.d.comb += [getattr(rq, f"acc{i}").eq(Cat(*(a[:width] for a in
                                                         lanes(accs, pe, f.acc_bits)))),
                         getattr(rq, f"mult{i}").eq(mults)]
        m.d.comb += [rq.valid.eq(valid1), rq.bias.eq(self.bias.data), rq.shift.eq(self.s_out)]
        if rq.load_copies > 1:  # valid1 again, a copy beside each part of the latch
            loads = kept_copies(m, res.valid, [f"load{j}" for j in range(rq.load_copies)])
            m.d.comb += rq.load.eq(Cat(*loads))
        results, push = rq.result, rq.out_valid

        m.submodules.fifo = fifo = SyncFIFOBuffered(width=geo.out_bits, depth=self.credits)
        m.d.comb += [fifo.w_data.eq(results), fifo.w_en.eq(push)]

        # with output-channel tiles the frame comes out once a tile (docs/external-memory.md):
        # a row is W pixels x the tile's groups, tuser marks the frame's first beat only
        groups = geo.tile_groups
        og = Signal(range(groups))
        cur = PixelCursor(geo, "out")  # the output pixel: marks tuser and tlast
        col, row = cur.col, cur.row
        first = (og == 0) & (col == 0) & (row == 0)
        if geo.tiled:
            tile = Signal(range(cfg.tiles))
            first &= tile == 0
        fire = self.o.valid & self.o.ready
        m.d.comb += [
            self.o.valid.eq(fifo.r_rdy),
            self.o.p.data.eq(fifo.r_data),
            self.o.p.first.eq(first),
            self.o.p.last.eq((og == groups - 1) & (col == cfg.w - 1)),
            fifo.r_en.eq(self.o.ready),
            self.sent.eq(fire),
        ]
        with m.If(fire):
            m.d.sync += og.eq(wrap_inc(og, groups - 1))
            with m.If(og == groups - 1):
                cur.step(m)
                if geo.tiled:
                    with m.If(cur.pos == cfg.n_pixels - 1):
                        m.d.sync += tile.eq(wrap_inc(tile, cfg.tiles - 1))
        return m
