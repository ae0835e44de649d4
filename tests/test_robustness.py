"""Malformed input streams, reset mid-frame and saturation at the extremes of every range."""
import numpy as np
import pytest

from golden.config import preset
from golden.generate import extreme_vector_set, make_vector_set
from golden.vectors import write_vectors
from sim.runner import run_vectors


@pytest.mark.parametrize("overrides, stall", [(dict(simd=2, pe=2), 0.2), (dict(), 0.0)])
def test_malformed_frames_recover(overrides, stall, tmp_path):
    cfg = preset("tiny", **overrides)
    write_vectors(make_vector_set(cfg, frames=2, seed=4), tmp_path / "v")
    result = run_vectors(tmp_path / "v", "verilator", stall=stall,
                         testcase="malformed_frames_recover")
    # three of the four frames out are checked word for word, none lost or duplicated
    assert result["outputs_compared"] == 3 * cfg.n_pixels * cfg.c_out
    assert result["mismatches"] == 0 and result["extra_beats"] == 0
    assert result["frame_error"] == 1


@pytest.mark.parametrize("overrides, stall", [
    (dict(simd=2, pe=4), 0.3), (dict(), 0.0),
    # external weights: reset while tiles are in flight on the AXI4 read port
    (dict(weights="external", co_tile=2, simd=2, pe=2), 0.3)])
def test_reset_mid_frame_then_exact(overrides, stall, tmp_path):
    cfg = preset("tiny", **overrides)
    write_vectors(make_vector_set(cfg, frames=2, seed=5), tmp_path / "v")
    result = run_vectors(tmp_path / "v", "verilator", stall=stall, seed=2,
                         testcase="reset_mid_frame")
    assert result["inputs_before_reset"] >= cfg.n_pixels * cfg.c_in // cfg.simd // 2
    assert result["outputs_compared"] == 2 * cfg.n_pixels * cfg.c_out
    assert result["mismatches"] == 0 and result["extra_beats"] == 0
    assert result["lost_beats"] == 0 and result["frame_error"] == 0


SATURATION = {
    # id: (overrides, weights pattern, bias pattern, simulator, stall)
    "weights-max": (dict(simd=2, pe=2), "max", None, "verilator", 0.2),
    "weights-min": (dict(simd=2, pe=2), "min", None, "verilator", 0.0),
    "weights-alternating": (dict(simd=2, pe=2), "alternating", None, "verilator", 0.0),
    "bias-max": (dict(simd=2, pe=2), "max", "max", "verilator", 0.0),
    "bias-min-weights-min": (dict(simd=2, pe=2), "min", "min", "verilator", 0.0),
    "int12-L2-K5-alternating": (dict(h=6, w=5, k=5, shift=2, data_bits=12, weight_bits=10,
                                     acc_bits=40, simd=4, pe=2), "alternating", "alternating",
                                "verilator", 0.2),
    "int6-icarus-min": (dict(data_bits=6, weight_bits=6, mult_bits=10, h=4, w=5), "min", None,
                        "icarus", 0.0),
}


@pytest.mark.parametrize("case", sorted(SATURATION))
def test_saturation_extremes_bit_exact(case, tmp_path):
    """Inputs all max, all min and alternating (three frames) through layers whose weights and
    multipliers sit at the ends of their ranges: the RTL saturates exactly as the golden model."""
    overrides, weights, bias, simulator, stall = SATURATION[case]
    cfg = preset("tiny", **overrides)
    vs = extreme_vector_set(cfg, weights, bias)
    f = cfg.fmt
    saturated = np.isin(vs.y, (f.data_min, f.data_max)).mean()
    assert 0 < saturated, "the extreme vectors saturate nothing: not a saturation test"
    write_vectors(vs, tmp_path / "v")
    result = run_vectors(tmp_path / "v", simulator, stall=stall, seed=4)
    assert result["outputs_compared"] == 3 * cfg.n_pixels * cfg.c_out
    assert result["mismatches"] == 0 and result["extra_beats"] == 0 and result["lost_beats"] == 0


def test_bad_parameter_streams_are_flagged_and_refused(tmp_path):
    cfg = preset("tiny", simd=2, pe=2)
    write_vectors(make_vector_set(cfg, frames=1, seed=6), tmp_path / "v")
    result = run_vectors(tmp_path / "v", "verilator", testcase="bad_parameter_streams")
    assert result["short_error"] == result["long_error"] == 1
    assert result["short_loaded"] == result["long_loaded"] == 0
    assert result["inputs_while_unloaded"] == 0
    assert result["outputs_compared"] == cfg.n_pixels * cfg.c_out and result["mismatches"] == 0


@pytest.mark.parametrize("form", ["pssa", "conv"])
def test_memory_errors_stop_the_engine(form, tmp_path):
    """An error response (SLVERR) or a misaligned weight base: sticky mem_error, no results
    from wrong weights; a good base after reset runs exactly."""
    cfg = preset("tiny", attention=form, weights="external", co_tile=2, simd=2, pe=2, h=4, w=5)
    write_vectors(make_vector_set(cfg, frames=1, seed=2), tmp_path / "v")
    result = run_vectors(tmp_path / "v", "verilator", testcase="memory_errors_stop_the_engine")
    for case in ("slverr", "misaligned"):
        assert result[f"{case}_error"] == 1 and result[f"{case}_outputs"] == 0
    assert result["good_error"] == 0 and result["mismatches"] == 0
    assert result["outputs_compared"] == cfg.n_pixels * cfg.c_out
