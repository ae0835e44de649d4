"""8N1 UART receiver and transmitter, ``divisor`` clocks a bit, bytes as ``amaranth.lib.stream``."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


def _check(divisor: int) -> None:
    if not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"divisor: clocks a UART bit must be an integer >= 4, got {divisor!r}")


class UartRx(wiring.Component):
    """Samples ``rx`` mid-bit; a byte whose stop bit is 1 goes out on ``o`` (a byte not taken
    before the next arrives is replaced: the host link never sends while the board is busy).
    ``framing`` pulses for a byte with a 0 stop bit (dropped)."""

    rx: In(1, init=1)
    o: Out(stream.Signature(8))
    framing: Out(1)

    def __init__(self, divisor: int):
        _check(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bit = Signal(range(9))
        shift = Signal(8)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.sync += self.framing.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # to the middle of the first data bit: one and a half bits
                    m.d.sync += [timer.eq(self.divisor * 3 // 2 - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [timer.eq(self.divisor - 1), bit.eq(bit + 1)]
                    with m.If(bit == 8):  # the stop bit
                        with m.If(rx):
                            m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                        with m.Else():
                            m.d.sync += self.framing.eq(1)
                        m.next = "STOP"
                    with m.Else():
                        m.d.sync += shift.eq(Cat(shift[1:], rx))
            with m.State("STOP"):  # wait for the line to idle high before the next start bit
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """Sends each byte of ``i`` as start bit, eight data bits (LSB first), stop bit."""

    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        _check(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        bits = Signal(range(11))
        shift = Signal(10, init=0x3FF)
        m.d.comb += self.tx.eq(shift[0])
        with m.If(bits == 0):
            m.d.comb += self.i.ready.eq(1)
            with m.If(self.i.valid):
                m.d.sync += [shift.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))),
                             bits.eq(10), timer.eq(self.divisor - 1)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), bits.eq(bits - 1),
                         timer.eq(self.divisor - 1)]
        return m
