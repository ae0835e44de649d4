"""The block RAMs' output registers (hw/bram_outreg.py): the pass absorbs exactly the
flip-flops that are a read port's output register, and the ECP5 netlist with block RAMs, before
and after the pass, computes every golden output word in the cycles of the generated RTL
(simulated with Yosys's cell models and sim/models/DP16KD.v).

`make test` runs the pass's unit tests and PSSA's netlist after the pass; `make soak` (slow)
the other forms, and every form before the pass.
"""
import shutil
import subprocess

import pytest

from golden.config import preset
from golden.generate import make_vector_set
from golden.vectors import write_vectors
from hw.bram_outreg import absorb_output_registers
from sim.runner import DP16KD_MODEL, run_vectors

CLK, ENABLE, OTHER = 2, 3, 4  # net numbers of the clock, an enable, another net


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog is not installed")
def test_block_ram_model_answers_as_its_header_states(tmp_path):
    """sim/models/DP16KD_tb.v: byte enables, the write modes, a read meeting the other
    port's write, the 36-bit form, the output register's latency and enable."""
    bench = DP16KD_MODEL.with_name("DP16KD_tb.v")
    subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "tb.vvp"), str(bench),
                    str(DP16KD_MODEL)], check=True, capture_output=True, text=True)
    run = subprocess.run(["vvp", "-n", str(tmp_path / "tb.vvp")], check=True,
                         capture_output=True, text=True)
    assert "DONE" in run.stdout and "FAIL" not in run.stdout, run.stdout


def _width(bits: int) -> str:
    return format(bits, "032b")  # a parameter as Yosys's JSON writes it


def _bram(width: int, data: dict, **params) -> dict:
    """A DP16KD of ``width`` bits a port (36: the pseudo-dual-port form), both ports on CLK,
    ``data``: output pin -> net."""
    parameters = {"DATA_WIDTH_A": _width(width), "DATA_WIDTH_B": _width(width),
                  "REGMODE_A": "NOREG", "REGMODE_B": "NOREG", **params}
    connections = {"CLKA": [CLK], "CLKB": [CLK], "RSTA": ["0"], "RSTB": ["0"],
                   "OCEA": ["0" if width == 36 else "1"], "OCEB": ["1"],
                   **{pin: [net] for pin, net in data.items()}}
    directions = {pin: "output" for pin in data}
    return {"type": "DP16KD", "parameters": parameters, "connections": connections,
            "port_directions": directions}


def _ff(d: int, q: int, enable=ENABLE, clock=CLK, reset="0", **params) -> dict:
    parameters = {"GSR": "DISABLED", "CEMUX": "CE", "CLKMUX": "CLK", "REGSET": "RESET",
                  **params}
    return {"type": "TRELLIS_FF", "parameters": parameters,
            "connections": {"CLK": [clock], "CE": [enable], "LSR": [reset], "DI": [d],
                            "Q": [q]},
            "port_directions": {"Q": "output"}}


def _netlist(width=18, ff=None, extra=None, port="B") -> dict:
    """One block RAM whose three used output bits (nets 10-12) each drive a flip-flop
    (outputs 20-22): ``ff`` overrides the second flip-flop's settings, ``extra`` adds cells."""
    pins = {f"DO{port}{i}": 10 + i for i in range(3)}
    cells = {"ram": _bram(width, pins)}
    for i in range(3):
        cells[f"ff{i}"] = _ff(10 + i, 20 + i, **((ff or {}) if i == 1 else {}))
    cells.update(extra or {})
    return {"modules": {"top": {"cells": cells, "ports": {
        "q": {"direction": "output", "bits": [20, 21, 22]}}}}}


def test_a_read_ports_output_flip_flops_become_its_output_register():
    netlist = _netlist()
    assert absorb_output_registers(netlist, "top") == 3
    cells = netlist["modules"]["top"]["cells"]
    assert set(cells) == {"ram"}
    ram = cells["ram"]
    assert ram["parameters"]["REGMODE_B"] == "OUTREG" and ram["connections"]["OCEB"] == [ENABLE]
    assert [ram["connections"][f"DOB{i}"] for i in range(3)] == [[20], [21], [22]]
    assert ram["parameters"]["REGMODE_A"] == "NOREG"  # port A's outputs drive nothing


def test_the_36_bit_form_sets_both_output_registers_alike():
    netlist = _netlist(width=36, port="A")
    assert absorb_output_registers(netlist, "top") == 3
    ram = netlist["modules"]["top"]["cells"]["ram"]
    assert ram["parameters"]["REGMODE_A"] == ram["parameters"]["REGMODE_B"] == "OUTREG"
    assert ram["connections"]["OCEA"] == ram["connections"]["OCEB"] == [ENABLE]


@pytest.mark.parametrize("case", [
    {"ff": {"enable": OTHER}},                       # two enables
    {"ff": {"clock": OTHER}},                        # another clock
    {"ff": {"reset": OTHER}},                        # a reset
    {"ff": {"REGSET": "SET"}},                       # powers up at one
    {"ff": {"CEMUX": "INV"}},                        # an inverted enable
    {"extra": {"lut": {"type": "LUT4", "parameters": {}, "connections": {"A": [11], "Z": [30]},
                       "port_directions": {"Z": "output"}}}},  # a bit with a second load
])
def test_flip_flops_that_are_not_an_output_register_stay(case):
    netlist = _netlist(**case)
    assert absorb_output_registers(netlist, "top") == 0
    assert netlist["modules"]["top"]["cells"]["ram"]["parameters"]["REGMODE_B"] == "NOREG"
    assert {f"ff{i}" for i in range(3)} <= set(netlist["modules"]["top"]["cells"])


#: one configuration a form (as tests/test_dsp_forms.py); `make test` simulates PSSA's netlist
#: after the pass (its x ring's block RAMs absorbed, its weight banks feeding the multipliers'
#: input registers directly and so not)
FORMS = {"pssa": {}, "sa": {"attention": "sa"}, "conv": {"attention": "conv"},
         "involution": {"attention": "involution", "group_channels": 4}}


QUICK = ("ecp5-netlist-outreg", "pssa")


@pytest.mark.parametrize("design,form", [
    pytest.param(design, form, marks=() if (design, form) == QUICK else pytest.mark.slow)
    for design in ("ecp5-netlist-outreg", "ecp5-netlist-bram") for form in sorted(FORMS)])
def test_netlist_with_block_rams_matches_golden_in_the_rtl_cycles(design, form, tmp_path):
    """Two frames back to back; one in `make test` (a gate-level simulation is slow: with two
    frames the fresh-clone CI took 19 min 47 s of its 20 on two cores)."""
    cfg = preset("tiny", simd=4, pe=4, **FORMS[form])
    frames = 1 if (design, form) == QUICK else 2
    write_vectors(make_vector_set(cfg, frames=frames, seed=7), tmp_path / "vectors")
    rtl = run_vectors(tmp_path / "vectors", simulator="icarus", stall=0.2, seed=3).figures
    netlist = run_vectors(tmp_path / "vectors", simulator="icarus", stall=0.2, seed=3,
                          design=design)
    f = netlist.figures
    assert f["outputs_compared"] == frames * cfg.n_pixels * cfg.c_out
    assert f["mismatches"] == 0 and f["extra_beats"] == 0 and f["mark_errors"] == 0
    assert f["cycles"] == rtl["cycles"] and rtl["mismatches"] == 0
    text = (netlist.build_dir / "netlist.v").read_text()
    assert text.count("DP16KD #(") > 0
    assert ("OUTREG" in text) == (design == "ecp5-netlist-outreg")
