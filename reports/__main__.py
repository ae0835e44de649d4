"""python -m reports: synthesis (make synth), the benchmark report (make bench) and the
real-data demo (make demo)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from golden.options import add_config_arguments, config_from_args

ROOT = Path(__file__).resolve().parent.parent


def cmd_synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .synth import ROUTERS, TARGETS, relative_workdir, synthesize

    cfg = config_from_args(args)
    print(cfg.describe())
    workdir = relative_workdir(cfg, ROOT)
    if args.no_bram_outreg:  # its own netlist beside the default flow's
        workdir = workdir.with_name(workdir.name + "-no-outreg")
        print("ECP5: block-RAM output flip-flops left in the fabric (REGMODE NOREG)")
    results = []
    router = ROUTERS if args.router == "both" else args.router
    for target in tqdm(args.targets, desc="synthesis + place and route", unit="target"):
        results.append(synthesize(cfg, target, workdir, args.freq, router=router,
                                  speed=args.speed, seeds=args.seed and (args.seed,),
                                  bram_outreg=not args.no_bram_outreg))
    print(f"{'target':12s} {'LUT4':>7s} {'FF':>7s} {'mult':>5s} {'BRAM':>5s} {'Fmax MHz':>9s}  fits")
    for r in results:
        cap = TARGETS[r.target].capacity
        fmax = f"{r.fmax_mhz:9.1f}" if r.fmax_mhz else f"{'-':>9s}"
        print(f"{r.target:12s} {r.luts:7d} {r.ffs:7d} {r.dsps:5d} {r.brams:5d} {fmax}  "
              f"{'yes' if r.fits else 'NO: ' + r.note}  (of {cap['LUT']} LUT, {cap['DSP']} "
              f"mult, {cap['BRAM']} BRAM; {r.seconds:.0f} s)")
        if r.critical_path:
            print(f"{'':12s} critical path ({r.routed_by}): {r.critical_path}")
    path = workdir / "synth.json"
    path.write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    print(f"wrote {path}")
    return 0


def cmd_resets(args: argparse.Namespace) -> int:
    from .synth import relative_workdir, reset_flip_flops

    cfg = config_from_args(args)
    print(cfg.describe())
    reset, total = reset_flip_flops(cfg, relative_workdir(cfg, ROOT) / "resets")
    print(f"flip-flop bits with a reset: {reset} of {total} ({reset / max(total, 1):.1%})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run

    print(f"wrote {run(synth=not args.no_synth)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import json

    from .compare import run

    path = run(synth=not args.no_synth, sim=not args.no_sim, out=args.out,
               place_large=not args.no_large_place)
    print(f"wrote {path}")
    points = json.loads((ROOT / "build" / "compare.json").read_text())["points"]
    wrong = [p for p in points if p["rtl_cycles"] is not None
             and p["rtl_cycles"] != p["model_cycles_1"]]
    for p in wrong:
        print(f"FAIL: {p['workload']}{p['size']} {p['form']}: RTL {p['rtl_cycles']} cycles, "
              f"model {p['model_cycles_1']}", file=sys.stderr)
    return 1 if wrong else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from golden.digits import TrainSettings
    from sim.runner import require_simulator

    from .demo import DemoSettings, run, write_report

    for name in ("epochs", "images", "photo_size"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "images" else 1):
            raise ValueError(f"{name}: must be >= {0 if name == 'images' else 1}, got {value}")
    require_simulator(args.simulator)
    settings = DemoSettings(simulator=args.simulator)
    if args.quick:  # a few images and epochs, written under build/ (tests/test_demo.py)
        quick = ROOT / "build" / "demo-quick"
        settings = replace(settings, train=TrainSettings(epochs=2), rtl_images=12,
                           photo_size=16, cache=quick, docs=quick)
    if args.epochs is not None:
        settings = replace(settings, train=replace(settings.train, epochs=args.epochs))
    if args.images is not None:
        settings = replace(settings, rtl_images=args.images)
    if args.photo_size is not None:
        settings = replace(settings, photo_size=args.photo_size)
    if args.out is not None:
        settings = replace(settings, docs=Path(args.out).resolve())
    result = run(settings)
    for r in result.rows:
        print(f"{r.network:10s} {r.form:42s} {100 * r.accuracy:6.2f}%  ({r.images} images) "
              f"{r.note}")
    print(f"RTL: {result.rtl_words} words compared, {result.rtl_mismatches} mismatched; "
          f"predictions agree with the golden model on {100 * result.rtl_agreement:.0f}% of "
          f"{result.rtl_images} images; photo RTL = golden: {result.photo_rtl_equal}")
    print(f"wrote {write_report(result, settings, settings.docs / 'real-data.md')}")
    ok = result.rtl_mismatches == 0 and result.rtl_agreement == 1.0 and result.photo_rtl_equal
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    from .synth import SPEED_GRADES, TARGETS

    parser = argparse.ArgumentParser(prog="python -m reports",
                                     description="Synthesis and performance reports.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("synth", help="YoWASP Yosys + nextpnr for one configuration")
    add_config_arguments(p)
    p.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=sorted(TARGETS))
    p.add_argument("--freq", type=float, default=100.0, help="nextpnr target clock, MHz")
    p.add_argument("--speed", type=int, choices=SPEED_GRADES, default=SPEED_GRADES[0],
                   help="ECP5 speed grade (6: nextpnr's default, the slowest part; 8 fastest)")
    p.add_argument("--router", choices=("router1", "router2", "both"), default="both",
                   help="nextpnr router; both (default): router1, and router2 where router1 "
                        "does not finish in reports.synth.FIRST_ROUTER_TIMEOUT_S")
    p.add_argument("--seed", type=int, metavar="N",
                   help="nextpnr placement seed: this one only (default: reports.synth."
                        "PLACEMENT_SEEDS in turn until one routes)")
    p.add_argument("--no-bram-outreg", action="store_true",
                   help="ECP5: leave each block RAM's output flip-flops in the fabric (by "
                        "default they are absorbed into its output register, REGMODE OUTREG, "
                        "hw/bram_outreg.py)")
    p.set_defaults(run=cmd_synth)
    p = sub.add_parser("resets", help="flip-flop bits with a reset, of all, in the generated "
                                      "Verilog (Yosys proc; opt_dff)")
    add_config_arguments(p)
    p.set_defaults(run=cmd_resets)
    p = sub.add_parser("bench", help="regenerate docs/performance.md")
    p.add_argument("--no-synth", action="store_true", help="cycles only, skip synthesis")
    p.set_defaults(run=cmd_bench)
    p = sub.add_parser("compare", help="PSSA vs involution vs full SA engines; regenerate "
                                       "docs/pssa-vs-sa.md")
    p.add_argument("--no-synth", action="store_true", help="skip synthesis (model and RTL only)")
    p.add_argument("--no-sim", action="store_true", help="skip the RTL simulations")
    p.add_argument("--no-large-place", action="store_true",
                   help="synthesize the paper's layers but do not place them (about an hour)")
    p.add_argument("--out", type=lambda s: Path(s).resolve(),
                   help="report path (default docs/pssa-vs-sa.md; the plot goes beside it)")
    p.set_defaults(run=cmd_compare)
    p = sub.add_parser("demo", help="digits network and a photograph through the RTL; "
                                    "regenerate docs/real-data.md")
    p.add_argument("--quick", action="store_true",
                   help="2 epochs, 12 RTL images, 16x16 photo, report under build/demo-quick")
    p.add_argument("--epochs", type=int, help="training epochs (default 40)")
    p.add_argument("--images", type=int, help="test images through the RTL (0: all 450)")
    p.add_argument("--photo-size", type=int, help="photograph frame side (default 48)")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--out", help="folder for real-data.md and .png (default docs/)")
    p.set_defaults(run=cmd_demo)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except AssertionError as err:  # the RTL disagreed with the golden model
        print(f"FAIL: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
