"""Formal proofs of the stream contracts (sim/formal.py): a fast subset of `make formal`, and
every broken variant found by the solver, its counterexample written as a VCD."""
import pytest

from hw.top import FAULTS
from sim.formal import BROKEN, Task, broken_task, fault_config, formal_config, run_task, tasks

CFG = formal_config("pssa")
EXTERNAL = formal_config("pssa", external=True)


#: the smallest form: its proofs to the frames' bound take a few seconds
CONV = formal_config("conv")


@pytest.mark.parametrize("prop, mode, cfg", [
    ("stream", "prove", CFG), ("loader", "bmc", CFG), ("protocol", "cover", CFG),
    ("liveness", "cover", CONV), ("protocol", "bmc", CONV),
    ("liveness", "cover", CFG), ("protocol", "bmc", CFG), ("liveness", "bmc", CFG)],
    ids=lambda value: value if isinstance(value, str) else value.attention)
def test_contract_holds(prop, mode, cfg):
    task = next(t for t in tasks(cfg) if (t.prop, t.mode) == (prop, mode))
    proof = run_task(f"test-{cfg.attention}-{prop}-{mode}", cfg, task)
    assert proof.status == "PASS", f"{task.describe()}: {proof.status}, see {proof.folder}"


@pytest.mark.parametrize("prop, mode", [("stream", "bmc"), ("liveness", "cover")])
def test_external_weight_contract_holds(prop, mode):
    """The AXI4 read master's rules and the stream rules with weights fetched in two tiles."""
    task = next(t for t in tasks(EXTERNAL) if (t.prop, t.mode) == (prop, mode))
    proof = run_task(f"test-external-{prop}-{mode}", EXTERNAL, task)
    assert proof.status == "PASS", f"{task.describe()}: {proof.status}, see {proof.folder}"


def test_stream_property_of_the_convolution_is_proven_by_induction():
    """k-induction closes on the convolution's stream property: a proof for every depth, not
    only a bounded one (on the attention forms it does not close, and the bounded check of
    the same depth runs instead)."""
    task = next(t for t in tasks(CONV) if t.prop == "stream")
    proof = run_task("test-conv-stream-induction", CONV, task)
    assert (proof.status, proof.mode) == ("PASS", "prove"), f"{proof.status} as {proof.mode}"


def test_every_fault_has_a_property_that_catches_it():
    assert set(BROKEN) == set(FAULTS)


#: caught by a proof that runs to the frames' bound: on the convolution here (about 2 s; 5-16 s
#: on PSSA, which `make formal` runs)
ON_CONV = {"drop_tvalid", "wrong_tlast", "unflagged_framing", "hang_on_error"}


@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_broken_variant_is_caught(fault):
    cfg = fault_config("conv" if fault in ON_CONV else "pssa", fault)
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
    from sim.formal import FrameBounds

    bound = FrameBounds(EXTERNAL, "liveness").bound
    live = {t.mode: t for t in tasks(EXTERNAL) if t.prop == "liveness"}
    assert (live["bmc"].depth, live["bmc"].skip) == (bound + 1, bound)
    assert live["cover"].skip == bound
    assert next(t for t in tasks(CFG) if (t.prop, t.mode) == ("liveness", "bmc")).skip == 0


def test_protocol_proof_reaches_the_bound_of_three_engine_frames():
    """One flipped mark can make the engine count three frames of two (a tuser inside a frame
    starts one, the cut frame is completed with zeros): the proof runs to their bound, past a
    whole frame's wait after the load, and checks its last cycle with the history of every
    cycle before it."""
    from sim.cycle_model import predict
    from sim.formal import FrameBounds, ParamLoader

    contract = FrameBounds(CFG, "protocol")
    bmc = next(t for t in tasks(CFG) if (t.prop, t.mode) == ("protocol", "bmc"))
    assert contract.hang_bound == predict(CFG, 1).cycles
    assert contract.bound == (contract.geo.param_words + ParamLoader.LATENCY
                              + predict(CFG, 3).cycles + 1)
    assert (bmc.depth, bmc.skip) == (contract.bound + 1, contract.bound)
    assert bmc.depth > contract.geo.param_words + ParamLoader.LATENCY + contract.hang_bound


def test_frame_proofs_count_two_frames_to_the_models_bound():
    """Conservation and liveness drive two frames and run to the cycle model's bound of two;
    the stream, loader and reset proofs drive none."""
    from sim.cycle_model import predict
    from sim.formal import LIVENESS_FRAMES, FrameBounds, ParamLoader

    contract = FrameBounds(CFG, "liveness")
    assert contract.frames == LIVENESS_FRAMES == 2
    assert contract.bound == (contract.geo.param_words + ParamLoader.LATENCY
                              + predict(CFG, 2).cycles + 1)
    conservation = next(t for t in tasks(CFG) if (t.prop, t.mode) == ("conservation", "bmc"))
    assert (conservation.depth, conservation.skip) == (contract.bound + 1, contract.bound)
    assert FrameBounds(CFG, "stream").frames == 1


def test_a_proof_checked_at_its_last_cycle_still_sees_every_earlier_cycle():
    """With ``skip`` the solver checks the last cycle alone; the history register carries every
    earlier cycle's assertions there.  tlast at the wrong beat fails early in the frame, and the
    external liveness proof, checked at its bound only, still finds it."""
    cfg = formal_config("conv", external=True)
    live = next(t for t in tasks(cfg) if (t.prop, t.mode) == ("liveness", "bmc"))
    assert live.skip == live.depth - 1
    task = Task("liveness", "bmc", live.depth, "wrong_tlast", live.skip)
    proof = run_task("test-history-wrong_tlast", cfg, task)
    assert proof.status == "FAIL", f"{task.describe()}: the solver found no counterexample"
