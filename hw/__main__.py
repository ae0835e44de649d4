"""python -m hw: generate the engine's Verilog."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from golden.options import add_config_arguments, config_from_args


def main(argv: list[str] | None = None) -> int:
    from .attention import FORMS

    forms = ", ".join(FORMS)
    parser = argparse.ArgumentParser(prog="python -m hw",
                                     description="The X-volution streaming engine (Amaranth), built for the "
                                                 f"attention form --attention names ({forms}).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("verilog", help="write synthesizable Verilog for a configuration")
    add_config_arguments(p)
    p.add_argument("--out", default="build/verilog", help="output folder (default build/verilog)")
    p.add_argument("--device", default="ecp5-85f", choices=["ecp5-85f", "ice40-up5k", "none"],
                   help="refuse a configuration whose memories do not fit this device's block "
                        "RAM (default ecp5-85f; none: no check)")
    p.add_argument("--fit", action="store_true",
                   help="place the weights by the device's memory budget: on chip where they "
                        "fit, else external with the largest output-channel tile that fits")
    p = sub.add_parser("bitstream", help="a board's bitstream: the engine behind a UART host link "
                                         "(docs/board.md)")
    add_config_arguments(p)
    p.add_argument("--board", default="ulx3s", help="the board (supported: ulx3s)")
    p.add_argument("--clock-mhz", type=float, default=48.0,
                   help="the system clock the PLL makes from the board's oscillator (default 48: "
                        "16 clocks a bit at 3 Mbaud)")
    p.add_argument("--out", default="build/bitstream",
                   help="output folder (default build/bitstream)")
    args = parser.parse_args(argv)
    if args.command == "bitstream":
        return bitstream(args)
    try:
        cfg = config_from_args(args)
        from .build import TOP, write_verilog
        from .geometry import BLOCK_RAM_BITS, Geometry, check_fits, choose_weights

        if args.device != "none":
            if args.fit:
                cfg = choose_weights(cfg, BLOCK_RAM_BITS[args.device]) or cfg
            check_fits(cfg, args.device)

        path = write_verilog(cfg, Path(args.out) / f"{TOP}_{cfg.name}.v")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an unwritable --out: one line, no traceback
        print(f"error: out: cannot write to {args.out} ({err.strerror or err})", file=sys.stderr)
        return 2
    geo = Geometry(cfg)
    print(f"{cfg.describe()}\nwrote {path} ({cfg.attention} engine)")
    print(f"ports: s_axis_tdata[{geo.in_bits}] m_axis_tdata[{geo.out_bits}] "
          f"s_param_tdata[{geo.param_bits}] ({geo.param_words} parameter words)")
    return 0


def bitstream(args) -> int:
    """Build, print resources and Fmax, and how to program the board; exit 1 if timing fails."""
    from .board.build import BOARDS, build_bitstream, program_command, require_board

    try:
        require_board(args.board)
        cfg = config_from_args(args)
        print(f"{cfg.describe()}\nboard: {BOARDS[args.board][0]}; building the bitstream "
              f"(Yosys, nextpnr-ecp5, ecppack: a few minutes)", flush=True)
        result = build_bitstream(cfg, args.board, args.clock_mhz, Path(args.out))
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, ValueError) else 1
    print(result.summary())
    if not result.met:
        print(f"error: timing: Fmax {result.fmax_mhz:.1f} MHz is below the {args.clock_mhz:g} MHz "
              f"PLL clock (try --clock-mhz with a lower clock; see {result.log})", file=sys.stderr)
        return 1
    print(f"wrote {result.bitstream}\nprogram the board: {program_command(args.board, result.bitstream)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
