"""Weight fetcher: an AXI4 read master that brings the MAC array's weights from external memory,
one output-channel tile at a time, into a double-buffered tile memory (docs/external-memory.md).

Tile n (counted from reset, n = 0, 1, ...) is tile n mod T of the layer, read from
``base + (n mod T) * tile_bytes`` as ``bursts_per_tile`` INCR bursts of ``burst_beats`` beats
into buffer n mod 2 of the tile memory; ``beats_per_word`` beats make one weight word (the
first in the low bits), written as the word completes (the write registered, a block-RAM
boundary).  Tile n is fetched once the MAC array has finished tile n - 2 (its buffer is free),
so the next tile's fetch overlaps the current tile's compute.  One burst is outstanding at a
time: the weights are reused over a whole frame, so the bandwidth they need is small
(docs/external-memory.md) and the simplest master is the one whose timing the cycle model knows.

``error`` is sticky until reset: an error response (SLVERR, DECERR) or a base address not
aligned to a burst (which is also what keeps every burst inside a 4 KB page).  After an error
no further tile is counted as loaded, so the engine stalls instead of computing with wrong
weights.

    IDLE --(buffer free, enabled)--> ADDR --(arready)--> DATA --(rlast)--> ADDR | IDLE
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .geometry import Geometry, ceil_log2
from .ports import write_port
from .util import wrap_inc

ADDR_BITS = 32
#: width of the free-running tile counters (they are compared by difference, at most 2 apart)
TILE_COUNT_BITS = 8
#: AXI4 burst type INCR, response OKAY
INCR, OKAY = 1, 0


def axi_read_signature(data_bits: int) -> wiring.Signature:
    """An AXI4 read master's channels, from the master's side (the AXI4 names)."""
    return wiring.Signature({
        "arid": Out(1), "araddr": Out(ADDR_BITS), "arlen": Out(8), "arsize": Out(3),
        "arburst": Out(2), "arvalid": Out(1), "arready": In(1),
        "rid": In(1), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
        "rready": Out(1),
    })


class WeightFetch(wiring.Component):
    def __init__(self, geo: Geometry):
        self.geo = geo
        super().__init__({
            "axi": Out(axi_read_signature(geo.cfg.axi_bits)),
            "base": In(ADDR_BITS),            # byte address of tile 0 (aligned to a burst)
            "enable": In(1),                  # parameters loaded: fetching may start
            "tiles": write_port(ceil_log2(geo.tile_buffer_words), geo.weight_word_bits),
            "mac_tiles": In(TILE_COUNT_BITS),  # tiles the MAC array has finished
            "loaded": Out(TILE_COUNT_BITS),    # tiles fetched (free-running)
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cfg = self.geo, self.geo.cfg
        axi, bus = self.axi, cfg.axi_bits
        burst_bits = ceil_log2(geo.burst_bytes)
        tile_in_layer = Signal(range(cfg.tiles))
        tile_addr = Signal(ADDR_BITS)          # offset of the tile being fetched
        addr = Signal(ADDR_BITS)               # address of the next burst
        burst = Signal(range(geo.bursts_per_tile))
        word = Signal(range(geo.tile_buffer_words + 1))   # next word to write
        word_end = Signal.like(word)           # one past the tile's last word
        part = Signal(range(geo.beats_per_word))
        assembled = Signal(geo.beats_per_word * bus)
        buffer_free = (self.loaded - self.mac_tiles)[:TILE_COUNT_BITS] < 2
        misaligned = self.base[:burst_bits] != 0

        m.d.comb += [axi.arid.eq(0), axi.arburst.eq(INCR), axi.arlen.eq(cfg.burst_beats - 1),
                     axi.arsize.eq(ceil_log2(bus // 8)), axi.araddr.eq(self.base + addr)]
        with m.If(self.enable & misaligned):
            m.d.sync += self.error.eq(1)

        # the beat that completes a word, written the next cycle (registered at the RAM)
        beat = axi.rvalid & axi.rready
        word_done = beat & (part == geo.beats_per_word - 1) & (word != word_end)
        m.d.sync += [self.tiles.en.eq(word_done), self.tiles.addr.eq(word),
                     self.tiles.data.eq(Cat(assembled[bus:], axi.rdata)[:geo.weight_word_bits]
                                        if geo.beats_per_word > 1 else axi.rdata)]
        with m.If(beat):
            m.d.sync += [assembled.eq(Cat(assembled[bus:], axi.rdata)),
                         part.eq(wrap_inc(part, geo.beats_per_word - 1))]
            with m.If(axi.rresp != OKAY):
                m.d.sync += self.error.eq(1)
        with m.If(word_done):
            m.d.sync += word.eq(word + 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.enable & ~self.error & ~misaligned & buffer_free):
                    odd = self.loaded[0]  # tile n goes into buffer n mod 2
                    m.d.sync += [addr.eq(tile_addr), burst.eq(0), part.eq(0),
                                 word.eq(Mux(odd, geo.tile_words, 0)),
                                 word_end.eq(Mux(odd, 2 * geo.tile_words, geo.tile_words))]
                    m.next = "ADDR"
            with m.State("ADDR"):
                m.d.comb += axi.arvalid.eq(1)
                with m.If(axi.arready):
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += axi.rready.eq(1)
                with m.If(beat & axi.rlast):
                    m.d.sync += [addr.eq(addr + geo.burst_bytes), burst.eq(burst + 1)]
                    m.next = "ADDR"
                    with m.If(burst == geo.bursts_per_tile - 1):
                        m.next = "IDLE"
                        last_tile = tile_in_layer == cfg.tiles - 1
                        m.d.sync += [
                            tile_in_layer.eq(wrap_inc(tile_in_layer, cfg.tiles - 1)),
                            tile_addr.eq(Mux(last_tile, 0, tile_addr + geo.tile_bytes)),
                        ]
                        with m.If(~self.error & (axi.rresp == OKAY)):
                            m.d.sync += self.loaded.eq(self.loaded + 1)
        return m
