"""The ULX3S (ECP5 LFE5U-85F) wrapper: the 25 MHz oscillator through the PLL, reset until it
locks, the FT231X's UART pins, the LEDs.  Built with amaranth-boards' ``ULX3S_85F_Platform``
(its pins, LPF and Trellis flow); ``hw.board.build`` runs it."""
from amaranth.hdl import ClockDomain, ClockSignal, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer

from golden.config import XvConfig

from .board_top import BoardGeometry, BoardTop
from .pll import EcpPll, pll_dividers

OSC_HZ = 25_000_000


class Ulx3sTop(wiring.Component):
    """No ports: everything goes to the board's pins through ``platform.request``."""

    def __init__(self, cfg: XvConfig, clock_hz: int, baud: int):
        divisor = clock_hz / baud
        if divisor != int(divisor) or divisor < 4:
            raise ValueError(f"clock: {clock_hz / 1e6:g} MHz is not a whole number (>= 4) of "
                             f"clocks a bit at {baud} baud")
        self.cfg, self.clock_hz, self.divisor = cfg, int(clock_hz), int(divisor)
        self.dividers = pll_dividers(OSC_HZ, self.clock_hz)  # refuses a clock it cannot make
        BoardGeometry(cfg, self.clock_hz, self.divisor)       # refuses a link it cannot carry
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.pll = pll = EcpPll(OSC_HZ, self.clock_hz)
        m.submodules.core = core = BoardTop(self.cfg, clock_hz=self.clock_hz,
                                            divisor=self.divisor)
        clk25 = platform.request("clk25")
        m.d.comb += [pll.clk_in.eq(clk25.i), ClockSignal("sync").eq(pll.clk_out)]
        # nextpnr derives the PLL output's constraint (clock_hz) from clk25's 25 MHz
        m.submodules.reset = ResetSynchronizer(~pll.locked, domain="sync")
        uart = platform.request("uart", 0)
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]
        for n in range(len(core.leds)):
            m.d.comb += platform.request("led", n).o.eq(core.leds[n])
        return m
