"""The board: CRC and packet codec (Python and hardware), UART and packet blocks in Amaranth's
simulator, the whole board top under cocotb with the host driver, the link estimate, and the
one-line errors of the board commands (docs/board.md)."""
import binascii
import random
import subprocess
import sys

import pytest
from amaranth.sim import Simulator

from golden.config import preset
from hw.board.crc import Crc16
from hw.board.link import PacketRx, PacketTx
from hw.board.protocol import (ERROR, OVERHEAD, SYNC, Cmd, Error, ProtocolError, crc16, decode,
                               encode, length_rules)
from hw.board.uart import UartRx, UartTx

CHECK = b"123456789"


def run(dut, bench, clock=1e-8):
    sim = Simulator(dut)
    sim.add_clock(clock)
    sim.add_testbench(bench)
    sim.run()


# ---------------------------------------------------------------- CRC and codec (Python)
def test_crc_check_value_and_standard_library():
    assert crc16(CHECK) == 0x29B1  # CRC-16/CCITT-FALSE's catalogue check value
    rng = random.Random(3)
    for n in range(0, 300, 7):  # binascii.crc_hqx is the same CRC (polynomial 0x1021)
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)


def test_packet_codec_round_trip_and_every_bit_error():
    packet = encode(Cmd.READ_RESULTS, b"\x34\x12")
    body = bytes([Cmd.READ_RESULTS, 2, 0, 0x34, 0x12])
    assert packet == bytes([SYNC]) + body + crc16(body).to_bytes(2, "big")
    assert crc16(packet[1:]) == 0  # the CRC over everything after SYNC ends at 0
    assert decode(packet) == (Cmd.READ_RESULTS, b"\x34\x12")
    for bit in range(8, 8 * len(packet)):  # any single flipped bit after SYNC is caught
        bad = bytearray(packet)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProtocolError):
            decode(bytes(bad))
    with pytest.raises(ProtocolError, match="header says"):
        decode(packet[:-1])
    with pytest.raises(ValueError, match="payload"):
        encode(Cmd.SEND_PIXELS, bytes(70000))


# ---------------------------------------------------------------- hardware blocks
def test_crc_hardware_check_value():
    dut = Crc16()
    rng = random.Random(5)
    cases = [CHECK] + [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
                       for _ in range(20)]

    async def bench(ctx):
        for data in cases:
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            for byte in data:
                ctx.set(dut.valid, 1)
                ctx.set(dut.data, byte)
                await ctx.tick()
            ctx.set(dut.valid, 0)
            assert ctx.get(dut.crc) == crc16(data), data
        assert crc16(CHECK) == 0x29B1

    run(dut, bench)


def test_uart_loopback():
    from amaranth.hdl import Module

    m = Module()
    m.submodules.tx = tx = UartTx(divisor=5)
    m.submodules.rx = rx = UartRx(divisor=5)
    m.d.comb += rx.rx.eq(tx.tx)
    data = bytes(random.Random(7).randrange(256) for _ in range(24)) + b"\x00\xff\x55"
    got = []

    async def bench(ctx):
        ctx.set(rx.o.ready, 1)
        for byte in data:
            ctx.set(tx.i.payload, byte)
            ctx.set(tx.i.valid, 1)
            await ctx.tick().until(tx.i.ready)
            ctx.set(tx.i.valid, 0)
            while len(got) < len(data) and ctx.get(rx.o.valid) == 0 and ctx.get(tx.i.ready):
                await ctx.tick()
        for _ in range(5 * 12):
            await ctx.tick()

    async def collect(ctx):
        async for clk_edge, rst, valid, payload in ctx.tick().sample(rx.o.valid, rx.o.payload):
            if valid:
                got.append(payload)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_process(collect)
    sim.run()
    assert bytes(got) == data


def test_packet_tx_frames_like_the_encoder():
    dut = PacketTx()
    replies = [(Cmd.STATUS | 0x80, bytes(range(21))), (Cmd.RESET | 0x80, b""),
               (ERROR, bytes([Error.CRC, Cmd.SEND_PIXELS]))]
    out = bytearray()

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for cmd, payload in replies:
            ctx.set(dut.start.payload, {"cmd": cmd, "length": len(payload)})
            ctx.set(dut.start.valid, 1)
            await ctx.tick()
            ctx.set(dut.start.valid, 0)
            sent = 0
            while ctx.get(dut.busy):
                if sent < len(payload):
                    ctx.set(dut.data.payload, payload[sent])
                    ctx.set(dut.data.valid, 1)
                if ctx.get(dut.o.valid):
                    out.append(ctx.get(dut.o.payload))
                if ctx.get(dut.data.valid) and ctx.get(dut.data.ready):
                    sent += 1
                await ctx.tick()
                ctx.set(dut.data.valid, 0)

    run(dut, bench)
    assert bytes(out) == b"".join(encode(cmd, payload) for cmd, payload in replies)


def test_packet_rx_checks_crc_command_and_length():
    rules = length_rules(param_bytes=7, row_bytes=8)
    dut = PacketRx(rules, max_payload=64, timeout=50)
    good = encode(Cmd.SEND_PIXELS, bytes([1]) + bytes(range(16)))
    cases = [
        (good, 0),
        (good[:-1] + bytes([good[-1] ^ 0x80]), Error.CRC),
        (encode(0x42), Error.COMMAND),
        (encode(Cmd.SEND_PIXELS, bytes([1]) + bytes(12)), Error.LENGTH),   # not whole rows
        (encode(Cmd.LOAD_PARAMS, bytes([1])), Error.LENGTH),               # no word
        (encode(Cmd.READ_RESULTS, b"\x01"), Error.LENGTH),                 # fixed length 2
        (encode(Cmd.LOAD_PARAMS, bytes([1]) + bytes(14)), 0),              # two words
        (encode(Cmd.SEND_PIXELS, bytes(65)), Error.LENGTH),                # above the buffer
        (good[:9], Error.TIMEOUT),                                          # stops midway
        (b"\x00\x13" + good, 0),                                            # noise, then SYNC
    ]
    seen = []

    async def bench(ctx):
        for packet, _ in cases:
            for byte in packet:
                if ctx.get(dut.o.valid):  # refused at its header (above the buffer)
                    break
                ctx.set(dut.i.payload, byte)
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            for _ in range(60):
                if ctx.get(dut.o.valid):
                    break
                await ctx.tick()
            assert ctx.get(dut.o.valid), packet.hex()
            p = ctx.get(dut.o.payload)
            seen.append((p.cmd, p.length, p.error))
            if p.error == 0:  # the payload is in the buffer, byte for byte
                for n in range(p.length):
                    ctx.set(dut.rd_addr, n)
                    await ctx.tick()
                    assert ctx.get(dut.rd_data) == packet[packet.index(SYNC) + 4 + n]
            ctx.set(dut.o.ready, 1)
            await ctx.tick()
            ctx.set(dut.o.ready, 0)

    run(dut, bench)
    assert [e for _, _, e in seen] == [code for _, code in cases]


# ---------------------------------------------------------------- the whole board, simulated
def test_board_top_with_the_host_driver(tmp_path):
    """The host driver's own code over the simulated UART pins: bit-exact frames, bad packets
    refused with error replies and no effect, status counters exact (sim/tb_board.py)."""
    from golden.generate import make_vector_set
    from golden.vectors import write_vectors
    from sim.board_runner import run_board
    from sim.cycle_model import predict

    cfg = preset("tiny")
    vs = make_vector_set(cfg, frames=2, seed=4)
    write_vectors(vs, tmp_path / "vectors")
    figures = run_board(tmp_path / "vectors")
    assert figures["mismatches"] == 0 and figures["compared"] == vs.y.size
    status = figures["status"]
    assert status["frames"] == 2 and status["bad_packets"] == 6
    assert status["flags"] == 1  # param_loaded; no param_error, no frame_error
    # the engine's frame, measured by the board's counters, against the cycle model: the
    # board feeds a beat every few cycles, not every cycle, so it may take a little longer
    model = predict(cfg, 1).cycles
    print(f"board frame: {status['frame_cycles']} cycles (cycle model {model}); "
          f"{figures['frame_ns'][-1] / 1e3:.1f} us a frame over the simulated link")
    assert model <= status["frame_cycles"] <= model * 1.05, (status["frame_cycles"], model)


# ---------------------------------------------------------------- estimate and commands
def test_link_estimate_counts_every_byte():
    from hw.board.board_top import BoardGeometry
    from sim.cycle_model import predict
    from xvolution.board import estimate

    cfg = preset("tiny")
    bg = BoardGeometry(cfg, 48_000_000, 16)
    e = estimate(cfg, 48e6, 16)
    frame_in = cfg.h * cfg.w * cfg.c_in  # int8 pixels, one byte a channel
    frame_out = cfg.h * cfg.w * cfg.c_out
    assert bg.row_bytes * cfg.h == frame_in
    # one SEND_PIXELS packet (flags byte) and one READ_RESULTS (u16); replies: an empty ack
    # and the results
    assert e.bytes_in == frame_in + 1 + OVERHEAD + 2 + OVERHEAD
    assert e.bytes_out == OVERHEAD + frame_out + OVERHEAD
    assert e.link_fps == pytest.approx(3e6 / 10 / (e.bytes_in + e.bytes_out))
    assert e.engine_fps == pytest.approx(48e6 / predict(cfg, 1).cycles)


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_ulx3s_clock_and_refusals():
    from hw.board.board_top import BoardTop
    from hw.board.pll import pll_dividers
    from hw.board.ulx3s import Ulx3sTop

    d = pll_dividers(25_000_000, 48_000_000)
    assert d.out_hz == 48_000_000 and 400e6 <= d.vco_hz <= 800e6
    assert 25e6 / d.clki_div >= 3.125e6
    assert Ulx3sTop(preset("tiny"), 48_000_000, 3_000_000).divisor == 16
    with pytest.raises(ValueError, match="clock: 50 MHz is not a whole number"):
        Ulx3sTop(preset("tiny"), 50_000_000, 3_000_000)
    with pytest.raises(ValueError, match="weights"):
        BoardTop(preset("tiny", weights="external"))


@pytest.mark.parametrize("argv, message", [
    (["-m", "hw", "bitstream", "--board", "arty"], "error: board: unknown board 'arty'; "
                                                   "supported: ulx3s"),
    (["-m", "xvolution", "board", "--port", "/dev/nonexistent-xv"],
     "error: port: cannot open /dev/nonexistent-xv at 3000000 baud (No such file or directory)"),
    (["-m", "xvolution", "board"], "error: port: give --port"),
])
def test_board_commands_fail_in_one_line(argv, message):
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(message) and "\n" not in proc.stderr.strip()
