"""circular_conv2d's custom backward (direct) and channel mixing (FFT) against plain autograd.

The reference is the pre-issue-13 code: ``F.conv2d(circular_pad(x), w)`` differentiated by
autograd, and the FFT path with ``torch.einsum`` over channels.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from freqkit.models import _MIX_BROADCAST_MAX, circular_conv2d, circular_pad

F64 = torch.float64


def reference_direct(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return F.conv2d(circular_pad(x, weight.shape[-1]), weight)


def reference_fft(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    k = weight.shape[-1]
    p = k // 2
    kernel = torch.roll(F.pad(weight, (0, w - k, 0, h - k)), shifts=(-p, -p), dims=(-2, -1))
    y_hat = torch.einsum("nchw,ochw->nohw", torch.fft.rfft2(x), torch.fft.rfft2(kernel).conj())
    return torch.fft.irfft2(y_hat, s=(h, w))


def _value_and_grads(fn, x, weight, grad_out):
    x = x.detach().requires_grad_(True)
    weight = weight.detach().requires_grad_(True)
    y = fn(x, weight)
    return (y.detach(), *torch.autograd.grad(y, (x, weight), grad_out))


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 8),
    k_frac=st.floats(0.0, 1.0),
    c_in=st.integers(1, 6),
    c_out=st.integers(1, 6),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_both_methods_equal_the_autograd_reference(n, k_frac, c_in, c_out, batch, seed):
    """Values and both gradients, odd and even k, both mixing branches (c_in·c_out up to 36)."""
    k = 1 + round(k_frac * (n - 1))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c_in, n, n, generator=gen, dtype=F64)
    weight = torch.randn(c_out, c_in, k, k, generator=gen, dtype=F64)
    grad_out = torch.randn(batch, c_out, n, n, generator=gen, dtype=F64)
    expected = _value_and_grads(reference_direct, x, weight, grad_out)
    for method, reference in (("direct", reference_direct), ("fft", reference_fft)):
        got = _value_and_grads(lambda a, b, m=method: circular_conv2d(a, b, method=m), x, weight, grad_out)
        for g, e, r in zip(got, expected, _value_and_grads(reference, x, weight, grad_out), strict=True):
            torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-9)
            torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("channels", [(1, 1), (2, 8), (4, 5), (8, 8)])
def test_mixing_branches_cover_broadcast_and_gemm(channels):
    c_in, c_out = channels
    assert (c_in * c_out <= _MIX_BROADCAST_MAX) == (channels in ((1, 1), (2, 8)))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, c_in, 6, 6, generator=gen, dtype=F64)
    weight = torch.randn(c_out, c_in, 6, 6, generator=gen, dtype=F64)
    torch.testing.assert_close(circular_conv2d(x, weight, method="fft"), reference_direct(x, weight))


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("k", [2, 3])
def test_double_backward_is_correct(method, k):
    """gradgradcheck: second derivatives (e.g. gradient penalties) stay right after the custom backward."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 5, 5, generator=gen, dtype=F64, requires_grad=True)
    weight = torch.randn(3, 2, k, k, generator=gen, dtype=F64, requires_grad=True)
    def fn(a, b):
        return circular_conv2d(a, b, method=method)

    assert torch.autograd.gradcheck(fn, (x, weight))
    assert torch.autograd.gradgradcheck(fn, (x, weight))


def test_float32_training_sizes_close_to_reference():
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(16, 8, 32, 32, generator=gen)
    grad_out = torch.randn(16, 8, 32, 32, generator=gen)
    for k, method in ((3, "direct"), (15, "fft"), (32, "fft")):
        weight = torch.randn(8, 8, k, k, generator=gen) / (8 * k)
        got = _value_and_grads(lambda a, b, m=method: circular_conv2d(a, b, method=m), x, weight, grad_out)
        expected = _value_and_grads(reference_direct, x, weight, grad_out)
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4 * e.abs().max().item())
