"""python -m xvolution: deploy a trained layer from a checkpoint (docs/deploy.md).

    python -m xvolution export --checkpoint layer.pt --calibration calib.npy --out DIR \
        [--frames frames.npy] [--simd N --pe N --weights external ...]
    python -m xvolution info DIR/layer.npz
    python -m xvolution simulate DIR/layer.npz --frames frames.npy [--simulator icarus]

A checkpoint is ``torch.save({"config": cfg.to_dict(), "state_dict": module.state_dict()})``
(``xvolution.checkpoint.save_checkpoint`` writes one).  Frames are float N C H W, in a .npy
file or image files (their channels must be the layer's C_in).
"""
from __future__ import annotations

import argparse
import sys

from golden.options import FIELDS

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
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (DeployError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
