"""PSSA versus involution versus full SA in hardware, against the plain convolution they
replace (make compare): docs/pssa-vs-sa.md.

For the spec's sweep workloads (H = W = 7, 14, 28, 56; C = 64; D = 8; K = 3; L = 1, 2) and for
stage3, the four engines (``FORMS``, the baseline first) at matched parallelism
(SIMD x PE = ``PARALLEL``):

- on-chip memory (``Geometry.buffer_bits``: the memories the RTL declares), cycles per frame and
  latency to the first output (``sim/cycle_model.py``) at every point;
- RTL cycles (cocotb + Verilator, one frame) where simulation is quick (``SIMULATED`` sizes),
  asserted equal to the model;
- ECP5-85F resources and Fmax: Yosys + nextpnr at the ``PLACED`` sizes, Yosys alone (resources,
  fit) at the ``SYNTHESIZED`` ones, and the memory model beyond (a design whose memories exceed
  the device's block RAM is reported as not fitting without synthesis);
- the fixed-point error of each form against its own float model (``ERROR_SIZES``).

PSSA's L only changes PSSA (its window); the other forms appear once per size.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from golden.config import SWEEP_SHIFTS, SWEEP_SIZES, preset, sweep
from hw.geometry import BLOCK_RAM_BITS, BLOCK_RAM_FILL, Geometry, choose_weights
from hw.attention.sa_softmax import span_extra
from sim.cycle_model import MemoryTiming, predict, weight_bandwidth, with_count_registers

from .bench import SEEDS_BELOW_MHZ, memory_misfit, seeds_note
from .synth import FIRST_ROUTER_TIMEOUT_S, ROUTERS, SynthResult, synthesize_cached

ROOT = Path(__file__).resolve().parent.parent
ECP5 = "ecp5-85f"
#: the plain convolution first: the baseline each attention form is measured against
BASELINE = "conv"
FORMS = (BASELINE, "pssa", "involution", "sa")
PARALLEL = (4, 4)
PLACED = (7, 14)
SYNTHESIZED = (28, 56)
#: the paper's layers (the ResNet stages), weights placed by the memory budget
#: (``hw.geometry.choose_weights``): on chip where they fit, else tiles from external memory
LARGE = {"stage3": 14, "stage2": 28}
#: large points placed and routed, and synthesized (Yosys only); the rest is modelled: a
#: C = 256 design takes Yosys alone about 15 minutes on two cores
LARGE_PLACED = {("stage3", "pssa")}
LARGE_SYNTHESIZED = {("stage3", "conv")}
SIMULATED = (7, 14)
ERROR_SIZES = (7, 14, 28)
FRAMES = 2  # cycles per frame from two frames back to back (the steady state)


@dataclass
class Point:
    form: str
    size: int
    shift: int
    workload: str
    memory_bits: int
    weight_bits: int
    cycles_per_frame: float
    first_output: int
    bottleneck: str
    rtl_cycles: int | None = None
    model_cycles_1: int | None = None
    synth: dict | None = None
    weights: str = "on chip"
    external_bytes: int = 0       # read from external memory a frame
    bandwidth: float = 0.0        # bits a cycle the weight fetch needs to keep the MAC array busy
    fits: bool = True

    @property
    def n(self) -> int:
        return self.size * self.size


def block_ram_bits() -> int:
    return BLOCK_RAM_BITS[ECP5]


def config(form: str, size: int, shift: int, workload: str = "sweep"):
    """The engine of a point; the large workloads with their weights placed by the budget
    (the on-chip configuration when nothing fits: it is reported as not fitting); registers
    on the counts between units where they cost no throughput (``with_count_registers``)."""
    simd, pe = PARALLEL
    if workload in LARGE:
        cfg = preset(workload, attention=form, simd=simd, pe=pe)
        return with_count_registers(choose_weights(cfg, block_ram_bits()) or cfg)
    return with_count_registers(sweep(size, shift, attention=form, simd=simd, pe=pe))


def refetch_bytes(cfg) -> int:
    """What a frame-wide attention would read from external memory a frame if its frame
    stayed off chip: every query re-reads every pixel's key (D values) and x (C_in values)."""
    return cfg.n_pixels ** 2 * (cfg.d + cfg.c_in) * cfg.fmt.data_bits // 8


def model_point(form: str, size: int, shift: int, workload: str = "sweep") -> Point:
    cfg = config(form, size, shift, workload)
    geo = Geometry(cfg)
    bits = geo.buffer_bits()
    weights = sum(bits[r.name] for r in geo.regions) + bits.get("weight tiles", 0)
    two, one = predict(cfg, FRAMES), predict(cfg, 1)
    fits = sum(bits.values()) <= block_ram_bits()
    external = geo.tiles_bytes_per_frame if cfg.external_weights else 0
    if not fits and geo.hold >= cfg.n_pixels:  # the frame itself is what does not fit
        external += refetch_bytes(cfg)
    return Point(form=form, size=size, shift=shift, workload=workload,
                 memory_bits=sum(bits.values()), weight_bits=weights,
                 cycles_per_frame=two.cycles_per_frame, first_output=one.first_output,
                 bottleneck=two.bottleneck, model_cycles_1=one.cycles,
                 weights=("on chip" if not cfg.external_weights else
                          f"external, {cfg.tiles} x {cfg.tile_co} ch"),
                 external_bytes=external, bandwidth=weight_bandwidth(geo), fits=fits)


def points() -> list[Point]:
    out = []
    for size in SWEEP_SIZES:
        for form in FORMS:
            for shift in (SWEEP_SHIFTS if form == "pssa" else SWEEP_SHIFTS[:1]):
                out.append(model_point(form, size, shift))
    out += [model_point(form, size, 1, workload) for workload, size in LARGE.items()
            for form in FORMS]
    return out


def simulate(p: Point) -> int:
    """RTL cycles of one frame (cocotb + Verilator); the vectors check every word too."""
    from golden.generate import make_vector_set
    from golden.vectors import write_vectors
    from sim.runner import run_vectors

    cfg = config(p.form, p.size, p.shift, p.workload)
    folder = ROOT / "build" / "compare" / f"{p.workload}{p.size}-L{p.shift}-{p.form}"
    write_vectors(make_vector_set(cfg, frames=1, seed=3), folder)
    return run_vectors(folder, "verilator")["cycles"]


def synthesize_point(p: Point, large_placed=LARGE_PLACED) -> SynthResult:
    """Synthesis result of a point (cached by the Verilog's SHA-256, ``synthesize_cached``: a
    rerun after a report change does not place and route again); of the paper's layers those
    in ``large_placed`` are placed."""
    cfg = config(p.form, p.size, p.shift, p.workload)
    place = ((p.workload == "sweep" and p.size in PLACED)
             or (p.workload, p.form) in large_placed)
    want = SEEDS_BELOW_MHZ if p.workload == "sweep" else None  # as make bench's small points
    return memory_misfit(cfg) or synthesize_cached(cfg, ECP5, ROOT, place=place, router=ROUTERS,
                                                   want_mhz=want)


def fixed_point_errors() -> list[dict]:
    from golden.generate import fixed_point_error

    rows = []
    jobs = [(form, size) for size in ERROR_SIZES for form in FORMS]
    for form, size in tqdm(jobs, desc="fixed-point error", unit="layer", leave=False):
        cfg = sweep(size, 1, attention=form)
        for source in ("random", "image"):
            err = fixed_point_error(cfg, source, frames=2, seed=0)
            rows.append({"form": form, "size": size, "source": source,
                         "sqnr_db": err.sqnr_db, "max_lsb": err.max_lsb})
    return rows


def run(synth: bool = True, sim: bool = True, out: Path | None = None,
        place_large: bool = True) -> Path:
    """``place_large`` False: the paper's layers in ``LARGE_PLACED`` are synthesized but not
    placed (their placement takes about an hour)."""
    large_placed = LARGE_PLACED if place_large else set()
    out = out or ROOT / "docs" / "pssa-vs-sa.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    pts = points()
    if sim:
        todo = [p for p in pts if p.workload == "sweep" and p.size in SIMULATED and p.shift == 1]
        for p in tqdm(todo, desc="RTL simulation", unit="engine"):
            p.rtl_cycles = simulate(p)
    if synth:
        large = LARGE_PLACED | LARGE_SYNTHESIZED
        todo = [p for p in pts if p.shift == 1 and (
            (p.workload == "sweep" and p.size in PLACED + SYNTHESIZED)
            or (p.workload, p.form) in large)]
        for p in tqdm(todo, desc="synthesis (ECP5-85F)", unit="engine"):
            p.synth = synthesize_point(p, large_placed).as_dict()
            tqdm.write(f"{p.workload}{p.size} {p.form}: {json.dumps(p.synth)}")
    errors = fixed_point_errors()
    plot(pts, out.with_suffix(".png"))
    write_report(pts, errors, out, out.with_suffix(".png").name, synth, large_placed)
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "compare.json").write_text(json.dumps(
        {"points": [asdict(p) for p in pts], "errors": errors}, indent=2))
    return out


NAMES = {"conv": "conv (baseline)", "pssa": "PSSA", "involution": "involution",
         "sa": "full SA"}
MARKERS = {"conv": "d", "pssa": "o", "involution": "x", "sa": "s"}
WIDTHS = {"conv": 1.0, "pssa": 3, "involution": 1.2, "sa": 1.5}


def plot(pts: list[Point], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sweep_pts = [p for p in pts if p.workload == "sweep"]
    for form in FORMS:
        for shift in SWEEP_SHIFTS:
            line = [p for p in sweep_pts if p.form == form and p.shift == shift]
            if not line:
                continue
            label = NAMES[form] + (f", L = {shift}" if form == "pssa" else "")
            # PSSA and involution nearly coincide: thinner lines and other markers on top
            look = dict(ls="--" if shift == 2 else "-", marker=MARKERS[form], lw=WIDTHS[form],
                        label=label)
            ns = [p.n for p in line]
            ax1.plot(ns, [p.memory_bits / 2**20 for p in line], **look)
            ax2.plot(ns, [p.cycles_per_frame for p in line], **look)
    capacity = block_ram_bits() / 2**20
    ax1.axhline(capacity, color="gray", lw=1, ls=":")
    ax1.text(sweep_pts[0].n, capacity * 1.15, "ECP5-85F block RAM", fontsize=8, color="gray")
    ax1.set_ylabel("on-chip memory (Mbit)")
    ax2.set_ylabel("cycles per frame")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("pixels per frame N = H x W (C = 64)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    simd, pe = PARALLEL
    fig.suptitle(f"X-volution engines at SIMD x PE = {simd} x {pe}: memory and cycles against "
                 "frame size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ratio(pts, size, key) -> float:
    get = {p.form: getattr(p, key) for p in pts
           if p.workload == "sweep" and p.size == size and p.shift == 1}
    return get["sa"] / get["pssa"]


def _synth_cells(s: dict | None) -> str:
    if s is None:
        return "| | | | | | (model only)"
    if not s["fits"] and s["note"].startswith("does not fit"):
        return f"| | | | | | {s['note']}"
    fmax = f"{s['fmax_mhz']:.1f}" if s["fmax_mhz"] else "-"
    return f"{s['luts']} | {s['ffs']} | {s['dsps']} | {s['brams']} | {fmax} | " + \
        ("fits" + (" (not placed)" if not s["fmax_mhz"] else ""))


def _versus(value, base, unit: str = "x") -> str:
    if value is None or base is None:
        return "-"
    if unit == "x":
        return f"{value / base:.2f}x"
    return f"{value - base:+,}"


def over_baseline(pts) -> list[str]:
    """What each attention form costs over the plain convolution, point by point."""
    lines = [
        "## What attention costs over the plain convolution", "",
        f"Each attention form against `{BASELINE}`, the K x K convolution + BN that X-volution "
        "replaces, built on the same engine (the same input stage, MAC array, weight memories "
        "and output stage; it has no attention units, no z buffer and no z tap, so its MAC "
        "array does K^2 instead of K^2 + 1 taps a pixel). Ratios are form / conv; resources "
        "are the difference (+ more than conv); Fmax is form vs conv.", "",
        "| workload | form | memory | cycles / frame | first output | LUT4 | MULT18 | DP16KD "
        "| Fmax MHz (form vs conv) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(p.workload, p.size, p.form): p for p in pts if p.shift == 1}
    for workload, size in [("sweep", s) for s in SWEEP_SIZES] + list(LARGE.items()):
        base = by[workload, size, BASELINE]
        name = workload if workload in LARGE else f"sweep {size}x{size}"
        for form in FORMS[1:]:
            p = by[workload, size, form]
            synth = [(p.synth or {}).get(k) if (p.synth or {}).get("fits") else None
                     for k in ("luts", "dsps", "brams", "fmax_mhz")]
            ref = [(base.synth or {}).get(k) if (base.synth or {}).get("fits") else None
                   for k in ("luts", "dsps", "brams", "fmax_mhz")]
            fmax = (f"{synth[3]:.1f} vs {ref[3]:.1f}" if synth[3] and ref[3] else "-")
            lines.append(
                f"| {name} | {NAMES[form]} | {_versus(p.memory_bits, base.memory_bits)} | "
                f"{_versus(p.cycles_per_frame, base.cycles_per_frame)} | "
                f"{_versus(p.first_output, base.first_output)} | "
                f"{_versus(synth[0], ref[0], '+')} | {_versus(synth[1], ref[1], '+')} | "
                f"{_versus(synth[2], ref[2], '+')} | {fmax} |")
    lines += [
        "", "PSSA and involution cost the convolution about one tap of MAC-array time (K^2 + 1 "
        "taps instead of K^2: the z tap, 1/K^2 more cycles), a q/k (or u) ring of a window's "
        "rows and a few dozen multipliers in their attention units. Their first output comes "
        "several times later: the input is taken at the projection's rate (a chunk every "
        "2D / PJ cycles, against one a cycle for the convolution, which projects nothing) until "
        "the first window is in, then the attention pipeline runs before the MAC array's "
        "first pixel; in steady state that rate is hidden behind the MAC array. Full SA costs "
        "the frame: its memory, "
        "cycles and latency grow with N against the convolution's fixed window.", ""]
    return lines


#: the available bandwidths of the sweep: a 64-bit port with a beat every 1 .. 512 cycles
INTERVALS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def bandwidth_sweep(workload: str = "stage3") -> dict[str, list[tuple[float, float]]]:
    """Cycles per frame (two frames) against the bits a cycle the weight port brings, for
    each form of ``workload`` (cycle model, ``MemoryTiming(interval=k)``)."""
    out = {}
    for form in FORMS:
        cfg = config(form, LARGE[workload], 1, workload)
        if not cfg.external_weights:
            continue
        geo = Geometry(cfg)
        out[form] = [(MemoryTiming(interval=k).bits_per_cycle(geo),
                      predict(cfg, FRAMES, MemoryTiming(interval=k)).cycles_per_frame)
                     for k in INTERVALS]
    return out


def plot_bandwidth(sweep_points: dict, path: Path, workload: str = "stage3") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for form, line in sweep_points.items():
        ax.plot([b for b, _ in line], [c for _, c in line], marker=MARKERS[form],
                lw=WIDTHS[form], label=NAMES[form])
    for form in sweep_points:
        need = weight_bandwidth(Geometry(config(form, LARGE[workload], 1, workload)))
        ax.axvline(need, color="gray", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("weight-port bandwidth (bits a cycle; 64-bit AXI4, a beat every k cycles)")
    ax.set_ylabel("cycles per frame")
    ax.set_title(f"{workload}, weights from external memory: cycles against bandwidth\n"
                 "(dotted: the bandwidth that keeps the MAC array busy)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bandwidth_section(pts, sweep_points: dict, plot_name: str) -> list[str]:
    lines = ["## Weights from external memory", "",
             "Where the weights live off chip (docs/external-memory.md), the MAC array reuses "
             "each weight over the frame's N pixels, so the weight port needs only a tile's "
             "image over the cycles the array spends on that tile: 8 PE SIMD / N bits a cycle "
             "for int8, whatever the tile (`sim.cycle_model.weight_bandwidth`):", "",
             "| workload | form | weights | external bytes / frame | bandwidth needed "
             "(bits / cycle) | at 100 MHz (MB/s) |", "|---|---|---|---|---|---|"]
    for p in pts:
        if p.workload in LARGE and p.weights != "on chip":
            lines.append(f"| {p.workload} | {NAMES[p.form]} | {p.weights} | "
                         f"{p.external_bytes:,} | {p.bandwidth:.2f} | "
                         f"{p.bandwidth * 100e6 / 8 / 1e6:.1f} |")
    lines += ["", f"![cycles against bandwidth]({plot_name})", "",
              "Below that bandwidth the fetch of the next tile outlasts the current tile's "
              "compute and the cycles per frame grow as 1 / bandwidth (cycle model with a "
              "64-bit port and a beat every k cycles, `MemoryTiming(interval=k)`; the model "
              "equals the RTL cycle for cycle with the testbench's memory at full rate, "
              "tests/test_cycle_model.py). Any DDR or even a 16-bit SDRAM delivers far more "
              "than a bit a cycle: on the ECP5-85F the weights cost a tile of block RAM, not "
              "bandwidth.", ""]
    return lines


def write_report(pts, errors, path: Path, plot_name: str, synth: bool,
                 large_placed=LARGE_PLACED) -> None:
    simd, pe = PARALLEL
    lines = [
        "# PSSA versus involution versus full self-attention, in hardware, against the plain "
        "convolution",
        "",
        "Regenerated by `make compare` (`python -m reports compare`, reports/compare.py); every "
        "figure comes from that command. All four engines (the plain convolution, the baseline, "
        "and the three attention forms) are the ones in hw/ (bit-exact "
        "against golden/ in `make test`), built at the same parallelism, SIMD x PE = "
        f"{simd} x {pe}, for the spec's sweep (C = 64, D = 8, K = 3) and stage3.",
        "",
        "- memory: every memory the RTL declares (`Geometry.buffer_bits`): weights and the "
        "activation buffers; full SA must hold the whole frame (its ring keeps about two "
        "frames, rounded up to a power of two, so the next frame streams in while the current "
        "one is attended) plus N logits a query;",
        "- cycles per frame: two frames back to back, stall-free (cycle model; equal to the RTL "
        "wherever simulated, column 'RTL = model');",
        "- first output: cycles from the first input beat to the first output beat;",
        "- resources and Fmax: ECP5-85F, YoWASP Yosys + nextpnr, routed by router1 "
        "(nextpnr's default) and by router2 where router1 does not finish in "
        f"{FIRST_ROUTER_TIMEOUT_S // 60} minutes (`reports.synth.ROUTERS`; each point's "
        "router under the clock's paragraph) (I/O "
        "registered, reports/synth.py; the multipliers as MULT18X18D with their input "
        "registers, hw/dsp.py; each block RAM's output flip-flops in its output register, "
        "hw/bram_outreg.py; the counts between units registered where that costs no "
        "throughput, `sim.cycle_model.with_count_registers`), placed at "
        f"{', '.join(f'{s} x {s}' for s in PLACED)} (placement seed 1; a point below "
        f"{SEEDS_BELOW_MHZ:.0f} MHz is placed with seeds 2, then 3, too and the best kept, "
        "every seed's Fmax under the clock's paragraph), Yosys only at "
        f"{', '.join(f'{s} x {s}' for s in SYNTHESIZED)}; of the paper's layers, "
        + "".join(f"{w} {NAMES[f]} placed, " for w, f in sorted(large_placed))
        + ", ".join(f"{w} {NAMES[f]}" for w, f in sorted(LARGE_SYNTHESIZED
                                                        | (LARGE_PLACED - large_placed)))
        + " Yosys only"
        + (" (stage3 PSSA not placed in this run: `--no-large-place`, its placement takes "
           "about an hour), " if LARGE_PLACED - large_placed else ", ")
        + "the other forms from the model (a C = 256 design takes Yosys and nextpnr about "
        "half an hour on two cores); a design whose memories exceed the "
        "device's 3.7 Mbit of block RAM is reported as not fitting without synthesis.",
        "- weights: stage3 and stage2 place their weights by the memory budget "
        f"(`hw.geometry.choose_weights`, {BLOCK_RAM_FILL:.0%} of the block RAM's bits, the x ring "
        "counted twice where two units read it): on chip where they fit, else in "
        "external memory, fetched over AXI4 a tile of output channels at a time "
        "(docs/external-memory.md); stage3's weights alone (5.0 Mbit) exceed the device, so "
        "every form there runs tiled;",
        "- external bytes / frame: the weight image, read once a frame (every tile once; "
        "each weight is reused over the frame's N pixels). Where a form does not fit because "
        "it must hold the whole frame (full SA), the figure in parentheses is what it would "
        "read instead if the frame stayed in external memory: every query re-reads every "
        "pixel's key and x, N^2 (D + C_in) bytes, plus the weights.",
        "",
        "| workload | form | N | weights | on-chip memory (kbit) | of which weights "
        "| external bytes / frame | cycles / frame "
        "| first output | bottleneck | RTL = model | LUT4 | FF | MULT18 | DP16KD | Fmax MHz "
        "| ECP5-85F |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in pts:
        name = p.workload if p.workload in LARGE else f"sweep {p.size}x{p.size}"
        form = NAMES[p.form] + (f", L = {p.shift}" if p.form == "pssa" else "")
        rtl = "-" if p.rtl_cycles is None else \
            ("yes" if p.rtl_cycles == p.model_cycles_1 else f"NO ({p.rtl_cycles})")
        external = (f"{p.external_bytes:,}" if p.fits else
                    f"({p.external_bytes:,} if the frame stayed off chip)")
        lines.append(
            f"| {name} | {form} | {p.n} | {p.weights} | {p.memory_bits / 1024:,.0f} | "
            f"{p.weight_bits / 1024:,.0f} | {external} | {p.cycles_per_frame:,.0f} | "
            f"{p.first_output:,} | {p.bottleneck} | {rtl} | {_synth_cells(p.synth)} |")
    placed = [p for p in pts if p.synth and p.synth["fmax_mhz"]]
    if placed:
        fmax = {f: [p.synth["fmax_mhz"] for p in placed if p.form == f] for f in FORMS}
        slow = [p for p in placed if p.synth["fmax_mhz"] < SEEDS_BELOW_MHZ]
        lines += ["", "Placed designs: Fmax " + ", ".join(
            f"{NAMES[f]} {min(v):.1f}-{max(v):.1f} MHz" for f, v in fmax.items() if v) +
            ". The clock does not separate the forms (all four share the MAC array, the "
            "weight memories and the requantizers); "
            + (f"{len(placed) - len(slow)} of {len(placed)} placed points reach "
               f"{SEEDS_BELOW_MHZ:.0f} MHz. " if slow else
               f"every placed point reaches {SEEDS_BELOW_MHZ:.0f} MHz. ")
            + "What separates the forms is below. Each point's worst path at speed grade 6 "
            "(from, to: total delay, logic and routing):", ""]
        lines += [f"- {NAMES[p.form]} {p.size} x {p.size}, {p.synth['fmax_mhz']:.1f} MHz"
                  + (f", {p.synth['routed_by']}" if p.synth.get("routed_by") else "")
                  + seeds_note(p.synth.get("seed_fmax"), p.synth.get("seed"))
                  + f": `{p.synth['critical_path']}`" for p in placed]
    lines += ["", "![memory and cycles against N](" + plot_name + ")", ""]
    lines += over_baseline(pts)
    bw_name = path.with_name(path.stem + "-bandwidth.png").name
    sweep_points = bandwidth_sweep()
    plot_bandwidth(sweep_points, path.with_name(bw_name))
    lines += bandwidth_section(pts, sweep_points, bw_name)
    lines += ["## Full SA against PSSA", ""]
    for size in SWEEP_SIZES:
        lines.append(
            f"- {size} x {size} (N = {size * size}): full SA needs "
            f"{_ratio(pts, size, 'memory_bits'):.1f}x the on-chip memory of PSSA (L = 1), "
            f"{_ratio(pts, size, 'cycles_per_frame'):.1f}x its cycles per frame and "
            f"{_ratio(pts, size, 'first_output'):.1f}x its latency to the first output.")
    lines += [
        "",
        "Why: PSSA and involution keep a window of a few rows (`reach` = R W + R pixels) and do "
        "a fixed amount of work a pixel (9 logits and 9 x C_in aggregation products for PSSA, "
        "G K^2 kernel values and K^2 x C_in products for involution), so their memory grows "
        "with W and their cycles with N, and the MAC array (the convolution) stays the "
        "bottleneck. Full SA attends every query to every pixel: the softmax unit computes N "
        f"logits twice over (2N + {span_extra(config('sa', SWEEP_SIZES[0], 1))} cycles a "
        "query at the sweep's D) and the aggregation "
        "N x C_in / SIMD "
        "products, so its cycles grow with N^2 and, beyond a few dozen pixels, the attention "
        "units, not the MAC array, set the rate; it cannot emit the first output before the "
        "whole frame is in, and its buffers hold a frame or two.",
        "",
        "## Accuracy side",
        "Fixed-point (int8) error of each form against its own float model (S8), random "
        "layers, 2 frames (`golden.generate.fixed_point_error`):",
        "",
        "| size | form | SQNR random (dB) | SQNR photographs (dB) | max error (LSB) |",
        "|---|---|---|---|---|",
    ]
    for size in ERROR_SIZES:
        for form in FORMS:
            row = {e["source"]: e for e in errors if e["form"] == form and e["size"] == size}
            lines.append(f"| {size} x {size} | {NAMES[form]} | {row['random']['sqnr_db']:.1f} "
                         f"| {row['image']['sqnr_db']:.1f} | "
                         f"{max(row['random']['max_lsb'], row['image']['max_lsb']):.1f} |")
    spans = []
    for form in FORMS:
        vals = [e["sqnr_db"] for e in errors if e["form"] == form]
        spans.append(f"{NAMES[form]} {min(vals):.1f} to {max(vals):.1f} dB")
    lines += ["", "SQNR over these layers: " + ", ".join(spans) + ". Full SA's shift-and-table "
              "softmax (16 table words and one reciprocal a query, docs/fixed-point.md) does "
              "not make it less accurate than PSSA: its output averages over the whole frame, "
              "which also averages the rounding noise. In hardware, the accuracy is not what "
              "separates the forms; memory, cycles and latency are.", ""]
    if not synth:
        lines += ["(Run without synthesis: resources not measured.)", ""]
    path.write_text("\n".join(lines))
