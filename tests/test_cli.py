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
    (["hw", "verilog", "--workload", "stage3", "--weights", "external", "--co-tile", "64",
      "--simd", "4", "--pe", "4"],
     "error: co_tile: the engine's memories take 4,374 kbit, more than 75% of the ecp5-85f's "
     "3,744 kbit of block RAM; --weights external --co-tile 16 fits (or --fit)"),
    (["sim", "run", "--h", "0"], "error: h: must be >= 1, got 0"),
    (["golden", "check", "--k", "2"],
     "error: k: kernel size must be odd (centred window), got 2"),
])
def test_every_command_refuses_bad_options_in_one_line(command, message):
    out = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.strip() == message


def sim(*args):
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def small_vectors(tmp_path_factory):
    """A 4 x 4 tiny vector set, and a copy whose expected output differs in one word."""
    from golden.config import preset
    from golden.generate import make_vector_set
    from golden.vectors import VectorSet, write_vectors

    root = tmp_path_factory.mktemp("cli")
    vs = make_vector_set(preset("tiny", h=4, w=4), frames=1, seed=0)
    write_vectors(vs, root / "good")
    y = vs.y.copy()
    y[0, 1, 2, 3] = y[0, 1, 2, 3] + 1 if y[0, 1, 2, 3] < 127 else 0
    write_vectors(VectorSet(vs.cfg, vs.layer, vs.x, y), root / "bad")
    return root, vs, int(y[0, 1, 2, 3])


def test_sim_run_on_given_vectors_prints_the_cycle_model(small_vectors):
    root, vs, _ = small_vectors
    out = sim("run", "--vectors", str(root / "good"), "--simulator", "icarus")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"1 frame(s) from {root / 'good'}" in out.stdout
    assert "outputs compared: 128, mismatches: 0" in out.stdout
    from sim.cycle_model import predict

    assert f"cycle model: {predict(vs.cfg, frames=1).cycles} cycles, equal" in out.stdout


def test_failed_sim_run_names_the_mismatches_and_first_bad_word(small_vectors):
    root, vs, bad = small_vectors
    out = sim("run", "--vectors", str(root / "bad"), "--simulator", "icarus")
    assert out.returncode == 1
    [line] = [t for t in out.stderr.splitlines() if t.startswith("FAIL")]  # cocotb logs too
    got = vs.y[0, 1, 2].tolist()
    want = [*got[:3], bad, *got[4:]]
    assert line.startswith(f"FAIL: cocotb: 1 of 1 tests failed: 1 of 128 output words differ; "
                           f"first (frame 0, row 1, col 2, group 3): got [{got[3]}] "
                           f"want [{want[3]}]; see ")
    assert line.endswith("/sim.log")


def test_sim_run_vectors_refuses_configuration_options(small_vectors):
    root, _, _ = small_vectors
    out = sim("run", "--vectors", str(root / "good"), "--h", "3")
    assert out.returncode == 2
    assert out.stderr.strip() == ("error: --vectors: the vector set holds the configuration; "
                                  "drop --h")
    out = sim("run", "--vectors", str(root / "missing"))
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: vector set {root / 'missing'}: no such folder"


def test_sim_model_prints_the_prediction():
    from golden.config import preset
    from sim.cycle_model import predict

    out = sim("model", "--h", "4", "--w", "4", "--frames", "3")
    assert out.returncode == 0, out.stderr
    pred = predict(preset("tiny", h=4, w=4), 3)
    assert out.stdout.splitlines()[0].startswith("configuration: tiny+h4+w4: 4x4,")
    for text in (f"cycles (first input to last output): {pred.cycles} for 3 frame(s)",
                 f"first output after {pred.first_output} cycles",
                 f"MAC utilization: {100 * pred.mac_utilization:.1f}%",
                 f"bottleneck: {pred.bottleneck}"):
        assert text in out.stdout


@pytest.mark.parametrize("command, message", [
    (["sim", "run", "--frames", "0"], "error: frames: must be >= 1, got 0"),
    (["sim", "model", "--frames", "0"], "error: frames: must be >= 1, got 0"),
    (["sim", "run", "--workload", "digits", "--attention", "involution", "--group-channels", "4",
      "--simd", "8"],
     "error: simd: the involution engine needs a chunk of SIMD channels inside one group: "
     "group_channels=4 is not divisible by simd=8 (change --group-channels or --simd)"),
    (["sim", "run", "--attention", "involution"],
     "error: group_channels: involution needs c_in=8 divisible by group_channels=16 "
     "(set --group-channels to a divisor of 8)"),
    (["golden", "vectors", "--out", "/dev/null/x"],
     "error: --out: cannot create folder /dev/null/x (Not a directory)"),
    (["golden", "explain", "--row", "8"], "error: row: must be in 0..7, got 8"),
    (["golden", "check", "--frames", "0"], "error: frames: must be >= 1, got 0"),
])
def test_refused_before_any_work(command, message):
    """Refused in one line before vectors are written or Verilog is built: nothing on stdout."""
    out = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.strip() == message
    assert out.stdout == ""


def test_overridden_preset_is_renamed(tmp_path):
    """A changed layer never prints as the preset; the name stays usable in paths."""
    out = run("vectors", "--h", "3", "--w", "3", "--attention", "sa", "--frames", "1",
              "--out", str(tmp_path / "v"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("tiny+sa+h3+w3: 3x3, ")
    assert read_vectors(tmp_path / "v").cfg.name == "tiny+sa+h3+w3"
    out = run("vectors", "--h", "8", "--frames", "1", "--out", str(tmp_path / "same"))
    assert out.stdout.startswith("tiny: 8x8, ")  # an override equal to the preset changes nothing


def test_soak_draws_40_by_default():
    out = sim("soak", "--help")
    assert "(default 40)" in out.stdout


def test_readme_lists_every_configuration_option():
    import argparse
    from pathlib import Path

    from golden.options import add_config_arguments

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    options = [o for a in parser._actions for o in a.option_strings
               if o.startswith("--") and o != "--help"]
    assert len(options) > 20
    missing = [o for o in options if f"`{o}" not in readme]
    assert not missing, f"README.md does not list {missing}"
    for command in ("golden explain", "sim model", "sim run --vectors"):
        assert command in readme, command


def test_hw_verilog_refuses_an_unwritable_folder():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "hw", "verilog", "--out", "/dev/null/x"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: out: cannot write to")
    assert len(done.stderr.splitlines()) == 1
