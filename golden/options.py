"""Command-line options that build an ``XvConfig``: shared by every command of the project.

Torch-free, so the hardware and simulation commands use it too.
"""
from __future__ import annotations

import argparse
import os

from .config import ATTENTION_FORMS, PRESETS, WEIGHT_PLACES, XvConfig, preset

#: option name -> (config field, help)
FIELDS = {
    "h": ("h", "frame height"), "w": ("w", "frame width"),
    "c-in": ("c_in", "input channels"), "c-out": ("c_out", "output channels"),
    "d": ("d", "attention width D"), "k": ("k", "convolution kernel size K (odd)"),
    "shift": ("shift", "PSSA shift length L"),
    "group-channels": ("group_channels", "involution channels per group (G = C / this)"),
    "reduction": ("reduction", "involution kernel generator's reduction r"),
    "simd": ("simd", "input-channel lanes of the MAC array"),
    "pe": ("pe", "output-channel lanes of the MAC array"),
    "data-bits": ("data_bits", "activation width"), "weight-bits": ("weight_bits", "weight width"),
    "acc-bits": ("acc_bits", "accumulator width"),
    "mult-bits": ("mult_bits", "requantization multiplier width"),
    "co-tile": ("co_tile", "output channels a tile with --weights external (0: all)"),
    "axi-bits": ("axi_bits", "AXI4 data width of the weight port (--weights external)"),
    "burst-beats": ("burst_beats", "beats an AXI4 burst (--weights external)"),
    "count-registers": ("count_registers", "registers on each count one unit passes another "
                        "(0 or 1: a shorter path between units, a cycle more each wait)"),
}


def add_config_arguments(parser: argparse.ArgumentParser, default: str = "tiny") -> None:
    group = parser.add_argument_group("layer and engine configuration")
    group.add_argument("--workload", default=default, choices=sorted(PRESETS),
                       help=f"reference workload to start from (default {default})")
    group.add_argument("--attention", choices=ATTENTION_FORMS, help="attention form")
    group.add_argument("--weights", choices=WEIGHT_PLACES,
                       help="where the MAC array's weights live (default onchip)")
    for option, (_, text) in FIELDS.items():
        group.add_argument(f"--{option}", type=int, metavar="N", help=f"override: {text}")


def overrides_from_args(args: argparse.Namespace) -> dict:
    """{config field: value} of every configuration option given on the command line."""
    overrides = {field: getattr(args, option.replace("-", "_"))
                 for option, (field, _) in FIELDS.items()
                 if getattr(args, option.replace("-", "_")) is not None}
    for name in ("attention", "weights"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    return overrides


def custom_name(base: XvConfig, cfg: XvConfig) -> str:
    """The preset's name plus every field that differs from it ("tiny+h3+w3",
    "digits+involution"), so a changed layer is never reported as the preset.  Only letters,
    digits, '+' and '-': the runner and the reports put the name in folder and file names."""
    def flat(c: XvConfig) -> dict:
        d = c.to_dict()
        return {**d, **d.pop("fmt")}
    old, new = flat(base), flat(cfg)
    parts = [new[name] for name in ("attention", "weights") if new[name] != old[name]]
    parts += [f"{option}{new[field]}" for option, (field, _) in FIELDS.items()
              if new[field] != old[field]]
    return "+".join([base.name, *parts])


def config_from_args(args: argparse.Namespace) -> XvConfig:
    """The preset named by --workload with every given override; ValueError names a bad field.
    An overridden preset is renamed (``custom_name``)."""
    cfg = preset(args.workload, **overrides_from_args(args))
    return cfg.replace(name=custom_name(preset(args.workload), cfg))


def writable_folder(path, option: str = "--out"):
    """Create folder ``path`` (and its parents) now, before any work; ValueError naming the
    option and the folder if it cannot be (a file in the way, no permission)."""
    from pathlib import Path

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{option}: cannot create folder {path} ({err.strerror})") from None
    if not os.access(path, os.W_OK):
        raise ValueError(f"{option}: folder {path} is not writable")
    return path
