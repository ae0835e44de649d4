"""Small pieces of logic shared by the engine's blocks."""
from __future__ import annotations

from amaranth.hdl import Array, Const, Mux, Signal, signed

from .geometry import Geometry


def wrap_inc(value, last: int):
    """value + 1, back to 0 after ``last``."""
    return Mux(value == last, 0, value + 1)


def lanes(word, count: int, bits: int, signed_lanes: bool = True) -> list:
    """Split a packed word into ``count`` lanes of ``bits`` (lane 0 in the low bits)."""
    out = [word[i * bits:(i + 1) * bits] for i in range(count)]
    return [v.as_signed() for v in out] if signed_lanes else out


def offset_table(offsets, width: int):
    """ROMs (as Arrays of constants) of row offsets, column offsets and raster distances."""
    return (Array(Const(di, signed(8)) for di, _ in offsets),
            Array(Const(dj, signed(8)) for _, dj in offsets),
            Array(Const(di * width + dj, signed(24)) for di, dj in offsets))


def neighbour(geo: Geometry, count, row, col, di, dj, distance):
    """Ring slot of pixel ``count + distance`` and whether (row+di, col+dj) lies in the frame."""
    inside = (row + di >= 0) & (row + di < geo.cfg.h) & (col + dj >= 0) & (col + dj < geo.cfg.w)
    slot = (count + distance)[:geo.addr_bits]
    return slot, inside


def window_ready(avail, count, pos, reach: int, pixels: int):
    """Are the pixels up to min(count + reach, end of frame) projected?

    ``avail`` counts projected pixels, ``count`` is this engine's pixel, ``pos`` its index in the
    frame; all counters are free-running, compared by modular difference.
    """
    ahead = (avail - count)[:32]
    left = pixels - pos  # pixels of this frame from this one on
    need = Mux(left < reach + 1, left, reach + 1)
    return ahead >= need


def delay(m, valid, tag, cycles: int, name: str):
    """Delay a (valid, tag) pair by ``cycles`` registers, for tags that ride along a pipeline."""
    for i in range(cycles):
        v, t = Signal(name=f"{name}{i}_valid"), Signal.like(tag, name=f"{name}{i}_tag")
        m.d.sync += [v.eq(valid), t.eq(tag)]
        valid, tag = v, t
    return valid, tag
