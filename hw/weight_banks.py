"""The MAC array's on-chip weight memory split into banks, one a PE lane, each with its own
copies of the address registers.

A weight word is PE x SIMD weights wide: at stage2 with SIMD x PE = 8 x 16 the memory takes
over a hundred block RAMs, and one address register driving all of them crosses the chip (the
placed critical path was that net alone, 15 ns of routing).  Here each PE lane's weights are a
memory of their own, and each bank has its own copy of the read address register and of the
write port's register (``KeptRegister``: Yosys cannot merge the copies back), so an address net
only reaches its bank's few block RAMs, beside the lane's row of multipliers.

Read: the MAC array gives the address its register will hold next (``r_next``); every bank
registers it, so the data arrive when they would from one memory addressed by that register.
Write: the loader's registered write port is registered once more per bank, one cycle later than
into a plain memory.  That does not move ``ParamLoader.loaded``: the weights are the first region
of the parameter stream (``Geometry.regions``), so their last write lands long before the load
completes.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out

from .geometry import Region
from .kept_register import kept_copies
from .ports import add_memory


class WeightBanks(wiring.Component):

    def __init__(self, region: Region, banks: int):
        if region.lanes % banks:
            raise ValueError(f"weight banks: {region.lanes} lanes do not split into {banks} banks")
        self.region, self.banks = region, banks
        super().__init__({
            # the loader's write port (as a memory's: addr, data and en are inputs)
            "write": Out(WritePort.Signature(addr_width=region.addr_bits,
                                             shape=region.lanes * region.bits,
                                             granularity=region.bits)),
            "r_next": In(region.addr_bits),          # the read address of the next cycle
            "r_data": Out(region.lanes * region.bits),  # the word read at r_next, a cycle later
        })

    def elaborate(self, platform):
        m = Module()
        r, banks = self.region, self.banks
        lanes = r.lanes // banks
        width = lanes * r.bits
        addr_bits = r.addr_bits
        data = []
        for b in range(banks):
            mem = add_memory(m, f"bank{b}", unsigned(width), r.depth)
            w_port, r_port = mem.write_port(granularity=r.bits), mem.read_port()
            written = Cat(self.write.addr, self.write.data[b * width:(b + 1) * width],
                          self.write.en[b * lanes:(b + 1) * lanes])
            w_copy, = kept_copies(m, written, [f"write{b}"])
            read_addr, = kept_copies(m, self.r_next, [f"read_addr{b}"])
            m.d.comb += [
                w_port.addr.eq(w_copy[:addr_bits]),
                w_port.data.eq(w_copy[addr_bits:addr_bits + width]),
                w_port.en.eq(w_copy[addr_bits + width:]),
                r_port.addr.eq(read_addr),
            ]
            data.append(r_port.data)
        m.d.comb += self.r_data.eq(Cat(*data))
        return m
