"""python -m xvolution: deploy a trained layer from a checkpoint (docs/deploy.md).

    python -m xvolution export --checkpoint layer.pt --calibration calib.npy --out DIR \
        [--frames frames.npy] [--simd N --pe N --weights external ...]
    python -m xvolution info DIR/layer.npz
    python -m xvolution simulate DIR/layer.npz --frames frames.npy [--simulator icarus]
    python -m xvolution board --port /dev/ttyUSB0 [--layer DIR/layer.npz] [--frames N]
    python -m xvolution board --estimate [--workload tiny ...]

A checkpoint is ``torch.save({"config": cfg.to_dict(), "state_dict": module.state_dict()})``
(``xvolution.checkpoint.save_checkpoint`` writes one).  Frames are float N C H W, in a .npy
file or image files (their channels must be the layer's C_in).
"""
from __future__ import annotations

import argparse
import sys

from golden.options import FIELDS, add_config_arguments

from .errors import DeployError

#: the options that describe the engine, not the layer (the layer comes from the checkpoint)
HARDWARE = ("simd", "pe", "data-bits", "weight-bits", "acc-bits", "mult-bits", "co-tile",
            "axi-bits", "burst-beats")


def add_hardware_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine (the layer's shape comes from the checkpoint)")
    for option in HARDWARE:
        group.add_argument(f"--{option}", type=int, metavar="N", help=FIELDS[option][1])
    group.add_argument("--weights", choices=("onchip", "external"),
                       help="where the MAC array's weights live (default onchip)")


def hardware_overrides(args: argparse.Namespace) -> dict:
    out = {FIELDS[o][0]: getattr(args, o.replace("-", "_")) for o in HARDWARE
           if getattr(args, o.replace("-", "_")) is not None}
    if args.weights:
        out["weights"] = args.weights
    return out


def cmd_export(args) -> int:
    from .checkpoint import load_checkpoint, load_frames
    from .deploy import deploy

    module = load_checkpoint(args.checkpoint)
    calibration = load_frames(args.calibration, module.cfg, "calibration")
    layer = deploy(module, calibration, **hardware_overrides(args))
    frames = load_frames(args.frames, module.cfg, "frames") if args.frames else None
    folder = layer.export(args.out, frames)
    print(f"{layer.cfg.describe()}\n{layer.calibration}\nwrote {folder}: params.hex, "
          f"params.bin, xvolution_engine.v, layer.npz, manifest.json"
          + (", weights.bin" if layer.cfg.external_weights else "")
          + (", vectors/" if frames is not None else ""))
    return 0


def cmd_info(args) -> int:
    from sim.cycle_model import predict

    from .deploy import load

    layer = load(args.layer)
    model = predict(layer.cfg, 1)
    print(f"{layer.cfg.describe()}\n{layer.calibration or 'no calibration recorded'}\n"
          f"cycle model: {model.cycles} cycles a frame (first output after "
          f"{model.first_output}), MAC utilization {model.mac_utilization:.3f}, "
          f"bottleneck {model.bottleneck}; {len(layer.parameter_words())} parameter words")
    return 0


def cmd_simulate(args) -> int:
    from .checkpoint import load_frames
    from .deploy import load

    layer = load(args.layer)
    run = layer.simulate(load_frames(args.frames, layer.cfg, "frames"), args.simulator,
                         folder=args.out)
    verdict = "equal" if run.cycles == run.model_cycles else \
        f"model {run.model_cycles - run.cycles:+d}"
    print(f"{run.outputs.size} output words, {run.mismatches} mismatches; {run.cycles} cycles "
          f"(cycle model {run.model_cycles}: {verdict}); outputs in {run.folder}/outputs.npy")
    return 0 if run.mismatches == 0 else 1


def cmd_board(args) -> int:
    """Run a layer on the board (docs/board.md), or estimate what its link allows."""
    from golden.options import config_from_args

    from .board import BAUD, Board, SerialTransport, estimate

    if args.layer:
        from .deploy import load

        layer = load(args.layer)
        cfg = layer.cfg
    else:
        cfg = config_from_args(args)
    if args.estimate:
        e = estimate(cfg, args.clock_mhz * 1e6, round(args.clock_mhz * 1e6 / args.baud))
        print(f"{cfg.describe()}\n"
              f"link: {e.baud / 1e6:g} Mbaud, 10 bits a byte; a frame is {e.bytes_in} bytes in "
              f"and {e.bytes_out} bytes out, {e.link_seconds * 1e3:.3f} ms: "
              f"{e.link_fps:.1f} frames/s\n"
              f"engine: {e.engine_cycles} cycles a frame (sim.cycle_model) at "
              f"{e.clock_hz / 1e6:g} MHz: {e.engine_fps:.1f} frames/s; the link is the limit "
              f"by {e.engine_fps / e.link_fps:.2f}x\n"
              f"board, a frame at a time (link, then engine): {e.board_fps:.1f} frames/s")
        return 0
    if not args.port:
        raise DeployError("port: give --port (the board's serial port, e.g. /dev/ttyUSB0) or "
                          "--estimate")
    transport = SerialTransport(args.port, args.baud, args.timeout)  # no port: fail first
    if args.layer:
        from .checkpoint import load_frames

        if not args.input:
            raise DeployError("input: with --layer give --input frames (.npy N C H W or images)")
        x = layer.quantize_input(load_frames(args.input, cfg, "input"))
        words, expected = layer.parameter_words(), layer.predict_int(x)
    else:
        from golden.generate import make_vector_set
        from hw.params import param_words

        vs = make_vector_set(cfg, frames=args.frames, seed=args.seed)
        x, words, expected = vs.x, param_words(cfg, vs.layer), vs.y
    try:
        run = Board(transport).run(cfg, words, x, expected, progress=True)
    finally:
        transport.close()
    st = run.status
    print(f"{len(run.outputs)} frames, {run.outputs.size} output words, {run.mismatches} differ "
          f"from the golden model; {run.frames_per_second:.1f} frames/s over the link; the "
          f"engine's last frame took {st.frame_cycles} cycles (status flags: loaded "
          f"{st.param_loaded}, param_error {st.param_error}, frame_error {st.frame_error})")
    return 0 if run.mismatches == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xvolution", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export", help="quantize a checkpoint; write parameters, Verilog, "
                                      "vectors")
    p.add_argument("--checkpoint", required=True, help="torch checkpoint: config + state_dict")
    p.add_argument("--calibration", required=True, help=".npy (N C H W) or image files",
                   nargs="+")
    p.add_argument("--frames", nargs="+", help="your frames for a vector set (.npy or images)")
    p.add_argument("--out", required=True, help="output folder")
    add_hardware_arguments(p)
    p.set_defaults(run=cmd_export)
    p = sub.add_parser("info", help="describe a saved layer and its cycle model")
    p.add_argument("layer", help="a layer.npz written by export")
    p.set_defaults(run=cmd_info)
    p = sub.add_parser("simulate", help="run frames through the RTL (cocotb)")
    p.add_argument("layer", help="a layer.npz written by export")
    p.add_argument("--frames", required=True, nargs="+", help=".npy (N C H W) or image files")
    p.add_argument("--simulator", default="verilator", choices=("verilator", "icarus"))
    p.add_argument("--out", help="folder for the run (default: a new temporary one)")
    p.set_defaults(run=cmd_simulate)
    p = sub.add_parser("board", help="run a layer on the board over its USB-serial link, or "
                                     "--estimate what the link allows (docs/board.md)")
    p.add_argument("--port", help="the board's serial port (e.g. /dev/ttyUSB0)")
    p.add_argument("--layer", help="a layer.npz written by export (default: a random layer of "
                                   "--workload, checked against the golden model)")
    p.add_argument("--input", nargs="+", help="with --layer: frames (.npy N C H W or images)")
    p.add_argument("--frames", type=int, default=8, help="random frames without --layer "
                                                         "(default 8)")
    p.add_argument("--seed", type=int, default=0, help="random layer and frames' seed")
    p.add_argument("--baud", type=int, default=3_000_000, help="link rate (default 3000000)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a reply")
    p.add_argument("--clock-mhz", type=float, default=48.0,
                   help="the board's clock, for --estimate (default 48)")
    p.add_argument("--estimate", action="store_true",
                   help="print bytes a frame and frames per second: link vs engine; no board")
    add_config_arguments(p)
    p.set_defaults(run=cmd_board)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (DeployError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
