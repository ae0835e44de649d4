"""cocotb testbench of the generated Verilog: golden vectors in, every output word checked.

Configured by environment variables set by ``sim.runner``:
XV_VECTORS (vector-set folder), XV_RESULTS (JSON file for the figures), XV_STALL (probability
that the source idles or the sink refuses a beat, 0 for stall-free streams), XV_SEED, and
optionally XV_OUTPUTS (a .npy file that receives every output word, (F, H, W, C_out), as the
RTL sent it: the digits demo feeds these to the rest of its network).

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
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import (AxiRamRead, AxiReadBus, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                           AxiStreamSource)

from golden.vectors import WEIGHT_IMAGE, read_vectors
from hw.geometry import Geometry
from hw.params import param_words
from sim.cycle_model import PREFETCHED, predict

CLOCK_NS = 10
#: where the testbench puts the external weight image (a burst-aligned, non-zero address)
WEIGHTS_BASE = 0x1000


def pack(values, bits: int) -> int:
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


def unpack(word: int, count: int, bits: int) -> list[int]:
    sign = 1 << (bits - 1)
    return [(((word >> (i * bits)) & ((1 << bits) - 1)) ^ sign) - sign for i in range(count)]


class BoundedRam(AxiRamRead):
    """cocotbext-axi's AXI4 read memory, answering SLVERR past its end (AxiRamRead wraps an
    address around its size instead)."""

    async def _read(self, address, length):
        if address + length > self.size:
            raise ValueError(f"read at {address:#x} past the end of the memory")
        return self.read(address, length)


def pauses(probability: float, seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def frame_rows(frame, cfg, geo, rows=None):
    """AxiStreamFrames, one per image row, of one (H, W, C_in) frame (its first ``rows`` rows);
    tuser on the first beat of the image."""
    for r in range(cfg.h if rows is None else rows):
        beats = [pack(frame[r, c, i * cfg.simd:(i + 1) * cfg.simd], cfg.fmt.data_bits)
                 for c in range(cfg.w) for i in range(geo.ci_chunks)]
        yield AxiStreamFrame(tdata=beats, tuser=[int(r == 0 and n == 0)
                                                 for n in range(len(beats))])


class Scoreboard:
    """Receives output frames row by row and compares them with expected (H, W, C_out) arrays.
    With output-channel tiles a frame comes out once a tile, H rows of W x (tile groups) beats
    each, tuser on the frame's first beat only (docs/external-memory.md)."""

    def __init__(self, sink, cfg, geo):
        self.sink, self.cfg, self.geo = sink, cfg, geo
        self.compared = self.mismatches = self.marks_wrong = 0
        self.first_bad = None
        self.received = []  # (H, W, C_out) arrays of what the RTL sent, one per frame

    async def frame(self, expected, label: str) -> None:
        """Receive one frame; compare it unless ``expected`` is None (only count its beats)."""
        cfg, geo = self.cfg, self.geo
        groups = geo.tile_groups
        got_frame = np.zeros((cfg.h, cfg.w, cfg.c_out), dtype=np.int64)
        self.received.append(got_frame)
        for rows_before, r in enumerate(range(cfg.h * cfg.tiles)):
            tile, r = divmod(r, cfg.h)
            row = await self.sink.recv()
            beats = list(row.tdata)
            assert len(beats) == cfg.w * groups, (
                f"{label} tile {tile} row {r}: {len(beats)} beats between tlasts, "
                f"expected {cfg.w * groups}")
            tuser = row.tuser if isinstance(row.tuser, list) else [row.tuser] * len(beats)
            for n, word in enumerate(beats):
                if int(tuser[n]) != int(rows_before == 0 and n == 0):
                    self.marks_wrong += 1
                c, og = divmod(n, groups)
                og += tile * groups
                got = unpack(word, cfg.pe, cfg.fmt.data_bits)
                got_frame[r, c, og * cfg.pe:(og + 1) * cfg.pe] = got
                if expected is None:
                    continue
                want = [int(v) for v in expected[r, c, og * cfg.pe:(og + 1) * cfg.pe]]
                self.compared += cfg.pe
                bad = sum(g != w for g, w in zip(got, want))
                self.mismatches += bad
                if bad and self.first_bad is None:
                    self.first_bad = (label, r, c, og, got, want)

    def check(self) -> None:
        assert self.mismatches == 0, (f"{self.mismatches} of {self.compared} output words "
                                      f"differ; first {self.first_bad}")
        assert self.marks_wrong == 0, f"{self.marks_wrong} output beats with a wrong tuser"


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
        self.inputs = 0
        self.outputs = 0

    async def run(self):
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            self.cycle += 1
            if dut.s_axis_tvalid.value and dut.s_axis_tready.value:
                self.inputs += 1
                if self.first_in is None:
                    self.first_in = self.cycle
            if dut.m_axis_tvalid.value and dut.m_axis_tready.value:
                self.last_out = self.cycle
                self.outputs += 1
            if dut.mac_busy.value:
                self.busy += 1


class Bench:
    """Clock, reset, the three AXI4-Stream drivers, and the loaded parameters."""

    def __init__(self, dut, vs, stall: float, seed: int):
        self.dut, self.vs = dut, vs
        self.cfg, self.geo = vs.cfg, Geometry(vs.cfg)
        logging.getLogger(f"cocotb.{dut._name}").setLevel(logging.WARNING)  # per-frame chatter
        self.stall = stall
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        # byte_lanes=1: a frame's tdata list holds whole beats, not bytes
        self.params = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_param"), dut.clk,
                                      dut.rst, byte_lanes=1)
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk,
                                      dut.rst, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst,
                                  byte_lanes=1)
        if stall > 0:
            self.source.set_pause_generator(pauses(stall, seed))
            self.sink.set_pause_generator(pauses(stall, seed + 1))
        self.ram = self._external_memory(seed) if self.cfg.external_weights else None

    def _external_memory(self, seed: int):
        """External weights: cocotbext-axi's AXI4 memory model behind the read port, holding
        the golden weight image at WEIGHTS_BASE; with stalls, random latency on the read
        address channel and random gaps on the read data channel."""
        image = (Path(os.environ["XV_VECTORS"]) / WEIGHT_IMAGE).read_bytes()
        ram = BoundedRam(AxiReadBus.from_prefix(self.dut, "m_axi"), self.dut.clk, self.dut.rst,
                         size=WEIGHTS_BASE + len(image))
        ram.write(WEIGHTS_BASE, image)
        self.dut.weights_base.value = WEIGHTS_BASE
        if self.stall > 0:
            ram.ar_channel.set_pause_generator(pauses(self.stall, seed + 2))
            ram.r_channel.set_pause_generator(pauses(self.stall, seed + 3))
        return ram

    async def reset(self) -> None:
        """Reset the engine, dropping whatever the drivers still queue."""
        dut = self.dut
        dut.rst.value = 1
        await ClockCycles(dut.clk, 4)
        self.source.clear()
        self.sink.clear()
        dut.rst.value = 0

    async def start(self) -> None:
        """Reset and load the parameters: after a reset the engine needs its parameters again
        (param_loaded is cleared, docs/architecture.md)."""
        dut = self.dut
        await self.reset()
        words = param_words(self.cfg, self.vs.layer)
        await self.params.send(AxiStreamFrame(tdata=words))
        assert await wait_high(dut, dut.param_loaded, 8 * len(words) + 100), \
            "parameters sent but param_loaded stayed low"
        assert dut.param_error.value == 0, "param_error set by a well-formed parameter stream"
        if self.ram is not None:
            await self.prefetch()

    async def prefetch(self) -> None:
        """External weights: the host streams frames once the engine holds its first tiles
        (both buffers), as the cycle model assumes (``sim.cycle_model.PREFETCHED``)."""
        dut, bursts = self.dut, PREFETCHED * self.geo.bursts_per_tile
        for _ in range(bursts * (self.geo.cfg.burst_beats + 200) * 8 + 1000):
            await RisingEdge(dut.clk)
            if dut.m_axi_rvalid.value and dut.m_axi_rready.value and dut.m_axi_rlast.value:
                bursts -= 1
                if bursts == 0:
                    return
        raise AssertionError("the engine did not fetch its first weight tiles")

    async def send(self, frame, rows=None, extra_rows: int = 0) -> None:
        """Queue a frame (its first ``rows`` rows), then ``extra_rows`` rows without tuser."""
        for row in frame_rows(frame, self.cfg, self.geo, rows):
            await self.source.send(row)
        for row in list(frame_rows(frame, self.cfg, self.geo, extra_rows)):
            row.tuser = 0
            await self.source.send(row)


    def timeout_ns(self, frames: int) -> int:
        """Generous bound on the time ``frames`` frames take: four times the cycle model's
        prediction, stretched by the stall probability on both streams."""
        cycles = predict(self.cfg, frames).cycles / (1.0 - self.stall) ** 2
        return int(4 * cycles + 2000) * CLOCK_NS

    async def receive(self, board: "Scoreboard", monitor: Monitor, frames: list) -> int:
        """Receive (label, expected) frames into ``board``; return the number of output beats
        lost, 0 unless the engine stopped sending before the last expected beat."""
        async def all_frames():
            for label, expected in frames:
                await board.frame(expected, label)
        try:
            await with_timeout(all_frames(), self.timeout_ns(len(frames)), "ns")
        except SimTimeoutError:
            return len(frames) * self.cfg.n_pixels * self.geo.co_groups - monitor.outputs
        return 0


    async def settle_and_report(self, board: "Scoreboard", monitor: Monitor, frames: int,
                                lost: int, **figures) -> None:
        """After the expected frames: wait for stray beats, write the figures (XV_RESULTS) and
        check that nothing was lost, duplicated or wrong."""
        await ClockCycles(self.dut.clk, 50)
        extra = max(0, monitor.outputs - frames * self.cfg.n_pixels * self.geo.co_groups)
        Path(os.environ["XV_RESULTS"]).write_text(json.dumps({
            **figures, "outputs_compared": board.compared, "mismatches": board.mismatches,
            "extra_beats": extra, "lost_beats": lost,
            "frame_error": int(self.dut.frame_error.value)}) + "\n")
        assert lost == 0, f"{lost} output beats never came (timed out)"
        board.check()
        assert extra == 0, f"{extra} output beats beyond the {frames} frames expected"


def bench_from_env(dut) -> Bench:
    vs = read_vectors(Path(os.environ["XV_VECTORS"]))
    return Bench(dut, vs, float(os.environ.get("XV_STALL", "0")),
                 int(os.environ.get("XV_SEED", "1")))


@cocotb.test()
async def engine_matches_golden(dut):
    """Every frame of the vector set, back to back: every output word checked."""
    tb = bench_from_env(dut)
    vs, cfg, geo = tb.vs, tb.cfg, tb.geo
    await tb.start()
    monitor = Monitor(dut)
    cocotb.start_soon(monitor.run())
    for frame in vs.x:
        await tb.send(frame)
    board = Scoreboard(tb.sink, cfg, geo)
    lost = await tb.receive(board, monitor, [(f"frame {f}", vs.y[f]) for f in range(vs.frames)])
    await ClockCycles(dut.clk, 8)
    extra = max(0, monitor.outputs - vs.frames * cfg.n_pixels * geo.co_groups)
    cycles = monitor.last_out - monitor.first_in + 1 if monitor.last_out else 0
    results = {
        "config": cfg.to_dict(), "frames": vs.frames,
        "stall": float(os.environ.get("XV_STALL", "0")),
        "outputs_compared": board.compared, "mismatches": board.mismatches,
        "mark_errors": board.marks_wrong, "extra_beats": extra, "lost_beats": lost,
        "frame_error": int(dut.frame_error.value),
        "cycles": cycles, "cycles_per_frame": cycles / vs.frames,
        "mac_busy_cycles": monitor.busy,
        "mac_utilization": monitor.busy / max(cycles, 1),
        "first_bad": board.first_bad,  # (label, row, col, group, got, want), for the runner
        **({"mem_error": int(dut.mem_error.value)} if cfg.external_weights else {}),
    }
    Path(os.environ["XV_RESULTS"]).write_text(json.dumps(results, indent=2) + "\n")
    if os.environ.get("XV_OUTPUTS"):
        np.save(os.environ["XV_OUTPUTS"], np.stack(board.received))
    assert lost == 0, f"{lost} output beats never came (timed out)"
    board.check()
    assert extra == 0, f"{extra} output beats beyond the expected count"
    assert not dut.frame_error.value, "frame_error set by well-formed frames"
    assert not results.get("mem_error"), "mem_error set by a good weight image"


@cocotb.test()
async def malformed_frames_recover(dut):
    """A frame cut short, then a good frame, then a frame that runs a row long, then a good
    one: the engine flags frame_error, emits one frame of results per frame, and the good
    frames (and the long frame's complete part) come out exact.  Needs two frames of vectors."""
    tb = bench_from_env(dut)
    vs, cfg, geo = tb.vs, tb.cfg, tb.geo
    assert vs.frames >= 2, "malformed_frames_recover needs a vector set of 2 frames"
    await tb.start()
    monitor = Monitor(dut)
    cocotb.start_soon(monitor.run())
    await tb.send(vs.x[0], rows=max(1, cfg.h // 2))   # ends early: completed with zeros
    await tb.send(vs.x[1])
    await tb.send(vs.x[0], extra_rows=1)              # one row too many: dropped
    await tb.send(vs.x[1])
    board = Scoreboard(tb.sink, cfg, geo)
    lost = await tb.receive(board, monitor, [
        ("short frame", None), ("frame 1", vs.y[1]), ("long frame", vs.y[0]),
        ("frame 1 again", vs.y[1])])
    await tb.settle_and_report(board, monitor, 4, lost)
    assert dut.frame_error.value == 1, "malformed frames did not set frame_error"


@cocotb.test()
async def reset_mid_frame(dut):
    """Reset while a frame is half in (and, with stalls, outputs are held back), reload the
    parameters, then send two good frames: both come out exact, nothing of the aborted frame
    leaks out, and frame_error is clear.  Needs two frames of vectors."""
    tb = bench_from_env(dut)
    vs, cfg, geo = tb.vs, tb.cfg, tb.geo
    assert vs.frames >= 2, "reset_mid_frame needs a vector set of 2 frames"
    await tb.start()
    before = Monitor(dut)
    watcher = cocotb.start_soon(before.run())
    await tb.send(vs.x[0])
    half = cfg.n_pixels * geo.ci_chunks // 2
    for _ in range(tb.timeout_ns(1) // CLOCK_NS):
        if before.inputs >= max(1, half):
            break
        await RisingEdge(dut.clk)
    assert before.inputs >= max(1, half), "the engine did not accept half a frame"
    watcher.cancel()
    await tb.start()  # reset mid-frame, parameters again
    monitor = Monitor(dut)
    cocotb.start_soon(monitor.run())
    await tb.send(vs.x[1])
    await tb.send(vs.x[0])
    board = Scoreboard(tb.sink, cfg, geo)
    lost = await tb.receive(board, monitor, [("frame 1", vs.y[1]), ("frame 0", vs.y[0])])
    await tb.settle_and_report(board, monitor, 2, lost, inputs_before_reset=before.inputs,
                               outputs_before_reset=before.outputs)
    assert dut.frame_error.value == 0, "frame_error set after reset and good frames"


@cocotb.test()
async def bad_parameter_streams(dut):
    """A parameter stream cut short, then one running three words long: each sets the sticky
    param_error and leaves param_loaded low (no frame is accepted); a good load after them
    raises param_loaded and the next frame is exact."""
    tb = bench_from_env(dut)
    vs, cfg, geo = tb.vs, tb.cfg, tb.geo
    await tb.start()
    words = param_words(cfg, vs.layer)
    figures = {}
    for label, bad in (("short", words[:len(words) // 2]), ("long", words + words[:3])):
        await tb.reset()  # param_error is sticky: each case from a clean state
        await tb.params.send(AxiStreamFrame(tdata=words))  # a good layer first ...
        assert await wait_high(dut, dut.param_loaded, 8 * len(words) + 100)
        await tb.params.send(AxiStreamFrame(tdata=bad))    # ... then a broken reload
        await tb.params.wait()
        await ClockCycles(dut.clk, 4)
        figures[f"{label}_error"] = int(dut.param_error.value)
        figures[f"{label}_loaded"] = int(dut.param_loaded.value)
    monitor = Monitor(dut)
    cocotb.start_soon(monitor.run())
    await tb.send(vs.x[0])
    await ClockCycles(dut.clk, 50)
    figures["inputs_while_unloaded"] = monitor.inputs
    await tb.params.send(AxiStreamFrame(tdata=words))
    assert await wait_high(dut, dut.param_loaded, 8 * len(words) + 100), \
        "a good parameter stream after bad ones did not load"
    board = Scoreboard(tb.sink, cfg, geo)
    figures["lost_beats"] = await tb.receive(board, monitor, [("frame 0", vs.y[0])])
    figures.update(outputs_compared=board.compared, mismatches=board.mismatches)
    Path(os.environ["XV_RESULTS"]).write_text(json.dumps(figures) + "\n")
    for label in ("short", "long"):
        assert figures[f"{label}_error"] == 1, f"a {label} parameter stream did not set param_error"
        assert figures[f"{label}_loaded"] == 0, f"a {label} parameter stream left param_loaded high"
    assert figures["inputs_while_unloaded"] == 0, "frames accepted without a complete layer"
    assert figures["lost_beats"] == 0, "output beats never came after the good load"
    board.check()


@cocotb.test()
async def memory_errors_stop_the_engine(dut):
    """External weights: a weight base address past the end of the memory (every burst answered
    with SLVERR) and a base not aligned to a burst each set the sticky mem_error, and the engine
    then emits nothing rather than results computed with wrong weights; a good base after a
    reset runs a frame exactly.  Needs a vector set with weights="external"."""
    tb = bench_from_env(dut)
    vs, cfg, geo = tb.vs, tb.cfg, tb.geo
    assert cfg.external_weights, "memory_errors_stop_the_engine needs external weights"
    words = param_words(cfg, vs.layer)
    figures = {}
    for label, base in (("slverr", WEIGHTS_BASE + (1 << 20)), ("misaligned", WEIGHTS_BASE + 8)):
        dut.weights_base.value = base
        await tb.reset()
        await tb.params.send(AxiStreamFrame(tdata=words))
        assert await wait_high(dut, dut.param_loaded, 8 * len(words) + 100)
        monitor = Monitor(dut)
        watcher = cocotb.start_soon(monitor.run())
        await tb.send(vs.x[0])
        await ClockCycles(dut.clk, 4 * predict(cfg, 1).cycles + 500)
        watcher.cancel()
        figures[f"{label}_error"] = int(dut.mem_error.value)
        figures[f"{label}_outputs"] = monitor.outputs
    dut.weights_base.value = WEIGHTS_BASE
    await tb.start()
    monitor = Monitor(dut)
    cocotb.start_soon(monitor.run())
    await tb.send(vs.x[0])
    board = Scoreboard(tb.sink, cfg, geo)
    figures["lost_beats"] = await tb.receive(board, monitor, [("frame 0", vs.y[0])])
    figures.update(outputs_compared=board.compared, mismatches=board.mismatches,
                   good_error=int(dut.mem_error.value))
    Path(os.environ["XV_RESULTS"]).write_text(json.dumps(figures) + "\n")
    for label in ("slverr", "misaligned"):
        assert figures[f"{label}_error"] == 1, f"a {label} base did not set mem_error"
        assert figures[f"{label}_outputs"] == 0, f"results came out after a {label} base"
    assert figures["good_error"] == 0 and figures["lost_beats"] == 0
    board.check()
