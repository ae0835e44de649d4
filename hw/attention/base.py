"""The seam between the engine and an attention form.

Every form is one ``EngineForm`` (its registry entry, ``hw.attention.FORMS``) and one attention
``Component`` whose signature is ``attention_signature(geo)``: towards the rest of the engine
every form looks the same.

    chunk      In   the input pixels, SIMD channels a beat (the form's projection consumes them)
    x          In   a read port of the x ring (pixel p's chunk ci at {slot(p), ci})
    z          Out  a write port of the z buffer (z_p's chunk ci at {p mod SLOTS, ci})
    mac_count  In   pixels the MAC array has finished reading (frees z slots)
    projected  Out  pixels whose projections are done (the MAC array may read their x)
    z_count    Out  pixels whose z is in the z buffer
    params     In   read ports of the form's parameter memories (``EngineForm.regions``)
    scalars    In   the form's scalar registers (``EngineForm.scalars``)

The entry supplies what differs between forms: refusals, the ring's ``hold``, the projection's
rows, parameter regions and their images, private memories (for the storage report), the
cycle model's timing (``AttentionTiming``, kept beside the hardware it describes) and the golden
hooks (``golden.forms``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, flipped

from golden.config import XvConfig

from ..geometry import Geometry, Region, ceil_log2
from ..mac_array import WINDOW_WAIT
from ..ports import (add_memory, read_port, region_read_port, ring_read_port, scalar_layout,
                     write_port)
from ..projection import PROJ_DONE
from ..streams import chunk_stream
from ..util import REGISTERED_START_WAIT, seen


@dataclass(frozen=True)
class AttentionTiming:
    """The form's units as the cycle model sees them (sim/cycle_model.py).

    Each stage starts a pixel at the first cycle its start condition holds and then issues
    ``span`` cycles without bubbles.  ``proj_*``: the projection (``chunk_cycles`` a chunk, so
    the first input beat is accepted ``chunk_cycles - 1`` cycles after the first chunk is
    offered); ``logit_*``: the unit that fills the bank, waiting for ``logit_reach`` pixels past
    its own to be projected and for ``logit_slots`` bank slots, and starting ``logit_wait``
    cycles after both hold (1 where its start condition is registered); ``agg_*``: the
    aggregation, waiting for the pixel's logits and a free z slot, ``agg_wait`` cycles after
    both hold (``registered_agg_start``).
    ``*_done``: cycles from the last issue of a pixel (the logit unit: from its start) to the
    cycle its count shows the pixel.  A form without attention units has ``logit_span = 0``.
    """

    proj_span: int
    proj_done: int
    chunk_cycles: int
    logit_span: int = 0
    logit_reach: int = 0
    logit_slots: int = 0
    logit_done: int = 0
    logit_wait: int = 0
    agg_span: int = 0
    agg_done: int = 0
    agg_wait: int = 0

    @property
    def has_attention_units(self) -> bool:
        return self.logit_span > 0


def registered_agg_start(geo: Geometry, timing: AttentionTiming) -> AttentionTiming:
    """``timing`` with ``agg_wait = REGISTERED_START_WAIT`` where a registered start of the
    window aggregation (``WindowAggregation``) costs no steady-state throughput, else as it is.

    Registered, the start compares no counter in the cycle it issues (its compare with the
    MAC array's count was the placed critical path of tiny 4 x 4 and tiny 1 x 1, ``make bench``
    on f8b9346), but each start waits a cycle longer.  Two loops close through it, and each
    must still fit in the pixels it spans at the MAC array's pace (``mac_span`` a pixel):
    - z slots: pixel p starts once the MAC array is done with p - z_slots, and the array reads
      p's z ``agg_span - 1 + agg_done + WINDOW_WAIT`` after that start;
    - logit slots: pixel p's logits start once the aggregation has issued p - logit_slots,
      and the aggregation starts p ``logit_done`` after them.
    Each loop passes two counts between units, each ``count_registers`` cycles late
    (``hw.util.seen``)."""
    wait = REGISTERED_START_WAIT
    mac_span = geo.tile_words  # the MAC array's cycles a pixel: a tile's words
    late = 2 * geo.cfg.count_registers  # each loop passes two counts (``hw.util.seen``)
    z_loop = mac_span + wait + timing.agg_span - 1 + timing.agg_done + WINDOW_WAIT + late
    logit_loop = timing.agg_span + timing.logit_wait + timing.logit_done + wait + late
    fits = (z_loop <= geo.z_slots * mac_span and logit_loop <= timing.logit_slots * mac_span)
    return replace(timing, agg_wait=wait) if fits else timing


class EngineForm:
    """A form's registry entry; the defaults are those of a form with no attention branch."""

    name: str = ""
    #: the form's scalar registers, in parameter-stream order (before s_out)
    scalars: tuple[str, ...] = ()
    #: relative frequency in random-configuration soaks
    soak_weight: int = 1

    def check(self, cfg: XvConfig) -> None:
        """Refuse, naming the field, what the engine cannot build (beyond XvConfig's rules)."""

    def hold(self, geo: Geometry) -> int:
        """Pixels behind the MAC array's pixel the ring must keep: by default its window."""
        return geo.reach

    def proj_rows(self, cfg: XvConfig) -> int:
        """Rows the projection computes from each pixel (0: the form has no projection)."""
        return 0

    def regions(self, geo: Geometry) -> tuple[Region, ...]:
        """The form's own parameter memories, in stream order."""
        return ()

    def images(self, geo: Geometry, layer) -> dict:
        """Each of the form's regions as a (depth, lanes) array of the quantized layer."""
        return {}

    def buffers(self, geo: Geometry) -> dict[str, int]:
        """Bits of the form's private memories (rings, banks), for the storage report."""
        return {}

    def timing(self, geo: Geometry) -> AttentionTiming:
        raise NotImplementedError

    #: the cycle model's names of the unit that fills the bank and of the aggregation
    unit_names: tuple[str, str] = ("logit unit", "aggregation")

    def unit_cycles(self, geo: Geometry) -> dict[str, int]:
        """Issue cycles each of the form's units spends on one pixel (from its timing)."""
        t = self.timing(geo)
        out = {"projection": t.proj_span} if self.proj_rows(geo.cfg) else {}
        if t.has_attention_units:
            out.update({self.unit_names[0]: t.logit_span, self.unit_names[1]: t.agg_span})
        return out

    @staticmethod
    def projection_timing(geo: Geometry) -> dict:
        """``AttentionTiming``'s projection fields, for a form with a ``Projection``."""
        return dict(proj_span=geo.ci_chunks * geo.proj_groups, proj_done=PROJ_DONE,
                    chunk_cycles=geo.proj_groups)

    def component(self, geo: Geometry, poisoned: bool = False) -> wiring.Component:
        """The form's ``AttentionComponent``; ``poisoned`` (tests only) as the engine's."""
        raise NotImplementedError

    def fit_draw(self, shape: dict, rng) -> dict:
        """Adjust a random configuration's fields to what the form needs (soak)."""
        return shape

    @property
    def golden(self):
        """The form's golden hooks: layer class, quantizer, fixed-point forward."""
        from golden.forms import golden_form

        return golden_form(self.name)


# ------------------------------------------------------------------------ signature
def attention_signature(geo: Geometry) -> wiring.Signature:
    """The one signature of every attention component (module docstring)."""
    regions = geo.form.regions(geo)
    return wiring.Signature({
        "chunk": In(chunk_stream(geo.in_bits, geo.chunk_index_bits)),
        "x": read_port(ceil_log2(geo.x_words), geo.in_bits),
        "z": write_port(ceil_log2(geo.z_words), geo.in_bits),
        "mac_count": In(geo.count_bits),
        "projected": Out(geo.count_bits),
        "z_count": Out(geo.count_bits),
        "params": In(wiring.Signature({r.name: region_read_port(r).flip() for r in regions})),
        "scalars": In(scalar_layout(geo, geo.form.scalars)),
    })


class AttentionComponent(wiring.Component):
    """The base of every form's component: the one signature, and the tail the forms with
    attention units share."""

    def __init__(self, geo: Geometry, poisoned: bool = False):
        # poisoned (tests only): the form's ring reads that meet a write of their word answer
        # inverted (``hw.ports.ring_read_port``)
        self.geo, self.poisoned = geo, poisoned
        super().__init__(attention_signature(geo))

    def ring(self, m, name: str, shape, depth: int, writer):
        """A ring of pixel slots (``add_memory(ring=True)``: no read-before-write logic after
        its block RAMs) written through ``writer``, a unit's write port; returns the memory
        and its write port, for ``ring_reader``."""
        mem = add_memory(m, name, shape, depth, ring=True)
        write = mem.write_port()
        wiring.connect(m, writer, write)
        return mem, write

    def ring_reader(self, m, ring, reader, name: str) -> None:
        """Connect ``reader``, a unit's read port, to ``ring`` (``self.ring``'s pair)."""
        mem, write = ring
        wiring.connect(m, reader, ring_read_port(m, mem, write, self.poisoned, name))

    def aggregate_into_z(self, m, filler, agg, bank) -> None:
        """``filler`` (the unit that writes the bank, a ``ring``) runs ahead of ``agg`` by the
        bank's slots; ``agg`` reads the bank and the x ring and writes z; the counts chain to
        the ports."""
        self.ring_reader(m, bank, agg.a, "agg_a")
        wiring.connect(m, flipped(self.x), agg.x)
        wiring.connect(m, agg.z, flipped(self.z))
        geo = self.geo
        m.d.comb += [filler.agg_issued.eq(seen(m, geo, agg.issued, "filler_agg_issued")),
                     agg.logit_count.eq(seen(m, geo, filler.count, "agg_logit_count")),
                     agg.mac_count.eq(self.mac_count), self.z_count.eq(agg.count)]
