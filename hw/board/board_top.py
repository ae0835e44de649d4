"""The board-independent top: UART pins in and out, the packet link, the engine.

    rx --> UartRx --> PacketRx (payload buffer, CRC) --> controller --> engine s_param / s_axis
    tx <-- UartTx <-- PacketTx (CRC) <-- controller <-- result FIFO <-- engine m_axis

The controller acts on a packet only once ``PacketRx`` has checked it whole (CRC, CMD,
LENGTH): a bad one is answered with an error reply, and the engine sees no beat of it.  It
answers every packet once, after its work is done (for LOAD_PARAMS and SEND_PIXELS: every
beat is in the engine), so a host that waits for each reply never overruns the UART.  Results
wait in a FIFO that holds a whole frame, so the engine never stalls on a host that sends a
frame before it reads.  Protocol: ``hw.board.protocol``, docs/board.md.
"""

import struct

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from golden.config import XvConfig

from ..geometry import Geometry
from ..top import XvolutionEngine
from .link import PACKET, PacketRx, PacketTx
from .protocol import ERROR, REPLY, STATUS_FORMAT, VERSION, BoardInfo, Cmd, length_rules
from .uart import UartRx, UartTx

#: the default largest payload: a 4 KiB buffer (two DP16KD on the ECP5)
MAX_PAYLOAD = 4096
#: a packet whose bytes stop for this many bit times is dropped (10 ms at 3 Mbaud)
TIMEOUT_BITS = 30_000


def nbytes(bits: int) -> int:
    return (bits + 7) // 8


class BoardGeometry:
    """The link's sizes for a configuration: bytes a beat, a row, a frame; what INFO reports."""

    def __init__(self, cfg: XvConfig, clock_hz: int, divisor: int, max_payload: int = MAX_PAYLOAD):
        geo = Geometry(cfg)
        self.cfg, self.geo = cfg, geo
        self.in_bytes, self.out_bytes = nbytes(geo.in_bits), nbytes(geo.out_bits)
        self.param_bytes = nbytes(geo.param_bits)
        self.row_beats = cfg.w * geo.ci_chunks
        self.row_bytes = self.row_beats * self.in_bytes
        self.frame_out_beats = cfg.h * cfg.w * geo.tile_groups * cfg.tiles
        self.max_payload = max_payload
        if 1 + self.row_bytes > max_payload or 1 + self.param_bytes > max_payload:
            raise ValueError(f"max_payload: {max_payload} bytes cannot hold a row of input "
                             f"({self.row_bytes} bytes) and its flags byte")
        self.info = BoardInfo(VERSION, self.in_bytes, self.out_bytes, self.param_bytes,
                              geo.param_words, cfg.h, cfg.w, self.row_beats,
                              self.frame_out_beats, max_payload, self.frame_out_beats,
                              int(clock_hz), divisor)


class BoardTop(wiring.Component):
    """The engine for ``cfg`` behind a UART at ``clock_hz / divisor`` baud.  ``leds``: param
    loaded, param error, frame error, MAC busy, packet refused (toggles)."""

    rx: In(1, init=1)
    tx: Out(1, init=1)
    leds: Out(5)

    def __init__(self, cfg: XvConfig, clock_hz: int = 48_000_000, divisor: int = 16,
                 max_payload: int = MAX_PAYLOAD, timeout_bits: int = TIMEOUT_BITS):
        if cfg.external_weights:
            raise ValueError("weights: the board top holds the weights on chip "
                             "(--weights onchip); external weights need a memory port")
        self.bg = BoardGeometry(cfg, clock_hz, divisor, max_payload)
        self.cfg, self.divisor, self.timeout = cfg, divisor, divisor * timeout_bits
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        bg, geo = self.bg, self.bg.geo
        engine_reset = Signal()
        engine = XvolutionEngine(self.cfg)
        m.submodules.engine = ResetInserter(engine_reset)(engine)
        m.submodules.results = results = ResetInserter(engine_reset)(
            SyncFIFOBuffered(width=geo.out_bits, depth=bg.frame_out_beats))
        m.submodules.uart_rx = urx = UartRx(self.divisor)
        m.submodules.uart_tx = utx = UartTx(self.divisor)
        m.submodules.rx = prx = PacketRx(length_rules(bg.param_bytes, bg.row_bytes),
                                         bg.max_payload, self.timeout)
        m.submodules.tx = ptx = PacketTx()
        wiring.connect(m, urx.o, prx.i)
        wiring.connect(m, ptx.o, utx.i)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        # results: every output beat into the FIFO (the engine waits when it is full)
        m.d.comb += [results.w_data.eq(engine.m_axis_tdata), results.w_en.eq(engine.m_axis_tvalid),
                     engine.m_axis_tready.eq(results.w_rdy)]

        # counters (STATUS)
        cycles, busy, frame_cycles, frames, bad = (Signal(32) for _ in range(5))
        param_beats, in_beats = Signal(32), Signal(32)
        frame_start, out_count = Signal(32), Signal(range(bg.frame_out_beats))
        in_first = engine.s_axis_tvalid & engine.s_axis_tready & engine.s_axis_tuser
        out_beat = engine.m_axis_tvalid & engine.m_axis_tready
        with m.If(engine_reset):
            m.d.sync += [cycles.eq(0), busy.eq(0), frame_cycles.eq(0), frames.eq(0),
                         out_count.eq(0), bad.eq(0), param_beats.eq(0), in_beats.eq(0)]
        with m.Else():
            m.d.sync += [cycles.eq(cycles + 1), busy.eq(busy + engine.mac_busy)]
            with m.If(engine.s_param_tvalid & engine.s_param_tready):
                m.d.sync += param_beats.eq(param_beats + 1)
            with m.If(engine.s_axis_tvalid & engine.s_axis_tready):
                m.d.sync += in_beats.eq(in_beats + 1)
            with m.If(in_first):
                m.d.sync += frame_start.eq(cycles)
            with m.If(out_beat):
                m.d.sync += out_count.eq(out_count + 1)
                with m.If(out_count == bg.frame_out_beats - 1):
                    m.d.sync += [out_count.eq(0), frames.eq(frames + 1),
                                 frame_cycles.eq(cycles - frame_start + 1)]
        flags = Cat(engine.param_loaded, engine.param_error, engine.frame_error)
        refused = Signal()
        m.d.comb += self.leds.eq(Cat(flags, engine.mac_busy, refused))

        # the reply's payload: bytes of a register (error, INFO, STATUS) or the result FIFO
        pkt = Signal(PACKET)
        status_bytes = struct.calcsize(STATUS_FORMAT)
        status = Signal(8 * status_bytes)
        error_bytes = Signal(16)
        info = bg.info.pack()
        index = Signal(8)
        source = Signal(2)   # 0: error, 1: INFO, 2: STATUS, 3: results
        small = {0: [error_bytes[:8], error_bytes[8:]],
                 1: [Const(b, 8) for b in info],
                 2: [status[8 * i:8 * i + 8] for i in range(status_bytes)]}
        word, word_bytes = Signal(geo.out_bits), Signal(range(bg.out_bytes + 1))
        with m.Switch(source):
            for key, values in small.items():
                with m.Case(key):
                    m.d.comb += [ptx.data.valid.eq(1),
                                 ptx.data.payload.eq(Array(values)[index])]
                    with m.If(ptx.data.ready):
                        m.d.sync += index.eq(index + 1)
            with m.Case(3):  # results: each FIFO word as out_bytes bytes, low byte first
                m.d.comb += [ptx.data.valid.eq(word_bytes != 0), ptx.data.payload.eq(word[:8])]
                with m.If(word_bytes == 0):  # the next word, only as the reply needs it
                    m.d.comb += results.r_en.eq(ptx.data.ready)
                    with m.If(results.r_rdy & ptx.data.ready):
                        m.d.sync += [word.eq(results.r_data), word_bytes.eq(bg.out_bytes)]
                with m.Elif(ptx.data.ready):
                    m.d.sync += [word.eq(word >> 8), word_bytes.eq(word_bytes - 1)]

        # gathering bytes of the payload buffer into a word, low byte first
        widest = max(bg.in_bytes, bg.param_bytes, 2)
        gather = Signal(8 * widest)
        ptr, got, need = Signal(16), Signal(range(widest + 1)), Signal(range(widest + 1))
        m.d.comb += prx.rd_addr.eq(ptr)
        pkt_flags, beat_no = Signal(8), Signal(16)
        reply = Signal(8)
        reply_len = Signal(16)
        row_pos = Signal(range(bg.row_beats))
        top = lambda n: gather[8 * (widest - n):]  # noqa: E731 (the last n bytes gathered)
        want = Signal(16)

        def start_reply(cmd, length, src=None):
            m.d.sync += [reply.eq(cmd), reply_len.eq(length), index.eq(0)]
            if src is not None:
                m.d.sync += source.eq(src)
            m.next = "REPLY"

        with m.FSM():
            with m.State("IDLE"):
                m.d.sync += [ptr.eq(0), got.eq(0), beat_no.eq(0), row_pos.eq(0)]
                with m.If(prx.o.valid):
                    m.d.sync += pkt.eq(prx.o.payload)
                    p = prx.o.payload
                    with m.If(p.error != 0):
                        m.d.sync += [error_bytes.eq(Cat(p.error.as_unsigned(), Const(0, 5),
                                                        p.cmd)),
                                     bad.eq(bad + 1), refused.eq(~refused)]
                        start_reply(ERROR, 2, 0)
                    with m.Elif(p.cmd == Cmd.INFO):
                        start_reply(Cmd.INFO | REPLY, len(info), 1)
                    with m.Elif(p.cmd == Cmd.STATUS):
                        m.d.sync += status.eq(Cat(flags, Const(0, 5), cycles, busy,
                                                  frame_cycles, frames, param_beats, in_beats,
                                                  bad))
                        start_reply(Cmd.STATUS | REPLY, status_bytes, 2)
                    with m.Elif(p.cmd == Cmd.RESET):
                        m.d.comb += engine_reset.eq(1)
                        start_reply(Cmd.RESET | REPLY, 0)
                    with m.Else():  # LOAD_PARAMS, SEND_PIXELS: the flags byte; READ: u16
                        m.d.sync += need.eq(Mux(p.cmd == Cmd.READ_RESULTS, 2, 1))
                        m.next = "FETCH"
            with m.State("FETCH"):
                m.next = "SHIFT"
            with m.State("SHIFT"):
                m.d.sync += [gather.eq(Cat(gather[8:], prx.rd_data)), ptr.eq(ptr + 1),
                             got.eq(got + 1)]
                m.next = "FETCH"
                with m.If(got + 1 == need):
                    m.d.sync += got.eq(0)
                    m.next = "GOT"
            with m.State("GOT"):
                with m.If(pkt.cmd == Cmd.READ_RESULTS):
                    level = results.level
                    m.d.sync += want.eq(Mux(top(2) < level, top(2), level))
                    m.next = "READ"
                with m.Elif(ptr == 1):  # the flags byte
                    m.d.sync += [pkt_flags.eq(top(1)),
                                 need.eq(Mux(pkt.cmd == Cmd.LOAD_PARAMS, bg.param_bytes,
                                             bg.in_bytes))]
                    m.next = "FETCH"
                with m.Else():
                    m.next = "PUSH"
            with m.State("READ"):
                start_reply(Cmd.READ_RESULTS | REPLY, want * bg.out_bytes, 3)
            with m.State("PUSH"):
                last_beat = ptr == pkt.length
                with m.If(pkt.cmd == Cmd.LOAD_PARAMS):
                    m.d.comb += [engine.s_param_tvalid.eq(1),
                                 engine.s_param_tdata.eq(top(bg.param_bytes)),
                                 engine.s_param_tlast.eq(last_beat & pkt_flags[0])]
                with m.Else():
                    m.d.comb += [engine.s_axis_tvalid.eq(1),
                                 engine.s_axis_tdata.eq(top(bg.in_bytes)),
                                 engine.s_axis_tuser.eq((beat_no == 0) & pkt_flags[0]),
                                 engine.s_axis_tlast.eq(row_pos == bg.row_beats - 1)]
                with m.If(Mux(pkt.cmd == Cmd.LOAD_PARAMS, engine.s_param_tready,
                              engine.s_axis_tready)):
                    m.d.sync += [beat_no.eq(beat_no + 1),
                                 row_pos.eq(Mux(row_pos == bg.row_beats - 1, 0, row_pos + 1))]
                    m.next = "FETCH"
                    with m.If(last_beat):
                        start_reply(pkt.cmd | REPLY, 0)
            with m.State("REPLY"):
                m.d.comb += [ptx.start.valid.eq(1), ptx.start.payload.cmd.eq(reply),
                             ptx.start.payload.length.eq(reply_len)]
                with m.If(ptx.start.ready):
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(~ptx.busy):
                    m.d.comb += prx.o.ready.eq(1)
                    m.next = "IDLE"
        return m
