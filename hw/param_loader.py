"""Parameter loader: writes a trained layer into the engine's weight memories at run time.

The parameter stream carries one value per beat (``Geometry.param_bits`` wide, two's complement,
the low bits used), in the order of ``Geometry.regions``: each memory's image, address by
address, lane by lane, then the scalar shifts and multipliers.  ``last`` (tlast) must mark the
final value; a stream that ends early or late sets ``error`` and restarts the map.  ``loaded``
rises ``LATENCY`` cycles after the final beat of a complete load and falls with the first beat
of the next one (so a load that breaks off leaves the engine refusing frames rather than
computing with a half-written layer); frames are accepted only while it is high.  ``error``
is sticky until reset.  Load while no frame is in flight: the MAC array reads these memories
as it runs.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .geometry import Geometry
from .kept_register import kept_copies
from .ports import region_write_port, scalar_layout


def param_stream(bits: int) -> stream.Signature:
    return stream.Signature(data.StructLayout({"data": bits, "last": 1}))


class ParamLoader(wiring.Component):
    #: cycles from the final beat taken to ``loaded`` high: the beat register, the decode's
    #: register (with the memories' write ports), then ``loaded``, a cycle after the last write
    LATENCY = 3

    def __init__(self, geo: Geometry):
        self.geo = geo
        f = geo.cfg.fmt
        super().__init__({
            "i": In(param_stream(geo.param_bits)), "loaded": Out(1), "error": Out(1),
            # a write port into every parameter memory, by region name
            "mem": Out(wiring.Signature({r.name: region_write_port(r)
                                         for r in geo.memory_regions})),
            "scalars": Out(scalar_layout(geo, geo.form.scalars)),  # the form's
            "s_out": Out(f.shift_bits),
        })

    def elaborate(self, platform):
        m = Module()
        geo = self.geo
        regions = geo.regions
        # the map's position: the region one-hot, and whether the lane and the address are the
        # region's last as registered flags, moved on with the counters (so no address or lane
        # compare, and no region decode, is in one cycle with the counters' next values: the
        # placed critical path of a C = 64 sweep point, `loader.region -> loader.addr`)
        hot = Signal(len(regions), init=1)
        addr = Signal(range(max(r.depth for r in regions)))
        lane = Signal(range(max(r.lanes for r in regions)))
        lane_last = Signal(init=regions[0].lanes == 1)
        addr_last = Signal(init=regions[0].depth == 1)
        fire = self.i.valid & self.i.ready
        m.d.comb += self.i.ready.eq(1)
        # the beat is registered before its address decode: the input port's register sits
        # at the pins, far from the memories (a critical path of the placed design)
        beat = Signal()
        value = Signal.like(self.i.p.data, reset_less=True)  # data: ``beat`` says when
        beat_last = Signal()
        m.d.sync += [beat.eq(fire), value.eq(self.i.p.data), beat_last.eq(self.i.p.last)]
        # a complete load, one cycle before ``loaded``: the memories' write ports are
        # registered (the address register fans out to every memory), so their last write
        # lands a cycle after the decode
        complete = Signal()

        # the write ports' registers: only the enables are reset (the address and data are
        # read only with them); a wide banked memory's enables are decoded where its banks are
        # (``_banked_enables``)
        written = {}
        # the regions whose lane enables are decoded beside their banks, not in a register here
        decoded_at_banks = {"w_mac"} if geo.weight_write_group_lanes else set()
        for r in geo.memory_regions:  # no write unless a beat's decode says so below
            port = getattr(self.mem, r.name)
            if r.name not in decoded_at_banks:
                m.d.sync += port.en.eq(0)
            written[r.name] = [Signal.like(v, name=f"{r.name}_{k}", reset_less=True)
                               for k, v in (("addr", port.addr), ("data", port.data))]
            m.d.comb += [port.addr.eq(written[r.name][0]), port.data.eq(written[r.name][1])]
        for index, r in enumerate(regions):
            with m.If(beat & hot[index]):
                if r.name == "scalars":
                    for k, name in enumerate(geo.scalar_order):
                        with m.If(addr == k):
                            target = self.s_out if name == "s_out" else self.scalars[name]
                            m.d.sync += target.eq(value)
                else:
                    port_addr, port_data = written[r.name]
                    m.d.sync += [port_addr.eq(addr),
                                 port_data.eq(Cat(*[value[:r.bits]] * r.lanes))]
                    if r.name not in decoded_at_banks:
                        m.d.sync += getattr(self.mem, r.name).en.eq(1 << lane)
            if r.name in decoded_at_banks:
                self._banked_enables(m, r, beat & hot[index], lane)
        at_end = hot[-1] & addr_last & lane_last  # the final value of the final region
        with m.If(beat):
            self._advance(m, hot, addr, lane, addr_last, lane_last)
            with m.If(at_end):  # the stream's end must match the map's
                m.d.sync += complete.eq(beat_last)
                with m.If(~beat_last):
                    m.d.sync += self.error.eq(1)
            with m.If(beat_last & ~at_end):
                m.d.sync += [self.error.eq(1), hot.eq(1), addr.eq(0), lane.eq(0),
                             lane_last.eq(lane_last.init), addr_last.eq(addr_last.init)]
        # a new load invalidates the old one at its first beat (these statements win over a
        # completion a cycle or two behind it)
        m.d.sync += self.loaded.eq(complete)
        with m.If(fire):
            m.d.sync += [complete.eq(0), self.loaded.eq(0)]
        return m

    def _banked_enables(self, m, r, write, lane):
        """The banked weight memory's lane enables (``Geometry.weight_write_group_lanes``): the
        write and its lane registered as one kept copy a group of banks, each group's enables
        decoded from its copy, in the cycle the other regions' enable registers hold theirs.
        One register of 128 enables decoded from the lane counter was stretched between it and
        the banks' write copies: `loader.lane -> loader.mem w_mac en`, 11.0 ns of routing
        (stage2 8 x 16, seed 2, on e246a4e)."""
        span = self.geo.weight_write_group_lanes
        en = getattr(self.mem, r.name).en
        for g, first in enumerate(range(0, r.lanes, span)):
            copy, = kept_copies(m, Cat(write, lane), [f"w_mac_lane{g}"])
            lanes = range(first, min(first + span, r.lanes))
            m.d.comb += en[first:lanes.stop].eq(
                Cat(*(copy[0] & (copy[1:] == k) for k in lanes)))

    def _advance(self, m, hot, addr, lane, addr_last, lane_last):
        """One value on: lane, then address, then region (the last wraps to the first), with
        the flags of the position it moves to."""
        regions = self.geo.regions

        def any_region(flag) -> Value:
            """Is the region one for which ``flag(index, region)`` holds (a constant or a
            signal)?"""
            flags = [(i, flag(i, r)) for i, r in enumerate(regions)]
            terms = [hot[i] & f for i, f in flags if f is not False]
            return Cat(*terms).any() if terms else Const(0, 1)

        def following(i):
            return regions[(i + 1) % len(regions)]

        def second_last(counter, size):  # the counter's next value is its last (size - 1)
            return size > 1 and counter == size - 2

        with m.If(~lane_last):
            m.d.sync += [lane.eq(lane + 1),
                         lane_last.eq(any_region(lambda i, r: second_last(lane, r.lanes)))]
        with m.Elif(~addr_last):
            m.d.sync += [lane.eq(0), addr.eq(addr + 1),
                         lane_last.eq(any_region(lambda i, r: r.lanes == 1)),
                         addr_last.eq(any_region(lambda i, r: second_last(addr, r.depth)))]
        with m.Else():
            m.d.sync += [lane.eq(0), addr.eq(0), hot.eq(hot.rotate_left(1)),
                         lane_last.eq(any_region(lambda i, r: following(i).lanes == 1)),
                         addr_last.eq(any_region(lambda i, r: following(i).depth == 1))]
