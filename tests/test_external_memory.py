"""Weights in external memory: the golden image's layout, the engine's view of it, and the
choice of where the weights live (the RTL side is in test_engine_cocotb.py, test_cycle_model.py
and test_robustness.py)."""
import numpy as np
import pytest

from golden.config import preset
from golden.generate import make_vector_set
from golden.memory_image import image_layout, mac_taps, weight_image
from golden.vectors import WEIGHT_IMAGE, read_vectors, write_vectors
from hw.geometry import BLOCK_RAM_FILL, Geometry, choose_weights
from hw.params import param_words

CAPACITY = 208 * 18 * 1024  # the ECP5-85F's block RAM


@pytest.mark.parametrize("overrides", [
    dict(co_tile=2, simd=2, pe=2),                      # a 32-bit word in a 64-bit beat
    dict(co_tile=4, simd=8, pe=4, axi_bits=32),         # 256-bit words: 8 beats
    dict(attention="conv", co_tile=8, burst_beats=4),   # K^2 taps, no z tap
])
def test_image_layout_matches_what_the_engine_fetches(overrides):
    cfg = preset("tiny", weights="external", **overrides)
    geo, lay = Geometry(cfg), image_layout(cfg)
    assert (lay.tile_bytes, lay.tiles, lay.beats_per_word) == \
        (geo.tile_bytes, cfg.tiles, geo.beats_per_word)
    assert lay.tile_bytes % geo.burst_bytes == 0 and 4096 % geo.burst_bytes == 0
    layer = make_vector_set(cfg, frames=1, seed=1).layer
    image = weight_image(cfg, layer)
    assert len(image) == geo.tiles_bytes_per_frame
    # word (og of the last tile, tap t, chunk ci), lane (p, s): W_t[og*PE + p, ci*SIMD + s]
    t, ci, p, s = cfg.taps - 1, geo.ci_chunks - 1, cfg.pe - 1, cfg.simd - 1
    tile, og_local = cfg.tiles - 1, min(1, geo.tile_groups - 1)
    index = (og_local * cfg.taps + t) * geo.ci_chunks + ci
    word_bytes = geo.beats_per_word * cfg.axi_bits // 8
    start = tile * lay.tile_bytes + index * word_bytes
    word = int.from_bytes(image[start:start + word_bytes], "little")
    wb = cfg.fmt.weight_bits
    lane = (word >> ((p * cfg.simd + s) * wb)) & ((1 << wb) - 1)
    lane -= (lane >> (wb - 1)) << wb
    og = tile * geo.tile_groups + og_local
    assert lane == mac_taps(cfg, layer)[t, og * cfg.pe + p, ci * cfg.simd + s]


def test_vector_set_carries_the_image_and_the_stream_drops_w_mac(tmp_path):
    cfg = preset("tiny", weights="external", co_tile=4)
    vs = make_vector_set(cfg, frames=1, seed=3)
    write_vectors(vs, tmp_path / "v")
    assert (tmp_path / "v" / WEIGHT_IMAGE).read_bytes() == weight_image(cfg, vs.layer)
    read_vectors(tmp_path / "v")  # its checksum is in the manifest
    (tmp_path / "v" / WEIGHT_IMAGE).write_bytes(b"\0" * 16)
    with pytest.raises(ValueError, match="weights.bin does not match its checksum"):
        read_vectors(tmp_path / "v")
    onchip = cfg.replace(weights="onchip", co_tile=0)
    w_mac = Geometry(onchip).region("w_mac").words
    assert len(param_words(onchip, vs.layer)) - len(param_words(cfg, vs.layer)) == w_mac


def test_weights_placed_by_the_memory_budget():
    assert choose_weights(preset("tiny"), CAPACITY) == preset("tiny")
    stage3 = choose_weights(preset("stage3", simd=4, pe=4), CAPACITY)
    assert stage3.external_weights and 1 < stage3.tiles < 256
    assert sum(Geometry(stage3).buffer_bits().values()) <= BLOCK_RAM_FILL * CAPACITY
    bigger = stage3.replace(co_tile=stage3.tile_co * 2)  # the largest tile that fits was taken
    assert sum(Geometry(bigger).buffer_bits().values()) > BLOCK_RAM_FILL * CAPACITY
    # full SA must hold its frame: at 56 x 56 nothing fits, whatever the tile
    assert choose_weights(preset("stage2", attention="sa", h=56, w=56), CAPACITY) is None
    assert np.isclose(Geometry(stage3).tiles_bytes_per_frame, 256 * 256 * 10, rtol=0.01)
