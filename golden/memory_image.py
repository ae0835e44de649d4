"""The MAC array's weights as the engine fetches them from external memory: the binary image a
user puts in DRAM and the testbench loads into its AXI4 memory model (docs/external-memory.md).

With ``weights="external"`` the engine computes ``tile_co`` output channels (G = tile_co / PE
output groups) for the whole frame, then the next tile; it reads tile tau's weights as one
block of ``tile_bytes``, tau = 0, 1, ... from the weight base address:

- word (og, t, ci) of the tile, og in 0..G-1, t in 0..taps-1, ci in 0..C_in/SIMD-1, in that
  order: PE x SIMD weights, lane pe*SIMD + s = W_t[(tau G + og) PE + pe, ci SIMD + s] (W_t the
  re-parameterized convolution tap t in Delta_K's raster order, and W_{K^2} = W'_v for a form
  with attention: S9's z tap), each lane ``weight_bits`` two's complement, lane 0 in the low
  bits;
- a word takes ``ceil(PE SIMD weight_bits / axi_bits)`` bus words, little-endian, the rest
  zero;
- a tile is zero-padded to a whole number of bursts (``burst_beats`` bus words), so every tile
  and every burst starts on a burst boundary and no burst crosses 4 KB.

numpy only; golden/ computes this layout on its own (it never imports hw/), and the tests check
that the engine fetches exactly these bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import XvConfig


@dataclass(frozen=True)
class ImageLayout:
    word_bits: int        # PE x SIMD x weight_bits
    beats_per_word: int   # bus words a weight word takes
    tile_words: int       # weight words a tile
    tile_bytes: int       # bytes a tile, padded to whole bursts
    tiles: int

    @property
    def total_bytes(self) -> int:
        return self.tile_bytes * self.tiles


def image_layout(cfg: XvConfig) -> ImageLayout:
    word_bits = cfg.pe * cfg.simd * cfg.fmt.weight_bits
    beats = -(-word_bits // cfg.axi_bits)
    tile_words = (cfg.tile_co // cfg.pe) * cfg.taps * (cfg.c_in // cfg.simd)
    burst_bytes = cfg.burst_beats * cfg.axi_bits // 8
    raw = tile_words * beats * cfg.axi_bits // 8
    return ImageLayout(word_bits=word_bits, beats_per_word=beats, tile_words=tile_words,
                       tile_bytes=-(-raw // burst_bytes) * burst_bytes, tiles=cfg.tiles)


def mac_taps(cfg: XvConfig, layer) -> np.ndarray:
    """The MAC array's taps (taps, C_out, C_in): the convolution's K^2, then W'_v (S9)."""
    taps = [np.asarray(layer.w_conv)]
    if cfg.has_attention:
        taps.append(np.asarray(layer.w_v)[None])
    return np.concatenate(taps, 0)


def weight_image(cfg: XvConfig, layer) -> bytes:
    """The external-memory image of ``layer``'s MAC-array weights (module docstring)."""
    lay = image_layout(cfg)
    wb, pe, simd = cfg.fmt.weight_bits, cfg.pe, cfg.simd
    groups = cfg.c_out // pe
    # (og, t, ci, pe, s) -> W_t[og*PE + pe, ci*SIMD + s]
    words = mac_taps(cfg, layer).reshape(cfg.taps, groups, pe, cfg.c_in // simd, simd)
    words = words.transpose(1, 0, 3, 2, 4).reshape(groups * cfg.taps * (cfg.c_in // simd),
                                                   pe * simd)
    word_bytes = lay.beats_per_word * cfg.axi_bits // 8
    mask = (1 << wb) - 1
    out = bytearray()
    for tile in np.split(words, cfg.tiles):
        block = bytearray()
        for lanes in tile:
            value = sum((int(v) & mask) << (i * wb) for i, v in enumerate(lanes))
            block += value.to_bytes(word_bytes, "little")
        out += block + bytes(lay.tile_bytes - len(block))
    assert len(out) == lay.total_bytes
    return bytes(out)
