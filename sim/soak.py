"""Random-configuration soak: draw layers and engines, run each under cocotb with random stalls.

Each draw picks the form (by the registry's ``soak_weight``: the paper's own form twice as often
as each other), a frame size, channels, D, K, L (and what the form adjusts: ``fit_draw``), the
SIMD x PE parallelism, where the weights live (on chip, or in external memory in output-channel
tiles, with the AXI4 width and burst drawn too), the count registers (``count_registers``,
half the draws) and the fixed-point
widths (the accumulator a few bits above the worst case the configuration needs), writes golden
vectors for it and checks every output word of the RTL.  `make test` runs a fixed handful of
draws (tests/test_random_configs.py); `make soak` runs more (``python -m sim soak``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from golden.config import XvConfig
from hw.attention import FORMS
from hw.geometry import Geometry

from .runner import run_vectors

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Draw:
    cfg: XvConfig
    stall: float
    frames: int
    seed: int


def draw(seed: int) -> Draw:
    """One random configuration (reproducible from ``seed``); redrawn until valid."""
    rng = random.Random(seed)
    while True:
        form = rng.choice([f for f in FORMS.values() for _ in range(f.soak_weight)])
        simd, pe = rng.choice((1, 2, 4)), rng.choice((1, 2, 3, 4))
        data_bits, weight_bits = rng.randint(4, 12), rng.randint(4, 10)
        shape = dict(h=rng.randint(1, 9), w=rng.randint(1, 9), c_in=simd * rng.randint(1, 3),
                     c_out=pe * rng.randint(1, 2), d=rng.randint(1, 4), k=rng.choice((1, 3, 5)),
                     shift=rng.randint(1, 3), simd=simd, pe=pe, attention=form.name)
        shape = form.fit_draw(shape, rng)
        if rng.random() < 0.3:  # weights from external memory, in tiles
            c_out = shape["c_out"]
            shape.update(weights="external", axi_bits=rng.choice((32, 64)),
                         burst_beats=rng.choice((1, 2, 4, 16)),
                         co_tile=rng.choice([t for t in range(pe, c_out + 1, pe)
                                             if c_out % t == 0] or [0]))
        try:
            probe = XvConfig(name=f"draw{seed}", **shape).replace(
                data_bits=data_bits, weight_bits=weight_bits, acc_bits=48)
            needed = max(probe.accumulators.described().values())
            cfg = probe.replace(acc_bits=max(8, min(48, needed + rng.randint(0, 4))),
                                mult_bits=rng.randint(8, 16))
            Geometry(cfg)  # the engine's own limits (the form's refusals)
        except ValueError:
            continue
        # drawn apart from the rest, so each seed's other fields stay what they were
        counts = int(random.Random(f"count_registers {seed}").random() < 0.5)
        return Draw(cfg=cfg.replace(count_registers=counts),
                    stall=rng.choice((0.0, 0.1, 0.25, 0.4)), frames=rng.randint(1, 3), seed=seed)


@dataclass
class SoakTotals:
    configurations: int = 0
    frames: int = 0
    words: int = 0
    lost: int = 0
    duplicated: int = 0
    mismatched: int = 0
    failures: list = field(default_factory=list)

    def add(self, d: Draw, figures: dict) -> None:
        self.configurations += 1
        self.frames += d.frames
        self.words += figures.get("outputs_compared", 0)
        self.lost += figures.get("lost_beats", 0)
        self.duplicated += figures.get("extra_beats", 0)
        self.mismatched += figures.get("mismatches", 0)

    def summary(self) -> str:
        return (f"{self.configurations} configurations, {self.frames} frames, {self.words} output "
                f"words: {self.lost} lost, {self.duplicated} duplicated, {self.mismatched} "
                f"mismatched")


def run_draw(d: Draw, folder: Path, simulator: str = "verilator") -> dict:
    """Write the draw's vectors into ``folder`` and simulate it; AssertionError on any error."""
    from golden.generate import make_vector_set
    from golden.vectors import write_vectors

    write_vectors(make_vector_set(d.cfg, frames=d.frames, seed=d.seed), folder)
    return run_vectors(folder, simulator=simulator, stall=d.stall, seed=d.seed).figures


def soak(draws: int, first_seed: int, simulator: str = "verilator", progress=None) -> SoakTotals:
    """Run ``draws`` draws with seeds first_seed, first_seed + 1, ...; failures are collected
    (seed and message) rather than stopping the run."""
    totals = SoakTotals()
    seeds = range(first_seed, first_seed + draws)
    for seed in (progress(seeds) if progress else seeds):
        d = draw(seed)
        try:
            figures = run_draw(d, ROOT / "build" / "soak" / f"seed{seed}", simulator)
        except AssertionError as err:
            totals.failures.append((seed, d.cfg.describe(), str(err)))
            continue
        totals.add(d, figures)
    return totals
