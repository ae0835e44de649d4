"""The ECP5 form of the multipliers (hw/dsp.py: MULT18X18D with its input and output registers,
what `make synth` and `make bench` place) computes what the generic form computes, in the same
cycles: every output word of the golden vectors, and the cycle count of the generic RTL.

`make test` simulates the ECP5 form's Verilog with sim/models/MULT18X18D.v for PSSA and full SA
(``QUICK``); `make soak` (slow) the other forms, and the ECP5 form's synthesized netlist with
Yosys's cell models for every form.
"""
import re

import pytest
from amaranth.hdl import Module, Signal, signed

from golden.config import preset
from golden.generate import make_vector_set
from golden.vectors import write_vectors
from hw.build import verilog_text
from hw.dsp import ECP5, GENERIC, DspTarget, dsp_product
from sim.cycle_model import predict
from sim.runner import run_vectors

#: one configuration a form (involution: two groups, so the kernel generator's dot product
#: and the projection both multiply)
FORMS = {"pssa": {}, "sa": {"attention": "sa"}, "conv": {"attention": "conv"},
         "involution": {"attention": "involution", "group_channels": 4}}


def _vectors(form, tmp_path):
    cfg = preset("tiny", simd=4, pe=4, **FORMS[form])
    write_vectors(make_vector_set(cfg, frames=2, seed=7), tmp_path / "vectors")
    return cfg, tmp_path / "vectors"


def _check_same(cfg, vectors, design, simulator):
    generic = run_vectors(vectors, simulator=simulator, stall=0.2, seed=3).figures
    ecp5 = run_vectors(vectors, simulator=simulator, stall=0.2, seed=3, design=design).figures
    assert ecp5["outputs_compared"] == 2 * cfg.n_pixels * cfg.c_out
    assert ecp5["mismatches"] == 0 and ecp5["extra_beats"] == 0 and ecp5["mark_errors"] == 0
    assert generic["mismatches"] == 0
    assert ecp5["cycles"] == generic["cycles"]


#: `make test` runs the forms whose units together hold every kind of product (the MAC array,
#: the requantizers, the projection, the window aggregation, `util.dot_requantize` with and
#: without a zeroed tap); `make soak` the rest
QUICK = ("pssa", "sa")


@pytest.mark.parametrize("form", [pytest.param(form, marks=() if form in QUICK else
                                               pytest.mark.slow) for form in sorted(FORMS)])
def test_ecp5_form_verilog_matches_golden_in_the_model_cycles(form, tmp_path):
    """Stall-free, so the count is the cycle model's, which is the generic RTL's (the
    multipliers' registers have no enable: back-pressure reaches them in neither form)."""
    cfg, vectors = _vectors(form, tmp_path)
    f = run_vectors(vectors, simulator="verilator", design="ecp5-rtl").figures
    assert f["outputs_compared"] == 2 * cfg.n_pixels * cfg.c_out
    assert f["mismatches"] == 0 and f["extra_beats"] == 0 and f["mark_errors"] == 0
    assert f["cycles"] == predict(cfg, 2).cycles


@pytest.mark.slow
@pytest.mark.parametrize("form", sorted(FORMS))
def test_ecp5_form_synthesized_netlist_matches_golden(form, tmp_path):
    cfg, vectors = _vectors(form, tmp_path)
    _check_same(cfg, vectors, "ecp5-netlist", "icarus")


def test_every_product_is_a_registered_dsp_block():
    """The ECP5 form leaves no multiply to Yosys: each MULT18X18D instance has its input
    registers, and the Verilog has no `*` of two signals left."""
    cfg = preset("tiny", simd=2, pe=2)
    text = verilog_text(cfg, ECP5)
    instances = text.count("MULT18X18D #(")
    assert instances > 0 and "MULT18X18D" not in verilog_text(cfg, GENERIC)
    for register in ("REG_INPUTA_CLK", "REG_INPUTB_CLK"):
        assert text.count(f".{register}(\"CLK0\")") == instances
    products = re.findall(r"= (\S+) \* (\S+);", text)
    assert len(products) == text.count(" * ")
    assert all(re.fullmatch(r"\d+'[hd]\w+", b) for _, b in products), \
        "only multiplies by a constant (Yosys's address arithmetic) stay outside the DSP blocks"


def test_dsp_form_errors_name_the_problem():
    with pytest.raises(ValueError, match="dsp form 'xilinx'"):
        DspTarget("xilinx")
    m = Module()
    m._MustUse__silence = True  # the errors stop it before it is elaborated
    with pytest.raises(ValueError, match="wide_a A: .* does not fit a 18-bit signed DSP operand"):
        dsp_product(m, Signal(signed(40)), Signal(signed(19)), Signal(signed(8)), "wide_a")
    with pytest.raises(ValueError, match="does not fit"):
        dsp_product(m, Signal(signed(40)), Signal(18), Signal(signed(8)), "unsigned_a")
