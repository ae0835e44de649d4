"""Build the board top's Verilog and run its cocotb testbench (``sim.tb_board``) under Icarus,
the way ``sim.runner`` runs the engine's."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from golden.vectors import read_vectors
from hw.board.build import BOARD_TOP, board_verilog

from .runner import ROOT, BuildFailed, require_simulator

#: clocks a UART bit in simulation: 4 (the board runs 16 at 48 MHz); bytes take 40 clocks
SIM_DIVISOR = 4


def run_board(vectors: Path, divisor: int = SIM_DIVISOR, build_root: Path | None = None) -> dict:
    """Run the board testbench on a vector set; AssertionError naming the failure; the
    testbench's figures (frame times, status, the cycle model's count)."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    require_simulator("icarus")
    vectors = Path(vectors).resolve()
    cfg = read_vectors(vectors).cfg
    build_root = Path(build_root or ROOT / "build" / "sim-board").resolve()
    text = board_verilog(cfg, clock_hz=100_000_000, divisor=divisor)
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    build_dir = build_root / f"icarus-{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{BOARD_TOP}.v"
    if not source.exists() or source.read_text() != text:
        source.write_text(text)
    runner = get_runner("icarus")
    try:  # -g2005: see sim.runner._build
        runner.build(sources=[source], hdl_toplevel=BOARD_TOP, build_dir=build_dir,
                     build_args=["-g2005"], timescale=("1ns", "1ps"),
                     log_file=build_dir / "build.log")
    except RuntimeError as err:
        raise BuildFailed(f"icarus could not build {source.name} ({err}); see "
                          f"{build_dir / 'build.log'}") from None
    test_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build_dir))
    results, xml = test_dir / "figures.json", test_dir / "results.xml"
    env = {"XV_VECTORS": str(vectors), "XV_RESULTS": str(results), "XV_DIVISOR": str(divisor),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    try:
        runner.test(test_module="sim.tb_board", hdl_toplevel=BOARD_TOP, build_dir=build_dir,
                    test_dir=test_dir, extra_env=env, results_xml=str(xml),
                    log_file=test_dir / "sim.log")
    except SystemExit:  # cocotb under pytest exits on a failed test (see sim.runner)
        if not xml.exists():
            raise
    tests, failed = get_results(xml)
    if tests == 0 or failed:
        raise AssertionError(f"cocotb: {failed} of {tests} board tests failed; see "
                             f"{test_dir}/sim.log")
    figures = json.loads(results.read_text())
    figures["log"] = str(test_dir / "sim.log")
    return figures
