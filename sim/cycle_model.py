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
from hw.geometry import Geometry
from hw.mac_array import WINDOW_WAIT  # the counts allowing a pixel to its first issue
from hw.output_stage import output_delay  # a group's last issue to its beat
from hw.util import REGISTERED_START_WAIT



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


@dataclass(frozen=True)
class MemoryTiming:
    """External memory as the cycle model sees it (``weights="external"``): ``latency`` cycles
    from a burst's read-address handshake to its first data beat, then a beat every
    ``interval`` cycles (a bandwidth of ``axi_bits / interval`` bits a cycle).  The default is
    cocotbext-axi's ``AxiRamRead`` with no pauses, the memory of the testbench."""

    latency: int = 2
    interval: int = 1

    def burst_cycles(self, geo: Geometry) -> int:
        """One burst of the fetcher (one outstanding at a time): the address cycle, the
        latency, the beats."""
        return 1 + self.latency + (geo.cfg.burst_beats - 1) * self.interval

    def tile_cycles(self, geo: Geometry) -> int:
        """From the fetcher's start of a tile to the tile counted as loaded."""
        return 1 + geo.bursts_per_tile * self.burst_cycles(geo)

    def bits_per_cycle(self, geo: Geometry) -> float:
        return geo.cfg.axi_bits / self.interval


def weight_bandwidth(geo: Geometry) -> float:
    """Bits a cycle the weight fetch must bring to keep the MAC array busy (external weights):
    a tile's image over the cycles the array spends on it, N pixels x its words."""
    if not geo.cfg.external_weights:
        return 0.0
    return 8 * geo.tile_bytes / (geo.cfg.n_pixels * geo.tile_words)


#: tiles the fetcher loads before the first frame (both buffers); the host starts streaming
#: once they are in (sim/tb_engine.py), so the first frame never waits for its first tiles
PREFETCHED = 2


def predict(cfg: XvConfig, frames: int = 1,
            memory: MemoryTiming = MemoryTiming()) -> CyclePrediction:
    """Cycles of ``frames`` frames back to back with stall-free streams (and, with external
    weights, the memory ``memory`` describes)."""
    geo = Geometry(cfg)
    n_px, total, tiles = cfg.n_pixels, cfg.n_pixels * frames, cfg.tiles
    mac_span = geo.tile_words  # a pixel: one tile's weight words, one a cycle
    items = total * tiles  # the MAC array's (frame, tile, pixel) in order
    att = geo.form.timing(geo)
    proj_span, agg_span, logit_span = att.proj_span, att.agg_span, att.logit_span
    free_after = geo.depth - geo.hold  # the input may run this far ahead of the MAC array
    fetch = memory.tile_cycles(geo) if cfg.external_weights else 0
    late = cfg.count_registers  # every wait on another unit's count lasts this much longer

    def need(p: int, reach: int) -> int:
        """Last pixel that must be projected before pixel p's window is complete."""
        return min(p + reach, p - p % n_px + n_px - 1)

    def item(p: int, tile: int) -> int:
        """The MAC array's item of global pixel p in its frame's ``tile``."""
        return (p // n_px * tiles + tile) * n_px + p % n_px

    start = {u: [0] * total for u in ("proj", "logit", "agg")}
    mac_start = [0] * items
    proj_done = [0] * total
    logit_done = [0] * total
    agg_issued = [0] * total
    agg_done = [0] * total
    mac_issued = [0] * items
    loaded = [0] * (frames * tiles)  # when the fetcher counts tile n as loaded

    def retired(p: int) -> int:
        """When the MAC array is done with pixel p (its frame's last tile has read it)."""
        return mac_issued[item(p, tiles - 1)] if p >= 0 else 0

    units = ("proj", "logit", "agg") if att.has_attention_units else ("proj",)
    changed = True
    while changed:  # monotone recurrences: iterate to their least fixed point
        changed = False
        for p in range(total):
            values = {
                "proj": max(start["proj"][p - 1] + proj_span if p else 0,
                            retired(p - free_after) + REGISTERED_START_WAIT + late
                            if p >= free_after else 0),
                "logit": max(start["logit"][p - 1] + logit_span if p else 0,
                             att.logit_wait + late + max(
                                 proj_done[need(p, att.logit_reach)],
                                 agg_issued[p - att.logit_slots] if p >= att.logit_slots else 0)),
                "agg": max(start["agg"][p - 1] + agg_span if p else 0,
                           att.agg_wait + late + max(logit_done[p], retired(p - geo.z_slots))),
            }
            for unit in units:
                if values[unit] != start[unit][p]:
                    start[unit][p] = values[unit]
                    changed = True
            proj_done[p] = start["proj"][p] + proj_span - 1 + att.proj_done
            logit_done[p] = start["logit"][p] + att.logit_done
            agg_issued[p] = start["agg"][p] + agg_span
            # without attention units z is "ready" with the pixel's projection
            agg_done[p] = (start["agg"][p] + agg_span - 1 + att.agg_done
                           if att.has_attention_units else proj_done[p])
        for n in range(PREFETCHED, frames * tiles):  # tile n waits for its buffer (tile n-2)
            done = max(loaded[n - 1], mac_issued[(n - 1) * n_px - 1]) + fetch
            changed |= done != loaded[n]
            loaded[n] = done
        for i in range(items):
            tile_n, p_in_tile = divmod(i, n_px)
            frame, tile = divmod(tile_n, tiles)
            p = frame * n_px + p_in_tile
            value = max(mac_start[i - 1] + mac_span if i else 0, loaded[tile_n])
            if tile == 0:  # the first pass waits for the window and z; later ones find them
                value = max(value, max(proj_done[need(p, geo.reach)], agg_done[p])
                            + WINDOW_WAIT + late)
            changed |= value != mac_start[i]
            mac_start[i] = value
            mac_issued[i] = value + mac_span

    first_input = att.chunk_cycles - 1  # a chunk is accepted with its last row group
    out_delay = output_delay(geo)  # the copy tree's levels and the requantizers' steps
    last_output = mac_issued[-1] - 1 + out_delay
    first_output = mac_start[0] + cfg.taps * geo.ci_chunks - 1 + out_delay
    units = unit_cycles_per_pixel(geo)
    slowest = max(units, key=units.get)
    return CyclePrediction(cfg=cfg, frames=frames, cycles=last_output - first_input + 1,
                           first_output=first_output - first_input,
                           mac_busy=mac_span * items,
                           bottleneck_cycles_per_pixel=units[slowest], bottleneck=slowest)


def with_count_registers(cfg: XvConfig) -> XvConfig:
    """``cfg`` with a register on every pixel count one unit passes another
    (``count_registers = 1``) where they cost no throughput, else ``cfg`` as it is.  Free
    means a second frame takes as many cycles with them as without (they add a few cycles of
    latency, and every loop through two units still fits in the pixels it spans: tiny 8 x 8's
    z-slot loop, exactly 4 x 10 cycles without them, has no room, and there they would cost
    4.5%), and the aggregation's start stays as registered as it was (its loops lengthen too:
    ``registered_agg_start``).  The reports build their points so (``make bench``, ``make
    compare``)."""
    with_them = cfg.replace(count_registers=1)

    def second_frame(c: XvConfig) -> int:
        return predict(c, 2).cycles - predict(c, 1).cycles

    def agg_wait(c: XvConfig) -> int:
        geo = Geometry(c)
        return geo.form.timing(geo).agg_wait

    free = (second_frame(with_them) <= second_frame(cfg)
            and agg_wait(with_them) == agg_wait(cfg))
    return with_them if free else cfg
