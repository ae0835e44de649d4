"""Block-RAM output registers for the ECP5 flow: a post-synthesis pass on Yosys's JSON netlist.

Yosys maps every memory read port to a DP16KD with ``REGMODE = NOREG`` (its library has no
output-register option), so a read answers at the block RAM's clock-to-out, 5.8 ns at speed
grade 6 in nextpnr's model, and the register the engine places after every memory read is a
fabric flip-flop after that.  Where a read port's every used output bit drives exactly one
flip-flop and nothing else, on the port's clock, without a reset, all with one clock enable
and powering up at zero, those flip-flops are the block RAM's own output register: the pass
sets ``REGMODE = OUTREG``, ties the output-register enable (OCE) to their enable, moves their
outputs onto the block RAM's and deletes them.  The function is the same cycle for cycle (the
output register loads the read latch when OCE is high, as the flip-flop loaded it when its CE
was); the path from the block RAM starts at the register's clock-to-out (0.96 ns).  In the
36-bit form both ports' output registers and enables are set alike: nextpnr packs a PDPW16KD's
one REGMODE onto both and its OCER onto OCEB.

The netlist must be flat (``FLATTEN`` after ``synth_ecp5``, the kept copies' hierarchy undone:
their registers stay distinct cells, as nothing merges them after).  ``make synth`` places the
result (reports/synth.py); tests/test_bram_outreg.py simulates the netlist before and after the
pass, with sim/models/DP16KD.v, on the golden vectors.
"""
from __future__ import annotations

import json
from pathlib import Path

#: Yosys commands after ``synth_ecp5``: one flat module, so that a block RAM and the
#: flip-flops its outputs drive are cells of the same module
FLATTEN = "setattr -mod -unset keep_hierarchy; flatten"

CONST = ("0", "1", "x", "z")


def _number(value) -> int:
    """A parameter of Yosys's JSON netlist: a binary string (or an integer)."""
    return value if isinstance(value, int) else int(str(value).strip(), 2)


def read_ports(cell: dict) -> list:
    """A block RAM's read ports as (REGMODE parameters, clock, output enables, reset, data
    pins).  A DP16KD 36 bits wide (Yosys's pseudo-dual-port mapping) reads on port B and
    answers on both ports' outputs: one read port, both output registers."""
    if cell["type"] == "PDPW16KD":
        return [(["REGMODE"], "CLKR", ["OCER"], "RST", [f"DO{i}" for i in range(36)])]
    if cell["type"] != "DP16KD":
        return []
    widths = [_number(cell["parameters"].get(f"DATA_WIDTH_{p}", 18)) for p in "AB"]
    if 36 in widths:
        return [(["REGMODE_A", "REGMODE_B"], "CLKB", ["OCEA", "OCEB"], "RSTB",
                 [f"DO{p}{i}" for p in "AB" for i in range(18)])]
    return [([f"REGMODE_{p}"], f"CLK{p}", [f"OCE{p}"], f"RST{p}",
             [f"DO{p}{i}" for i in range(18)]) for p in "AB"]


def _sinks(module: dict) -> dict:
    """Every net bit's loads: (cell name, port), and ("", port name) for a module output."""
    sinks: dict = {}
    for name, cell in module["cells"].items():
        directions = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if directions.get(port, "input") != "output":
                for bit in bits:
                    sinks.setdefault(bit, []).append((name, port))
    for port, info in module.get("ports", {}).items():
        if info["direction"] != "input":
            for bit in info["bits"]:
                sinks.setdefault(bit, []).append(("", port))
    return sinks


def _absorbable(cells: dict, sinks: dict, clock, data: list) -> tuple[list, list] | None:
    """The flip-flops that are this read port's output register, one a used data bit in
    ``data`` order (None for an unused bit), and their common enable; None where they are
    not."""
    ffs, enable = [], None
    for bit in data:
        if bit in CONST or not sinks.get(bit):
            ffs.append(None)
            continue
        loads = sinks[bit]
        if len(loads) != 1 or loads[0][1] != "DI" or not loads[0][0]:
            return None
        name = loads[0][0]
        ff = cells[name]
        p, c = ff["parameters"], ff["connections"]
        if (ff["type"] != "TRELLIS_FF" or c["CLK"] != clock or p.get("CLKMUX", "CLK") != "CLK"
                or c.get("LSR", ["0"]) != ["0"] or p.get("GSR", "DISABLED") != "DISABLED"
                or p.get("REGSET", "RESET") != "RESET"):
            return None
        cemux = p.get("CEMUX", "CE").strip()
        if cemux not in ("CE", "1"):  # an inverted enable
            return None
        ce = c.get("CE", ["1"]) if cemux == "CE" else ["1"]
        if enable is not None and ce != enable:
            return None
        enable = ce
        ffs.append(name)
    return (ffs, enable) if any(ffs) else None


def absorb_output_registers(netlist: dict, top: str) -> int:
    """Move each block-RAM read port's output flip-flops into its output register (see the
    module's docstring); returns how many flip-flops were absorbed."""
    module = netlist["modules"][top]
    cells, sinks, absorbed = module["cells"], _sinks(module), 0
    for name, cell in list(cells.items()):
        for regmodes, clk, oces, rst, pins in read_ports(cell):
            params, conns = cell["parameters"], cell["connections"]
            if (any(params.get(r, "NOREG") != "NOREG" for r in regmodes)
                    or conns.get(rst, ["0"]) != ["0"]):
                continue
            data = [conns[pin][0] if pin in conns else "x" for pin in pins]
            found = _absorbable(cells, sinks, conns[clk], data)
            if found is None:
                continue
            ffs, enable = found
            for pin, ff in zip(pins, ffs):
                if ff is not None:
                    conns[pin] = cells.pop(ff)["connections"]["Q"]
                    absorbed += 1
            for regmode, oce in zip(regmodes, oces):
                params[regmode] = "OUTREG"
                conns[oce] = enable
    return absorbed


def absorb_in_file(source: Path, target: Path, top: str) -> int:
    """``absorb_output_registers`` on the JSON netlist ``source``, written to ``target``."""
    netlist = json.loads(Path(source).read_text())
    absorbed = absorb_output_registers(netlist, top)
    Path(target).write_text(json.dumps(netlist))
    return absorbed
