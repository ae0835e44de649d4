"""The quantizers (golden/quantize.py, golden.forms): any float model, frames checked,
saturation reported."""
import warnings

import numpy as np
import pytest
import torch

from golden.config import ATTENTION_FORMS, preset
from golden.generate import quantize_form, quantized_run, random_frames
from golden.model import random_model, reparameterize
from golden.quantize import SaturationWarning, quantize_input, saturated_fraction


@pytest.mark.parametrize("attention", ATTENTION_FORMS)
def test_float32_model_quantizes_like_float64(attention):
    """A float32 model (as trained) is quantized in float64 on a copy: it runs, the caller's
    model keeps its dtype, and the integer layer is the float64 model's but for rounding."""
    cfg = preset("digits", attention=attention, h=4, w=4)
    x = random_frames(cfg, 2, 1)
    dyn32 = reparameterize(random_model(cfg, 0, dtype=torch.float32))
    layer32 = quantize_form(dyn32, x.float())
    assert dyn32.w_conv.dtype == torch.float32
    layer64 = quantize_form(reparameterize(random_model(cfg, 0)), x)
    assert layer32.s_out == layer64.s_out
    assert np.abs(layer32.w_conv - layer64.w_conv).max() <= 1
    _, _, yi, _ = quantized_run(cfg, dyn32, x.float())
    assert yi.shape == (2, cfg.h, cfg.w, cfg.c_out)


def test_one_frame_without_batch_dimension_is_refused():
    cfg = preset("tiny")
    x = random_frames(cfg, 1, 0)
    with pytest.raises(ValueError) as err:
        quantize_input(x[0], 0.1, cfg)
    assert str(err.value) == ("x: shape (8, 8, 8), expected float frames N x C_in x H x W "
                              "(N, 8, 8, 8); add the batch dimension (x[None])")
    with pytest.raises(ValueError, match=r"^x: shape \(1, 8, 4, 8\)"):
        quantize_input(x[:, :, :4], 0.1, cfg)


def test_saturation_is_reported():
    """Inside the calibration range: silent; beyond it: a SaturationWarning with the share."""
    cfg = preset("tiny")
    x = random_frames(cfg, 1, 0)
    scale = float(x.abs().max()) / cfg.fmt.data_max
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quantize_input(x, scale, cfg)
    assert saturated_fraction(x, scale, cfg) == 0.0
    share = saturated_fraction(2 * x, scale, cfg)
    assert 0 < share < 1
    with pytest.warns(SaturationWarning, match=rf"^x: {100 * share:.2f}% of the input values"):
        xi = quantize_input(2 * x, scale, cfg)
    assert xi.max() == cfg.fmt.data_max
