"""The ECP5 PLL (EHXPLLL) as a component: ``clk_in`` at ``in_hz`` to ``clk_out`` at ``out_hz``.

The dividers are searched (``pll_dividers``) for an exact output: VCO 400 to 800 MHz, phase
detector 3.125 to 400 MHz (the ECP5 family data sheet, and what ``ecppll`` checks).  The output
is CLKOS; the feedback path is CLKOP, which then runs at ``in_hz / clki_div * clkfb_div``.
"""
from dataclasses import dataclass
from fractions import Fraction

from amaranth.hdl import Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

VCO_HZ = (400e6, 800e6)
PFD_HZ = (3.125e6, 400e6)


@dataclass(frozen=True)
class PllDividers:
    clki_div: int
    clkfb_div: int
    clkop_div: int
    clkos_div: int
    in_hz: int

    @property
    def clkop_hz(self) -> Fraction:
        return Fraction(self.in_hz, self.clki_div) * self.clkfb_div

    @property
    def vco_hz(self) -> Fraction:
        return self.clkop_hz * self.clkop_div

    @property
    def out_hz(self) -> Fraction:
        return self.vco_hz / self.clkos_div


def pll_dividers(in_hz: int, out_hz: int) -> PllDividers:
    """Dividers that make exactly ``out_hz`` from ``in_hz``; ValueError if none do."""
    best = None
    for clki in range(1, 129):
        pfd = Fraction(in_hz, clki)
        if not PFD_HZ[0] <= pfd <= PFD_HZ[1]:
            continue
        for fb in range(1, 81):
            for op in range(1, 129):
                vco = pfd * fb * op
                if not VCO_HZ[0] <= vco <= VCO_HZ[1]:
                    continue
                os_div = vco / out_hz
                if os_div.denominator == 1 and 1 <= os_div <= 128:
                    d = PllDividers(clki, fb, op, int(os_div), in_hz)
                    # prefer the highest phase-detector frequency, then the highest VCO
                    key = (pfd, vco)
                    if best is None or key > best[0]:
                        best = (key, d)
    if best is None:
        raise ValueError(f"clock: the ECP5 PLL cannot make exactly {out_hz / 1e6:g} MHz from "
                         f"{in_hz / 1e6:g} MHz")
    return best[1]


class EcpPll(wiring.Component):
    """EHXPLLL: ``clk_out`` (CLKOS) at ``out_hz``; ``locked`` once the loop has settled."""

    clk_in: In(1)
    clk_out: Out(1)
    locked: Out(1)

    def __init__(self, in_hz: int, out_hz: int):
        self.d = pll_dividers(int(in_hz), int(out_hz))
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.d
        clkop = Signal(name="pll_clkop")
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=str(d.in_hz / 1e6), a_FREQUENCY_PIN_CLKOS=f"{float(d.out_hz) / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{float(d.clkop_hz) / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=d.clki_div, p_CLKFB_DIV=d.clkfb_div, p_FEEDBK_PATH="CLKOP",
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=d.clkop_div, p_CLKOP_CPHASE=d.clkop_div - 1,
            p_CLKOP_FPHASE=0,
            p_CLKOS_ENABLE="ENABLED", p_CLKOS_DIV=d.clkos_div, p_CLKOS_CPHASE=d.clkos_div - 1,
            p_CLKOS_FPHASE=0,
            i_CLKI=self.clk_in, i_CLKFB=clkop, i_RST=0, i_STDBY=0, i_PHASESEL0=0,
            i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0,
            i_ENCLKOP=0, i_ENCLKOS=0, i_ENCLKOS2=0, i_ENCLKOS3=0,
            o_CLKOP=clkop, o_CLKOS=self.clk_out, o_LOCK=self.locked,
        )
        return m
