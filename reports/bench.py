"""The benchmark report (make bench): docs/performance.md and its plot, regenerated.

For each reference workload at the parallelisms in ``POINTS``: model cycles, RTL cycles where
simulation is affordable, MAC utilization, ECP5-85F resources and Fmax from synthesis,
frames per second, sustained GMAC/s and the ratio to the device's peak (multipliers x Fmax).
Also the simulators' speed on the same design.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from golden.config import preset
from hw.geometry import BLOCK_RAM_BITS, Geometry, choose_weights
from sim.cycle_model import predict, weight_bandwidth, with_count_registers

from .resnet import section as resnet_section
from .synth import (FIRST_ROUTER_TIMEOUT_S, ROUTE_TIMEOUT_S, ROUTERS, SPEED_GRADES, TARGETS,
                    SynthResult, multipliers_by_block, relative_workdir, synthesize_cached)

ROOT = Path(__file__).resolve().parent.parent
ECP5 = "ecp5-85f"
ECP5_MULTIPLIERS = TARGETS[ECP5].capacity["DSP"]

# workload -> (SIMD, PE) points; RTL-simulated workloads are named in SIMULATED
POINTS = {
    "tiny": [(1, 1), (4, 4), (8, 8)],
    "digits": [(1, 1), (4, 4), (8, 8)],
    "stage2": [(8, 8), (8, 16)],  # 8 x 16: 128 MAC multipliers, the periphery in the rest
    "stage3": [(8, 8)],
}
SIMULATED = {"tiny", "digits"}
#: placed and routed at both speed grades; stage2 is synthesized (Yosys: resources, fit,
#: multipliers by block; about 15 minutes a point), its 8 x 16 point also placed at speed 6
#: (below), and stage3 modelled; stage3's synthesis and placed clock are in `make compare`
#: (SIMD x PE = 4 x 4)
PLACED = {"tiny", "digits"}
SYNTHESIZED = PLACED | {"stage2"}
#: placed and routed at speed grade 6 only: the point the device-peak target is set on (its
#: 155 multipliers and 124 block RAMs take nextpnr longer than the rest of the bench)
PLACED_AT_SPEED_6 = {("stage2", 8, 16)}
#: the clock targets (issue 13): 100 MHz for the tiny and digits points, 125 for stage2 8 x 16.
#: A point placed below its target at speed grade 6 is placed again with nextpnr's next seeds
#: (``reports.synth.PLACEMENT_SEEDS``) and the best kept, every seed's Fmax listed: the worst
#: path is one control or register-to-DSP net whose routing moves by 1-2 ns (tiny, digits) or
#: by up to 2 ns over 8.7-10.7 (stage2 8 x 16, 84-98 MHz) from one placement to the next
SEEDS_BELOW_MHZ = 100.0
STAGE2_WANT_MHZ = 125.0


def wanted_mhz(workload: str, simd: int, pe: int) -> float | None:
    """The clock below which a placed point is placed again with the next seeds (None: a point
    that is not placed)."""
    if workload in PLACED:
        return SEEDS_BELOW_MHZ
    return STAGE2_WANT_MHZ if (workload, simd, pe) in PLACED_AT_SPEED_6 else None
FRAMES = 4


@dataclass
class Row:
    workload: str
    simd: int
    pe: int
    model_cycles: int
    rtl_cycles: int | None
    utilization: float
    steady: float
    first_output: int
    buffer_kbit: float
    synth: SynthResult | None                 # speed grade 6 (the default, slowest part)
    faster: SynthResult | None = None         # speed grade 8, the same netlist
    blocks: dict | None = None                # MULT18X18D cells by block

    def fps(self) -> float | None:
        if not self.synth or not self.synth.fmax_mhz:
            return None
        return self.synth.fmax_mhz * 1e6 / (self.model_cycles / FRAMES)


def memory_misfit(cfg) -> SynthResult | None:
    """A plain 'does not fit' when the engine's memories exceed the ECP5-85F's block RAM
    (208 x 18 kbit) before any synthesis is tried."""
    buffers = Geometry(cfg).buffer_bits()
    bits = sum(buffers.values())
    capacity = BLOCK_RAM_BITS[ECP5]
    if bits <= capacity:
        return None
    weights = buffers.get("w_mac", 0) + buffers.get("weight tiles", 0)
    return SynthResult(ECP5, 0, 0, 0, 0, False, None,
                       f"does not fit: {bits / 2**20:.1f} Mbit of on-chip memory "
                       f"(weights {weights / 2**20:.1f} Mbit) > "
                       f"{capacity / 2**20:.1f} Mbit of block RAM", 0.0)


def rtl_cycles(cfg, folder: Path) -> int:
    from golden.generate import make_vector_set
    from golden.vectors import write_vectors
    from sim.runner import run_vectors

    write_vectors(make_vector_set(cfg, frames=FRAMES, seed=5), folder)
    return run_vectors(folder, "verilator")["cycles"]


def bench_config(workload: str, simd: int, pe: int):
    """A point, its weights placed by the ECP5-85F's block RAM (on chip where they fit, else
    tiles from external memory: docs/external-memory.md), with registers on the counts
    between units where they cost no throughput (``with_count_registers``)."""
    cfg = preset(workload, simd=simd, pe=pe)
    return with_count_registers(choose_weights(cfg, BLOCK_RAM_BITS[ECP5]) or cfg)


def measure(workload: str, simd: int, pe: int, do_synth: bool) -> Row:
    cfg = bench_config(workload, simd, pe)
    model = predict(cfg, FRAMES)
    rtl = rtl_cycles(cfg, ROOT / "build" / "bench" / f"{workload}-{simd}x{pe}") \
        if workload in SIMULATED else None
    synth = faster = blocks = None
    if do_synth and workload in SYNTHESIZED:
        want = wanted_mhz(workload, simd, pe)
        synth = memory_misfit(cfg) or synthesize_cached(
            cfg, ECP5, ROOT, router=ROUTERS, place=want is not None, want_mhz=want)
        if synth.fmax_mhz and workload in PLACED:
            faster = synthesize_cached(cfg, ECP5, ROOT, router=ROUTERS, speed=SPEED_GRADES[-1])
        blocks = multipliers_by_block(cfg, relative_workdir(cfg, ROOT) / "blocks")
    return Row(workload, simd, pe, model.cycles, rtl, model.mac_utilization,
               model.steady_state_utilization, model.first_output,
               sum(Geometry(cfg).buffer_bits().values()) / 1024, synth, faster, blocks)


def sim_speed() -> dict[str, float]:
    """Simulated cycles per wall second of the tiny engine (SIMD = PE = 1), cocotb included,
    with a warm build (the build is not timed)."""
    from golden.generate import make_vector_set
    from golden.vectors import write_vectors
    from sim.runner import run_vectors

    cfg = preset("tiny")
    folder = ROOT / "build" / "bench" / "speed"
    write_vectors(make_vector_set(cfg, frames=2, seed=5), folder)
    speeds = {}
    for simulator in ("verilator", "icarus"):
        run_vectors(folder, simulator)  # warm the build
        t0 = time.time()
        cycles = run_vectors(folder, simulator)["cycles"]
        speeds[simulator] = cycles / (time.time() - t0)
    return speeds


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for workload in POINTS:
        cfg0 = preset(workload)
        xs, util, thr = [], [], []
        for simd in (1, 2, 4, 8, 16):
            for pe in (simd,):
                if cfg0.c_in % simd or cfg0.c_out % pe:
                    continue
                pr = predict(cfg0.replace(simd=simd, pe=pe), FRAMES)
                xs.append(simd * pe)
                util.append(pr.mac_utilization)
                thr.append(pr.gmacs(100e6))
        ax1.plot(xs, util, marker="o", label=workload)
        ax2.plot(xs, thr, marker="o", label=workload)
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("MAC array size SIMD x PE (SIMD = PE)")
        ax.grid(True, alpha=0.3)
        ax.legend()
    ax1.set_ylabel(f"MAC utilization (cycle model, {FRAMES} frames)")
    ax1.set_ylim(0.8, 1.01)
    ax2.set_yscale("log")
    ax2.set_ylabel("sustained GMAC/s at 100 MHz")
    fig.suptitle("PSSA X-volution engine: utilization and throughput against parallelism")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt(v, spec: str = "", none: str = "-") -> str:
    return none if v is None else format(v, spec)


def stage3_clock(rows: list[Row]) -> tuple[float, str]:
    """The clock of the ResNet estimate: stage3's placed Fmax (this report's, else the one
    `make compare` measured at 4 x 4, build/compare.json), or 100 MHz said to be assumed."""
    placed = [r for r in rows if r.workload == "stage3" and r.synth and r.synth.fmax_mhz]
    if placed:
        return placed[0].synth.fmax_mhz, f"stage3's placed Fmax at {placed[0].simd} x " \
                                         f"{placed[0].pe} above"
    compare = ROOT / "build" / "compare.json"
    if compare.exists():
        for p in json.loads(compare.read_text())["points"]:
            if p["workload"] == "stage3" and p["form"] == "pssa" and (p["synth"] or {}).get(
                    "fmax_mhz"):
                return p["synth"]["fmax_mhz"], ("stage3 PSSA's placed Fmax at 4 x 4 from "
                                                "`make compare`, docs/pssa-vs-sa.md")
    return 100.0, "assumed: stage3 was not placed"


def multiplier_section(rows: list[Row]) -> list[str]:
    """Where the multipliers go: MULT18X18D cells by block (Yosys, hierarchy kept)."""
    measured = [r for r in rows if r.blocks]
    if not measured:
        return []
    blocks = sorted({b for r in measured for b in r.blocks})
    lines = ["## Multipliers by block", "",
             "MULT18X18D cells per block (`reports.synth.multipliers_by_block`: Yosys "
             "`synth_ecp5 -noflatten` through its DSP mapping); `mac` is the MAC array, the "
             "rest is the periphery (output requantizers, the attention units' products and "
             "requantizers). The share of the MAC array caps the fraction of the device's "
             "multiplier peak the engine can reach.", "",
             "| workload | SIMD x PE | " + " | ".join(blocks) + " | total | MAC array share |",
             "|---|---|" + "---|" * (len(blocks) + 2)]
    for r in measured:
        total = sum(r.blocks.values())
        lines.append(f"| {r.workload} | {r.simd}x{r.pe} | "
                     + " | ".join(str(r.blocks.get(b, 0)) for b in blocks)
                     + f" | {total} | {r.blocks.get('mac', 0) / total:.2f} |")
    return lines + [""]


def critical_path_section(rows: list[Row]) -> list[str]:
    """The worst path of every placed point (speed 6), so the next step is visible; and why a
    speed-8 run gave no Fmax."""
    placed = [r for r in rows if r.synth and r.synth.critical_path]
    if not placed:
        return []
    failed = [f"- {r.workload} {r.simd}x{r.pe} at speed grade 8: {r.faster.note}"
              for r in rows if r.faster and r.faster.note]
    return ["## Critical paths", "",
            "nextpnr's worst path at speed grade 6 (from, to: total delay, logic and routing):",
            ""] + [f"- {r.workload} {r.simd}x{r.pe}, {r.synth.fmax_mhz:.1f} MHz"
                   + (f", {r.synth.routed_by}" if r.synth.routed_by else "")
                   + seeds_note(r.synth.seed_fmax, r.synth.seed)
                   + f": `{r.synth.critical_path}`" for r in placed] + [""] + \
        (["Runs that did not route:", "", *failed, ""] if failed else [])


def seeds_note(seed_fmax: dict | None, seed: int | None) -> str:
    """Which placement seed a point's Fmax is from, and every seed's Fmax where several were
    placed (``SynthResult.seed_fmax`` and ``seed``)."""
    tried = seed_fmax or {}
    if len(tried) > 1:
        each = ", ".join(f"{k}: " + ("did not route" if v is None else f"{v:.1f}")
                         for k, v in tried.items())
        return f" (best of placement seeds {each})"
    return f" (placement seed {seed}: seed 1 did not route)" if seed else ""


def steady_peak(r: Row) -> float | None:
    """The engine's steady-state rate over the device's peak, both at the same clock: MAC-array
    multipliers x steady-state utilization / the device's multipliers.  Needs no Fmax, so
    synthesized points have it too; only where the design's multipliers fit the device."""
    if not (r.synth and r.synth.fits and r.synth.dsps <= ECP5_MULTIPLIERS):
        return None
    return r.simd * r.pe * r.steady / ECP5_MULTIPLIERS


def write_report(rows: list[Row], speeds: dict[str, float], path: Path, plot_name: str) -> None:
    lines = [
        "# Performance of the X-volution engine (PSSA form)",
        "",
        "Regenerated by `make bench` (`python -m reports bench`); every figure below comes from",
        "that command. Cycles are for "
        f"{FRAMES} frames back to back, first input beat to last output beat, stall-free streams.",
        "Model: `sim/cycle_model.py`. RTL: the generated Verilog under Verilator and cocotb "
        "(tiny and digits). Resources and Fmax: YoWASP Yosys `synth_ecp5` and nextpnr-ecp5 "
        "`--85k` (LFE5U-85F), routed by router1 (nextpnr's default) and by router2 where "
        f"router1 does not finish in {FIRST_ROUTER_TIMEOUT_S // 60} minutes "
        "(`reports.synth.ROUTERS`; the router of each point under Critical paths), "
        "at speed grades 6 (nextpnr's default, the "
        "slowest part) and 8 (stage2 8x16 at speed 6 only: `reports.bench.PLACED_AT_SPEED_6`), "
        "I/O registered, placement seed 1 (2, then 3, where 1 does not "
        f"route, or not in {ROUTE_TIMEOUT_S // 60} minutes: `reports.synth.PLACEMENT_SEEDS`, "
        f"`ROUTE_TIMEOUT_S`; a tiny or digits point below {SEEDS_BELOW_MHZ:.0f} MHz, or "
        f"stage2 8x16 below {STAGE2_WANT_MHZ:.0f}, at speed 6 is placed with seeds 2 and 3 too "
        "and the best kept: `reports.bench.wanted_mhz`, every seed's Fmax under Critical "
        "paths) "
        "(`reports/synth.py`), each block RAM's output flip-flops absorbed into its output "
        "register (DP16KD REGMODE OUTREG, `hw/bram_outreg.py`; checked by netlist simulation), "
        "the multipliers in their ECP5 form (MULT18X18D with its input "
        "registers, `hw/dsp.py`; checked equal to the generic form on the golden vectors, "
        "docs/verification.md). Peak of the device: "
        f"{ECP5_MULTIPLIERS} multipliers x Fmax. Weights: on chip where the engine's memories "
        "fit the block RAM, else in external memory, tiles of output channels fetched over "
        "AXI4 (`hw.geometry.choose_weights`, docs/external-memory.md); the model's memory is "
        "the testbench's (full rate), and the bandwidth the fetch needs is given. The counts "
        "one unit passes another go through a register (`XvConfig.count_registers`, "
        "docs/architecture.md) where that costs no throughput, only a few cycles of latency "
        "(`sim.cycle_model.with_count_registers`; 'counts registered' in the weights column).",
        "",
        "| workload | SIMD x PE | weights | model cycles | RTL cycles | MAC util. | steady-state util. "
        "| first output (cycles) "
        "| on-chip buffers (kbit) | LUT4 | FF | MULT18 | DP16KD | Fmax MHz (speed 6) "
        "| Fmax MHz (speed 8) | frames/s | GMAC/s | of device peak | of device peak, steady "
        "state |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r.synth
        cfg = bench_config(r.workload, r.simd, r.pe)
        weights = (f"external, {cfg.tiles} x {cfg.tile_co} ch, "
                   f"{weight_bandwidth(Geometry(cfg)):.1f} bit/cycle"
                   if cfg.external_weights else "on chip")
        weights += ", counts registered" if cfg.count_registers else ""
        fps = r.fps()
        gmacs = fps * cfg.mac_array_ops_per_pixel * cfg.n_pixels / 1e9 if fps else None
        peak = (gmacs * 1e3 / (ECP5_MULTIPLIERS * s.fmax_mhz)) if gmacs else None
        faster = r.faster.fmax_mhz if r.faster else None
        failed = "did not route (below)" if r.faster and r.faster.note else "-"
        resources = (f"{s.luts} | {s.ffs} | {s.dsps} | {s.brams} | {fmt(s.fmax_mhz, '.1f')} | "
                     f"{fmt(faster, '.1f', failed)}"
                     if s and s.fits else f"{s.note if s else 'not synthesized'} | | | | | ")
        lines.append(
            f"| {r.workload} | {r.simd}x{r.pe} | {weights} | {r.model_cycles} | "
            f"{fmt(r.rtl_cycles)} | "
            f"{r.utilization:.3f} | {r.steady:.3f} | {r.first_output} | {r.buffer_kbit:.0f} | {resources} | "
            f"{fmt(fps, '.0f')} | {fmt(gmacs, '.3f')} | {fmt(peak, '.3f')} | "
            f"{fmt(steady_peak(r), '.3f')} |")
    mismatch = [f"{r.workload} {r.simd}x{r.pe}" for r in rows
                if r.rtl_cycles is not None and r.rtl_cycles != r.model_cycles]
    verdict = "equal on every simulated row" if not mismatch else "DIFFERENT on " + \
        ", ".join(mismatch)
    lines += [
        "",
        f"Model against RTL: {verdict}.",
        "",
        "Of device peak: the sustained MAC rate over the frames (fill and drain included) at the "
        "placed Fmax, over 156 multipliers at that Fmax. Of device peak, steady state: the MAC "
        "array's multipliers x steady-state utilization / 156, the same ratio between frames, "
        "which needs no clock (a synthesized point has it too). Both are capped by the MAC "
        "array's share of the multipliers: the periphery's requantizers and attention products "
        "are shared over time (`RequantLanes`, PSSA's logits in parts; docs/architecture.md), "
        "so at stage2 the MAC array can be 8 x 16 (128 multipliers) on the ECP5-85F.",
        "",
        "Where the cycles go: in steady state the MAC array is the slowest unit at every point "
        "(steady-state utilization 1.000: the projection, logit and aggregation units keep up, "
        "`sim/cycle_model.py`), so the cycles it is idle are the pipeline fill before the first "
        "output (the first pixel's window, `reach` pixels of input, must be projected and its "
        "logits and z computed) and the drain after the last pixel; they matter most where a "
        "frame is only a few hundred cycles (tiny and digits at 8x8).",
        "",
        f"![utilization and throughput]({plot_name})",
        "",
        *multiplier_section(rows),
        *critical_path_section(rows),
        "## Simulation speed",
        "The tiny engine (SIMD = PE = 1, 2 frames), cocotb with cocotbext-axi driving every beat, "
        "warm build:",
        "",
        "| simulator | simulated cycles per wall second |",
        "|---|---|",
    ]
    lines += [f"| {name} | {speed:,.0f} |" for name, speed in speeds.items()]
    clock, source = stage3_clock(rows)
    lines += [""] + resnet_section(clock, source)
    path.write_text("\n".join(lines) + "\n")


def run(synth: bool = True, out: Path | None = None) -> Path:
    out = out or ROOT / "docs" / "performance.md"
    points = [(w, s, p) for w, pts in POINTS.items() for s, p in pts]
    rows = []
    for workload, simd, pe in tqdm(points, desc="bench", unit="point"):
        rows.append(measure(workload, simd, pe, synth))
        tqdm.write(json.dumps({"workload": workload, "simd": simd, "pe": pe,
                               "model": rows[-1].model_cycles, "rtl": rows[-1].rtl_cycles,
                               "synth": rows[-1].synth.as_dict() if rows[-1].synth else None}))
    speeds = sim_speed()
    plot(rows, out.parent / "performance.png")
    write_report(rows, speeds, out, "performance.png")
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "bench.json").write_text(json.dumps(
        [{**r.__dict__, "synth": r.synth.as_dict() if r.synth else None,
          "faster": r.faster.as_dict() if r.faster else None} for r in rows], indent=2))
    return out
