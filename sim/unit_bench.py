"""Block-level benches in Amaranth's simulator: one unit of the engine, its memory read ports
backed by memories holding what the golden model says they hold, its counters looped back, and
small put/get helpers (in the manner of Glasgow's gateware tests) to feed streams and collect
what the unit writes.

The unit's ports are found from its signature: every member that is a memory read port
(``amaranth.lib.memory.ReadPort.Signature``) gets a memory, initialized from ``contents`` (or
written by the bench through ``<name>_w`` when it is ``refilled``); every write port the
testbench reads with ``collect_writes``.
"""
from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory, ReadPort
from amaranth.sim import Simulator


def pack(values, bits: int) -> int:
    """Lanes of ``bits`` (two's complement), lane 0 in the low bits, into one word."""
    mask = (1 << bits) - 1
    return sum((int(v) & mask) << (i * bits) for i, v in enumerate(values))


def unpack(word: int, count: int, bits: int, signed: bool = True) -> list[int]:
    """The inverse of ``pack``."""
    out = [(word >> (i * bits)) & ((1 << bits) - 1) for i in range(count)]
    return [v - (1 << bits) if signed and v >> (bits - 1) else v for v in out]


class UnitBench(Elaboratable):
    """``unit`` with a memory behind each read port named in ``contents`` (lists of words),
    ``refilled`` (written by the testbench through the Signals ``writes[name]``: addr, data,
    en) or ``shared`` (read port -> the unit's own write port that fills it), and ``loops``:
    input port <- output port of the unit (a consumer that keeps up)."""

    def __init__(self, unit: wiring.Component, contents: dict | None = None,
                 refilled: tuple[str, ...] = (), shared: dict | None = None,
                 loops: dict | None = None):
        self.unit, self.contents = unit, contents or {}
        self.refilled, self.shared, self.loops = refilled, shared or {}, loops or {}
        self.writes = {}
        for name in refilled:
            port = getattr(unit, name)
            self.writes[name] = {"addr": Signal(len(port.addr), name=f"{name}_waddr"),
                                 "data": Signal(len(port.data), name=f"{name}_wdata"),
                                 "en": Signal(name=f"{name}_wen")}
        for name, member in unit.signature.members.items():
            if member.is_signature and isinstance(member.signature, ReadPort.Signature):
                assert name in (*self.contents, *refilled, *self.shared), \
                    f"no memory for port {name}"

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self.unit
        for name in (*self.contents, *self.refilled, *self.shared):
            port = getattr(unit, name)
            depth = 1 << len(port.addr)
            init = list(self.contents.get(name, ()))
            mem = Memory(shape=len(port.data), depth=depth, init=init + [0] * (depth - len(init)))
            m.submodules[f"mem_{name}"] = mem
            wiring.connect(m, port, mem.read_port())
            if name in self.refilled:
                wp, w = mem.write_port(), self.writes[name]
                m.d.comb += [wp.addr.eq(w["addr"]), wp.data.eq(w["data"]), wp.en.eq(w["en"])]
            if name in self.shared:
                wiring.connect(m, getattr(unit, self.shared[name]), mem.write_port())
        for sink, source in self.loops.items():
            m.d.comb += getattr(unit, sink).eq(getattr(unit, source))
        return m


async def put_stream(ctx, stream, payloads) -> None:
    """Offer each payload (a dict of the stream's fields) until the unit takes it."""
    for payload in payloads:
        ctx.set(stream.valid, 1)
        for field, value in payload.items():
            ctx.set(getattr(stream.p, field), value)
        await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


def collect_writes(ctx, port, out: list):
    """A process body: append (addr, data) for every cycle the unit writes through ``port``."""
    async def process(ctx):
        async for _, _, en, addr, data in ctx.tick().sample(port.en, port.addr, port.data):
            if en:
                out.append((addr, data))
    return process


def run(bench: UnitBench, testbench, watches: dict, deadline: int) -> dict[str, list]:
    """Simulate ``bench`` with ``testbench`` (an async function of ctx) and, for each name in
    ``watches`` (a write port of the unit), the list of its writes; fail past ``deadline``
    cycles (the unit stalled)."""
    sim = Simulator(bench)
    sim.add_clock(1e-8)
    writes = {name: [] for name in watches}
    for name, port in watches.items():
        sim.add_process(collect_writes(None, port, writes[name]))
    done = []

    async def main(ctx):
        await testbench(ctx)
        done.append(True)

    async def watchdog(ctx):
        for _ in range(deadline):
            await ctx.tick()
            if done:
                return
        raise AssertionError(f"the unit did not finish within {deadline} cycles")

    sim.add_testbench(main)
    sim.add_testbench(watchdog, background=True)
    sim.run()
    return writes
