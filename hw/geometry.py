"""Everything the engine derives from an ``XvConfig``: buffer sizes, widths, memory maps.

Read by the RTL generator, the parameter packer, the cycle model and the testbenches, so that a
size is computed in one place.  What depends on the attention form comes from the form's entry in
the registry (``hw.attention``, ``Geometry.form``); this module names no form.  Needs no torch and
no numpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from golden.config import XvConfig

from .kept_register import FANOUT, tree_levels


def ceil_log2(n: int) -> int:
    return max(0, (n - 1).bit_length())


#: Pixels the attention units may run ahead of the MAC array, and of each other: the z buffer
#: and the logit bank hold SLOTS pixels each (a power of two).
SLOTS = 4
LOOKAHEAD = 2 * SLOTS


#: The ECP5 block RAM's (DP16KD) shapes: data width -> words
BRAM_SHAPES = {1: 16384, 2: 8192, 4: 4096, 9: 2048, 18: 1024, 36: 512}


def bram_words(width: int) -> int:
    """Words of one block RAM in the shape Yosys picks for a memory ``width`` bits wide (a
    wider one is several block RAMs side by side, 512 words each)."""
    return next((words for bits, words in BRAM_SHAPES.items() if width <= bits), 512)


#: A weight memory over more block RAMs than this is split by PE lanes (``Geometry.weight_banks``)
BANKED_ABOVE_BRAMS = 16
#: ... and so is one whose word is wider than this: a memory of few words is LUT RAM (Yosys puts
#: tiny 8 x 8's ten words of 512 bits in 128 cells of 16 x 4 bits), its read address into every
#: cell (placed: 9.8 ns of routing from the address register to a data bit)
BANKED_ABOVE_BITS = 256


@dataclass(frozen=True)
class Region:
    """One memory of the parameter map: ``depth`` words of ``lanes`` values of ``bits`` each."""

    name: str
    depth: int
    lanes: int
    bits: int

    @property
    def words(self) -> int:
        return self.depth * self.lanes

    @property
    def addr_bits(self) -> int:
        return ceil_log2(self.depth)


@dataclass(frozen=True)
class Geometry:
    """Derived sizes of the engine for one configuration."""

    cfg: XvConfig

    def __post_init__(self) -> None:
        self.form.check(self.cfg)

    @cached_property
    def form(self):
        """The attention form's registry entry (``hw.attention.EngineForm``)."""
        from .attention import engine_form  # the form files import this module

        return engine_form(self.cfg)

    # ---------------------------------------------------------------- stream shapes
    @property
    def ci_chunks(self) -> int:
        """Input beats per pixel: C_in / SIMD."""
        return self.cfg.c_in // self.cfg.simd

    @property
    def co_groups(self) -> int:
        """Output beats per pixel: C_out / PE."""
        return self.cfg.c_out // self.cfg.pe

    @property
    def in_bits(self) -> int:
        return self.cfg.simd * self.cfg.fmt.data_bits

    @property
    def out_bits(self) -> int:
        return self.cfg.pe * self.cfg.fmt.data_bits

    @property
    def chunk_index_bits(self) -> int:
        """Width of a chunk's index within its pixel on the chunk stream."""
        return max(1, ceil_log2(self.ci_chunks))

    # ---------------------------------------------------------------- pixel ring
    @property
    def reach(self) -> int:
        """Raster distance from a pixel to the last pixel of its window: R*W + R."""
        r = self.cfg.radius
        return r * self.cfg.w + r

    @property
    def hold(self) -> int:
        """Pixels behind the MAC array's pixel that must stay in the ring (the form says: its
        window's reach, or a whole frame)."""
        return self.form.hold(self)

    @property
    def ahead(self) -> int:
        """Pixels the input may run ahead of the MAC array's count: the projection must reach
        the MAC array's window (``hold``), the attention units LOOKAHEAD pixels and their own
        window beyond it.  With several output-channel tiles the MAC array's count stays at the
        frame's first pixel until the last tile (every tile reads the frame again), so the whole
        frame, and the next frame's first window, must fit ahead of it."""
        ahead = self.hold + LOOKAHEAD + 2
        if self.tiled:
            ahead = max(ahead, self.cfg.n_pixels + self.reach + LOOKAHEAD + 2)
        return ahead

    @property
    def depth(self) -> int:
        """Pixels the ring buffer holds: a power of two >= hold + ahead (a ring slot is a bit
        field of the free-running pixel index, no modulo in an address path)."""
        return 1 << ceil_log2(self.hold + self.ahead)

    @property
    def addr_bits(self) -> int:
        return ceil_log2(self.depth)

    # Buffer addresses are bit fields, {slot, chunk} or {slot, tap}: no multiplier in an address
    # path (a multiply by a constant lands in a DSP block and sets the clock).
    @property
    def chunk_bits(self) -> int:
        return ceil_log2(self.ci_chunks)

    @property
    def x_words(self) -> int:
        """Words of the x ring: depth pixels, 2^chunk_bits words each."""
        return self.depth << self.chunk_bits

    @property
    def z_slots(self) -> int:
        """Pixels the z buffer holds: SLOTS, or with several tiles the frame and SLOTS more (every
        tile reads z again; the attention units run ahead into the next frame)."""
        return 1 << ceil_log2(self.cfg.n_pixels + SLOTS) if self.tiled else SLOTS

    @property
    def z_slot_bits(self) -> int:
        return ceil_log2(self.z_slots)

    @property
    def z_words(self) -> int:
        return self.z_slots << self.chunk_bits

    @property
    def count_bits(self) -> int:
        """Width of the free-running pixel counters (they wrap; only differences matter)."""
        return 32

    @property
    def diff_bits(self) -> int:
        """Width in which two units' pixel counters are compared: any two differ by at most
        depth, so their difference modulo 2^diff_bits is exact (and the compare is short)."""
        return self.addr_bits + 2

    # ---------------------------------------------------------------- projection
    @property
    def proj_rows(self) -> int:
        """Rows the projection unit computes from x_p (the form says which; 0: none)."""
        return self.form.proj_rows(self.cfg)

    @property
    def proj_lanes(self) -> int:
        """Rows the projection computes at once: the fewest that keep its
        ci_chunks * proj_rows / lanes cycles per pixel within the MAC array's
        taps * ci_chunks * co_groups."""
        rows = self.proj_rows
        return min((n for n in range(1, rows + 1)
                    if rows % n == 0 and rows // n <= self.cfg.taps * self.co_groups), default=1)

    @property
    def proj_groups(self) -> int:
        """Cycles the projection holds each input chunk (one row group a cycle)."""
        return max(1, self.proj_rows // self.proj_lanes)

    # ---------------------------------------------------------------- requantizers
    @staticmethod
    def requant_steps(lanes: int, interval: int) -> int:
        """Cycles a ``RequantLanes`` unit spends on a word of ``lanes`` when its words come at
        least ``interval`` cycles apart: the largest divisor of ``lanes`` not above the
        interval, so the fewest requantizers (lanes / steps) that keep up."""
        return max(d for d in range(1, lanes + 1) if lanes % d == 0 and d <= max(1, interval))

    @property
    def out_steps(self) -> int:
        """The output stage's requantizer steps: a group of PE results comes at most every
        taps x ci_chunks cycles (the MAC array's cycles on one output group)."""
        return self.requant_steps(self.cfg.pe, self.cfg.taps * self.ci_chunks)

    @property
    def mac_cycles_per_pixel(self) -> int:
        return self.cfg.taps * self.ci_chunks * self.co_groups

    # ---------------------------------------------------------------- external weights
    @property
    def tiled(self) -> bool:
        """Several output-channel tiles: the MAC array passes over each frame once a tile."""
        return self.cfg.tiles > 1

    @property
    def tile_groups(self) -> int:
        """Output groups (PE channels each) a tile."""
        return self.cfg.tile_co // self.cfg.pe

    @property
    def tile_words(self) -> int:
        """MAC-array weight words a tile: (output group, tap, input chunk)."""
        return self.tile_groups * self.cfg.taps * self.ci_chunks

    @property
    def weight_word_bits(self) -> int:
        return self.cfg.pe * self.cfg.simd * self.cfg.fmt.weight_bits

    @property
    def weight_banks(self) -> int:
        """Banks of the on-chip weight memory (``hw.weight_banks``): one a PE lane once the
        memory spreads over more than ``BANKED_ABOVE_BRAMS`` block RAMs or its word is wider
        than ``BANKED_ABOVE_BITS`` (an address net to all of them crosses the chip), else one.
        Block RAMs counted as the ECP5's DP16KD in its 36 x 512 shape; external weights' tile
        memory is not banked."""
        cfg = self.cfg
        if cfg.external_weights:
            return 1
        brams = -(-self.weight_word_bits // 36) * -(-self.region("w_mac").depth // 512)
        wide = brams > BANKED_ABOVE_BRAMS or self.weight_word_bits > BANKED_ABOVE_BITS
        return cfg.pe if wide else 1

    @property
    def weight_piece_words(self) -> int:
        """Words of one piece of a weight bank: one block RAM deep (``bram_words``)."""
        return bram_words(self.weight_word_bits // self.weight_banks)

    @property
    def weight_pieces(self) -> int:
        """Pieces of each weight bank, one block RAM deep each (``hw.weight_banks``): a bank
        deeper than a block RAM is several, and each piece's word reaches the MAC array's
        memory register, which picks the piece a cycle later, not through the multiplexer
        Yosys puts after cascaded block RAMs (their read is 5.8 ns of clock-to-out
        without the output register Yosys never sets).  An unbanked memory is one piece."""
        if self.weight_banks == 1:
            return 1
        return -(-self.region("w_mac").depth // self.weight_piece_words)

    @property
    def weight_issue_levels(self) -> int:
        """Levels of kept copies that carry the MAC array's issue to the weight banks, above
        ``FANOUT`` banks (``hw.weight_banks``: each bank counts its own read address), else 0.
        The issue is the array's stall decision (the window's readiness, the output credits):
        as the next address of every bank's read-address copy it crossed the chip in one
        cycle (stage2 8 x 16 placed: ``mac.ci -> w_mac.kept_read_addr3``, 8.6 ns of routing;
        tiny 8 x 8: ``mac.t -> w_mac kept_read_addr4``).  The weights are read in address
        order, one pass a pixel, so a bank's counter stepped by its copy of the issue holds
        the address the array's would, these levels later."""
        return tree_levels(self.weight_banks) if self.weight_banks > FANOUT else 0

    @property
    def weight_write_group_lanes(self) -> int:
        """Lanes of one group of ``FANOUT`` weight banks, whose write goes through one kept
        copy (``hw.weight_banks``) and whose lane enables the loader decodes from one kept
        copy of the written lane (``hw.param_loader``); 0 up to ``FANOUT`` banks."""
        banks = self.weight_banks
        return FANOUT * (self.cfg.pe * self.cfg.simd // banks) if banks > FANOUT else 0

    @property
    def weight_piece_copies(self) -> bool:
        """Whether each piece of a bank has a kept copy of the bank's read address
        (``hw.weight_banks``): many banks, several pieces, so that one address net reaches
        one piece's block RAMs, not a bank's (stage2 8 x 16, three pieces of two block RAMs a
        bank: placed, 11.7 ns of routing from a bank's copy on d61893f, into the
        read-before-write logic that ``no_rw_check`` has removed since)."""
        return self.weight_pieces > 1 and self.weight_banks > FANOUT

    @property
    def weight_data_register(self) -> bool:
        """Whether each piece of a weight bank has a kept register of its block RAMs' output
        (``hw.weight_banks``), above ``FANOUT`` banks: a block RAM's clock-to-out without its
        output register (which Yosys never sets; in the ECP5 flow ``hw.bram_outreg`` makes this
        register the block RAM's own) is 5.8 ns of the 8 at 125 MHz, and the MAC
        array's memory register sits beside the DSP rows, away from the block RAMs (stage2
        8 x 16 placed: ``w_mac.bank4_2 DOB4 -> mac.s1_w``, 10.7 ns, on 1350d75)."""
        return self.weight_banks > FANOUT

    @property
    def weight_read_delay(self) -> int:
        """Cycles the weights answer later than from one memory addressed by the MAC array's
        own register: a level of ``weight_address_levels`` past the first, and the data
        register (``weight_data_register``).  The x and z words wait as many registers
        (``hw.mac_array``), and a result reaches the output stage as much later
        (``hw.output_stage.output_delay``)."""
        return self.weight_address_levels - 1 + self.weight_data_register

    @property
    def weight_address_levels(self) -> int:
        """Registers from the MAC array's issue of a weight read to a block RAM's address pins:
        the read-address register (the array's, or a bank's copy or counter), the issue's
        ``weight_issue_levels`` and a piece's copy (``weight_piece_copies``).  The block RAMs
        answer a cycle after the last; each level past the first delays them a cycle
        (``weight_read_delay``)."""
        return 1 + self.weight_issue_levels + self.weight_piece_copies

    @property
    def weight_piece_bits(self) -> int:
        """Width of a bank's piece index (``hw.weight_banks``, the MAC array's ``w_piece``)."""
        return max(1, ceil_log2(self.weight_pieces))

    @property
    def beats_per_word(self) -> int:
        """AXI4 data beats a weight word takes (zero-padded)."""
        return -(-self.weight_word_bits // self.cfg.axi_bits)

    @property
    def burst_bytes(self) -> int:
        return self.cfg.burst_beats * self.cfg.axi_bits // 8

    @property
    def bursts_per_tile(self) -> int:
        """A tile is read as whole bursts (the image pads it, docs/external-memory.md)."""
        beats = self.tile_words * self.beats_per_word
        return -(-beats // self.cfg.burst_beats)

    @property
    def tile_bytes(self) -> int:
        return self.bursts_per_tile * self.burst_bytes

    @property
    def tiles_bytes_per_frame(self) -> int:
        """External memory read a frame: every tile once (the weights are reused over the
        frame's pixels, not across frames)."""
        return self.cfg.tiles * self.tile_bytes

    @property
    def tile_buffer_words(self) -> int:
        """The double-buffered tile memory: two tiles."""
        return 2 * self.tile_words

    # ---------------------------------------------------------------- widths
    @property
    def acc_bits(self) -> int:
        return self.cfg.fmt.acc_bits

    @property
    def param_bits(self) -> int:
        """tdata width of the parameter stream: the widest parameter, rounded up to bytes."""
        widest = max(r.bits for r in self.regions)
        return 8 * ((widest + 7) // 8)

    # ---------------------------------------------------------------- parameter map
    @property
    def scalar_order(self) -> tuple[str, ...]:
        """The scalar words at the end of the parameter stream: the form's, then s_out."""
        return self.form.scalars + ("s_out",)

    def scalar_bits(self, name: str) -> int:
        """A multiplier (m_*) is ``mult_bits`` wide, a shift ``shift_bits``."""
        f = self.cfg.fmt
        return f.mult_bits if name.startswith("m_") else f.shift_bits

    @cached_property
    def regions(self) -> tuple[Region, ...]:
        """The parameter stream, in order: each memory's image, word by word, lane by lane.

        - ``w_mac`` (on-chip weights only; external weights are fetched, docs/external-memory.md):
          for og in C_out/PE, tap t in 0..taps-1 (t = K^2 is W'_v when the form has a z tap),
          ci in C_in/SIMD: one word of PE x SIMD weights,
          lane pe*SIMD + s = W[og*PE + pe][ci*SIMD + s].
        - the form's own memories (``EngineForm.regions``, documented there);
        - ``m_c``, ``m_v`` (forms with a z tap), ``bias``: per output group og, PE lanes.
        - ``scalars``: ``scalar_order``.
        """
        cfg, f = self.cfg, self.cfg.fmt
        per_group = (("m_c", f.mult_bits),) + ((("m_v", f.mult_bits),) if cfg.has_attention
                                              else ()) + (("bias", cfg.requant_bits),)
        w_mac = () if cfg.external_weights else (
            Region("w_mac", self.co_groups * cfg.taps * self.ci_chunks, cfg.pe * cfg.simd,
                   f.weight_bits),)
        return (
            *w_mac,
            *self.form.regions(self),
            *(Region(name, self.co_groups, cfg.pe, bits) for name, bits in per_group),
            Region("scalars", len(self.scalar_order), 1, max(f.mult_bits, f.shift_bits)),
        )

    @property
    def memory_regions(self) -> tuple[Region, ...]:
        """The regions that are memories (all but the scalar registers)."""
        return tuple(r for r in self.regions if r.name != "scalars")

    def region(self, name: str) -> Region:
        return next(r for r in self.regions if r.name == name)

    @property
    def param_words(self) -> int:
        return sum(r.words for r in self.regions)

    # ---------------------------------------------------------------- storage
    def buffer_bits(self) -> dict[str, int]:
        """On-chip storage of the engine in bits, by memory."""
        cfg = self.cfg
        out = {r.name: r.words * r.bits for r in self.regions}
        if cfg.external_weights:
            out["weight tiles"] = self.tile_buffer_words * self.weight_word_bits
        out["x ring"] = self.x_words * self.in_bits
        if self.cfg.has_attention:
            # written once, read by the MAC array and the attention: a block RAM has two ports,
            # so synthesis stores the ring twice
            out["x ring, 2nd read copy"] = out["x ring"]
        if self.cfg.has_attention:
            out["z buffer"] = self.z_words * self.in_bits
        out.update(self.form.buffers(self))
        return out


#: Block RAM of the devices the generator checks a configuration against, in bits: the
#: ECP5-85F's 208 DP16KD of 18 kbit, the iCE40 UP5K's 30 EBR of 4 kbit.
BLOCK_RAM_BITS = {"ecp5-85f": 208 * 18 * 1024, "ice40-up5k": 30 * 4 * 1024}

#: Of the block RAM's bits, what the engine's memories may take (``choose_weights``): on the
#: ECP5-85F the stage3 engine's 3.6 Mbit of memories took 232 DP16KD (4.1 Mbit, 87% packed), so 0.75
#: keeps the blocks below about 90% of the device.
BLOCK_RAM_FILL = 0.75


def choose_weights(cfg: XvConfig, capacity_bits: int, fill: float = BLOCK_RAM_FILL,
                   external: bool = False) -> XvConfig | None:
    """The configuration with its weights placed by the memory budget: on chip when the
    engine's memories fit ``fill`` of ``capacity_bits`` (unless ``external``), else in external
    memory with the largest output-channel tile that fits; None when nothing fits (the frame
    alone is too big).  ``fill`` leaves room for block RAM that a memory's shape wastes."""
    budget = fill * capacity_bits
    candidates = [] if external else [cfg.replace(weights="onchip", co_tile=0)]
    candidates += [
        cfg.replace(weights="external", co_tile=tile)
        for tile in range(cfg.c_out, 0, -cfg.pe) if cfg.c_out % tile == 0]
    for candidate in candidates:
        if sum(Geometry(candidate).buffer_bits().values()) <= budget:
            return candidate
    return None


def check_fits(cfg: XvConfig, device: str) -> None:
    """Refuse, by name, a configuration whose memories exceed ``BLOCK_RAM_FILL`` of the
    device's block RAM, saying what would fit (external weights, the largest tile)."""
    capacity = BLOCK_RAM_BITS[device]
    bits = sum(Geometry(cfg).buffer_bits().values())
    if bits <= BLOCK_RAM_FILL * capacity:
        return
    fitting = choose_weights(cfg, capacity, external=cfg.external_weights)
    hint = (f"; --weights external --co-tile {fitting.tile_co} fits (or --fit)" if fitting
            else "; no output-channel tile fits: the frame itself is too big")
    field = "co_tile" if cfg.external_weights else "weights"
    raise ValueError(f"{field}: the engine's memories take {bits / 1024:,.0f} kbit, more than "
                     f"{BLOCK_RAM_FILL:.0%} of the {device}'s {capacity / 1024:,.0f} kbit of "
                     f"block RAM{hint}")
