"""PyTorch model of X-volution: the training form (S1-S6) and its re-parameterization (S7-S9).

Tensors are NCHW.  ``XVolution`` is the trainable two-branch module; ``reparameterize`` folds its
BatchNorms (S7) and returns ``DynamicXVolution``, the single dynamic convolution of S8, which can
also evaluate itself in the factored form S9 and return its per-pixel kernel K_p(d) explicitly.
With ``attention="conv"`` both are the baseline X-volution replaces: the conv + BN_c branch
alone, whose re-parameterized kernel is static (W'_d = gamma / sigma W_d for every pixel).
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from .config import XvConfig


def shift_map(x: torch.Tensor, di: int, dj: int) -> torch.Tensor:
    """Return t with t[..., i, j] = x[..., i + di, j + dj], zero outside the frame (zero padding)."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    src_i = slice(max(di, 0), h + min(di, 0))
    dst_i = slice(max(-di, 0), h + min(-di, 0))
    src_j = slice(max(dj, 0), w + min(dj, 0))
    dst_j = slice(max(-dj, 0), w + min(-dj, 0))
    if src_i.start < src_i.stop and src_j.start < src_j.stop:
        out[..., dst_i, dst_j] = x[..., src_i, src_j]
    return out


def fold_bn(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(S7) per-channel scale gamma / sqrt(var + eps) and bias beta - mean * scale of an eval BN."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def pssa_logits(q: torch.Tensor, k: torch.Tensor, offsets) -> torch.Tensor:
    """(S3) a_p(d) = <q_p, k_{p+d}> / sqrt(D) for each d: shape (N, |offsets|, H, W)."""
    scale = 1.0 / math.sqrt(q.shape[1])
    return torch.stack([(q * shift_map(k, di, dj)).sum(1) * scale for di, dj in offsets], 1)


def sa_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(S4) a_p(j) = softmax_j(<q_p, k_j> / sqrt(D)): shape (N, H*W queries, H*W keys)."""
    logits = torch.einsum("ndp,ndj->npj", q.flatten(2), k.flatten(2)) / math.sqrt(q.shape[1])
    return torch.softmax(logits, dim=-1)


class XVolution(nn.Module):
    """Training form (S1-S6): a conv + BN branch in parallel with an attention branch (none for
    the plain convolution, ``attention="conv"``)."""

    def __init__(self, cfg: XvConfig):
        super().__init__()
        self.cfg = cfg
        k = cfg.k
        self.conv = nn.Conv2d(cfg.c_in, cfg.c_out, k, padding=k // 2, bias=False)  # S1
        self.bn_c = nn.BatchNorm2d(cfg.c_out)
        if cfg.attention in ("pssa", "sa"):  # S2
            self.w_q = nn.Conv2d(cfg.c_in, cfg.d, 1, bias=False)
            self.w_k = nn.Conv2d(cfg.c_in, cfg.d, 1, bias=False)
            self.w_v = nn.Conv2d(cfg.c_in, cfg.c_out, 1, bias=False)
        elif cfg.attention == "involution":  # S5: h_p = W_2 ReLU(BN_r(W_1 x_p))
            self.w_1 = nn.Conv2d(cfg.c_in, cfg.c_in // cfg.reduction, 1, bias=False)
            self.bn_r = nn.BatchNorm2d(cfg.c_in // cfg.reduction)
            self.w_2 = nn.Conv2d(cfg.c_in // cfg.reduction, cfg.groups * k * k, 1, bias=False)
        if cfg.has_attention:
            self.bn_a = nn.BatchNorm2d(cfg.c_out)

    def attention_term(self, x: torch.Tensor) -> torch.Tensor:
        """The attention branch before BN_a: S3, S4 or S5's inner sum."""
        cfg = self.cfg
        if cfg.attention == "pssa":
            q, k, v = self.w_q(x), self.w_k(x), self.w_v(x)
            a = pssa_logits(q, k, cfg.shift_offsets)
            return sum(a[:, i:i + 1] * shift_map(v, di, dj)
                       for i, (di, dj) in enumerate(cfg.shift_offsets))
        if cfg.attention == "sa":
            q, k, v = self.w_q(x), self.w_k(x), self.w_v(x)
            att = sa_weights(q, k)
            return torch.einsum("npj,ncj->ncp", att, v.flatten(2)).reshape(v.shape)
        h = self.involution_kernel(x)
        return involution_sum(x, h, cfg)

    def involution_kernel(self, x: torch.Tensor) -> torch.Tensor:
        """(S5) h_p: shape (N, G, K*K, H, W)."""
        n, _, hh, ww = x.shape
        h = self.w_2(torch.relu(self.bn_r(self.w_1(x))))
        return h.reshape(n, self.cfg.groups, self.cfg.k ** 2, hh, ww)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn_c(self.conv(x))  # S1
        if not self.cfg.has_attention:
            return y
        return y + self.bn_a(self.attention_term(x))  # S6


def involution_sum(x: torch.Tensor, h: torch.Tensor, cfg: XvConfig) -> torch.Tensor:
    """(S5) sum_d h_p[g(c), d] * x_{p+d}[c] with g(c) = c // group_channels."""
    n, c, hh, ww = x.shape
    hc = h.repeat_interleave(c // cfg.groups, dim=1)  # (N, C, K*K, H, W): per-channel kernel
    return sum(hc[:, :, i] * shift_map(x, di, dj) for i, (di, dj) in enumerate(cfg.conv_offsets))


class DynamicXVolution(nn.Module):
    """Inference form (S8): y_p = sum_{d in U} K_p(d) x_{p+d} + b with folded weights (S7).

    ``forward`` evaluates S8 by materializing K_p; ``forward_factored`` evaluates S9.  Only
    W'_d (``w_conv``, shape (C_out, C_in, K, K)), W'_v (``w_v``) and the bias are folded
    parameters; the attention coefficients a_p are still computed from the input.  The plain
    convolution (``attention="conv"``) has W'_d and the bias only: K_p(d) = W'_d, static.
    """

    def __init__(self, source: XVolution):
        super().__init__()
        cfg = self.cfg = source.cfg
        scale_c, bias_c = fold_bn(source.bn_c)
        self.w_conv = nn.Parameter(source.conv.weight * scale_c[:, None, None, None])
        if not cfg.has_attention:
            self.bias = nn.Parameter(bias_c.clone())
            return
        scale_a, bias_a = fold_bn(source.bn_a)
        self.bias = nn.Parameter(bias_c + bias_a)
        if cfg.attention in ("pssa", "sa"):
            self.w_q = nn.Parameter(source.w_q.weight[:, :, 0, 0].clone())
            self.w_k = nn.Parameter(source.w_k.weight[:, :, 0, 0].clone())
            self.w_v = nn.Parameter(source.w_v.weight[:, :, 0, 0] * scale_a[:, None])
        else:
            scale_r, bias_r = fold_bn(source.bn_r)  # S7 on the kernel generator too
            self.w_1 = nn.Parameter(source.w_1.weight[:, :, 0, 0] * scale_r[:, None])
            self.b_1 = nn.Parameter(bias_r.clone())
            self.w_2 = nn.Parameter(source.w_2.weight[:, :, 0, 0].clone())
            self.g_scale = nn.Parameter(scale_a.clone())

    # ----------------------------------------------------------------- dynamic coefficients
    def projections(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(S2) q and k maps, shape (N, D, H, W)."""
        return (torch.einsum("dc,nchw->ndhw", self.w_q, x),
                torch.einsum("dc,nchw->ndhw", self.w_k, x))

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """a_p(d) for PSSA (N, SHIFT_TAPS, H, W), a_p(j) for SA (N, H*W, H*W), h_p for
        involution; the plain convolution has none."""
        if not self.cfg.has_attention:
            raise ValueError("attention: the plain convolution has no attention coefficients")
        if self.cfg.attention == "involution":
            return self.involution_kernel(x)
        q, k = self.projections(x)
        if self.cfg.attention == "pssa":
            return pssa_logits(q, k, self.cfg.shift_offsets)
        return sa_weights(q, k)

    def involution_kernel(self, x: torch.Tensor) -> torch.Tensor:
        """(S5) h_p = W_2 ReLU(W'_1 x_p + b'_1) with BN_r folded: shape (N, G, K*K, H, W)."""
        n, _, hh, ww = x.shape
        hidden = torch.relu(torch.einsum("rc,nchw->nrhw", self.w_1, x)
                            + self.b_1[None, :, None, None])
        h = torch.einsum("gr,nrhw->nghw", self.w_2, hidden)
        return h.reshape(n, self.cfg.groups, self.cfg.k ** 2, hh, ww)

    # ----------------------------------------------------------------- S8, materialized kernel
    def kernels(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        """Per-pixel kernel K_p(d) of S8 and its support.

        PSSA / involution / conv: shape (N, H, W, |U|, C_out, C_in) over the offsets returned
        (conv: Delta_K, and K_p(d) = W'_d at every pixel).
        SA: shape (N, H*W, H*W, C_out, C_in) over all pixels j (global support); the support
        returned is the list of pixels (i, j) in raster order.
        """
        cfg = self.cfg
        coef = self.coefficients(x) if cfg.has_attention else None
        n, _, hh, ww = x.shape
        if cfg.attention == "sa":
            pixels = [(i, j) for i in range(hh) for j in range(ww)]
            kern = coef[..., None, None] * self.w_v  # a_p(j) W'_v
            for pi, (i, j) in enumerate(pixels):
                for t, (di, dj) in enumerate(cfg.conv_offsets):
                    if 0 <= i + di < hh and 0 <= j + dj < ww:
                        jj = (i + di) * ww + (j + dj)
                        kern[:, pi, jj] += self.w_conv[:, :, t // cfg.k, t % cfg.k]
            return kern, pixels
        support = list(cfg.union_offsets if cfg.attention == "pssa" else cfg.conv_offsets)
        kern = x.new_zeros(n, hh, ww, len(support), cfg.c_out, cfg.c_in)
        r = cfg.k // 2
        for u, (di, dj) in enumerate(support):
            if abs(di) <= r and abs(dj) <= r:  # static part W'_d [d in Delta_K]
                kern[:, :, :, u] += self.w_conv[:, :, di + r, dj + r]
            if cfg.attention == "pssa" and (di, dj) in cfg.shift_offsets:
                a = coef[:, cfg.shift_offsets.index((di, dj))]  # (N, H, W)
                kern[:, :, :, u] += a[..., None, None] * self.w_v
            elif cfg.attention == "involution":
                hc = coef[:, :, u].repeat_interleave(cfg.c_in // cfg.groups, 1)  # (N, C, H, W)
                diag = torch.diag_embed((hc * self.g_scale[None, :, None, None]).permute(0, 2, 3, 1))
                kern[:, :, :, u] += diag
        return kern, support

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(S8) the single dynamic convolution, evaluated from the materialized K_p."""
        kern, support = self.kernels(x)
        n, _, hh, ww = x.shape
        if self.cfg.attention == "sa":
            y = torch.einsum("npjoc,ncj->nop", kern, x.flatten(2)).reshape(n, -1, hh, ww)
        else:
            y = sum(torch.einsum("nhwoc,nchw->nohw", kern[:, :, :, u], shift_map(x, di, dj))
                    for u, (di, dj) in enumerate(support))
        return y + self.bias[None, :, None, None]

    # ----------------------------------------------------------------- S9, factored
    def forward_factored(self, x: torch.Tensor) -> torch.Tensor:
        """(S9) y = sum_{Delta_K} W'_d x_{p+d} + W'_v (sum_{Delta_L} a_p(d) x_{p+d}) + b."""
        cfg = self.cfg
        y = F.conv2d(x, self.w_conv, self.bias, padding=cfg.k // 2)
        if not cfg.has_attention:
            return y
        coef = self.coefficients(x)
        if cfg.attention == "pssa":
            z = sum(coef[:, i:i + 1] * shift_map(x, di, dj)
                    for i, (di, dj) in enumerate(cfg.shift_offsets))
        elif cfg.attention == "sa":
            z = torch.einsum("npj,ncj->ncp", coef, x.flatten(2)).reshape(x.shape)
        else:
            return y + self.g_scale[None, :, None, None] * involution_sum(x, coef, cfg)
        return y + torch.einsum("oc,nchw->nohw", self.w_v, z)

    def aggregate(self, x: torch.Tensor) -> torch.Tensor:
        """z_p = sum_{d in Delta_L} a_p(d) x_{p+d} (PSSA), the input of W'_v in S9."""
        a = self.coefficients(x)
        return sum(a[:, i:i + 1] * shift_map(x, di, dj)
                   for i, (di, dj) in enumerate(self.cfg.shift_offsets))


@torch.no_grad()
def reparameterize(model: XVolution) -> DynamicXVolution:
    """(S7-S8) fold the BNs of an X-volution (its running statistics) into one dynamic conv."""
    return DynamicXVolution(model).eval()


def randomize_bn(model: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters (for tests and vectors)."""
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, nn.BatchNorm2d):
                c = bn.num_features
                bn.weight.copy_(0.5 + torch.rand(c, generator=generator))
                bn.bias.copy_(0.5 * torch.randn(c, generator=generator))
                bn.running_mean.copy_(0.3 * torch.randn(c, generator=generator))
                bn.running_var.copy_(0.5 + torch.rand(c, generator=generator))


def random_model(cfg: XvConfig, seed: int = 0, dtype=torch.float64) -> XVolution:
    """A training-form X-volution with random weights and BN statistics, in eval mode."""
    torch.manual_seed(seed)
    model = XVolution(cfg).to(dtype)
    randomize_bn(model, torch.Generator().manual_seed(seed + 1))
    return model.eval()
