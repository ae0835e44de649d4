"""Cycle-count model of the engine, every attention form, read from the same ``XvConfig`` as the
RTL.

Each unit of the engine starts a pixel at the first cycle at which its start condition in the RTL
holds, and then issues a fixed number of cycles without bubbles (docs/architecture.md).  The
model writes those conditions as recurrences over pixel indices (every start time is the max of
the times its inputs become visible) and solves them; with always-valid input and always-ready
output it gives the RTL's cycle count exactly, which ``tests/test_cycle_model.py`` checks
against cocotb.

Times are cycles after the first input beat is accepted.  What differs between forms (the
attention units' spans, windows, slots and pipeline depths) is the form's ``AttentionTiming``,
kept beside its hardware in hw/attention/; the MAC array's and output stage's depths are below.
A change in hw/ must change them, and the test will say so.
"""
from __future__ import annotations

from dataclasses import dataclass

from golden.config import XvConfig
from hw.geometry import SLOTS, Geometry
from hw.requant import Requantizer

# cycles from the MAC array's last issue of a pixel to its last output beat on m_axis
OUTPUT_DELAY = 9 + Requantizer.LATENCY  # issue, memory register, operand register, products,
#                                         sums, accumulate, result, parameters, requantizer, FIFO


@dataclass(frozen=True)
class CyclePrediction:
    cfg: XvConfig
    frames: int
    cycles: int                 # first input beat to last output beat, inclusive
    first_output: int           # cycles from the first input beat to the first output beat
    mac_busy: int               # cycles in which the MAC array multiplies
    bottleneck_cycles_per_pixel: int
    bottleneck: str

    @property
    def cycles_per_frame(self) -> float:
        return self.cycles / self.frames

    @property
    def mac_utilization(self) -> float:
        return self.mac_busy / self.cycles

    @property
    def steady_state_utilization(self) -> float:
        geo = Geometry(self.cfg)
        return geo.mac_cycles_per_pixel / self.bottleneck_cycles_per_pixel

    def frames_per_second(self, clock_hz: float) -> float:
        return clock_hz / self.cycles_per_frame

    def gmacs(self, clock_hz: float) -> float:
        """Sustained multiply-accumulates per second (of the MAC array), in GMAC/s."""
        return self.cfg.mac_array_ops_per_pixel * self.cfg.n_pixels * \
            self.frames_per_second(clock_hz) / 1e9


def unit_cycles_per_pixel(geo: Geometry) -> dict[str, int]:
    """Issue cycles each unit spends on one pixel: the MAC array and the form's units."""
    return {"MAC array": geo.mac_cycles_per_pixel, **geo.form.unit_cycles(geo)}


def predict(cfg: XvConfig, frames: int = 1) -> CyclePrediction:
    """Cycles of ``frames`` frames back to back with stall-free streams."""
    geo = Geometry(cfg)
    n_px, total = cfg.n_pixels, cfg.n_pixels * frames
    mac_span = geo.mac_cycles_per_pixel
    att = geo.form.timing(geo)
    proj_span, agg_span, logit_span = att.proj_span, att.agg_span, att.logit_span
    free_after = geo.depth - geo.hold  # the input may run this far ahead of the MAC array

    def need(p: int, reach: int) -> int:
        """Last pixel that must be projected before pixel p's window is complete."""
        return min(p + reach, p - p % n_px + n_px - 1)

    start = {u: [0] * total for u in ("proj", "logit", "agg", "mac")}
    proj_done = [0] * total
    logit_done = [0] * total
    agg_issued = [0] * total
    agg_done = [0] * total
    mac_issued = [0] * total
    units = ("proj", "logit", "agg", "mac") if att.has_attention_units else ("proj", "mac")
    changed = True
    while changed:  # monotone recurrences: iterate to their least fixed point
        changed = False
        for p in range(total):
            values = {
                "proj": max(start["proj"][p - 1] + proj_span if p else 0,
                            mac_issued[p - free_after] if p >= free_after else 0),
                "logit": max(start["logit"][p - 1] + logit_span if p else 0,
                             proj_done[need(p, att.logit_reach)],
                             agg_issued[p - att.logit_slots] if p >= att.logit_slots else 0),
                "agg": max(start["agg"][p - 1] + agg_span if p else 0, logit_done[p],
                           mac_issued[p - SLOTS] if p >= SLOTS else 0),
                "mac": max(start["mac"][p - 1] + mac_span if p else 0,
                           proj_done[need(p, geo.reach)], agg_done[p]),
            }
            values = {unit: values[unit] for unit in units}
            for unit, value in values.items():
                if value != start[unit][p]:
                    start[unit][p] = value
                    changed = True
            proj_done[p] = start["proj"][p] + proj_span - 1 + att.proj_done
            logit_done[p] = start["logit"][p] + att.logit_done
            agg_issued[p] = start["agg"][p] + agg_span
            # without attention units z is "ready" with the pixel's projection
            agg_done[p] = (start["agg"][p] + agg_span - 1 + att.agg_done
                           if att.has_attention_units else proj_done[p])
            mac_issued[p] = start["mac"][p] + mac_span

    first_input = att.chunk_cycles - 1  # a chunk is accepted with its last row group
    last_output = mac_issued[-1] - 1 + OUTPUT_DELAY
    first_output = start["mac"][0] + cfg.taps * geo.ci_chunks - 1 + OUTPUT_DELAY
    units = unit_cycles_per_pixel(geo)
    slowest = max(units, key=units.get)
    return CyclePrediction(cfg=cfg, frames=frames, cycles=last_output - first_input + 1,
                           first_output=first_output - first_input, mac_busy=mac_span * total,
                           bottleneck_cycles_per_pixel=units[slowest], bottleneck=slowest)
