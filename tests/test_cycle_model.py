"""The cycle model equals the RTL's cycle count exactly (stall-free streams), and bounds it from
below when the streams stall."""
import pytest

from golden.config import preset
from golden.generate import make_vector_set
from golden.vectors import write_vectors
from hw.geometry import Geometry
from sim.cycle_model import (MemoryTiming, predict, unit_cycles_per_pixel, weight_bandwidth,
                             with_count_registers)
from sim.runner import run_vectors

CONFIGS = {
    "tiny-1x1": ("tiny", {}),
    "tiny-8x8": ("tiny", dict(simd=8, pe=8)),
    "tiny-8x1": ("tiny", dict(simd=8)),
    "tiny-1x8": ("tiny", dict(pe=8)),
    "nonsquare-L2": ("tiny", dict(simd=2, pe=4, h=6, w=5, shift=2)),
    "k5": ("tiny", dict(k=5, simd=4)),
    "cout4-d2": ("tiny", dict(h=3, w=9, c_out=4, pe=2, d=2)),
    "one-column": ("tiny", dict(w=1, h=4)),
    "digits-4x4": ("digits", dict(simd=4, pe=4)),
    # eight weight banks two block RAMs deep: each bank's counter stepped by copies of the
    # issue and a read-address copy a piece, three cycles more
    # (``Geometry.weight_address_levels``, as stage2 8 x 16)
    "deep-banks-8x8": ("tiny", dict(simd=8, pe=8, c_in=96, c_out=64, h=3, w=3)),
    # full SA: the softmax unit (2N + 32 cycles a query) and the frame-holding ring
    "sa-tiny-1x1": ("tiny", dict(attention="sa")),
    "sa-tiny-8x8": ("tiny", dict(attention="sa", simd=8, pe=8)),
    "sa-nonsquare-k5": ("tiny", dict(attention="sa", h=5, w=7, k=5, simd=2, pe=4)),
    "sa-one-pixel": ("tiny", dict(attention="sa", h=1, w=1)),
    # involution: the kernel unit (G K^2 cycles a pixel), the depthwise aggregation
    "inv-digits-1x1": ("digits", dict(attention="involution", h=5, w=4)),
    "inv-G4-2x4": ("tiny", dict(attention="involution", group_channels=4, reduction=2,
                                simd=2, pe=4, h=5, w=6)),
    "inv-k5-16x8": ("digits", dict(attention="involution", k=5, simd=16, pe=8)),
    # the plain convolution: one input chunk a cycle, K^2 taps
    "conv-tiny-1x1": ("tiny", dict(attention="conv")),
    "conv-tiny-8x8": ("tiny", dict(attention="conv", simd=8, pe=8)),
    "conv-k5-nonsquare-2x4": ("tiny", dict(attention="conv", k=5, h=5, w=7, simd=2, pe=4)),
    # external weights: tiles, the fetch of tile n + 2 during tile n (cocotbext-axi's memory)
    "ext-pssa-4tiles": ("tiny", dict(weights="external", co_tile=2, simd=2, pe=2)),
    "ext-sa-2tiles": ("tiny", dict(attention="sa", weights="external", co_tile=4, pe=2, simd=2,
                                   h=4, w=5)),
    "ext-inv-2tiles": ("digits", dict(attention="involution", weights="external", co_tile=8,
                                      pe=4, simd=4, h=5, w=4)),
    "ext-conv-axi32": ("tiny", dict(attention="conv", weights="external", co_tile=2, pe=2,
                                    simd=2, h=3, w=5, axi_bits=32, burst_beats=4)),
    # a register on every count one unit passes another (``count_registers``): each wait a
    # cycle longer, in every form (stage2 8 x 16 in make bench is built so)
    "counts-pssa-2x4": ("tiny", dict(count_registers=1, simd=2, pe=4, h=5, w=6)),
    "counts-sa-4x4": ("tiny", dict(attention="sa", count_registers=1, simd=4, pe=4, h=4, w=5)),
    "counts-inv-2x4": ("tiny", dict(attention="involution", count_registers=1, group_channels=4,
                                    reduction=2, simd=2, pe=4, h=5, w=6)),
    "counts-conv-8x8": ("tiny", dict(attention="conv", count_registers=1, simd=8, pe=8)),
    # a 10-cycle pixel: the z-slot loop (4 x 10 cycles without them) has no room for the two
    # registers it passes, so the throughput falls (1452 -> 1517 cycles)
    "counts-pssa-8x8": ("tiny", dict(count_registers=1, simd=8, pe=8)),
    "counts-ext-pssa": ("tiny", dict(count_registers=1, weights="external", co_tile=4, simd=2,
                                     pe=2, h=4, w=5)),
    # memory-bound: a tile's fetch outlasts its compute (one-beat bursts of 32 bits)
    "ext-memory-bound": ("tiny", dict(weights="external", co_tile=1, simd=4, h=2, w=3,
                                      axi_bits=32, burst_beats=1)),
}


#: covered in `make test` by their neighbours (the same units at other parallelisms or sizes);
#: `make soak` runs them, keeping `make test` within its time on two cores
#: (tiny-1x1: `make sim`, the README's main job, prints the same model = RTL check; k5: the
#: MAC array's K = 5 window is checked by sa-nonsquare-k5, inv-k5-16x8 and conv-k5-nonsquare)
#: (counts-pssa-2x4 and counts-conv-8x8: the count registers of PSSA and the convolution are
#: timed by `make bench` and `make compare`, whose RTL = model check is on them too)
SOAK_ONLY = {"tiny-1x1", "tiny-8x1", "tiny-1x8", "sa-tiny-1x1", "inv-digits-1x1",
             "conv-tiny-1x1", "k5", "counts-pssa-2x4", "counts-conv-8x8"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SOAK_ONLY
                                  else n for n in sorted(CONFIGS)])
def test_model_equals_rtl_cycles(name, tmp_path):
    workload, overrides = CONFIGS[name]
    cfg = preset(workload, **overrides)
    frames = 2  # back to back: the second frame's overlap with the first is timed too
    write_vectors(make_vector_set(cfg, frames=frames, seed=2), tmp_path / "v")
    rtl = run_vectors(tmp_path / "v", "verilator", stall=0.0)
    model = predict(cfg, frames)
    print(f"{name}: RTL {rtl['cycles']} cycles, model {model.cycles}, "
          f"MAC utilization {rtl['mac_utilization']:.4f}")
    assert rtl["cycles"] == model.cycles
    assert rtl["mac_busy_cycles"] == model.mac_busy


@pytest.mark.parametrize("overrides", [
    dict(simd=8, pe=8),
    # and random latency and gaps on the external memory's read channels
    dict(simd=2, pe=2, weights="external", co_tile=2)])
def test_stalls_only_add_cycles(overrides, tmp_path):
    cfg = preset("tiny", **overrides)
    write_vectors(make_vector_set(cfg, frames=2, seed=2), tmp_path / "v")
    rtl = run_vectors(tmp_path / "v", "verilator", stall=0.5, seed=9)
    assert rtl["cycles"] > predict(cfg, 2).cycles


@pytest.mark.parametrize("workload", ["tiny", "digits", "stage3", "stage2"])
def test_mac_array_is_the_bottleneck(workload):
    """The side units keep up with the MAC array at every SIMD x PE (K = 3), so the steady-state
    utilization is 1; the 90% target then holds once the pipeline has filled."""
    cfg = preset(workload)  # PSSA
    for simd in (1, 2, 4, 8):
        for pe in (1, 2, 4, 8):
            geo = Geometry(cfg.replace(simd=simd, pe=pe))
            units = unit_cycles_per_pixel(geo)
            assert max(units.values()) == units["MAC array"], (simd, pe, units)


def test_model_figures_are_consistent():
    model = predict(preset("tiny", simd=8, pe=8), frames=8)
    assert model.bottleneck == "MAC array" and model.steady_state_utilization == 1.0
    assert 0.95 < model.mac_utilization < 1.0
    assert model.first_output < model.cycles_per_frame


@pytest.mark.parametrize("workload, overrides, chosen", [
    ("tiny", dict(simd=4, pe=4), 1), ("digits", dict(simd=8, pe=8), 1),
    ("stage2", dict(simd=8, pe=16), 1), ("tiny", dict(attention="sa", simd=8, pe=8), 1),
    ("tiny", dict(simd=8, pe=8), 0)])  # a 10-cycle pixel: the z-slot loop has no room
def test_count_registers_are_chosen_where_they_add_only_latency(workload, overrides, chosen):
    cfg = preset(workload, **overrides)
    assert with_count_registers(cfg).count_registers == chosen
    registered = cfg.replace(count_registers=1)

    def cost(frames: int) -> int:
        return predict(registered, frames).cycles - predict(cfg, frames).cycles

    assert 0 < cost(1)
    assert (cost(3) == cost(1)) == bool(chosen)  # latency only, or more with every frame


def test_memory_bandwidth_sets_the_rate_when_it_is_short():
    """The weight fetch hides behind the MAC array down to about the bandwidth the layer needs,
    and sets the rate below it.  (Against weights on chip a tiled frame differs only in its
    first pass: a tile's pixel is shorter work than the projection's, so the first frame's
    first tile waits for the projection; later frames are projected during earlier tiles.)"""
    cfg = preset("stage3", simd=8, pe=8, weights="external", co_tile=32, h=7, w=7)
    geo = Geometry(cfg)
    need = weight_bandwidth(geo)
    assert need == pytest.approx(8 * cfg.pe * cfg.simd / cfg.n_pixels, rel=0.01)
    full = predict(cfg, 2).cycles
    assert full <= predict(cfg.replace(weights="onchip", co_tile=0), 2).cycles * 1.05
    fast = MemoryTiming(interval=max(1, int(cfg.axi_bits / need / 2)))  # twice the need
    slow = MemoryTiming(interval=int(cfg.axi_bits / need * 4))          # a quarter of it
    assert predict(cfg, 2, fast).cycles == full
    assert predict(cfg, 2, slow).cycles > 3 * full


@pytest.mark.parametrize("workload, attention, simd, pe", [
    ("tiny", "pssa", 1, 1), ("tiny", "pssa", 4, 4), ("tiny", "pssa", 8, 8),
    ("digits", "pssa", 8, 8), ("digits", "involution", 4, 4), ("stage2", "pssa", 8, 16)])
def test_registered_aggregation_start_costs_no_steady_state_cycle(workload, attention, simd,
                                                                  pe, monkeypatch):
    """Where ``registered_agg_start`` registers the aggregation's start, a frame in steady
    state (the third of three back to back) takes as many cycles as with the start
    combinational: its wait only delays the first pixels."""
    import hw.attention.involution as involution
    import hw.attention.pssa as pssa

    cfg = preset(workload, attention=attention, simd=simd, pe=pe)
    frames = 3 if cfg.n_pixels < 200 else 2

    def frame_cycles():
        return predict(cfg, frames=frames).cycles - predict(cfg, frames=frames - 1).cycles

    geo = Geometry(cfg)
    registered = geo.form.timing(geo).agg_wait
    with_wait = frame_cycles()
    for module in (pssa, involution):  # the start combinational everywhere
        monkeypatch.setattr(module, "registered_agg_start", lambda geo, timing: timing)
    assert geo.form.timing(geo).agg_wait == 0
    assert with_wait == frame_cycles(), f"agg_wait={registered} costs cycles a frame"
