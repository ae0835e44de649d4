"""What the forms with queries and keys share (S2): the projection of q and k into two rings
and the read ports a unit uses to read q_p and k_j from them."""
from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, flipped

from ..geometry import Geometry
from ..ports import read_port
from ..projection import Projection, projection_images, projection_regions
from ..util import seen
from .base import EngineForm


def qk_outputs(cfg) -> tuple[tuple[str, int], ...]:
    """The projection's rows: [W_q; W_k], q rows then k rows."""
    return (("q", cfg.d), ("k", cfg.d))


class QkForm(EngineForm):
    """The registry-entry terms the forms with queries and keys share."""

    def proj_rows(self, cfg) -> int:
        return 2 * cfg.d

    def regions(self, geo: Geometry):
        return projection_regions(geo)

    def images(self, geo: Geometry, layer) -> dict:
        return projection_images(geo, np.concatenate([layer.w_q, layer.w_k], 0),
                                 np.concatenate([layer.m_q, layer.m_k]))

    def bank_bits(self, geo: Geometry) -> int:
        """Bits of the form's logit bank."""
        raise NotImplementedError

    def buffers(self, geo: Geometry) -> dict[str, int]:
        return {"q/k ring": geo.depth * 2 * geo.cfg.d * geo.cfg.fmt.data_bits,
                "logit bank": self.bank_bits(geo)}


def qk_members(geo: Geometry) -> dict:
    """Ports of a unit that reads queries and keys: the projection's count, the count of pixels
    the aggregation has finished with (frees bank slots), and the two ring read ports."""
    width = geo.cfg.d * geo.cfg.fmt.data_bits
    return {
        "avail": In(geo.count_bits),       # pixels projected
        "agg_issued": In(geo.count_bits),  # pixels the aggregation unit has finished reading
        "q": read_port(geo.addr_bits, width),
        "k": read_port(geo.addr_bits, width),
    }


def project_qk(m, att, geo: Geometry, unit):
    """The projection of ``att`` (an attention component) into its q and k rings, read by
    ``unit`` (``qk_members``); returns the projection."""
    cfg = geo.cfg
    m.submodules.proj = proj = Projection(geo, qk_outputs(cfg))
    wiring.connect(m, flipped(att.chunk), proj.chunk)
    wiring.connect(m, flipped(att.params.w_qk), proj.w)
    wiring.connect(m, flipped(att.params.m_qk), proj.m)
    m.d.comb += [proj.shifts.eq(Cat(att.scalars.s_q, att.scalars.s_k)),
                 unit.avail.eq(seen(m, geo, proj.count, "logit_avail")),
                 att.projected.eq(proj.count)]
    width = cfg.d * cfg.fmt.data_bits
    att.ring_reader(m, att.ring(m, "q_ring", width, geo.depth, proj.q), unit.q, "unit_q")
    att.ring_reader(m, att.ring(m, "k_ring", width, geo.depth, proj.k), unit.k, "unit_k")
    return proj
