"""The batched-matmul LocallyConnected against the previous pad + unfold + einsum implementation.

``reference_lc`` and ``ReferenceLocallyConnected`` are the code of ``freqkit.models`` before
issue 13, copied verbatim: outputs, gradients, seeded initialisation and checkpoints must agree.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from freqkit import models
from freqkit.models import (
    LocallyConnected,
    circular_conv2d,
    circular_pad,
    create_model,
    locally_connected2d,
)

F64 = torch.float64


# --------------------------------------------------------------------------- reference (pre-issue-13 code)


def reference_lc(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Circular pad + ``unfold`` + one einsum (the old ``LocallyConnected.forward``)."""
    k = weight.shape[-1]
    n, c_in, h, w = x.shape
    cols = F.unfold(circular_pad(x, k), kernel_size=k)  # (N, c_in·k·k, H·W)
    cols = cols.view(n, c_in, k, k, h, w)
    return torch.einsum("ncabhw,hwocab->nohw", cols, weight)


class ReferenceLocallyConnected(nn.Module):
    """The old layer: contiguous ``(H, W, c_out, c_in, k, k)`` weight, PyTorch-default init."""

    def __init__(self, in_channels, out_channels, *, kernel_size, image_size, bias=False, generator=None):
        super().__init__()
        n, k = image_size, kernel_size
        self.kernel_size = k
        self.weight = nn.Parameter(torch.empty(n, n, out_channels, in_channels, k, k))
        self.bias = nn.Parameter(torch.empty(out_channels, n, n)) if bias else None
        fan_in = in_channels * k**2
        bound = 1.0 / math.sqrt(fan_in)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x):
        y = reference_lc(x, self.weight)
        return y if self.bias is None else y + self.bias


def _grads(fn, x, weight, grad_out):
    x = x.detach().requires_grad_(True)
    weight = weight.detach().requires_grad_(True)
    y = fn(x, weight)
    gx, gw = torch.autograd.grad(y, (x, weight), grad_out)
    return y.detach(), gx, gw


# --------------------------------------------------------------------------- equality with the reference


@settings(max_examples=40, deadline=None)
@given(
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    k_frac=st.floats(0.0, 1.0),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_output_and_gradients_equal_reference_float64(c_in, c_out, h, w, k_frac, batch, seed):
    k = 1 + round(k_frac * (min(h, w) - 1))  # 1 <= k <= min(H, W), odd and even
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c_in, h, w, generator=gen, dtype=F64)
    weight = torch.randn(h, w, c_out, c_in, k, k, generator=gen, dtype=F64)
    grad_out = torch.randn(batch, c_out, h, w, generator=gen, dtype=F64)
    y0, gx0, gw0 = _grads(reference_lc, x, weight, grad_out)
    y1, gx1, gw1 = _grads(locally_connected2d, x, weight, grad_out)
    torch.testing.assert_close(y1, y0, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx1, gx0, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gw1, gw0, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("full_below", [0, 10**9])
def test_row_and_full_unfold_paths_both_equal_reference(monkeypatch, full_below):
    """The size rule picks one of two schemes; force each and compare (float64, odd and even k)."""
    monkeypatch.setattr(models, "_LC_FULL_UNFOLD_BELOW", full_below)
    gen = torch.Generator().manual_seed(8)
    for c_in, c_out, k, h, w, batch in ((1, 2, 3, 6, 5, 4), (3, 2, 4, 5, 7, 2), (2, 3, 1, 4, 4, 3), (2, 2, 5, 5, 5, 2)):
        x = torch.randn(batch, c_in, h, w, generator=gen, dtype=F64)
        weight = torch.randn(h, w, c_out, c_in, k, k, generator=gen, dtype=F64)
        grad_out = torch.randn(batch, c_out, h, w, generator=gen, dtype=F64)
        for new, old in zip(_grads(locally_connected2d, x, weight, grad_out),
                            _grads(reference_lc, x, weight, grad_out), strict=True):
            torch.testing.assert_close(new, old, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "n", "batch"),
    [(1, 8, 3, 32, 64), (8, 8, 3, 32, 16), (2, 2, 3, 28, 64), (3, 16, 5, 32, 8), (4, 4, 11, 28, 4), (1, 1, 32, 32, 2)],
)
def test_float32_chapter_sizes_equal_reference(c_in, c_out, k, n, batch):
    """float32 at the sizes the chapters use: equal to the reference within float32 rounding."""
    layer = LocallyConnected(c_in, c_out, kernel_size=k, image_size=n, generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(batch, c_in, n, n, generator=gen)
    grad_out = torch.randn(batch, c_out, n, n, generator=gen)
    y0, gx0, gw0 = _grads(reference_lc, x, layer.weight, grad_out)
    y1, gx1, gw1 = _grads(locally_connected2d, x, layer.weight, grad_out)
    # sums of c_in·k² (outputs, input grads) or N (weight grads) float32 products
    for new, old in ((y1, y0), (gx1, gx0), (gw1, gw0)):
        scale = old.abs().max().item()
        torch.testing.assert_close(new, old, rtol=1e-5, atol=1e-5 * scale)


def test_gradcheck_against_finite_differences():
    """Independent of the reference: analytic gradients = finite differences (float64)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 5, 4, generator=gen, dtype=F64, requires_grad=True)
    weight = torch.randn(5, 4, 3, 2, 3, 3, generator=gen, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(locally_connected2d, (x, weight))


def test_tied_weights_equal_circular_convolution():
    """Second independent computation: one kernel at every pixel is ``circular_conv2d``."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(3, 2, 9, 9, generator=gen, dtype=F64)
    for k in (1, 2, 3, 4, 9):
        kernel = torch.randn(3, 2, k, k, generator=gen, dtype=F64)
        tied = kernel.expand(9, 9, -1, -1, -1, -1)  # a non-native (stride-0) weight layout
        torch.testing.assert_close(locally_connected2d(x, tied), circular_conv2d(x, kernel, method="direct"))


def test_layer_with_bias_matches_reference_layer_forward_and_backward():
    gen = torch.Generator().manual_seed(5)
    new = LocallyConnected(2, 3, kernel_size=3, image_size=6, bias=True, generator=gen).double()
    ref = ReferenceLocallyConnected(2, 3, kernel_size=3, image_size=6, bias=True).double()
    ref.load_state_dict(new.state_dict())
    x = torch.randn(4, 2, 6, 6, dtype=F64, generator=gen)
    (new(x) ** 2).sum().backward()
    (ref(x) ** 2).sum().backward()
    torch.testing.assert_close(new.weight.grad, ref.weight.grad)
    torch.testing.assert_close(new.bias.grad, ref.bias.grad)


# --------------------------------------------------------------------------- init, layout, checkpoints


@pytest.mark.parametrize("bias", [False, True])
def test_seeded_init_is_bit_identical_to_the_old_layer(bias):
    for c_in, c_out, k, n in ((1, 2, 3, 8), (3, 4, 5, 6), (2, 2, 4, 5)):
        new = LocallyConnected(c_in, c_out, kernel_size=k, image_size=n, bias=bias,
                               generator=torch.Generator().manual_seed(7))
        old = ReferenceLocallyConnected(c_in, c_out, kernel_size=k, image_size=n, bias=bias,
                                        generator=torch.Generator().manual_seed(7))
        assert torch.equal(new.weight, old.weight)
        if bias:
            assert torch.equal(new.bias, old.bias)


def test_create_model_init_and_forward_match_the_old_implementation():
    """Same seed -> the same weights as before issue 13 and the same logits within float32 rounding."""
    kw = {"input_shape": (1, 12, 12), "num_classes": 10, "depth": 3, "nonlinearity": "relu", "channels": 4,
          "kernel_size": 3, "bias": True, "seed": 11}
    model = create_model("lc", **kw)
    gen = torch.Generator().manual_seed(11)  # create_model's draw order: hidden layers, then the readout
    old = [ReferenceLocallyConnected(1 if i == 0 else 4, 4, kernel_size=3, image_size=12, bias=True, generator=gen)
           for i in range(3)]
    for layer, ref in zip(model.hidden, old, strict=True):
        assert torch.equal(layer.weight, ref.weight) and torch.equal(layer.bias, ref.bias)
    readout_bound = 1.0 / math.sqrt(4 * 144)
    expected_readout = torch.empty(10, 4 * 144).uniform_(-readout_bound, readout_bound, generator=gen)
    assert torch.equal(model.readout.weight, expected_readout)
    x = torch.rand(8, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    h = x
    for ref in old:
        h = F.relu(ref(h))
    expected = model.readout(h.flatten(1))
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)


def _native_strides(layer: LocallyConnected) -> tuple[int, ...]:
    h, w, c_out, c_in, k, _ = layer.weight.shape
    return torch.empty(k, h, w, c_out, k, c_in).permute(1, 2, 3, 5, 0, 4).stride()


def test_weight_is_stored_natively_and_its_gradient_needs_no_copy():
    layer = LocallyConnected(2, 3, kernel_size=3, image_size=5)
    assert layer.weight.stride() == _native_strides(layer)
    assert not layer.weight.is_contiguous()
    layer(torch.randn(64, 2, 5, 5)).sum().backward()  # row-unfolded path (3·3·2·64 >= 400)
    assert layer.weight.grad.stride() == layer.weight.stride()
    # dtype/device conversions keep the (dense) storage order
    assert layer.double().weight.stride() == _native_strides(layer)


def test_checkpoints_load_in_both_directions():
    """An old (contiguous) state_dict loads into the new layer and vice versa, values unchanged."""
    gen = torch.Generator().manual_seed(9)
    old = ReferenceLocallyConnected(2, 3, kernel_size=3, image_size=6, generator=gen)
    new = LocallyConnected(2, 3, kernel_size=3, image_size=6)
    new.load_state_dict(old.state_dict())
    assert torch.equal(new.weight, old.weight)
    assert new.weight.stride() == _native_strides(new)  # copied into the native buffer
    back = ReferenceLocallyConnected(2, 3, kernel_size=3, image_size=6)
    back.load_state_dict(new.state_dict())
    assert torch.equal(back.weight, old.weight)
    x = torch.randn(3, 2, 6, 6)
    torch.testing.assert_close(new(x), old(x), rtol=1e-5, atol=1e-6)


def test_weight_in_another_memory_order_gives_the_same_values_and_gradient():
    gen = torch.Generator().manual_seed(4)
    layer = LocallyConnected(2, 2, kernel_size=3, image_size=5, generator=gen).double()
    x = torch.randn(3, 2, 5, 5, dtype=F64, generator=gen)
    expected = layer(x)
    (expected**2).sum().backward()
    expected_grad = layer.weight.grad.clone()
    layer.weight = nn.Parameter(layer.weight.detach().contiguous())  # e.g. load_state_dict(assign=True)
    torch.testing.assert_close(layer(x), expected)
    (layer(x) ** 2).sum().backward()
    torch.testing.assert_close(layer.weight.grad, expected_grad)


def test_no_input_gradient_when_the_input_does_not_require_it():
    layer = LocallyConnected(1, 2, kernel_size=3, image_size=4)
    x = torch.randn(2, 1, 4, 4)
    layer(x).sum().backward()
    assert x.grad is None and layer.weight.grad is not None


def test_double_backward_is_refused_not_silently_wrong():
    layer = LocallyConnected(1, 1, kernel_size=3, image_size=4)
    x = torch.randn(2, 1, 4, 4, requires_grad=True)
    (gx,) = torch.autograd.grad(layer(x).pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|double backward|twice"):
        gx.sum().backward()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "match"),
    [
        ((2, 2, 5), (5, 5, 1, 2, 3, 3), "x must be"),
        ((2, 2, 5, 5), (5, 5, 1, 2, 3), "weight must have shape"),
        ((2, 2, 5, 5), (5, 5, 1, 2, 3, 2), "weight must have shape"),
        ((2, 3, 5, 5), (5, 5, 1, 2, 3, 3), r"x has shape \(2, 3, 5, 5\)"),
        ((2, 2, 4, 5), (5, 5, 1, 2, 3, 3), r"x has shape"),
        ((2, 2, 3, 3), (3, 3, 1, 2, 4, 4), "kernel_size=4"),
    ],
)
def test_bad_input_raises_value_error(x_shape, w_shape, match):
    with pytest.raises(ValueError, match=match):
        locally_connected2d(torch.zeros(x_shape), torch.zeros(w_shape))


def test_dtype_mismatch_raises_value_error():
    with pytest.raises(ValueError, match="same dtype"):
        locally_connected2d(torch.zeros(1, 1, 3, 3), torch.zeros(3, 3, 1, 1, 3, 3, dtype=F64))


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_transpose_helper_is_exact_with_and_without_mkl(monkeypatch, dtype):
    """``_transpose_2d`` (MKL omatcopy when available) equals ``x.t()`` exactly; without MKL too."""
    gen = torch.Generator().manual_seed(6)
    cases = [torch.randn(300, 200, generator=gen, dtype=dtype), torch.randn(5, 7, generator=gen, dtype=dtype),
             torch.randn(400, 300, generator=gen, dtype=dtype)[:, 1:]]  # last: non-contiguous, PyTorch's copy
    for use_mkl in (True, False):
        if not use_mkl:
            monkeypatch.setattr(models, "_OMATCOPY", {})
        for x in cases:
            out = models._transpose_2d(x)
            assert out.is_contiguous() and torch.equal(out, x.t())
