"""Formal proofs of the stream contracts (sim/formal.py): a fast subset of `make formal`, and
every broken variant found by the solver, its counterexample written as a VCD."""
import pytest

from hw.top import FAULTS
from sim.formal import BROKEN, Task, broken_task, fault_config, formal_config, run_task, tasks

CFG = formal_config("pssa")
EXTERNAL = formal_config("pssa", external=True)


@pytest.mark.parametrize("prop, mode", [
    ("stream", "bmc"), ("loader", "bmc"), ("liveness", "cover"),
    # about 20 s with the multipliers cut (sim.formal.ABSTRACTION), left to make formal and
    # make soak to keep make test within 20 minutes on two cores
    pytest.param("liveness", "bmc", marks=pytest.mark.slow)])
def test_contract_holds(prop, mode):
    task = next(t for t in tasks(CFG) if (t.prop, t.mode) == (prop, mode))
    proof = run_task(f"test-{prop}-{mode}", CFG, task)
    assert proof.status == "PASS", f"{task.describe()}: {proof.status}, see {proof.folder}"


# the external liveness cover (a whole tiled frame, about 80 s) runs in `make formal` and
# `make soak`, keeping `make test` within its time on two cores
@pytest.mark.parametrize("prop, mode", [
    ("stream", "bmc"), pytest.param("liveness", "cover", marks=pytest.mark.slow)])
def test_external_weight_contract_holds(prop, mode):
    """The AXI4 read master's rules and the stream rules with weights fetched in two tiles."""
    task = next(t for t in tasks(EXTERNAL) if (t.prop, t.mode) == (prop, mode))
    proof = run_task(f"test-external-{prop}-{mode}", EXTERNAL, task)
    assert proof.status == "PASS", f"{task.describe()}: {proof.status}, see {proof.folder}"


def test_every_fault_has_a_property_that_catches_it():
    assert set(BROKEN) == set(FAULTS)


#: found by a shallow property; early_input needs the stream property (any inputs) as deep as
#: a first result, about 80 s of solver time: `make formal` and `make soak` run it
FAST = sorted(set(BROKEN) - {"early_input"})


@pytest.mark.parametrize("fault", FAST + [pytest.param("early_input", marks=pytest.mark.slow)])
def test_broken_variant_is_caught(fault):
    cfg = fault_config("pssa", fault)
    task = broken_task(cfg, fault)
    proof = run_task(f"test-broken-{fault}", cfg, task)
    assert proof.status == "FAIL", f"{task.describe()}: the solver found no counterexample"
    assert proof.trace is not None and proof.trace.suffix == ".vcd"
    assert "$var" in proof.trace.read_text()[:100_000]  # a VCD a person can open


def test_bad_property_and_fault_are_refused():
    from sim.formal import Contract

    with pytest.raises(ValueError, match="^property: "):
        Contract(CFG, "speed")
    with pytest.raises(ValueError, match="^fault: "):
        Contract(CFG, "stream", fault="melt")
    assert isinstance(tasks(CFG)[0], Task)


def test_liveness_is_proven_with_external_weights_at_its_bound():
    """With external weights the bounded liveness is checked at the bound's cycle alone (the
    one cycle its assertion names); on chip at every cycle."""
    from sim.formal import Contract

    bound = Contract(EXTERNAL, "liveness").bound
    live = {t.mode: t for t in tasks(EXTERNAL) if t.prop == "liveness"}
    assert (live["bmc"].depth, live["bmc"].skip) == (bound + 1, bound)
    assert live["cover"].skip == bound
    assert next(t for t in tasks(CFG) if (t.prop, t.mode) == ("liveness", "bmc")).skip == 0
