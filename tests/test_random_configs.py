"""Randomly drawn configurations (sim/soak.py) with random stalls: bit-exact, nothing lost or
duplicated.  A fixed handful of draws here; `make soak` runs more."""
import pytest

from sim.soak import SoakTotals, draw, run_draw

# fixed draws: involution (G = 2, K = 5), PSSA (L = 3, C_out != C_in; K = 1, int4), full SA
# (K = 5 at 7x5, PE = 3; K = 3 with a 1 x 3 frame), SIMD 1-4, PE 1-4, stalls 0-40%
SEEDS = (0, 3, 6, 35, 17)


def test_draws_are_reproducible_and_varied():
    assert draw(11) == draw(11)
    cfgs = [draw(s).cfg for s in range(40)]
    assert {c.attention for c in cfgs} == {"pssa", "sa", "involution"}
    assert {c.k for c in cfgs} == {1, 3, 5} and {c.shift for c in cfgs} == {1, 2, 3}
    assert len({(c.simd, c.pe) for c in cfgs}) >= 8
    assert len({c.fmt.data_bits for c in cfgs}) >= 6


@pytest.mark.parametrize("seed", SEEDS)
def test_random_configuration_bit_exact(seed, tmp_path):
    d = draw(seed)
    figures = run_draw(d, tmp_path / "v")
    totals = SoakTotals()
    totals.add(d, figures)
    print(f"seed {seed}: {d.cfg.describe()}, stall {d.stall}: {totals.summary()}")
    assert totals.words == d.frames * d.cfg.n_pixels * d.cfg.c_out
    assert (totals.lost, totals.duplicated, totals.mismatched) == (0, 0, 0)
