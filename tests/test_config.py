"""The configuration object refuses every invalid layer with an error naming the field."""
import pytest

from golden.config import PRESETS, XvConfig, preset, sweep

BASE = dict(h=8, w=8, c_in=8, c_out=8, d=4)


@pytest.mark.parametrize("changes, field", [
    (dict(k=4), "k"),
    (dict(k=0), "k"),
    (dict(shift=0), "shift"),
    (dict(d=0), "d"),
    (dict(h=0), "h"),
    (dict(w=-3), "w"),
    (dict(c_in=0), "c_in"),
    (dict(attention="softmax"), "attention"),
    (dict(simd=3), "simd"),
    (dict(pe=5), "pe"),
    (dict(attention="involution", c_out=16), "c_out"),
    (dict(attention="involution", c_in=12, c_out=12, group_channels=8), "group_channels"),
    (dict(h=5000), "h/w"),
    (dict(d=2.5), "d"),
    # external weights: tiles, the AXI4 port and its bursts
    (dict(weights="dram"), "weights"),
    (dict(co_tile=4), "co_tile"),                       # tiles need external weights
    (dict(weights="external", co_tile=3), "co_tile"),   # does not divide C_out
    (dict(weights="external", co_tile=2, pe=4), "co_tile"),  # not a multiple of PE
    (dict(weights="external", axi_bits=48), "axi_bits"),
    (dict(weights="external", burst_beats=3), "burst_beats"),   # 24-byte bursts cross 4 KB
    (dict(weights="external", burst_beats=512), "burst_beats"),  # AXI4: 256 beats at most
    (dict(count_registers=2), "count_registers"),
    (dict(count_registers=True), "count_registers"),
])
def test_invalid_layer_names_the_field(changes, field):
    with pytest.raises(ValueError, match=rf"^{field}:"):
        XvConfig(**{**BASE, **changes})


@pytest.mark.parametrize("fmt, field", [
    (dict(data_bits=1), "data_bits"),
    (dict(weight_bits=17), "weight_bits"),
    (dict(acc_bits=64), "acc_bits"),
    (dict(mult_bits=2), "mult_bits"),
    (dict(acc_bits=16), "fmt.acc_bits"),   # 8x8-bit products over 72 terms need 23 bits
])
def test_invalid_format_names_the_field(fmt, field):
    with pytest.raises(ValueError, match=rf"^{field}:"):
        preset("tiny", **fmt)


def test_accumulator_width_error_says_what_is_needed():
    with pytest.raises(ValueError, match="convolution accumulator, which needs 27 bits"):
        preset("stage3", acc_bits=26)
    assert preset("stage3", acc_bits=27).fmt.acc_bits == 27


def test_presets_match_the_spec_table():
    assert preset("tiny") == XvConfig(name="tiny", h=8, w=8, c_in=8, c_out=8, d=4, k=3, shift=1)
    s3 = preset("stage3")
    assert (s3.h, s3.w, s3.c_in, s3.d) == (14, 14, 256, 32)
    assert set(PRESETS) == {"tiny", "digits", "stage3", "stage2"}
    assert sweep(28, 2).shift == 2 and sweep(28, 2).c_in == 64
    with pytest.raises(ValueError, match="^workload:"):
        preset("stage9")


def test_offsets_and_support():
    cfg = preset("tiny", shift=2)
    assert len(cfg.conv_offsets) == 9 and len(cfg.shift_offsets) == 9
    assert (2, -2) in cfg.shift_offsets and (0, 0) in cfg.shift_offsets
    assert len(cfg.union_offsets) == 17  # 3x3 window plus the 8-pixel ring at distance 2
    assert cfg.radius == 2
    assert preset("tiny").union_offsets == preset("tiny").conv_offsets


def test_round_trip_through_dict():
    cfg = preset("digits", simd=4, pe=2, data_bits=12, acc_bits=40)
    assert XvConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown fields"):
        XvConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_config_module_does_not_need_torch():
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"
            "import golden.config, golden.options; golden.config.preset('stage3')")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_external_weights_are_described():
    cfg = preset("stage3", weights="external", co_tile=32, simd=8, pe=16)
    assert cfg.tiles == 8 and cfg.external_weights
    assert "weights in external memory (8 tiles of 32 output channels, AXI4 64-bit" in \
        cfg.describe()
    assert preset("tiny").describe().endswith("weights on chip")
