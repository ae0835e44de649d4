"""python -m reports: synthesis (make synth) and the benchmark report (make bench)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from golden.options import add_config_arguments, config_from_args

ROOT = Path(__file__).resolve().parent.parent


def cmd_synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .synth import TARGETS, relative_workdir, synthesize

    cfg = config_from_args(args)
    print(cfg.describe())
    workdir = relative_workdir(cfg, ROOT)
    results = []
    for target in tqdm(args.targets, desc="synthesis + place and route", unit="target"):
        results.append(synthesize(cfg, target, workdir, args.freq))
    print(f"{'target':12s} {'LUT4':>7s} {'FF':>7s} {'mult':>5s} {'BRAM':>5s} {'Fmax MHz':>9s}  fits")
    for r in results:
        cap = TARGETS[r.target][-1]
        fmax = f"{r.fmax_mhz:9.1f}" if r.fmax_mhz else f"{'-':>9s}"
        print(f"{r.target:12s} {r.luts:7d} {r.ffs:7d} {r.dsps:5d} {r.brams:5d} {fmax}  "
              f"{'yes' if r.fits else 'NO: ' + r.note}  (of {cap['LUT']} LUT, {cap['DSP']} "
              f"mult, {cap['BRAM']} BRAM; {r.seconds:.0f} s)")
    path = workdir / "synth.json"
    path.write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    print(f"wrote {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run

    print(f"wrote {run(synth=not args.no_synth)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .synth import TARGETS

    parser = argparse.ArgumentParser(prog="python -m reports",
                                     description="Synthesis and performance reports.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("synth", help="YoWASP Yosys + nextpnr for one configuration")
    add_config_arguments(p)
    p.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=sorted(TARGETS))
    p.add_argument("--freq", type=float, default=100.0, help="nextpnr target clock, MHz")
    p.set_defaults(run=cmd_synth)
    p = sub.add_parser("bench", help="regenerate docs/performance.md")
    p.add_argument("--no-synth", action="store_true", help="cycles only, skip synthesis")
    p.set_defaults(run=cmd_bench)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
