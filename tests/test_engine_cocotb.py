"""The generated Verilog under cocotb: every output word equals the golden fixed-point model.

Each case writes golden vectors, builds the engine for its configuration, drives it with
cocotbext-axi (random idle cycles on the input, random back-pressure on the output when
``stall`` > 0), and checks every word, the tuser/tlast marks and the beat count.  The cycles
from first input to last output are reported (``-rP`` or the junit properties).
"""
import pytest

from golden.config import preset
from golden.generate import make_vector_set
from golden.vectors import write_vectors
from sim.runner import run_vectors

CASES = {
    # id: (workload, overrides, simulator, stall, frames)
    "tiny-1x1": ("tiny", {}, "verilator", 0.0, 2),
    # 12-bit weights: a weight word of 8 x 8 x 12 bits, so the weight memory is split into
    # banks, one a PE lane (hw.weight_banks; loads one cycle later, reads at the same cycle)
    "tiny-8x8-banked-w12-stalls": ("tiny", dict(simd=8, pe=8, weight_bits=12), "verilator",
                                   0.3, 3),
    "nonsquare-L2-2x4-stalls": ("tiny", dict(h=6, w=5, shift=2, simd=2, pe=4), "verilator",
                                0.3, 2),
    "digits-4x4-stalls": ("digits", dict(simd=4, pe=4), "verilator", 0.25, 2),
    "k5-cout6-icarus-stalls": ("tiny", dict(k=5, c_out=6, pe=3, h=5, w=7), "icarus", 0.3, 2),
    "tiny-2x2-icarus": ("tiny", dict(simd=2, pe=2), "icarus", 0.0, 2),
    # a register on every count between units (``count_registers``), under stalls
    "counts-nonsquare-L2-2x4-stalls": ("tiny", dict(count_registers=1, h=6, w=5, shift=2,
                                                    simd=2, pe=4), "verilator", 0.3, 2),
    "counts-sa-2x4-stalls": ("tiny", dict(attention="sa", count_registers=1, h=5, w=4, simd=2,
                                          pe=4), "icarus", 0.3, 2),
    # full SA (S4): every query attends to every pixel of its frame
    "sa-tiny-8x8-stalls": ("tiny", dict(attention="sa", simd=8, pe=8), "verilator", 0.3, 3),
    "sa-nonsquare-2x4-stalls": ("tiny", dict(attention="sa", h=6, w=5, simd=2, pe=4),
                                "verilator", 0.3, 2),
    "sa-k5-cout6-icarus-stalls": ("tiny", dict(attention="sa", k=5, c_out=6, pe=3, h=5, w=7),
                                  "icarus", 0.2, 2),
    "sa-digits-4x4-stalls": ("digits", dict(attention="sa", simd=4, pe=4), "verilator", 0.25,
                             2),
    "sa-12x12-int12-4x4": ("tiny", dict(attention="sa", h=12, w=12, simd=4, pe=4,
                                        data_bits=12, weight_bits=12, acc_bits=40),
                           "verilator", 0.1, 2),
    # involution (S5): kernel from the centre pixel, depthwise over the window
    "inv-digits-4x4-stalls": ("digits", dict(attention="involution", simd=4, pe=4),
                              "verilator", 0.3, 3),
    "inv-c32-G2-8x8-stalls": ("digits", dict(attention="involution", c_in=32, c_out=32,
                                             simd=8, pe=8, h=6, w=5), "verilator", 0.3, 2),
    "inv-G4-gc4-2x4": ("tiny", dict(attention="involution", group_channels=4, reduction=2,
                                    simd=2, pe=4, h=5, w=6), "verilator", 0.2, 2),
    "inv-k5-icarus-stalls": ("digits", dict(attention="involution", k=5, simd=2, pe=2, h=5,
                                            w=7), "icarus", 0.2, 2),
    # the plain convolution baseline: no attention branch, K^2 taps
    "conv-tiny-1x1": ("tiny", dict(attention="conv"), "verilator", 0.0, 2),
    "conv-digits-4x4-stalls": ("digits", dict(attention="conv", simd=4, pe=4), "verilator",
                               0.3, 3),
    "conv-k5-cout6-icarus-stalls": ("tiny", dict(attention="conv", k=5, c_out=6, pe=3, h=5,
                                                 w=7), "icarus", 0.3, 2),
    # weights from external memory (cocotbext-axi's AXI4 memory; with stalls, random latency on
    # the read-address channel and random gaps on the read-data channel), output-channel tiles
    "ext-pssa-4tiles-2x2-stalls": ("tiny", dict(weights="external", co_tile=2, simd=2, pe=2,
                                                h=5, w=6), "verilator", 0.3, 2),
    "ext-pssa-one-tile": ("tiny", dict(weights="external"), "verilator", 0.0, 2),
    "ext-sa-2tiles-stalls": ("tiny", dict(attention="sa", weights="external", co_tile=4, simd=2,
                                          pe=2, h=4, w=5), "verilator", 0.3, 2),
    "ext-inv-2tiles-stalls": ("digits", dict(attention="involution", weights="external",
                                             co_tile=8, simd=4, pe=4, h=5, w=4),
                              "verilator", 0.3, 2),
    "ext-conv-axi32-icarus-stalls": ("tiny", dict(attention="conv", weights="external",
                                                  co_tile=2, simd=2, pe=2, h=3, w=5, axi_bits=32,
                                                  burst_beats=4), "icarus", 0.3, 2),
}


def _run_case(case: str, tmp_path, design: str = "rtl"):
    workload, overrides, simulator, stall, frames = CASES[case]
    cfg = preset(workload, **overrides)
    write_vectors(make_vector_set(cfg, frames=frames, seed=7), tmp_path / "vectors")
    result = run_vectors(tmp_path / "vectors", simulator=simulator, stall=stall, seed=3,
                         design=design)
    return cfg, frames, result.figures


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_bit_exact(case, tmp_path, record_property):
    cfg, frames, f = _run_case(case, tmp_path)
    record_property("cycles", f["cycles"])
    record_property("mac_utilization", f["mac_utilization"])
    print(f"{case}: {f['cycles']} cycles first input to last output "
          f"({f['cycles_per_frame']:.0f}/frame), MAC utilization {f['mac_utilization']:.3f}")
    assert f["outputs_compared"] == frames * cfg.n_pixels * cfg.c_out
    assert f["mismatches"] == 0 and f["extra_beats"] == 0 and f["mark_errors"] == 0
    assert f["frame_error"] == 0


#: a case of each form, weights on chip and external, with stalls on both streams
POISONED = ("nonsquare-L2-2x4-stalls", "sa-nonsquare-2x4-stalls", "inv-k5-icarus-stalls",
            "conv-k5-cout6-icarus-stalls", "ext-sa-2tiles-stalls", "tiny-8x8-banked-w12-stalls")


@pytest.mark.parametrize("case", POISONED)
def test_engine_never_uses_a_ring_read_that_meets_a_write(case, tmp_path):
    """The rings (x ring, z buffer) carry ``no_rw_check``: a read of the word being written
    may answer anything on the FPGA.  The poisoned build answers such a read inverted; the
    outputs stay bit-exact, so no unit uses one (``hw.ports.ring_read_port``)."""
    cfg, frames, f = _run_case(case, tmp_path, design="rtl-poisoned")
    assert f["outputs_compared"] == frames * cfg.n_pixels * cfg.c_out
    assert f["mismatches"] == 0 and f["extra_beats"] == 0 and f["mark_errors"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("form", ["pssa", "conv", "involution", "sa"])
def test_stage3_shaped_engine_with_external_weights(form, tmp_path):
    """The paper's layer (C = 256, D = 32) at a 3 x 4 frame: 4 tiles of 64 output channels
    fetched over AXI4 with random latency and gaps, every word checked (make soak)."""
    cfg = preset("stage3", attention=form, h=3, w=4, simd=8, pe=8, weights="external",
                 co_tile=64, group_channels=64)
    write_vectors(make_vector_set(cfg, frames=2, seed=7), tmp_path / "vectors")
    f = run_vectors(tmp_path / "vectors", "verilator", stall=0.2, seed=3).figures
    assert f["outputs_compared"] == 2 * cfg.n_pixels * cfg.c_out
    assert f["mismatches"] == 0 and f["extra_beats"] == 0 and f["mark_errors"] == 0
