"""The generated Verilog is lint-clean (justified waivers only) and a sound netlist."""
import pytest

from golden.config import preset
from reports.lint import verilator_lint, yosys_check

CONFIGS = {"tiny-1x1": dict(), "L2-nonsquare-2x4": dict(h=6, w=5, shift=2, simd=2, pe=4),
           "k5-8x8": dict(k=5, simd=8, pe=8), "sa-2x2": dict(attention="sa", simd=2, pe=2),
           "sa-5x7-k5": dict(attention="sa", h=5, w=7, k=5),
           "inv-G2-4x2": dict(attention="involution", group_channels=4, simd=4, pe=2),
           "conv-2x2": dict(attention="conv", simd=2, pe=2),
           # external weights: the AXI4 read master, the tile buffers, tiled passes
           "ext-4tiles-2x2": dict(weights="external", co_tile=2, simd=2, pe=2),
           "ext-sa-axi32": dict(attention="sa", weights="external", co_tile=4, axi_bits=32)}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_verilator_lint_wall(name, tmp_path):
    code, output = verilator_lint(preset("tiny", **CONFIGS[name]), tmp_path)
    assert code == 0 and "%Warning" not in output and "%Error" not in output, output[:3000]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_yosys_finds_no_latch_undriven_net_or_loop(name, tmp_path):
    code, output = yosys_check(preset("tiny", **CONFIGS[name]), tmp_path)
    assert code == 0, output[-3000:]
