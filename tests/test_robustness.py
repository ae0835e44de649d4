"""Malformed input streams: flagged, contained to their own frame, and recovered from."""
import pytest

from golden.config import preset
from golden.generate import make_vector_set
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
