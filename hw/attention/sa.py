"""Full self-attention (S4, S9): the registry entry and the attention component.

    chunk -> Projection -> q ring, k ring -> SoftmaxUnit <-> logit bank -> SaAggregation -> z
                                             x ring ---------------------------^

Every query attends to every pixel of its frame: the softmax unit computes a query's N logits,
their max, the sum of exponentials and its reciprocal; the aggregation the normalized sum of
e_pj x_j.  The ring holds the frame (``hold``), so the first output waits for the whole frame.
"""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring

from golden.config import sa_logit_bits

from ..aggregation import agg_done
from .base import AttentionComponent, AttentionTiming
from .qk import QkForm, project_qk
from .sa_aggregation import SA_AGG_DONE, SaAggregation, sa_zacc_bits
from .sa_softmax import RECIP_BITS, SA_SLOTS, SoftmaxUnit, bank_addr_bits, span_extra

#: Largest frame the engine buffers (its x ring holds about 2N pixels, its logit bank N
#: logits a query slot).
SA_MAX_PIXELS = 1 << 14


class SaAttention(AttentionComponent):
    def elaborate(self, platform):
        m = Module()
        geo, cfg = self.geo, self.geo.cfg
        m.submodules.softmax = softmax = SoftmaxUnit(geo)
        m.submodules.agg = agg = SaAggregation(geo)
        project_qk(m, self, geo, softmax)
        bank = self.ring(m, "logit_bank", sa_logit_bits(cfg), 1 << bank_addr_bits(cfg),
                         softmax.bank_w)
        self.ring_reader(m, bank, softmax.bank_r, "softmax_bank")
        self.aggregate_into_z(m, softmax, agg, bank)
        s = self.scalars
        m.d.comb += [softmax.m_t.eq(s.m_t), softmax.s_t.eq(s.s_t),
                     agg.maxes.eq(softmax.maxes), agg.recips.eq(softmax.recips)]
        return m


class SaForm(QkForm):
    name = "sa"
    unit_names = ("softmax unit", "aggregation")
    scalars = ("s_q", "s_k", "m_t", "s_t")

    def check(self, cfg) -> None:
        if cfg.n_pixels > SA_MAX_PIXELS:
            raise ValueError(f"h/w: full SA buffers the whole frame; {cfg.h}x{cfg.w} = "
                             f"{cfg.n_pixels} pixels exceeds the {SA_MAX_PIXELS} it can hold")
        width = sa_zacc_bits(cfg) + RECIP_BITS + 2
        if width > 63:
            raise ValueError(f"fmt.data_bits: the SA normalizer needs {width} bits (> 63) for "
                             f"int{cfg.fmt.data_bits} data over {cfg.n_pixels} pixels")

    def hold(self, geo) -> int:
        """The whole frame: every query attends to every pixel."""
        return geo.cfg.n_pixels

    def bank_bits(self, geo):
        return (1 << bank_addr_bits(geo.cfg)) * sa_logit_bits(geo.cfg)

    def timing(self, geo):
        n = geo.cfg.n_pixels
        span = 2 * n + span_extra(geo.cfg)
        return AttentionTiming(
            **self.projection_timing(geo),
            logit_span=span, logit_reach=n, logit_slots=SA_SLOTS, logit_done=span,
            agg_span=n * geo.ci_chunks, agg_done=agg_done(geo, n, SA_AGG_DONE))

    def component(self, geo, poisoned=False):
        return SaAttention(geo, poisoned)


FORM = SaForm()
