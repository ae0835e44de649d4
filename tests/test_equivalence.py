"""Training form (S1-S6, eval) = inference form S8 = factored form S9, in float64 to 1e-9."""
import pytest
import torch
from hypothesis import given, strategies as st

from golden.config import XvConfig, preset
from golden.generate import check_equivalence, random_frames
from golden.model import XVolution, random_model, reparameterize

TOL = 1e-9


@st.composite
def layers(draw, attention):
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    k = draw(st.sampled_from([1, 3, 5]))
    shift = draw(st.sampled_from([1, 2]))
    if attention == "involution":
        group = draw(st.sampled_from([2, 4]))
        c = group * draw(st.integers(1, 3))
        return XvConfig(h=h, w=w, c_in=c, c_out=c, d=1, k=k, shift=shift, attention=attention,
                        group_channels=group, reduction=draw(st.sampled_from([1, 2])))
    return XvConfig(h=h, w=w, c_in=draw(st.integers(1, 9)), c_out=draw(st.integers(1, 9)),
                    d=draw(st.integers(1, 5)), k=k, shift=shift, attention=attention)


def assert_equivalent(cfg, seed):
    eq = check_equivalence(random_model(cfg, seed), random_frames(cfg, 2, seed + 7))
    assert eq.s8_vs_training <= TOL, eq
    assert eq.s9_vs_training <= TOL, eq


@pytest.mark.parametrize("attention", ["pssa", "sa", "involution", "conv"])
@given(data=st.data())
def test_forms_agree(attention, data):
    cfg = data.draw(layers(attention))
    assert_equivalent(cfg, data.draw(st.integers(0, 1000)))


@pytest.mark.parametrize("name", ["tiny", "digits"])
@pytest.mark.parametrize("attention", ["pssa", "sa", "conv"])
def test_reference_workloads_agree(name, attention):
    assert_equivalent(preset(name, attention=attention), 3)


def test_involution_reference_shape():
    assert_equivalent(preset("digits", attention="involution"), 5)


def test_bn_statistics_matter():
    """The check is not vacuous: BN running statistics are non-trivial and change the output."""
    cfg = preset("tiny")
    model = random_model(cfg, 1)
    assert not torch.allclose(model.bn_c.running_mean, torch.zeros(cfg.c_out, dtype=torch.float64))
    x = random_frames(cfg, 1, 2)
    with torch.no_grad():
        y_eval = model(x)
        fresh = XVolution(cfg).double().eval()
        fresh.load_state_dict({k: v for k, v in model.state_dict().items()
                               if "running" not in k}, strict=False)
        assert (fresh(x) - y_eval).abs().max() > 1e-3


def test_pssa_kernel_support_and_static_part():
    """K_p(d) = W'_d + a_p(d) W'_v: off Delta_L it is the static kernel, on the ring only dynamic."""
    cfg = preset("tiny", shift=2)
    dyn = reparameterize(random_model(cfg, 4))
    x = random_frames(cfg, 1, 5)
    with torch.no_grad():
        kern, support = dyn.kernels(x)
        a = dyn.coefficients(x)
    assert kern.shape == (1, 8, 8, 17, 8, 8)
    u = support.index((0, 1))  # in Delta_K only
    assert torch.allclose(kern[0, 3, 3, u], dyn.w_conv[:, :, 1, 2])
    u = support.index((2, 2))  # in Delta_L only
    d = cfg.shift_offsets.index((2, 2))
    assert torch.allclose(kern[0, 3, 3, u], a[0, d, 3, 3] * dyn.w_v)


def test_conv_is_the_static_convolution():
    """attention="conv": the conv + BN_c branch alone; its S8 kernel is W'_d = gamma / sigma W_d
    at every pixel, whatever the input."""
    cfg = preset("tiny", attention="conv")
    model = random_model(cfg, 6)
    assert not hasattr(model, "bn_a") and not hasattr(model, "w_q")
    dyn = reparameterize(model)
    scale = model.bn_c.weight / torch.sqrt(model.bn_c.running_var + model.bn_c.eps)
    assert torch.allclose(dyn.w_conv, model.conv.weight * scale[:, None, None, None])
    with torch.no_grad():
        kern, support = dyn.kernels(random_frames(cfg, 2, 7))
        other, _ = dyn.kernels(random_frames(cfg, 1, 8))
    assert support == list(cfg.conv_offsets) and kern.shape == (2, 8, 8, 9, 8, 8)
    static = torch.stack([dyn.w_conv[:, :, di + 1, dj + 1] for di, dj in support])
    assert torch.equal(kern, static.expand_as(kern)) and torch.equal(other[0], kern[0])


def test_training_form_trains():
    """The training form is an ordinary trainable module: one SGD step lowers a loss."""
    cfg = preset("tiny")
    torch.manual_seed(0)
    model = XVolution(cfg).double().train()
    x = random_frames(cfg, 4, 1)
    target = torch.randn(4, cfg.c_out, cfg.h, cfg.w, dtype=torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
