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
Above ``FANOUT`` banks the array gives its issue instead (``r_step``: the address moves on,
wrapping at the region's depth), through ``issue_levels`` levels of kept copies
(``Geometry.weight_issue_levels``), and each bank counts its own read address: the stall
decision no longer reaches every bank's address in the cycle it is made.
A bank deeper than one block RAM is ``pieces`` memories of ``piece_words`` each
(``Geometry.weight_pieces``): every piece answers the address's low bits, all of them reach
the MAC array's memory register side by side (``r_data``, piece-major), and each bank's piece
index comes along (``r_piece``), so the array picks the piece after its register instead of a
multiplexer between the block RAMs' outputs and it (the placed critical path of the C = 64
sweep at 4 x 4: block RAM clock-to-out 5.8 ns, then three LUTs).  With two ``address_levels``
(``Geometry.weight_piece_copies``: many banks, several pieces) each piece has a kept copy
of its bank's address, and the word arrives a cycle later.
The memories are written only by a parameter load, while no frame is in flight
(``hw.param_loader``), so they carry ``no_rw_check`` (``ports.add_memory``): without it Yosys
gave every piece read-before-write across the block RAM's ports in the fabric, at stage2 8 x 16
some 3,000 LUTs and flip-flops, a multiplexer after the block RAM's output, and an address
compare from the read-address copy whose route was the placed critical path on d61893f
(``kept_read_addr11 -> bank11_0 ... DOB7``, 11.7 ns of routing).
Write: the loader's registered write port is registered once more per bank, one cycle later than
into a plain memory (two above ``FANOUT`` banks: ``_written``).  That does not move
``ParamLoader.loaded``: the weights are the first region of the parameter stream
(``Geometry.regions``), so their last write lands long before the load completes.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out

from .geometry import Region, ceil_log2
from .kept_register import FANOUT, kept_copies, kept_tree, tree_levels
from .ports import add_memory
from .util import wrap_inc


class WeightBanks(wiring.Component):

    def __init__(self, region: Region, banks: int, piece_words: int | None = None,
                 issue_levels: int = 0, piece_copies: bool = False,
                 data_register: bool = False):
        if region.lanes % banks:
            raise ValueError(f"weight banks: {region.lanes} lanes do not split into {banks} banks")
        if issue_levels not in (0, tree_levels(banks)):
            raise ValueError(f"weight banks: {issue_levels} issue levels for {banks} banks "
                             f"(0, or a copy tree's {tree_levels(banks)})")
        self.region, self.banks = region, banks
        self.piece_words = min(piece_words or region.depth, region.depth)
        self.pieces = -(-region.depth // self.piece_words)
        self.issue_levels, self.piece_copies = issue_levels, piece_copies and self.pieces > 1
        #: registers from ``r_next`` or ``r_step`` to the block RAMs' address pins (as
        #: ``Geometry.weight_address_levels``); the word answers a cycle after the last
        self.address_levels = 1 + self.issue_levels + self.piece_copies
        #: a kept register of each piece's block-RAM output (``Geometry.weight_data_register``)
        self.data_register = data_register
        #: cycles from ``r_next`` or ``r_step`` to the word on ``r_data``
        self.read_latency = self.address_levels + 1 + data_register
        super().__init__({
            # the loader's write port (as a memory's: addr, data and en are inputs)
            "write": Out(WritePort.Signature(addr_width=region.addr_bits,
                                             shape=region.lanes * region.bits,
                                             granularity=region.bits)),
            # the read address of the next cycle, or (``issue_levels``) that it moves on
            **({"r_step": In(1)} if issue_levels else {"r_next": In(region.addr_bits)}),
            # the word read at that address, ``read_latency`` cycles later: every piece's,
            # piece-major
            "r_data": Out(self.pieces * region.lanes * region.bits),
            # and, with several pieces, each bank's piece of that address (bank-major)
            **({"r_piece": Out(banks * self.piece_bits)} if self.pieces > 1 else {}),
        })

    def _written_bits(self, width: int) -> int:
        """The data bits a bank's write carries: the bank's word, or above ``FANOUT`` banks
        one lane's value, copied into every lane at the bank (``_written``)."""
        return width if self.banks <= FANOUT else self.region.bits

    def _written(self, m, width: int, lanes: int) -> list:
        """Each bank's write (address, its data, its lane enables), for its kept copy.  Above
        ``FANOUT`` banks through one more level of kept copies, one a group of ``FANOUT``
        banks with their slices: the loader's write register drove every bank's copy across
        the chip (stage2 8 x 16, 16 banks: 13.6 ns of routing, its placed critical path on
        6525389).  The weights land a cycle later still, long before the load completes.
        There the copies carry one lane's value, not the word: the loader writes one lane at
        a time with its value in every lane (``ports.region_write_port``), so a group's copy
        is 8 data bits instead of four banks' words (256 at stage2), fewer nets through the
        block-RAM area (placed: 14.6 ns of routing from the loader's data register to a
        group's copy, on 0a12b7e)."""
        data, en, banks = self.write.data, self.write.en, self.banks
        if banks <= FANOUT:
            return [Cat(self.write.addr, data[b * width:(b + 1) * width],
                        en[b * lanes:(b + 1) * lanes]) for b in range(banks)]
        addr_bits, value, written = len(self.write.addr), data[:self.region.bits], []
        for first in range(0, banks, FANOUT):
            group = range(first, min(first + FANOUT, banks))
            bundle, = kept_copies(m, Cat(self.write.addr, value,
                                         *(en[b * lanes:(b + 1) * lanes] for b in group)),
                                  [f"write_group{first // FANOUT}"])
            ens = addr_bits + len(value)
            written += [Cat(bundle[:ens], bundle[ens + i * lanes:ens + (i + 1) * lanes])
                        for i in range(len(group))]
        return written

    def _piece_addresses(self, m, address, bank: int) -> list:
        """Each piece's read address: the bank's, or with ``piece_copies`` a kept copy of it a
        piece (``Geometry.weight_piece_copies``), a cycle later."""
        if not self.piece_copies:
            return [address] * self.pieces
        return kept_copies(m, address, [f"read_addr{bank}_{k}" for k in range(self.pieces)])

    def _read_address(self, m, bank: int, steps):
        """A bank's read address: a kept copy of ``r_next``, or with ``issue_levels`` a
        counter stepped by the bank's leaf of the kept tree of ``r_step`` (``steps``; reset,
        as the MAC array's address register: they count the same steps, these levels
        later)."""
        if steps is None:
            return kept_copies(m, self.r_next, [f"read_addr{bank}"])[0]
        address = Signal(self.region.addr_bits, name=f"read_addr{bank}")
        with m.If(steps[bank]):
            m.d.sync += address.eq(wrap_inc(address, self.region.depth - 1))
        return address

    @property
    def piece_bits(self) -> int:
        return max(1, ceil_log2(self.pieces))  # as ``Geometry.weight_piece_bits``

    def elaborate(self, platform):
        m = Module()
        r, banks = self.region, self.banks
        lanes = r.lanes // banks
        width = lanes * r.bits
        addr_bits = r.addr_bits
        low_bits = (self.piece_words - 1).bit_length() if self.pieces > 1 else addr_bits
        data = [[None] * banks for _ in range(self.pieces)]
        pieces = []
        written = self._written(m, width, lanes)
        data_bits = self._written_bits(width)
        steps = kept_tree(m, self.r_step, "read_step", banks) if self.issue_levels else None
        for b in range(banks):
            w_copy, = kept_copies(m, written[b], [f"write{b}"])
            read_addr = self._read_address(m, b, steps)
            piece_addrs = self._piece_addresses(m, read_addr[:low_bits], b)
            w_addr, w_en = w_copy[:addr_bits], w_copy[addr_bits + data_bits:]
            w_data = w_copy[addr_bits:addr_bits + data_bits]
            if data_bits < width:  # one lane's value: into every lane, the enables pick one
                w_data = Cat(*[w_data] * (width // data_bits))
            for k in range(self.pieces):
                depth = min(self.piece_words, r.depth - k * self.piece_words)
                name = f"bank{b}" + (f"_{k}" if self.pieces > 1 else "")
                mem = add_memory(m, name, unsigned(width), depth, written_while_idle=True)
                w_port, r_port = mem.write_port(granularity=r.bits), mem.read_port()
                m.d.comb += [
                    w_port.addr.eq(w_addr[:low_bits]),
                    w_port.data.eq(w_data),
                    w_port.en.eq(Mux(w_addr[low_bits:] == k, w_en, 0) if self.pieces > 1
                                 else w_en),
                    r_port.addr.eq(piece_addrs[k]),
                ]
                data[k][b] = (kept_copies(m, r_port.data, [f"read_data{b}_{k}"],
                                          reset_less=True)[0]
                              if self.data_register else r_port.data)
            if self.pieces > 1:  # the piece of the word the memories answer, as they do
                # as the data: a piece's address copy, the memory, the data register
                piece = read_addr[low_bits:]
                levels = self.piece_copies + 1 + self.data_register
                for level in range(levels):
                    later = Signal(self.piece_bits, name=f"piece{b}" + "_early" * (
                        levels - 1 - level))
                    m.d.sync += later.eq(piece)
                    piece = later
                pieces.append(piece)
        m.d.comb += self.r_data.eq(Cat(*(Cat(*row) for row in data)))
        if pieces:
            m.d.comb += self.r_piece.eq(Cat(*pieces))
        return m
