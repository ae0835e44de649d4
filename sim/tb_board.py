"""cocotb testbench of the whole board top (``hw.board.board_top.BoardTop``): the host driver
``xvolution.board.Board`` itself talks to the simulated board over its UART pins.

Bytes go through cocotbext-uart (``UartSource`` on rx, ``UartSink`` on tx) at the top's
``clock / divisor`` baud; ``SimTransport`` gives the driver (blocking code, run in a
``cocotb.task.bridge`` thread) write/read calls that ``cocotb.task.resume`` into the simulation.

Configured by environment variables set by ``sim.board_runner``: XV_VECTORS (vector set),
XV_RESULTS (JSON figures), XV_DIVISOR (clocks a UART bit).  The test: INFO matches the
configuration; the parameters load; frame 0 is bit-exact; a packet with a bad CRC, one with
an unknown command and one of a wrong length are each refused with an error reply and change
nothing (no parameter or input beat reaches the engine); a RESET and a reload, then every frame
again bit-exact; STATUS flags clean, frame and beat counts exact, the last frame's cycles.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cocotb
from cocotb.task import bridge, resume
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer
from cocotbext.uart import UartSink, UartSource

from golden.vectors import read_vectors
from hw.board.board_top import MAX_PAYLOAD
from hw.board.protocol import ERROR, OVERHEAD, Cmd, Error, encode
from hw.params import param_words
from sim.cycle_model import predict
from xvolution.board import Board, BoardTimeout, pack_frame

CLOCK_NS = 10


class SimTransport:
    """The driver's transport into the simulation (call from a ``cocotb.task.bridge`` thread)."""

    def __init__(self, source: UartSource, sink: UartSink, timeout_ns: int):
        self.source, self.sink, self.timeout_ns = source, sink, timeout_ns
        self.written = self.read_bytes = 0

    async def _write(self, data: bytes) -> None:
        await self.source.write(data)

    async def _read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self.sink.empty():
                await self.sink.wait(timeout=self.timeout_ns, timeout_unit="ns")
                if self.sink.empty():
                    raise BoardTimeout(f"board: no answer within {self.timeout_ns} ns of "
                                       f"simulated time ({len(out)} of {n} bytes)")
            out += self.sink.read_nowait(min(n - len(out), self.sink.count()))
        return bytes(out)

    def write(self, data: bytes) -> None:
        self.written += len(data)
        resume(self._write)(data)

    def read(self, n: int) -> bytes:
        self.read_bytes += n
        return resume(self._read)(n)


def session(board: Board, vectors, figures: dict, now) -> None:
    """The host's side of the test: blocking driver calls, as on a real board."""
    cfg = vectors.cfg
    words = param_words(cfg, vectors.layer)
    info = board.check(cfg)
    figures["info"] = info.__dict__
    board.reset()
    board.load_params(words)
    st = board.status()
    assert st.param_loaded and not st.param_error, f"parameters not loaded: {st}"
    assert st.param_beats == len(words), f"{st.param_beats} parameter beats, sent {len(words)}"

    def frame(n: int) -> None:
        t0 = now()
        y = board.run_frame(vectors.x[n], cfg)
        figures["frame_ns"].append(now() - t0)
        bad = int(np.sum(y != vectors.y[n]))
        figures["compared"] += int(y.size)
        figures["mismatches"] += bad
        assert bad == 0, (f"frame {n}: {bad} of {y.size} output words differ from the golden "
                          f"model (first: got {y.ravel()[:8]}, want {vectors.y[n].ravel()[:8]}; "
                          f"{board.status()})")

    figures.update(frame_ns=[], compared=0, mismatches=0)
    frame(0)
    before = board.status()
    # bad packets: each answered with an error reply, none reaching the engine
    rows = pack_frame(vectors.x[1], cfg, info.in_bytes)
    good = bytearray(encode(Cmd.SEND_PIXELS, bytes([1]) + b"".join(rows)))
    bad_crc = bytes(good[:-1] + bytes([good[-1] ^ 0x01]))
    flipped = bytearray(good)
    flipped[10] ^= 0x40  # a payload bit: the CRC catches it
    cases = {"crc": (bad_crc, Error.CRC), "payload bit": (bytes(flipped), Error.CRC),
             "unknown command": (encode(0x42, b"\x00\x01"), Error.COMMAND),
             "partial row": (encode(Cmd.SEND_PIXELS, bytes([1]) + rows[0][:-1]), Error.LENGTH),
             "params not whole words": (encode(Cmd.LOAD_PARAMS, bytes([1, 2, 3])), Error.LENGTH),
             "status with a payload": (encode(Cmd.STATUS, b"\x00"), Error.LENGTH)}
    for name, (packet, code) in cases.items():
        board.t.write(packet)
        cmd, payload = board.receive()
        assert cmd == ERROR and payload[0] == code, \
            f"{name}: reply 0x{cmd:02X} {payload.hex()}, expected an error reply, code {code}"
    after = board.status()
    assert after.bad_packets == before.bad_packets + len(cases), f"bad packets: {after}"
    assert (after.in_beats, after.param_beats) == (before.in_beats, before.param_beats), \
        f"a refused packet reached the engine: {before} -> {after}"
    assert not after.frame_error and not after.param_error, f"flags after refusals: {after}"
    # recovered: the next good packets work, the results are still exact
    for n in range(1, vectors.frames):
        frame(n)
    st = board.status()
    assert st.frames == vectors.frames and not st.frame_error and not st.param_error, st
    assert st.in_beats == vectors.frames * cfg.h * info.row_beats, st
    figures["status"] = st.__dict__
    figures["model_cycles"] = predict(cfg, 1).cycles


@cocotb.test()
async def board_matches_golden(dut):
    vectors = read_vectors(Path(os.environ["XV_VECTORS"]))
    divisor = int(os.environ["XV_DIVISOR"])
    baud = 1e9 / (CLOCK_NS * divisor)
    dut.rx.value = 1
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)
    source, sink = UartSource(dut.rx, baud=baud), UartSink(dut.tx, baud=baud)
    for name in (dut.rx._path, dut.tx._path):  # the extension logs every byte at INFO
        logging.getLogger(f"cocotb.{name}").setLevel(logging.WARNING)
    from cocotb.utils import get_sim_time

    # a reply may wait for the whole request on the wire (the largest packet) and a frame of
    # the engine: both well within the timeout
    wire = (MAX_PAYLOAD + OVERHEAD) * 10 * divisor
    timeout_ns = 2 * (predict(vectors.cfg, 1).cycles + wire) * CLOCK_NS
    transport = SimTransport(source, sink, timeout_ns)
    # the host's bit edges between the clock's rising edges, as an asynchronous line's are
    await Timer(CLOCK_NS * 3 // 10, unit="ns")
    figures: dict = {}
    await bridge(session)(Board(transport), vectors, figures,
                                 lambda: get_sim_time("ns"))
    figures.update(clock_ns=CLOCK_NS, divisor=divisor, host_bytes_out=transport.written,
                   host_bytes_in=transport.read_bytes)
    Path(os.environ["XV_RESULTS"]).write_text(json.dumps(figures, default=int))
