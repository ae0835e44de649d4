"""CRC-16/CCITT-FALSE of a byte stream, one byte a cycle, table-free (``hw.board.protocol``)."""

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

POLY, INIT = 0x1021, 0xFFFF


def crc16_byte(m: Module, crc: Value, byte: Value) -> Value:
    """The CRC after one more byte: eight unrolled shift-and-XOR steps, one signal a step
    (combinational, in ``m``)."""
    step = Signal(16)
    m.d.comb += step.eq(crc ^ (byte << 8))
    for n in range(8):
        nxt = Signal(16, name=f"crc_step{n}")
        m.d.comb += nxt.eq(Mux(step[15], (step << 1)[:16] ^ POLY, (step << 1)[:16]))
        step = nxt
    return step


class Crc16(wiring.Component):
    """``clear`` restarts at 0xFFFF; ``valid`` takes ``data`` in; ``crc`` is the CRC so far."""

    clear: In(1)
    valid: In(1)
    data: In(8)
    crc: Out(16, init=INIT)

    def elaborate(self, platform):
        m = Module()
        with m.If(self.clear):
            m.d.sync += self.crc.eq(INIT)
        with m.Elif(self.valid):
            m.d.sync += self.crc.eq(crc16_byte(m, self.crc, self.data))
        return m
