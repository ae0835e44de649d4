"""cocotb testbench of the generated Verilog: golden vectors in, every output word checked.

Configured by environment variables set by ``sim.runner``:
XV_VECTORS (vector-set folder), XV_RESULTS (JSON file for the figures), XV_STALL (probability
that the source idles or the sink refuses a beat, 0 for stall-free streams), XV_SEED.

Streams are driven with cocotbext-axi: one AxiStreamFrame per image row (tlast ends a row), tuser
on the first beat of each image.  The figures written: outputs compared, mismatches, beats lost
or duplicated, cycles from the first input beat to the last output beat, MAC-busy cycles.
"""
from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, ReadOnly
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from golden.vectors import read_vectors
from hw.geometry import Geometry
from hw.params import param_words


def pack(values, bits: int) -> int:
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


def unpack(word: int, count: int, bits: int) -> list[int]:
    sign = 1 << (bits - 1)
    return [(((word >> (i * bits)) & ((1 << bits) - 1)) ^ sign) - sign for i in range(count)]


def pauses(probability: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def input_rows(vs, geo):
    """One AxiStreamFrame per image row: SIMD channels a beat, tuser on an image's first beat."""
    cfg = vs.cfg
    for frame in vs.x:
        for r in range(cfg.h):
            beats = [pack(frame[r, c, i * cfg.simd:(i + 1) * cfg.simd], cfg.fmt.data_bits)
                     for c in range(cfg.w) for i in range(geo.ci_chunks)]
            tuser = [int(r == 0 and n == 0) for n in range(len(beats))]
            yield AxiStreamFrame(tdata=beats, tuser=tuser)


async def wait_high(dut, signal, cycles: int) -> bool:
    """Wait up to ``cycles`` clocks for ``signal`` to be 1."""
    for _ in range(cycles):
        await RisingEdge(dut.clk)
        if signal.value == 1:
            return True
    return False


class Monitor:
    """Counts cycles and handshakes at the DUT's ports, every clock."""

    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.first_in = None
        self.last_out = None
        self.busy = 0
        self.outputs = 0

    async def run(self):
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            self.cycle += 1
            if self.first_in is None and dut.s_axis_tvalid.value and dut.s_axis_tready.value:
                self.first_in = self.cycle
            if dut.m_axis_tvalid.value and dut.m_axis_tready.value:
                self.last_out = self.cycle
                self.outputs += 1
            if dut.mac_busy.value:
                self.busy += 1


@cocotb.test()
async def engine_matches_golden(dut):
    vs = read_vectors(Path(os.environ["XV_VECTORS"]))
    cfg, geo = vs.cfg, Geometry(vs.cfg)
    stall = float(os.environ.get("XV_STALL", "0"))
    seed = int(os.environ.get("XV_SEED", "1"))

    logging.getLogger(f"cocotb.{dut._name}").setLevel(logging.WARNING)  # per-frame chatter
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    # byte_lanes=1: a frame's tdata list holds whole beats, not bytes
    params = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_param"), dut.clk, dut.rst,
                             byte_lanes=1)
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst,
                             byte_lanes=1)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_lanes=1)
    if stall > 0:
        source.set_pause_generator(pauses(stall, seed))
        sink.set_pause_generator(pauses(stall, seed + 1))
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0

    words = param_words(cfg, vs.layer)
    await params.send(AxiStreamFrame(tdata=words))
    assert await wait_high(dut, dut.param_loaded, 8 * len(words) + 100), \
        "parameters sent but param_loaded stayed low"
    assert dut.param_error.value == 0, "param_error set by a well-formed parameter stream"

    monitor = Monitor(dut)
    cocotb.start_soon(monitor.run())
    for row in input_rows(vs, geo):
        await source.send(row)

    expected = vs.y.reshape(vs.frames, cfg.h, cfg.w, geo.co_groups, cfg.pe)
    compared = mismatches = marks_wrong = 0
    first_bad = None
    for f in range(vs.frames):
        for r in range(cfg.h):
            row = await sink.recv()
            beats = list(row.tdata)
            assert len(beats) == cfg.w * geo.co_groups, (
                f"frame {f} row {r}: {len(beats)} beats between tlasts, "
                f"expected {cfg.w * geo.co_groups}")
            tuser = row.tuser if isinstance(row.tuser, list) else [row.tuser] * len(beats)
            for n, word in enumerate(beats):
                c, og = divmod(n, geo.co_groups)
                got = unpack(word, cfg.pe, cfg.fmt.data_bits)
                want = [int(v) for v in expected[f, r, c, og]]
                compared += cfg.pe
                bad = sum(g != w for g, w in zip(got, want))
                mismatches += bad
                if bad and first_bad is None:
                    first_bad = (f, r, c, og, got, want)
                if int(tuser[n]) != int(r == 0 and n == 0):
                    marks_wrong += 1
    await ClockCycles(dut.clk, 8)
    extra = monitor.outputs - vs.frames * cfg.n_pixels * geo.co_groups
    cycles = monitor.last_out - monitor.first_in + 1
    results = {
        "config": cfg.to_dict(), "frames": vs.frames, "stall": stall,
        "outputs_compared": compared, "mismatches": mismatches, "mark_errors": marks_wrong,
        "extra_beats": extra, "frame_error": int(dut.frame_error.value),
        "cycles": cycles, "cycles_per_frame": cycles / vs.frames,
        "mac_busy_cycles": monitor.busy,
        "mac_utilization": monitor.busy / cycles,
    }
    Path(os.environ["XV_RESULTS"]).write_text(json.dumps(results, indent=2) + "\n")
    assert mismatches == 0, f"{mismatches} of {compared} output words differ; first {first_bad}"
    assert marks_wrong == 0, f"{marks_wrong} output beats with a wrong tuser"
    assert extra == 0, f"{extra} output beats beyond the expected count"
    assert not dut.frame_error.value, "frame_error set by well-formed frames"
