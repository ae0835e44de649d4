"""The bit-accurate fixed-point model: its arithmetic, a scalar cross-check, its error bounds."""
import numpy as np
import pytest

from golden.config import preset
from golden.fixed import forward_fixed, requantize, round_shift, saturate
from golden.generate import fixed_point_error, make_vector_set


def test_round_half_up_and_saturation():
    assert list(round_shift(np.array([5, 6, 7, -5, -6, -7]), 2)) == [1, 2, 2, -1, -1, -2]
    assert list(saturate(np.array([-200, -128, 127, 300]), 8)) == [-128, -128, 127, 127]
    # 1000 * 3 / 2^4 = 187.5 -> 188 (half up); -187.5 -> -187
    assert requantize(np.array([1000, -1000]), 3, 4, 16).tolist() == [188, -187]
    assert requantize(np.array([100000]), 3, 4, 8).tolist() == [127]


def scalar_reference(cfg, layer, x):
    """The integer S9 written pixel by pixel with Python ints: an independent cross-check."""
    f = cfg.fmt
    hi, lo = (1 << (f.data_bits - 1)) - 1, -(1 << (f.data_bits - 1))

    def rq(acc, m, s):
        return max(lo, min(hi, (acc * m + (1 << (s - 1))) >> s))

    def pixel(i, j):
        inside = 0 <= i < cfg.h and 0 <= j < cfg.w
        return [int(v) for v in x[i, j]] if inside else [0] * cfg.c_in

    def proj(w, m, s, vec):
        return [rq(sum(int(w[o, c]) * vec[c] for c in range(cfg.c_in)), int(m[o]), s)
                for o in range(len(w))]

    y = np.zeros((cfg.h, cfg.w, cfg.c_out), dtype=np.int64)
    for i in range(cfg.h):
        for j in range(cfg.w):
            q = proj(layer.w_q, layer.m_q, layer.s_q, pixel(i, j))
            a = []
            for di, dj in cfg.shift_offsets:
                kk = proj(layer.w_k, layer.m_k, layer.s_k, pixel(i + di, j + dj))
                a.append(rq(sum(qq * kv for qq, kv in zip(q, kk)), layer.m_a, layer.s_a))
            z = [rq(sum(a[t] * pixel(i + di, j + dj)[c]
                        for t, (di, dj) in enumerate(cfg.shift_offsets)), layer.m_z, layer.s_z)
                 for c in range(cfg.c_in)]
            for o in range(cfg.c_out):
                acc_c = sum(int(layer.w_conv[t, o, c]) * pixel(i + di, j + dj)[c]
                            for t, (di, dj) in enumerate(cfg.conv_offsets)
                            for c in range(cfg.c_in))
                acc_a = sum(int(layer.w_v[o, c]) * z[c] for c in range(cfg.c_in))
                total = acc_c * int(layer.m_c[o]) + acc_a * int(layer.m_v[o]) + int(layer.bias[o])
                y[i, j, o] = max(lo, min(hi, (total + (1 << (layer.s_out - 1))) >> layer.s_out))
    return y


@pytest.mark.parametrize("overrides", [dict(), dict(h=5, w=7, shift=2, c_out=6), dict(k=5, d=2)])
def test_vectorized_model_equals_scalar_reference(overrides):
    cfg = preset("tiny", **overrides)
    vs = make_vector_set(cfg, frames=1, seed=11)
    assert np.array_equal(forward_fixed(cfg, vs.layer, vs.x[0]).y, scalar_reference(cfg, vs.layer,
                                                                                   vs.x[0]))
    assert np.array_equal(vs.y[0], forward_fixed(cfg, vs.layer, vs.x[0]).y)


def test_outputs_use_the_range_and_saturate_at_extremes():
    cfg = preset("tiny")
    vs = make_vector_set(cfg, frames=2, seed=1)
    assert vs.y.max() > 64 and vs.y.min() < -64  # calibrated: the range is used
    extreme = np.full((cfg.h, cfg.w, cfg.c_in), cfg.fmt.data_min)
    y = forward_fixed(cfg, vs.layer, extreme).y
    assert y.min() >= cfg.fmt.data_min and y.max() <= cfg.fmt.data_max


def test_input_range_and_shape_are_checked():
    cfg = preset("tiny")
    vs = make_vector_set(cfg, frames=1, seed=1)
    with pytest.raises(ValueError, match="outside int8"):
        forward_fixed(cfg, vs.layer, vs.x[0] * 4)
    with pytest.raises(ValueError, match="shape"):
        forward_fixed(cfg, vs.layer, vs.x[0, :4])


@pytest.mark.parametrize("attention", ["pssa", "sa", "involution", "conv"])
def test_float_input_is_refused_not_truncated(attention):
    """Every form's forward (golden.forms) shares check_frame: float frames, even holding
    whole numbers, are refused in one line naming the dtype."""
    from golden.forms import golden_form

    cfg = preset("digits", attention=attention, h=4, w=4)
    vs = make_vector_set(cfg, frames=1, seed=1)
    forward = golden_form(cfg).forward
    with pytest.raises(ValueError, match=r"^input: dtype float64, expected integers"):
        forward(cfg, vs.layer, vs.x[0].astype(np.float64))
    assert np.array_equal(forward(cfg, vs.layer, vs.x[0].astype(np.int16)).y, vs.y[0])


# Stated bounds of docs/fixed-point.md: (data = weight bits) -> (min SQNR dB, max |error| LSB)
# for random normal frames and sample-photograph features.  Measured with `python -m golden error`.
BOUNDS = {
    (8, "random"): (30.0, 4.0), (8, "image"): (22.0, 6.0),
    (12, "random"): (54.0, 4.0), (12, "image"): (46.0, 6.0),
    (16, "random"): (78.0, 4.0), (16, "image"): (70.0, 6.0),
}


@pytest.mark.parametrize("workload", ["tiny", "digits", "stage3"])
@pytest.mark.parametrize("bits, source", sorted(BOUNDS))
def test_fixed_point_error_bound(workload, bits, source):
    cfg = preset(workload, data_bits=bits, weight_bits=bits, acc_bits=48 if bits > 8 else 32)
    min_sqnr, max_lsb = BOUNDS[bits, source]
    err = fixed_point_error(cfg, source, frames=4, seed=0)
    assert err.sqnr_db >= min_sqnr, err
    assert err.max_lsb <= max_lsb, err

