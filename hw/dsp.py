"""The multipliers of the engine, as a build target wants them.

Every product in the engine has the same shape: two operands registered beside the DSP block
(``util.NEAR_DSP``), the product of those registers registered:

    a_r <= a;  b_r <= b;  p <= a_r * b_r            (two cycles from a, b to p)

The generic form writes exactly that in the fabric, and Yosys maps the multiply to a bare
MULT18X18D between fabric registers: each cycle then holds a route into the DSP block, the
multiply and a route out of it (the last placed critical paths of ``make bench`` on efba85b).
An ECP5 build (``verilog_text(cfg, dsp=ECP5)``) instantiates MULT18X18D with its input
registers (REG_INPUTA/B) as a_r and b_r: the same function and latency, with no route in front
of the multiply.  Like the fabric registers they replace, they are not reset (RST0 tied
low): operands and products are data, read only with their valid (docs/architecture.md).
The product register stays in the fabric: with the output register in the DSP block too
(REG_OUTPUT), stage2 8 x 16, which fills 155 of the 156 multipliers, did not route with
nextpnr's router2 (its overuse grew from iteration 4 to 29); router1 routes it, at 106.7 MHz
on placement seed 1 against 117.6 with the fabric register (c403c22, by hand).  ``sim``
checks the two forms equal on the golden vectors (``tests/test_dsp_forms.py``: the ECP5
form's Verilog, and its synthesized netlist).
"""
from __future__ import annotations

from amaranth.hdl import ClockSignal, Const, Instance, Mux, Signal, signed

#: the generic form: registers and ``*``, whatever Yosys maps them to
GENERIC = "generic"
#: the ECP5 form: MULT18X18D with its input registers
ECP5 = "ecp5"
FORMS = (GENERIC, ECP5)
#: signed operand width of one DSP multiplier (ECP5 MULT18X18D; iCE40's SB_MAC16 is 16)
DSP_BITS = 18


class DspTarget:
    """The object ``verilog_text`` hands to every ``elaborate`` as its platform: it says which
    form the multipliers take."""

    def __init__(self, form: str = GENERIC):
        if form not in FORMS:
            raise ValueError(f"dsp form {form!r} is not one of {FORMS}")
        self.dsp = form


def in_dsp(platform) -> bool:
    """Do the multipliers carry their operand registers inside the DSP block (the ECP5 form)?"""
    return getattr(platform, "dsp", GENERIC) == ECP5


def _operand(value, what: str):
    """``value`` as MULT18X18D's 18-bit signed operand."""
    shape = value.shape()
    fits = shape.width <= DSP_BITS - (0 if shape.signed else 1)
    if not fits:
        raise ValueError(f"{what}: a {shape} does not fit a {DSP_BITS}-bit signed "
                         "DSP operand")
    return value.as_signed() if shape.signed else value.as_unsigned()


def dsp_product(m, product: Signal, a, b, name: str) -> None:
    """``product`` gets ``a * b`` two cycles later: one MULT18X18D whose input registers hold
    a and b, and a fabric register of its product (the ECP5 form of ``a_r <= a; b_r <= b;
    product <= a_r * b_r``)."""
    ops = [Signal(signed(DSP_BITS), name=f"{name}_{pin.lower()}") for pin in "AB"]
    m.d.comb += [op.eq(_operand(v, f"{name} {pin}")) for op, v, pin in zip(ops, (a, b), "AB")]
    full = Signal(signed(2 * DSP_BITS), name=f"{name}_p")
    pins = {}
    for pin, op in zip("AB", ops):
        pins.update({f"i_{pin}{i}": op[i] for i in range(DSP_BITS)})
    pins.update({f"o_P{i}": full[i] for i in range(2 * DSP_BITS)})
    m.submodules[f"{name}_dsp"] = Instance(
        "MULT18X18D",
        p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0", p_REG_OUTPUT_CLK="NONE",
        p_REG_INPUTA_CE="CE0", p_REG_INPUTB_CE="CE0", p_REG_OUTPUT_CE="CE0",
        p_REG_INPUTA_RST="RST0", p_REG_INPUTB_RST="RST0", p_REG_OUTPUT_RST="RST0",
        p_RESETMODE="SYNC", p_GSR="DISABLED",
        i_CLK0=ClockSignal(), i_CE0=Const(1, 1), i_RST0=Const(0, 1),
        i_SIGNEDA=Const(1, 1), i_SIGNEDB=Const(1, 1),
        i_SOURCEA=Const(0, 1), i_SOURCEB=Const(0, 1),
        **{f"i_C{i}": Const(0, 1) for i in range(DSP_BITS)}, **pins)
    data_register(m, product, full[:len(product)])


def multiply(m, platform, product: Signal, a, b, name: str, zero_unless=None) -> None:
    """``product`` gets ``a * b`` (0 where ``zero_unless`` is 0).  Generic form: one cycle,
    from the operands' registers beside the DSP block (the caller's ``NEAR_DSP`` register,
    which a, b and zero_unless come from).  ECP5 form: two cycles, from the values before that
    register (the caller skips it): the DSP block's input registers are it; the zero is the
    operand a's before it (0 * b = 0)."""
    if in_dsp(platform):
        dsp_product(m, product, a if zero_unless is None else Mux(zero_unless, a, 0), b, name)
    else:
        data_register(m, product, a * b if zero_unless is None else Mux(zero_unless, a * b, 0))


def data_register(m, out: Signal, value, name: str | None = None) -> None:
    """``out`` is ``value`` a cycle later, through a register without reset (a product, or
    any data read only with a valid: ``out`` may be a port, whose reset a unit cannot drop,
    so the register is one of its own, named ``name`` or ``out``'s name + ``_r``)."""
    reg = Signal.like(out, name=name or f"{out.name}_r", reset_less=True)
    m.d.sync += reg.eq(value)
    m.d.comb += out.eq(reg)
