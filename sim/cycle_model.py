"""Cycle-count model of the engine (PSSA, full SA, involution), read from the same ``XvConfig``
as the RTL.

Each unit of the engine starts a pixel at the first cycle at which its start condition in the RTL
holds, and then issues a fixed number of cycles without bubbles (docs/architecture.md).  The
model writes those conditions as recurrences over pixel indices (every start time is the max of
the times its inputs become visible) and solves them; with always-valid input and always-ready
output it gives the RTL's cycle count exactly, which ``tests/test_cycle_model.py`` checks
against cocotb.

Times are cycles after the first input beat is accepted.  Pipeline depths (the constants below)
are those of the blocks in hw/: a change there must change them here, and the test will say so.
"""
from __future__ import annotations

from dataclasses import dataclass

from golden.config import XvConfig
from hw.geometry import SA_SLOTS, SLOTS, Geometry
from hw.requant import Requantizer
from hw.softmax import SPAN_EXTRA

RQ = Requantizer.LATENCY
# cycles from a unit's last issue of a pixel to the first cycle its count shows the pixel
PROJ_DONE = 6 + RQ   # issue, memory register, products, sums, accumulate, register, requantizer
LOGIT_DONE = 5 + RQ  # issue, memory register, products, dot product, requantizer, count
AGG_DONE = 5 + RQ    # issue, memory register, products, accumulate, requantizer, count
SA_AGG_DONE = 7 + RQ  # full SA: two more stages (max - t, the exponential) before the products
# cycles from the MAC array's last issue of a pixel to its last output beat on m_axis
OUTPUT_DELAY = 9 + RQ  # issue, memory register, operand register, products, sums,
#                        accumulate, result, parameters, requantizer, FIFO


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
    """Issue cycles each unit spends on one pixel."""
    units = {"MAC array": geo.mac_cycles_per_pixel,
             "projection": geo.ci_chunks * geo.proj_groups}
    if geo.cfg.attention == "sa":
        n = geo.cfg.n_pixels
        units.update({"softmax unit": 2 * n + SPAN_EXTRA, "aggregation": n * geo.ci_chunks})
    elif geo.cfg.attention == "involution":
        kk = geo.cfg.k * geo.cfg.k
        units.update({"kernel unit": geo.kernel_rows, "aggregation": kk * geo.ci_chunks})
    else:
        units.update({"logit unit": 9, "aggregation": 9 * geo.ci_chunks})
    return units


@dataclass(frozen=True)
class AttentionTiming:
    """The attention units' recurrences: issue cycles a pixel, the window they wait for,
    their slots, and the cycles from a start to the count showing the pixel."""

    logit_span: int
    logit_reach: int
    logit_slots: int
    logit_done: int     # from the logit unit's start of a pixel to its count showing it
    agg_span: int
    agg_done: int       # from the aggregation's last issue of a pixel to its count showing it


def attention_timing(geo: Geometry) -> AttentionTiming:
    cfg = geo.cfg
    if cfg.attention == "sa":
        span = 2 * cfg.n_pixels + SPAN_EXTRA
        return AttentionTiming(logit_span=span, logit_reach=cfg.n_pixels,
                               logit_slots=SA_SLOTS, logit_done=span,
                               agg_span=cfg.n_pixels * geo.ci_chunks, agg_done=SA_AGG_DONE)
    if cfg.attention == "involution":  # the kernel unit has the logit unit's pipeline
        kk = cfg.k * cfg.k
        return AttentionTiming(logit_span=geo.kernel_rows, logit_reach=geo.reach,
                               logit_slots=SLOTS, logit_done=geo.kernel_rows - 1 + LOGIT_DONE,
                               agg_span=kk * geo.ci_chunks, agg_done=AGG_DONE)
    return AttentionTiming(logit_span=9, logit_reach=cfg.shift * cfg.w + cfg.shift,
                           logit_slots=SLOTS, logit_done=9 - 1 + LOGIT_DONE,
                           agg_span=9 * geo.ci_chunks, agg_done=AGG_DONE)


def predict(cfg: XvConfig, frames: int = 1) -> CyclePrediction:
    """Cycles of ``frames`` frames back to back with stall-free streams."""
    geo = Geometry(cfg)
    n_px, total = cfg.n_pixels, cfg.n_pixels * frames
    per_chunk = geo.proj_groups
    proj_span = geo.ci_chunks * per_chunk
    mac_span = geo.mac_cycles_per_pixel
    att = attention_timing(geo)
    agg_span, logit_span = att.agg_span, att.logit_span
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
            for unit, value in values.items():
                if value != start[unit][p]:
                    start[unit][p] = value
                    changed = True
            proj_done[p] = start["proj"][p] + proj_span - 1 + PROJ_DONE
            logit_done[p] = start["logit"][p] + att.logit_done
            agg_issued[p] = start["agg"][p] + agg_span
            agg_done[p] = start["agg"][p] + agg_span - 1 + att.agg_done
            mac_issued[p] = start["mac"][p] + mac_span

    first_input = per_chunk - 1  # a chunk is accepted with its last row group
    last_output = mac_issued[-1] - 1 + OUTPUT_DELAY
    first_output = start["mac"][0] + cfg.taps * geo.ci_chunks - 1 + OUTPUT_DELAY
    units = unit_cycles_per_pixel(geo)
    slowest = max(units, key=units.get)
    return CyclePrediction(cfg=cfg, frames=frames, cycles=last_output - first_input + 1,
                           first_output=first_output - first_input, mac_busy=mac_span * total,
                           bottleneck_cycles_per_pixel=units[slowest], bottleneck=slowest)
