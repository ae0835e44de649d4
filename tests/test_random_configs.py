"""Randomly drawn configurations (sim/soak.py) with random stalls: bit-exact, nothing lost or
duplicated.  A fixed handful of draws here; `make soak` runs more."""
import pytest

from hw.attention import FORMS
from sim.soak import SoakTotals, draw, run_draw

# fixed draws: involution (G = 2, K = 5; 3 tiles of 1 channel), PSSA (L = 2, K = 5, int12),
# full SA (K = 3 at 7 x 9, one-beat bursts), the plain convolution (K = 5, 2 x 2); all but the
# convolution with external weights; stalls 0-40%
SEEDS = (0, 19, 23, 27, 35)


def test_draws_are_reproducible_and_varied():
    assert draw(11) == draw(11)
    cfgs = [draw(s).cfg for s in range(40)]
    assert {c.attention for c in cfgs} == set(FORMS)
    assert {c.k for c in cfgs} == {1, 3, 5} and {c.shift for c in cfgs} == {1, 2, 3}
    assert len({(c.simd, c.pe) for c in cfgs}) >= 8
    assert len({c.fmt.data_bits for c in cfgs}) >= 6
    assert {c.weights for c in cfgs} == {"onchip", "external"}
    assert max(c.tiles for c in cfgs) > 1


@pytest.mark.parametrize("seed", SEEDS)
def test_random_configuration_bit_exact(seed, tmp_path):
    d = draw(seed)
    figures = run_draw(d, tmp_path / "v")
    totals = SoakTotals()
    totals.add(d, figures)
    print(f"seed {seed}: {d.cfg.describe()}, stall {d.stall}: {totals.summary()}")
    assert totals.words == d.frames * d.cfg.n_pixels * d.cfg.c_out
    assert (totals.lost, totals.duplicated, totals.mismatched) == (0, 0, 0)
