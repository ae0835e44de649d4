"""The golden model's forms, one registry: for each ``XvConfig.attention`` its quantized-layer
class, its quantizer and its bit-accurate forward (S9 in integers).

The generator, the vector reader and the command line look a form up here instead of keeping
their own tables.  numpy only at import (the vector reader and the testbenches need no torch):
the quantizers, which need torch, are imported when called.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from .config import ATTENTION_FORMS, XvConfig
from .conv import QuantizedConvLayer, forward_fixed_conv
from .fixed import QuantizedLayer, forward_fixed
from .fixed_forms import (QuantizedInvolutionLayer, QuantizedSALayer, forward_fixed_involution,
                          forward_fixed_sa)


@dataclass(frozen=True)
class GoldenForm:
    """One form: ``layer_class`` holds its integers, ``forward(cfg, layer, x)`` runs one int
    frame (H, W, C_in) and returns a trace whose ``y`` is the int output (H, W, C_out), and
    ``quantizer`` names (``module:function`` in this package) its ``(dyn, calib) -> layer``."""

    name: str
    layer_class: type
    forward: Callable[[XvConfig, Any, Any], Any]
    quantizer: str

    def quantize(self, dyn, calib):
        """The fixed-point layer of a re-parameterized model (S8), calibrated on ``calib``."""
        module, function = self.quantizer.split(":")
        return getattr(importlib.import_module(f".{module}", __package__), function)(dyn, calib)


FORMS: dict[str, GoldenForm] = {form.name: form for form in (
    GoldenForm("pssa", QuantizedLayer, forward_fixed, "quantize:quantize_layer"),
    GoldenForm("sa", QuantizedSALayer, forward_fixed_sa, "quantize:quantize_sa_layer"),
    GoldenForm("involution", QuantizedInvolutionLayer, forward_fixed_involution,
               "quantize:quantize_involution_layer"),
    GoldenForm("conv", QuantizedConvLayer, forward_fixed_conv, "conv:quantize_conv_layer"),
)}
assert tuple(FORMS) == ATTENTION_FORMS, "every form of golden.config has a golden model"


def golden_form(cfg_or_name: XvConfig | str) -> GoldenForm:
    """The form of a configuration (or a form's name); ``ValueError`` naming the known forms."""
    name = cfg_or_name.attention if isinstance(cfg_or_name, XvConfig) else cfg_or_name
    if name not in FORMS:
        raise ValueError(f"attention: no golden model for {name!r}; the forms are "
                         f"{', '.join(FORMS)}")
    return FORMS[name]
