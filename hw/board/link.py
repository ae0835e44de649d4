"""Packets over the byte streams of the UART (format: ``hw.board.protocol``).

``PacketRx`` keeps a packet's payload in its buffer memory and hands the controller one
descriptor (CMD, LENGTH, error code) a packet, only after the CRC has arrived: a bad packet is
reported, never acted on.  ``PacketTx`` frames a reply: header from its ``start`` stream, payload
bytes from ``data``, the CRC computed on the way out.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .crc import Crc16
from .protocol import SYNC, Error

#: the controller's view of a received packet
PACKET = data.StructLayout({"cmd": 8, "length": 16, "error": 3})
#: a reply's header
HEADER = data.StructLayout({"cmd": 8, "length": 16})


class PacketRx(wiring.Component):
    """Parses bytes into packets.  ``rules``: {CMD: (fixed, unit)} (``protocol.length_rules``);
    a packet longer than ``max_payload`` is refused at its header, one whose bytes stop for
    ``timeout`` clocks is dropped (Error.TIMEOUT); the parser waits for the next SYNC after
    either.  ``rd_addr``/``rd_data``: the payload buffer (data one cycle after the address)."""

    def __init__(self, rules: dict[int, tuple[int, int]], max_payload: int, timeout: int):
        if max_payload < 2 or max_payload > 0xFFFF:
            raise ValueError(f"max_payload: between 2 and 65535 bytes, got {max_payload}")
        for cmd, (fixed, unit) in rules.items():
            if unit and fixed + unit > max_payload:
                raise ValueError(f"max_payload: {max_payload} bytes cannot hold one unit of "
                                 f"command 0x{cmd:02X} ({fixed} + {unit} bytes)")
        self.rules, self.max_payload, self.timeout = dict(rules), max_payload, timeout
        super().__init__({
            "i": In(stream.Signature(8)),
            "o": Out(stream.Signature(PACKET)),
            "rd_addr": In(range(max_payload)),
            "rd_data": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.buffer = buf = Memory(shape=8, depth=self.max_payload, init=[])
        m.submodules.crc = crc = Crc16()
        wr, rd = buf.write_port(), buf.read_port()
        m.d.comb += [rd.addr.eq(self.rd_addr), self.rd_data.eq(rd.data)]

        cmd, length = Signal(8), Signal(16)
        count = Signal(16)                       # payload bytes received
        unit = Signal(range(self.max_payload + 1))
        fixed = Signal(range(self.max_payload + 1))
        phase = Signal(range(self.max_payload + 1))  # bytes past `fixed`, modulo `unit`
        known = Signal()
        idle = Signal(range(self.timeout + 1))
        error = Signal(3)
        byte = self.i.payload
        beat = self.i.valid & self.i.ready

        m.d.comb += [crc.data.eq(byte), wr.data.eq(byte), wr.addr.eq(count),
                     self.o.payload.cmd.eq(cmd), self.o.payload.length.eq(length),
                     self.o.payload.error.eq(error)]
        # every byte after SYNC, the CRC's own two included, goes through the CRC: 0 at the end
        length_ok = Signal()
        m.d.comb += length_ok.eq(Cat(unit == 0, length == fixed).all() |
                                 Cat(unit != 0, length > fixed, phase == 0).all())

        with m.FSM() as fsm:
            def receive():
                """A state that takes a byte of the packet (after SYNC): through the CRC; the
                packet is dropped when no byte comes for ``timeout`` clocks."""
                m.d.comb += [self.i.ready.eq(1), crc.valid.eq(beat)]
                with m.If(beat):
                    m.d.sync += idle.eq(0)
                with m.Elif(idle == self.timeout):
                    m.d.sync += [idle.eq(0), error.eq(Error.TIMEOUT)]
                    m.next = "REPORT"
                with m.Else():
                    m.d.sync += idle.eq(idle + 1)

            with m.State("HUNT"):
                m.d.comb += [self.i.ready.eq(1), crc.clear.eq(1)]
                m.d.sync += idle.eq(0)
                with m.If(beat & (byte == SYNC)):
                    m.next = "CMD"
            with m.State("CMD"):
                receive()
                with m.If(beat):
                    m.d.sync += [cmd.eq(byte), known.eq(0), fixed.eq(0), unit.eq(0)]
                    for c, (f, u) in self.rules.items():
                        with m.If(byte == c):
                            m.d.sync += [known.eq(1), fixed.eq(f), unit.eq(u)]
                    m.next = "LEN0"
            with m.State("LEN0"):
                receive()
                with m.If(beat):
                    m.d.sync += length[:8].eq(byte)
                    m.next = "LEN1"
            with m.State("LEN1"):
                receive()
                with m.If(beat):
                    full = Cat(length[:8], byte)
                    m.d.sync += [length[8:].eq(byte), count.eq(0), phase.eq(0)]
                    with m.If(full > self.max_payload):  # cannot be buffered: refused now
                        m.d.sync += error.eq(Error.LENGTH)
                        m.next = "REPORT"
                    with m.Elif(full == 0):
                        m.next = "CRC0"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                receive()
                m.d.comb += wr.en.eq(beat)
                with m.If(beat):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count >= fixed):
                        m.d.sync += phase.eq(Mux(phase == unit - 1, 0, phase + 1))
                    with m.If(count == length - 1):
                        m.next = "CRC0"
            with m.State("CRC0"):
                receive()
                with m.If(beat):
                    m.next = "CRC1"
            with m.State("CRC1"):
                receive()
                with m.If(beat):
                    m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(crc.crc != 0):
                    m.d.sync += error.eq(Error.CRC)
                with m.Elif(~known):
                    m.d.sync += error.eq(Error.COMMAND)
                with m.Elif(~length_ok):
                    m.d.sync += error.eq(Error.LENGTH)
                with m.Else():
                    m.d.sync += error.eq(0)
                m.next = "REPORT"
            with m.State("REPORT"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.next = "HUNT"
        return m


class PacketTx(wiring.Component):
    """Sends SYNC, the header taken from ``start``, exactly LENGTH bytes of ``data``, and the
    CRC.  ``busy`` from the cycle after ``start`` is taken until the last CRC byte is handed on."""

    start: In(stream.Signature(HEADER))
    data: In(stream.Signature(8))
    o: Out(stream.Signature(8))
    busy: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = Crc16()
        cmd, length, count = Signal(8), Signal(16), Signal(16)
        beat = self.o.valid & self.o.ready
        m.d.comb += [crc.data.eq(self.o.payload)]
        with m.FSM() as fsm:
            m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
            with m.State("IDLE"):
                m.d.comb += [self.start.ready.eq(1), crc.clear.eq(1)]
                with m.If(self.start.valid):
                    m.d.sync += [cmd.eq(self.start.payload.cmd),
                                 length.eq(self.start.payload.length), count.eq(0)]
                    m.next = "SYNC"
            with m.State("SYNC"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(SYNC)]
                with m.If(beat):
                    m.next = "CMD"
            for state, value, after in (("CMD", cmd, "LEN0"), ("LEN0", length[:8], "LEN1"),
                                        ("LEN1", length[8:], None)):
                with m.State(state):
                    m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(value),
                                 crc.valid.eq(beat)]
                    with m.If(beat):
                        if after:
                            m.next = after
                        else:
                            m.next = "PAYLOAD"
                            with m.If(length == 0):
                                m.next = "CRC0"
            with m.State("PAYLOAD"):
                m.d.comb += [self.o.valid.eq(self.data.valid), self.o.payload.eq(self.data.payload),
                             self.data.ready.eq(self.o.ready), crc.valid.eq(beat)]
                with m.If(beat):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == length - 1):
                        m.next = "CRC0"
            with m.State("CRC0"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(crc.crc[8:])]
                with m.If(beat):
                    m.next = "CRC1"
            with m.State("CRC1"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(crc.crc[:8])]
                with m.If(beat):
                    m.next = "IDLE"
        return m
