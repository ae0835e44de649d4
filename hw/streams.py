"""Payload layouts of the engine's internal streams (``amaranth.lib.stream`` interfaces)."""
from __future__ import annotations

from amaranth.lib import data, stream


def beat_layout(bits: int) -> data.StructLayout:
    """An AXI4-Stream beat: tdata, tuser (start of frame) and tlast (end of line)."""
    return data.StructLayout({"data": bits, "first": 1, "last": 1})


def beat_stream(bits: int) -> stream.Signature:
    return stream.Signature(beat_layout(bits))


def chunk_stream(bits: int, index_bits: int) -> stream.Signature:
    """SIMD channels of one pixel, their chunk index, and whether they close the pixel."""
    return stream.Signature(data.StructLayout({"data": bits, "index": index_bits, "end": 1}))
