"""python -m golden: documented commands, and one clear line for bad input."""
import subprocess
import sys

import pytest

from golden.vectors import read_vectors


def run(*args):
    return subprocess.run([sys.executable, "-m", "golden", *args], capture_output=True, text=True)


def test_help_documents_the_commands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("vectors", "check", "error"):
        assert command in out.stdout


def test_vectors_command_writes_a_readable_set(tmp_path):
    out = run("vectors", "--workload", "tiny", "--h", "5", "--w", "6", "--shift", "2",
              "--frames", "1", "--out", str(tmp_path / "v"))
    assert out.returncode == 0, out.stderr
    vs = read_vectors(tmp_path / "v")
    assert (vs.cfg.h, vs.cfg.w, vs.cfg.shift, vs.frames) == (5, 6, 2, 1)


def test_bad_configuration_is_one_clear_line(tmp_path):
    out = run("vectors", "--k", "4", "--out", str(tmp_path / "v"))
    assert out.returncode == 2
    assert out.stderr.strip() == "error: k: kernel size must be odd (centred window), got 4"
    assert "Traceback" not in out.stderr


def test_check_command_reports_equivalence():
    out = run("check", "--workload", "tiny", "--frames", "1")
    assert out.returncode == 0, out.stderr
    assert "training form vs S8" in out.stdout and "ok" in out.stdout


def test_missing_simulator_is_one_clear_line():
    """With nothing but the venv on PATH, Icarus is missing: one line says what to install."""
    import os
    from pathlib import Path
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    out = subprocess.run([sys.executable, "-m", "sim", "run", "--simulator", "icarus"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2
    assert out.stderr.strip() == ("error: simulator icarus: `iverilog` not found on PATH; "
                                  "install Debian's iverilog (`apt-get install iverilog`)")


def test_hw_command_refuses_bad_parallelism():
    out = subprocess.run([sys.executable, "-m", "hw", "verilog", "--pe", "3"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: pe: c_out=8 is not divisible by pe=3"


@pytest.mark.parametrize("command, message", [
    (["sim", "run", "--stall", "1.5"], "error: stall: must be in [0, 1), got 1.5"),
    (["sim", "run", "--frames", "0"], "error: frames: must be >= 1, got 0"),
    (["sim", "soak", "--draws", "0"], "error: draws: must be >= 1, got 0"),
    (["golden", "vectors", "--frames", "0", "--out", "unused"],
     "error: frames: must be >= 1, got 0"),
    (["hw", "verilog", "--data-bits", "1"], "error: data_bits: must be in 2..16, got 1"),
    (["hw", "verilog", "--simd", "3"], "error: simd: c_in=8 is not divisible by simd=3"),
    (["hw", "verilog", "--workload", "tiny", "--acc-bits", "16"],
     "error: fmt.acc_bits: acc_bits=16 cannot hold the projection (q, k) accumulator, which "
     "needs 19 bits for this layer (raise acc_bits or lower data/weight bits)"),
    (["sim", "run", "--h", "0"], "error: h: must be >= 1, got 0"),
    (["golden", "check", "--k", "2"],
     "error: k: kernel size must be odd (centred window), got 2"),
])
def test_every_command_refuses_bad_options_in_one_line(command, message):
    out = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.strip() == message
