"""PSSA, the paper's pixel-shift self-attention (S2, S3, S9): the registry entry and the
attention component.

    chunk -> Projection -> q ring, k ring -> LogitUnit -> logit bank -> WindowAggregation -> z
                                             x ring ---------------------^

The projection computes q and k of each pixel, the logit unit the nine logits a_p(d) over
Delta_L, the aggregation z_p = RQ(sum_d a_p(d) x_{p+d}) into the z buffer.
"""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring

from golden.config import SHIFT_TAPS

from ..aggregation import WindowAggregation, agg_done
from ..geometry import SLOTS
from ..util import REGISTERED_START_WAIT
from .base import AttentionComponent, AttentionTiming, registered_agg_start
from .pssa_logit import BANK_ROW_BITS, BANK_WORDS, LogitUnit, logit_done, logit_parts
from .qk import QkForm, project_qk


class PssaAttention(AttentionComponent):
    def elaborate(self, platform):
        m = Module()
        geo, cfg = self.geo, self.geo.cfg
        m.submodules.logit = logit = LogitUnit(geo)
        m.submodules.agg = agg = WindowAggregation(geo, cfg.shift_offsets, BANK_ROW_BITS,
                                                   start_wait=FORM.timing(geo).agg_wait)
        project_qk(m, self, geo, logit)
        bank = self.ring(m, "logit_bank", cfg.fmt.data_bits, BANK_WORDS, logit.bank)
        self.aggregate_into_z(m, logit, agg, bank)
        s = self.scalars
        m.d.comb += [logit.m_a.eq(s.m_a), logit.s_a.eq(s.s_a), agg.m_z.eq(s.m_z),
                     agg.s_z.eq(s.s_z)]
        return m


class PssaForm(QkForm):
    name = "pssa"
    scalars = ("s_q", "s_k", "m_a", "s_a", "m_z", "s_z")
    soak_weight = 2

    def bank_bits(self, geo):
        return BANK_WORDS * geo.cfg.fmt.data_bits

    def timing(self, geo):
        cfg = geo.cfg
        return registered_agg_start(geo, AttentionTiming(
            **self.projection_timing(geo),
            logit_span=SHIFT_TAPS * logit_parts(geo), logit_reach=cfg.shift * cfg.w + cfg.shift,
            logit_slots=SLOTS, logit_done=logit_done(geo), logit_wait=REGISTERED_START_WAIT,
            agg_span=SHIFT_TAPS * geo.ci_chunks, agg_done=agg_done(geo, SHIFT_TAPS)))

    def component(self, geo, poisoned=False):
        return PssaAttention(geo, poisoned)


FORM = PssaForm()
