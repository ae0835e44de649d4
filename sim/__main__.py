"""python -m sim: run the engine's Verilog under cocotb on golden vectors and report."""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

from hw.attention import FORMS
from golden.options import add_config_arguments, config_from_args

from .runner import (DESIGNS, SIMULATORS, BuildFailed, SimulatorMissing, require_simulator,
                     run_vectors)

ROOT = Path(__file__).resolve().parent.parent


def vectors_for(cfg, frames: int, seed: int, source: str) -> Path:
    """Write (or reuse) the vector set of a configuration under build/vectors/."""
    from golden.generate import make_vector_set
    from golden.vectors import VectorFileError, read_vectors, write_vectors

    key = hashlib.sha256(json.dumps([cfg.to_dict(), frames, seed, source],
                                    sort_keys=True).encode()).hexdigest()[:12]
    folder = ROOT / "build" / "vectors" / f"{cfg.name}-{key}"
    try:
        read_vectors(folder, expect=cfg)
    except VectorFileError:
        write_vectors(make_vector_set(cfg, frames=frames, seed=seed, source=source), folder)
    return folder


def checked_config(args: argparse.Namespace):
    """The configuration and frame count of a command, refused before any work (vectors,
    Verilog) if the engine cannot run them: the golden model's rules and the engine's own
    (``hw.geometry.Geometry``: each form's refusals, from the registry)."""
    from hw.geometry import Geometry

    cfg = config_from_args(args)
    if args.frames < 1:
        raise ValueError(f"frames: must be >= 1, got {args.frames}")
    Geometry(cfg)
    return cfg


def given_vectors(args: argparse.Namespace):
    """``--vectors DIR``: the validated vector set, whose manifest holds the configuration and
    the frames (so configuration options are refused rather than silently ignored)."""
    from golden.options import overrides_from_args
    from golden.vectors import read_vectors
    from hw.geometry import Geometry

    given = overrides_from_args(args)
    if given:
        raise ValueError(f"--vectors: the vector set holds the configuration; drop "
                         f"{', '.join('--' + k.replace('_', '-') for k in given)}")
    vs = read_vectors(Path(args.vectors))
    Geometry(vs.cfg)
    return vs.cfg, vs.frames, Path(args.vectors).resolve()


def describe_prediction(pred) -> list[str]:
    """The cycle model's figures (sim/cycle_model.py), one a line."""
    return [f"cycles (first input to last output): {pred.cycles} for {pred.frames} frame(s), "
            f"{pred.cycles_per_frame:.0f} per frame",
            f"first output after {pred.first_output} cycles",
            f"MAC utilization: {100 * pred.mac_utilization:.1f}% "
            f"(steady state {100 * pred.steady_state_utilization:.1f}%)",
            f"bottleneck: {pred.bottleneck}, {pred.bottleneck_cycles_per_pixel} cycles a pixel"]


def model_versus_rtl(cfg, frames: int, rtl_cycles: int, stall: float) -> str:
    """The model's prediction beside the RTL's count: equal, or the difference."""
    from .cycle_model import predict

    model = predict(cfg, frames).cycles
    diff = rtl_cycles - model
    verdict = ("equal" if diff == 0 else
               f"the RTL took {abs(diff)} cycles {'more' if diff > 0 else 'fewer'} "
               f"({100 * diff / model:+.1f}%)")
    note = " (the model assumes stall-free streams)" if stall > 0 else ""
    return f"cycle model: {model} cycles, {verdict}{note}"


def cmd_run(args: argparse.Namespace) -> int:
    if args.vectors:
        cfg, frames, folder = given_vectors(args)
    else:
        cfg, frames, folder = checked_config(args), args.frames, None
    require_simulator(args.simulator)  # before any work: one line if it is missing
    print(f"configuration: {cfg.describe()}")
    t0 = time.time()
    if folder is None:
        print(f"[1/2] golden vectors: {frames} frame(s), {args.source} data, seed {args.seed}",
              flush=True)
        folder = vectors_for(cfg, frames, args.seed, args.source)
        print(f"      {folder.relative_to(ROOT)}")
    else:
        print(f"[1/2] golden vectors: {frames} frame(s) from {folder}", flush=True)
    what = {"rtl": "", "ecp5-rtl": " the ECP5 form's Verilog,",
            "ecp5-netlist": " the ECP5 form's synthesized netlist,",
            "rtl-poisoned": " the Verilog with colliding ring reads inverted,"}[args.design]
    print(f"[2/2] {args.simulator}:{what} build (cached per configuration) and simulate",
          flush=True)
    result = run_vectors(folder, simulator=args.simulator, stall=args.stall, seed=args.seed,
                         waves=args.waves, design=args.design)
    f = result.figures
    print(f"simulator: {args.simulator}, stall probability on both streams: {args.stall}")
    print(f"outputs compared: {f['outputs_compared']}, mismatches: {f['mismatches']}, "
          f"extra beats: {f['extra_beats']}, misplaced tuser: {f['mark_errors']}")
    print(f"cycles (first input to last output): {f['cycles']} for {f['frames']} frame(s), "
          f"{f['cycles_per_frame']:.0f} per frame")
    print(model_versus_rtl(cfg, frames, f["cycles"], args.stall))
    print(f"MAC utilization: {100 * f['mac_utilization']:.1f}% "
          f"({f['mac_busy_cycles']} busy cycles of the {cfg.simd}x{cfg.pe} array)")
    for wave in f["waves"]:
        print(f"waves: {wave}")
    print(f"log: {f['log']}\nPASS ({time.time() - t0:.1f} s)")
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    """The cycle model's prediction alone: no vectors, no Verilog, no simulator."""
    from .cycle_model import predict

    cfg = checked_config(args)
    print(f"configuration: {cfg.describe()}")
    print("cycle model (stall-free streams):")
    for line in describe_prediction(predict(cfg, args.frames)):
        print(f"  {line}")
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .soak import soak

    if args.draws < 1:
        raise ValueError(f"draws: must be >= 1, got {args.draws}")
    require_simulator(args.simulator)
    totals = soak(args.draws, args.seed, args.simulator,
                  progress=lambda seeds: tqdm(seeds, desc="random configurations", unit="cfg"))
    for seed, described, message in totals.failures:
        print(f"FAIL seed {seed}: {described}\n  {message}")
    print(totals.summary())
    if totals.failures:
        print(f"{len(totals.failures)} of {args.draws} draws failed; rerun one with "
              f"`python -m sim soak --draws 1 --seed SEED`")
        return 1
    return 0


#: `make formal ARGS="--weights ..."`: which configurations of each form are proven
WEIGHT_PLACES = {"chip": (False,), "external": (True,), "both": (False, True)}
#: `--count-registers`: without them, with them, or both
COUNT_REGISTERS = {"0": (0,), "1": (1,), "both": (0, 1)}


def cmd_formal(args: argparse.Namespace) -> int:
    """Every proof of every form (or those named), a progress line each; the results also go
    to build/formal/results.json."""
    import json

    from .formal import BROKEN, ROOT, broken_task, fault_config, formal_config, run_task, tasks

    # every form with its weights on chip, then with external weights (two tiles), then with
    # the count registers (on chip: they touch nothing of the weight fetch)
    variants = [(external, counts) for counts in COUNT_REGISTERS[args.count_registers]
                for external in WEIGHT_PLACES[args.weights] if not (external and counts)]
    if not variants:
        raise ValueError("count-registers: the count registers are proven with the weights on "
                         "chip; --weights external --count-registers 1 leaves nothing to prove")
    configs = [(f"{form}{' external' if external else ''}{' counts' if counts else ''}",
                formal_config(form, external, counts))
               for external, counts in variants for form in args.forms]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "unknown"
    props = set(args.properties)
    plan = [(label, cfg, task) for label, cfg in configs for task in tasks(cfg)
            if task.prop in props]
    plan += [(args.forms[0], fault_config(args.forms[0], fault),
              broken_task(fault_config(args.forms[0], fault), fault))
             for fault in (BROKEN if args.broken else ()) if BROKEN[fault][0] in props]
    # the results this run does not prove again stay (a run of some forms or properties adds
    # to them): the others' proofs, and the broken variants' where this run has none
    store = ROOT / "build" / "formal" / "results.json"
    labels = {label for label, _ in configs}

    def proven_again(r) -> bool:
        if r["property"] not in props:
            return False
        return args.broken if r["fault"] else r["form"] in labels

    kept = [r for r in (json.loads(store.read_text()) if store.exists() else [])
            if not proven_again(r)]
    if args.jobs < 1:
        raise ValueError(f"jobs: at least 1 proof at a time, got {args.jobs}")

    def prove(entry):
        form, cfg, task = entry
        name = (f"{form.replace(' ', '-')}-{task.prop}-{task.mode}"
                + (f"-{task.fault}" if task.fault else ""))
        return run_task(name, cfg, task, timeout=args.timeout)

    # each proof is one solver process, --jobs of them at a time, the deepest first: the
    # longest proofs (two frames of the largest form) then start at once instead of after the
    # short ones, and the run ends when they do rather than long after
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        deepest_first = sorted(range(len(plan)), key=lambda i: -plan[i][2].depth)
        futures = {pool.submit(prove, plan[i]): i for i in deepest_first}
        done = ((futures[f], f.result()) for f in as_completed(futures))
        failed = _report_proofs(plan, done, kept, store, commit, args.jobs)
    print(f"{len(plan) - failed} of {len(plan)} proofs as expected; docs/formal-results.md")
    return 1 if failed else 0


def _report_proofs(plan, done, kept, store, commit, jobs) -> int:
    """A progress line for each proof as it ends; the results stored after every one (in the
    plan's order), so that an interrupted run leaves what it proved.  ``done`` yields each
    proof with its index in ``plan``.  Returns the proofs not as expected."""
    import json

    from .formal import ROOT

    failed, rows = 0, {}
    for n, (i, proof) in enumerate(done, 1):
        form, _, task = plan[i]
        expected = "FAIL" if task.fault else "PASS"
        ok = proof.status == expected
        failed += not ok
        what = "witness" if task.mode == "cover" else "counterexample"
        trace = f"; {what} {proof.trace.relative_to(ROOT)}" if proof.trace else ""
        stopped = (f" after {proof.checked} steps" if proof.status == "TIMEOUT"
                   and "bmc" in proof.mode else "")
        print(f"[{n}/{len(plan)}] {form} {task.describe()}: {proof.status}{stopped} as {proof.mode} "
              f"({proof.seconds:.0f} s){trace}{'' if ok else '  <-- expected ' + expected}",
              flush=True)
        rows[i] = {"form": form, "property": task.prop, "mode": proof.mode,
                   "depth": task.depth, "fault": task.fault, "status": proof.status,
                   "seconds": round(proof.seconds, 1), "checked": proof.checked,
                   "commit": commit}
        results = [rows[j] for j in sorted(rows)]
        store.write_text(json.dumps(kept + results, indent=2))
        write_formal_report(kept + results, len(kept) + len(plan),
                            ROOT / "docs" / "formal-results.md", jobs)
    return failed


def write_formal_report(results: list[dict], planned: int, path, jobs: int = 1) -> None:
    """The proofs of a `make formal` run as a table (docs/verification.md refers to it)."""
    import platform

    lines = [
        "# Formal proofs: results of the last `make formal`",
        "",
        f"Forms: {', '.join(sorted({r['form'] for r in results}))}; {len(results)} of "
        f"{planned} proofs done. "
        "Written by `make formal` (`python -m sim formal`, sim/formal.py); what each property "
        "asserts is in docs/verification.md. Configurations: `sim.formal.SMALL` (weights on "
        "chip), `sim.formal.EXTERNAL` (two tiles fetched over AXI4) and `SMALL` with the "
        "count registers ('counts', `XvConfig.count_registers`). Mode: a bounded model "
        "check (bmc) is a proof for every trace up to its depth; prove: k-induction closed, a "
        "proof for every trace of any length; a cover is a witness that the "
        "depth reaches what it names (a loaded engine, a complete frame, a waiting beat, a "
        "reset mid-frame); a broken variant must fail. Seconds: wall time of SymbiYosys with "
        f"Boolector on this machine ({platform.machine()}, "
        f"{'one proof' if jobs == 1 else f'{jobs} proofs'} at a time). Commit: the "
        "commit whose design the proof ran on (a run of some forms keeps the others' rows).",
        "",
        "| configuration | property | mode | depth | broken variant | result | seconds | commit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        status = r["status"]
        if status == "TIMEOUT" and "bmc" in r["mode"]:  # how far the bounded check got
            status += f" ({r.get('checked', 0)} steps hold)"
        lines.append(f"| {r['form']} | {r['property']} | {r['mode']} | {r['depth']} | "
                     f"{r['fault'] or '-'} | {status} | {r['seconds']:.0f} | "
                     f"{r.get('commit', '-')} |")
    total = sum(r["seconds"] for r in results)
    lines += ["", f"{len(results)} proofs, {total / 60:.0f} minutes in all."]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim",
                                     description="cocotb simulation of the generated Verilog.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="simulate one configuration against the golden model")
    add_config_arguments(p)
    p.add_argument("--simulator", choices=sorted(SIMULATORS), default="verilator")
    p.add_argument("--frames", type=int, default=2, help="frames back to back (default 2)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--source", choices=("random", "image"), default="random")
    p.add_argument("--stall", type=float, default=0.0,
                   help="probability that the source idles / the sink refuses a beat")
    p.add_argument("--waves", action="store_true", help="write a VCD waveform (GTKWave, Surfer)")
    p.add_argument("--vectors", metavar="DIR",
                   help="simulate this vector set (`python -m golden vectors`) instead of "
                        "writing one; its manifest gives the configuration and frames")
    p.add_argument("--design", choices=DESIGNS, default="rtl",
                   help="rtl: the generated Verilog (default); ecp5-rtl: the ECP5 form "
                        "(MULT18X18D with its input registers, hw/dsp.py) with sim/models' "
                        "MULT18X18D; "
                        "ecp5-netlist: that form synthesized by Yosys (synth_ecp5 -nobram), "
                        "with Yosys's cell models (icarus; minutes); ecp5-netlist-bram: the "
                        "same with block RAMs (DP16KD, sim/models' model); "
                        "ecp5-netlist-outreg: that after hw/bram_outreg.py (make synth "
                        "--bram-outreg); rtl-poisoned: the "
                        "generated Verilog with every ring read that meets a write of its "
                        "word inverted (the rings' no_rw_check is safe if it still matches)")
    p.set_defaults(run=cmd_run)
    p = sub.add_parser("model", help="the cycle model's prediction alone (no simulation)")
    add_config_arguments(p)
    p.add_argument("--frames", type=int, default=2, help="frames back to back (default 2)")
    p.set_defaults(run=cmd_model, stall=0.0)
    p = sub.add_parser("soak", help="random configurations with random stalls (sim/soak.py)")
    p.add_argument("--draws", type=int, default=40, help="configurations to draw (default 40)")
    p.add_argument("--seed", type=int, default=1000, help="seed of the first draw")
    p.add_argument("--simulator", choices=sorted(SIMULATORS), default="verilator")
    p.set_defaults(run=cmd_soak, stall=0.0)
    p = sub.add_parser("formal", help="formal proofs of the stream contracts (sim/formal.py)")
    p.add_argument("--forms", nargs="+", default=list(FORMS), choices=list(FORMS),
                   help="the forms to prove (default: every form of the registry)")
    from .formal import TIMEOUT
    p.add_argument("--timeout", type=int, default=TIMEOUT, metavar="SECONDS",
                   help=f"stop a proof after this long and report TIMEOUT (default {TIMEOUT})")
    p.add_argument("--weights", choices=sorted(WEIGHT_PLACES), default="both",
                   help="prove the forms with their weights on chip, external (two tiles "
                        "fetched over AXI4) or both (default)")
    p.add_argument("--count-registers", choices=sorted(COUNT_REGISTERS), default="both",
                   help="prove the forms without the count registers (--count-registers), "
                        "with them (weights on chip: they touch nothing of the weight fetch) "
                        "or both (default)")
    from .formal import PROPERTIES
    p.add_argument("--properties", nargs="+", default=list(PROPERTIES), choices=PROPERTIES,
                   help="the properties to prove (default: every one); the last results of "
                        "the others stay in docs/formal-results.md")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="proofs run at a time, one solver process each (default 1; the "
                        "seconds reported are each proof's wall time beside the others)")
    p.add_argument("--no-broken", dest="broken", action="store_false",
                   help="skip the broken variants (each must fail with a counterexample)")
    p.set_defaults(run=cmd_formal, stall=0.0)
    args = parser.parse_args(argv)
    try:
        if not 0.0 <= args.stall < 1.0:
            raise ValueError(f"stall: must be in [0, 1), got {args.stall}")
        return args.run(args)
    except (ValueError, SimulatorMissing, BuildFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except AssertionError as err:
        print(f"FAIL: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
