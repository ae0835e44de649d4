"""Involution (S5, S9): the registry entry and the attention component.

    chunk -> Projection (W'_1, bias, ReLU) -> u ring -> KernelUnit -> kernel bank
                                                                       |
                                         x ring -> WindowAggregation <-+ (grouped) -> z

The projection computes the kernel generator's hidden layer u_p, the kernel unit the G x K^2
kernel h_p, the aggregation the depthwise sum over the K x K window.  The MAC array and output
stage are the other forms', with W_v = diag(+-weight_max) (docs/architecture.md).
"""
from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import flipped

from ..aggregation import WindowAggregation, agg_done
from ..geometry import SLOTS
from ..projection import Projection, projection_images, projection_regions
from ..util import dot_done, seen
from .base import AttentionComponent, AttentionTiming, EngineForm, registered_agg_start
from .involution_kernel import KernelUnit, bank_row_bits, hidden, kernel_regions, kernel_rows


class InvolutionAttention(AttentionComponent):
    def elaborate(self, platform):
        m = Module()
        geo, cfg = self.geo, self.geo.cfg
        db = cfg.fmt.data_bits
        m.submodules.proj = proj = Projection(geo, (("u", hidden(cfg)),), relu=True)
        m.submodules.kernel = kernel = KernelUnit(geo)
        m.submodules.agg = agg = WindowAggregation(geo, cfg.conv_offsets, bank_row_bits(cfg),
                                                   grouped=True,
                                                   start_wait=FORM.timing(geo).agg_wait)
        p, s = self.params, self.scalars
        wiring.connect(m, flipped(self.chunk), proj.chunk)
        wiring.connect(m, flipped(p.w_qk), proj.w)
        wiring.connect(m, flipped(p.m_qk), proj.m)
        wiring.connect(m, flipped(p.b_qk), proj.b)
        wiring.connect(m, flipped(p.w_kg), kernel.w)
        wiring.connect(m, flipped(p.m_kg), kernel.m)
        u_ring = self.ring(m, "u_ring", hidden(cfg) * db, geo.depth, proj.u)
        self.ring_reader(m, u_ring, kernel.u, "kernel_u")
        bank = self.ring(m, "kernel_bank", db, SLOTS << bank_row_bits(cfg), kernel.bank)
        self.aggregate_into_z(m, kernel, agg, bank)
        m.d.comb += [proj.shifts.eq(Cat(s.s_1)), kernel.s_2.eq(s.s_2),
                     agg.m_z.eq(s.m_z), agg.s_z.eq(s.s_z),
                     kernel.avail.eq(seen(m, geo, proj.count, "kernel_avail")),
                     self.projected.eq(proj.count)]
        return m


class InvolutionForm(EngineForm):
    name = "involution"
    unit_names = ("kernel unit", "aggregation")
    scalars = ("s_1", "s_2", "m_z", "s_z")

    def check(self, cfg) -> None:
        if cfg.group_channels % cfg.simd:
            raise ValueError(f"simd: the involution engine needs a chunk of SIMD channels "
                             f"inside one group: group_channels={cfg.group_channels} is not "
                             f"divisible by simd={cfg.simd} (change --group-channels or --simd)")

    def proj_rows(self, cfg) -> int:
        return hidden(cfg)

    def regions(self, geo):
        return projection_regions(geo, bias=True) + kernel_regions(geo.cfg)

    def images(self, geo, layer):
        return {**projection_images(geo, layer.w_1, layer.m_1, bias=layer.b_1),
                "w_kg": layer.w_2, "m_kg": np.asarray(layer.m_2).reshape(-1, 1)}

    def buffers(self, geo):
        db = geo.cfg.fmt.data_bits
        return {"u ring": geo.depth * hidden(geo.cfg) * db,
                "logit bank": (SLOTS << bank_row_bits(geo.cfg)) * db}

    def timing(self, geo):
        rows, kk = kernel_rows(geo.cfg), geo.cfg.k * geo.cfg.k
        return registered_agg_start(geo, AttentionTiming(
            **self.projection_timing(geo),
            logit_span=rows, logit_reach=geo.reach, logit_slots=SLOTS,
            logit_done=rows - 1 + dot_done(hidden(geo.cfg)),
            agg_span=kk * geo.ci_chunks, agg_done=agg_done(geo, kk)))

    def fit_draw(self, shape: dict, rng) -> dict:
        """C_out = C_in, groups of a multiple of SIMD channels."""
        c = shape["c_out"] = shape["c_in"]
        shape["group_channels"] = rng.choice([g for g in range(shape["simd"], c + 1,
                                                               shape["simd"]) if c % g == 0])
        shape["reduction"] = rng.choice([r for r in (1, 2, 4) if c // r >= 1])
        return shape

    def component(self, geo, poisoned=False):
        return InvolutionAttention(geo, poisoned)


FORM = InvolutionForm()
