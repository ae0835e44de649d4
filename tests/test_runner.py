"""sim/runner.py: waveforms under both simulators."""
import os

import pytest

from golden.config import preset
from golden.generate import make_vector_set
from golden.vectors import write_vectors
from sim.runner import run_vectors


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_waves_write_a_vcd(simulator, tmp_path):
    """Icarus builds the engine as Verilog-2005, so its dump module is the runner's own (cocotb's
    needs -g2012); both simulators write a VCD into the run's folder."""
    folder = tmp_path / "v"
    write_vectors(make_vector_set(preset("tiny", h=4, w=4), frames=1, seed=0), folder)
    suffix = os.environ.get("SIM_CMD_SUFFIX")
    result = run_vectors(folder, simulator=simulator, waves=True)
    assert os.environ.get("SIM_CMD_SUFFIX") == suffix  # restored after the run
    assert result["mismatches"] == 0
    [wave] = result["waves"]
    assert wave.endswith(".vcd")
    with open(wave) as f:
        head = f.read(4000)
    assert "$timescale" in head and "$scope module" in head and " clk $end" in head
