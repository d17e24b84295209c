"""Tests for freqkit.aliasing: the measure (closed forms, an independent NumPy reference) and model hooks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from freqkit.aliasing import (
    alias_free_spectrum,
    aliasing_measure,
    model_aliasing,
    stage_means,
    stage_of,
    strided_convolutions,
    strided_feature_maps,
    strided_hooks,
)
from freqkit.resnet import CNNS, create_cnn


def numpy_aliasing(unstrided: np.ndarray, strided: np.ndarray) -> np.ndarray:
    """Independent reference: ideal low-pass (|f| <= new Nyquist, inclusive) in space, then decimate.

    Full complex FFTs (not rfft), the low-pass applied as a mask on the 2N-point
    spectrum and inverted back to space, decimation by slicing, then the
    N-point FFT of both maps, all with numpy's default normalisation divided by
    the number of pixels.
    """
    mh, mw = unstrided.shape[-2:]
    nh, nw = strided.shape[-2:]
    ky = np.fft.fftfreq(mh) * mh
    kx = np.fft.fftfreq(mw) * mw
    mask = np.outer(np.abs(ky) <= nh / 2, np.abs(kx) <= nw / 2)
    low = np.fft.ifft2(np.fft.fft2(unstrided) * mask).real
    reference = np.fft.fft2(low[..., ::2, ::2]) / (nh * nw)
    actual = np.fft.fft2(strided) / (nh * nw)
    return np.abs(actual - reference).sum(axis=(-2, -1)).mean(axis=-1)


def cosine(n: int, ky: int, kx: int, amplitude: float, phase: float = 0.0) -> torch.Tensor:
    """``amplitude·cos(2π(ky·y + kx·x)/n + phase)`` on an ``n × n`` grid (float64)."""
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    return amplitude * torch.cos(2 * math.pi * (ky * y + kx * x) / n + phase)


def decimate(u: torch.Tensor) -> torch.Tensor:
    return u[..., ::2, ::2].contiguous()


# --------------------------------------------------------------------------- the measure


@settings(max_examples=40, deadline=None)
@given(
    half=st.integers(1, 12),
    half_w=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    include_nyquist=st.booleans(),
)
def test_zero_for_band_limited_maps(half, half_w, seed, include_nyquist):
    """A map without energy above the new Nyquist frequency does not alias (with or without the Nyquist bins)."""
    rng = np.random.default_rng(seed)
    mh, mw = 2 * half, 2 * half_w
    ky, kx = np.fft.fftfreq(mh) * mh, np.fft.fftfreq(mw) * mw
    if include_nyquist:
        mask = np.outer(np.abs(ky) <= half / 2, np.abs(kx) <= half_w / 2)
    else:
        mask = np.outer(np.abs(ky) < half / 2, np.abs(kx) < half_w / 2)
    u = np.fft.ifft2(np.fft.fft2(rng.standard_normal((2, 3, mh, mw))) * mask).real
    ut = torch.from_numpy(u)
    value = aliasing_measure(ut, decimate(ut))
    assert value.shape == (2,)
    assert float(value.abs().max()) < 1e-12 * max(1.0, float(ut.abs().max()))


@pytest.mark.parametrize(
    "n, ky, kx",
    [(8, 0, 3), (8, 1, 3), (8, 3, 0), (8, 3, 3), (8, -1, 3), (8, 3, -3), (16, 2, 5), (16, 7, -6), (32, -3, 9), (32, 15, 15)],
)
@pytest.mark.parametrize("phase", [0.0, 0.7])
def test_single_cosine_above_nyquist_closed_form(n, ky, kx, phase):
    """``B·cos`` above the new Nyquist ``n/4`` (on either axis) aliases by exactly ``|B|``, whatever ``N``, f, phase."""
    assert max(abs(ky), abs(kx)) > n // 4 and max(abs(ky), abs(kx)) < n // 2
    amplitude = -1.7
    u = cosine(n, ky, kx, amplitude, phase).expand(1, n, n)
    assert math.isclose(float(aliasing_measure(u, decimate(u))), abs(amplitude), rel_tol=1e-10)


@pytest.mark.parametrize("phase", [0.0, 0.4, math.pi / 2])
def test_cosine_at_new_nyquist_does_not_alias(phase):
    """Convention: both ±N/2 bins are kept and summed, so a component at the new Nyquist is not aliasing."""
    u = cosine(16, 0, 4, 1.3, phase).expand(1, 16, 16)
    assert float(aliasing_measure(u, decimate(u))) < 1e-12


def test_aliasing_adds_over_components_and_averages_over_channels():
    """Low cosine A + high cosines B1, B2 (aliases on distinct bins): |B1| + |B2|; channels are averaged."""
    n = 16
    low = cosine(n, 1, 2, 2.0)
    high = cosine(n, 0, 6, 0.5) + cosine(n, 7, 1, -0.25)
    u = torch.stack([low + high, 3 * high])  # channels: 0.75 and 2.25
    value = float(aliasing_measure(u, decimate(u)))
    assert math.isclose(value, (0.75 + 2.25) / 2, rel_tol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    nh=st.integers(1, 9),
    nw=st.integers(1, 9),
    channels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    decimated=st.booleans(),
)
def test_agrees_with_independent_numpy(nh, nw, channels, seed, decimated):
    """The rfft/fold implementation equals a spatial low-pass + decimation in NumPy (even, odd, rectangular N)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((2, channels, 2 * nh, 2 * nw))
    s = u[..., ::2, ::2].copy() if decimated else rng.standard_normal((2, channels, nh, nw))
    got = aliasing_measure(torch.from_numpy(u), torch.from_numpy(s)).numpy()
    np.testing.assert_allclose(got, numpy_aliasing(u, s), rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 8), shift_y=st.integers(0, 7), shift_x=st.integers(0, 7), scale=st.floats(-5, 5))
def test_invariances(n, shift_y, shift_x, scale):
    """Non-negative, absolutely homogeneous, and invariant to even circular shifts of the stride-1 map."""
    g = torch.Generator().manual_seed(n)
    u = torch.randn(1, 2, 2 * n, 2 * n, generator=g, dtype=torch.float64)
    base = aliasing_measure(u, decimate(u))
    assert float(base) >= 0
    scaled = aliasing_measure(scale * u, decimate(scale * u))
    assert torch.allclose(scaled, abs(scale) * base, rtol=1e-10, atol=1e-12)
    shifted = u.roll((2 * shift_y, 2 * shift_x), dims=(-2, -1))
    assert torch.allclose(aliasing_measure(shifted, decimate(shifted)), base, rtol=1e-10)


def test_alias_free_spectrum_layout_matches_rfft2():
    u = torch.randn(3, 12, 10, dtype=torch.float64)
    ref = alias_free_spectrum(u)
    assert ref.shape == (3, 6, 3)
    keep = torch.from_numpy(
        np.outer(np.abs(np.fft.fftfreq(12) * 12) <= 3, np.abs(np.fft.fftfreq(10) * 10) <= 2.5).astype(float)
    )
    low = torch.fft.ifft2(torch.fft.fft2(u) * keep).real
    assert torch.allclose(ref, torch.fft.rfft2(decimate(low), norm="forward"), atol=1e-12)


def test_float32_input_gives_float32():
    u = torch.randn(2, 4, 8, 8)
    assert aliasing_measure(u, decimate(u)).dtype == torch.float32


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "u_shape, s_shape, match",
    [
        ((1, 8, 8), (1, 5, 4), r"H=8 and strided H=5 are not a \(2N, N\) pair"),
        ((1, 8, 8), (1, 4, 3), r"W=8 and strided W=3 are not a \(2N, N\) pair"),
        ((1, 9, 8), (1, 4, 4), r"odd size H=9"),
        ((2, 8, 8), (3, 4, 4), r"differ in the leading/channel axes"),
        ((8, 8), (4, 4), r"\(\.\.\., C, H, W\)"),
    ],
)
def test_bad_shapes(u_shape, s_shape, match):
    with pytest.raises(ValueError, match=match):
        aliasing_measure(torch.zeros(u_shape), torch.zeros(s_shape))


def test_nan_and_inf_maps_are_named():
    u = torch.zeros(1, 2, 8, 8)
    u[0, 1, 3, 5] = float("nan")
    with pytest.raises(ValueError, match=r"unstrided has a non-finite value nan at index \(0, 1, 3, 5\)"):
        aliasing_measure(u, torch.zeros(1, 2, 4, 4))
    s = torch.zeros(1, 2, 4, 4)
    s[0, 0, 0, 1] = float("inf")
    with pytest.raises(ValueError, match=r"strided has a non-finite value inf"):
        aliasing_measure(torch.zeros(1, 2, 8, 8), s)


def test_integer_and_non_tensor_inputs():
    with pytest.raises(ValueError, match="floating-point"):
        aliasing_measure(torch.zeros(1, 8, 8, dtype=torch.long), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="torch tensors"):
        aliasing_measure(np.zeros((1, 8, 8)), torch.zeros(1, 4, 4))


def test_model_without_strided_convolution():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    with pytest.raises(ValueError, match="model Sequential has no strided convolution"):
        model_aliasing(net, torch.rand(2, 3, 8, 8))


@pytest.mark.parametrize(
    "conv, match",
    [
        (nn.Conv2d(1, 1, 3, stride=3, padding=1), r"'0' has stride=\(3, 3\); allowed: \(2, 2\)"),
        (nn.Conv2d(1, 1, 3, stride=2, padding=2, dilation=2), r"dilation=\(2, 2\)"),
        (nn.Conv2d(1, 1, 3, stride=2, padding=1, padding_mode="circular"), r"padding_mode='circular'"),
    ],
)
def test_unsupported_strided_convolutions(conv, match):
    with pytest.raises(ValueError, match=match):
        strided_convolutions(nn.Sequential(conv))


def test_nan_feature_map_names_the_layer():
    net = create_cnn("preact-resnet18", width=2, seed=0)
    with torch.no_grad():
        net.layer2[0].bn1.running_var.fill_(-1.0)  # sqrt of a negative variance -> NaN at layer2's input
    with pytest.raises(ValueError, match=r"layer 'layer2\.0\.shortcut\.0': unstrided has a non-finite value nan"):
        model_aliasing(net, torch.rand(2, 3, 32, 32))


def test_odd_feature_map_size_names_the_layer():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=0))  # stride-1 output 7x7 from 9x9
    with pytest.raises(ValueError, match=r"layer '0': unstrided has odd size H=7"):
        model_aliasing(net, torch.rand(1, 1, 9, 9))


def test_unknown_layer_and_bad_images():
    net = create_cnn("preact-resnet18", width=2, seed=0)
    with pytest.raises(ValueError, match=r"layers=\['layer9'\] contains \['layer9'\]"):
        model_aliasing(net, torch.rand(1, 3, 32, 32), layers=["layer9"])
    with pytest.raises(ValueError, match=r"x must be a \(N, C, H, W\) tensor"):
        model_aliasing(net, torch.rand(3, 32, 32))


# --------------------------------------------------------------------------- models and hooks


def _small(name: str) -> nn.Module:
    return create_cnn(name, width=2, seed=0) if name == "preact-resnet18" else create_cnn(name, depth=10, width=1, seed=0)


@pytest.mark.parametrize("name", CNNS.names())
def test_stride_one_output_decimated_equals_strided_output(name):
    """For every registered CNN the hook's stride-1 map sampled at even positions is the layer's real output."""
    net = _small(name)
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    maps = strided_feature_maps(net, torch.rand(3, 3, 32, 32))
    assert list(maps) == list(strided_convolutions(net))
    assert len(maps) == (6 if name == "preact-resnet18" else 4)
    for layer, (unstrided, strided) in maps.items():
        assert unstrided.shape[-1] == 2 * strided.shape[-1], layer
        torch.testing.assert_close(decimate(unstrided), strided, rtol=1e-5, atol=1e-6)


def test_model_aliasing_matches_manual_computation_and_restores_the_model():
    """One hooked forward pass equals recomputing each strided layer by hand; hooks and modes are restored."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(6, 5, 1, stride=2, bias=True),
    )
    net.train()
    x = torch.rand(7, 3, 16, 16)
    got = model_aliasing(net, x, batch_size=3)
    assert net.training and all(m.training for m in net.modules())
    assert all(not m._forward_hooks for m in net.modules())
    net.eval()
    with torch.no_grad():
        h = net[:3](x)
        u1 = nn.functional.conv2d(h, net[3].weight, net[3].bias, padding=1)
        s1 = net[3](h)
        h2 = net[4](s1)
        u2 = nn.functional.conv2d(h2, net[5].weight, net[5].bias)
        s2 = net[5](h2)
    torch.testing.assert_close(got["3"], aliasing_measure(u1, s1))
    torch.testing.assert_close(got["5"], aliasing_measure(u2, s2))
    assert got["3"].shape == (7,)


def test_hooks_are_removed_after_an_error():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1))

    def fail(name, u, s):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        with strided_hooks(net, fail):
            net(torch.rand(1, 1, 4, 4))
    assert not net[0]._forward_hooks


def test_trained_like_smooth_maps_alias_less_than_noise():
    """A blurred-input pathway aliases less than a white-noise one (sanity of the model-level number)."""
    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0 / 9)  # box blur: strong low-pass
    sharp = nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)
    with torch.no_grad():
        sharp.weight.copy_(torch.tensor([[[[0.0, -1, 0], [-1, 4, -1], [0, -1, 0]]]]))  # Laplacian: high-pass
    x = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    smooth = model_aliasing(nn.Sequential(conv), x)["0"]
    rough = model_aliasing(nn.Sequential(sharp), x)["0"]
    assert bool((rough > 5 * smooth).all())


def test_stage_helpers():
    assert stage_of("block3.0.shortcut") == "block3"
    values = {"layer2.0.conv1": torch.tensor([1.0, 2.0]), "layer2.0.shortcut.0": torch.tensor([3.0, 4.0])}
    torch.testing.assert_close(stage_means(values)["layer2"], torch.tensor([2.0, 3.0]))
    arrays = stage_means({"a.x": np.array([1.0]), "a.y": np.array([2.0]), "b": np.array([5.0])})
    assert list(arrays) == ["a", "b"] and arrays["a"].tolist() == [1.5]
