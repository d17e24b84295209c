"""Tests for freqkit.models: shapes, gradients, FFT == direct, dense matrices, bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from freqkit.models import (
    MODELS,
    CircularConv,
    FullyConnected,
    LocallyConnected,
    ModelConfig,
    circular_conv2d,
    create_model,
)

F64 = torch.float64


def _kernel(name: str, k: int = 3) -> int | None:
    return k if name in ("lkc", "lc") else None


def _model(name: str, **kw) -> nn.Module:
    kw.setdefault("input_shape", (2, 6, 6))
    kw.setdefault("num_classes", 4)
    kw.setdefault("kernel_size", _kernel(name))
    kw.setdefault("seed", 0)
    return create_model(name, **kw)


def naive_circular_xcorr(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Literal loop implementation of the documented formula (tiny inputs only)."""
    n, c_in, h, wd = x.shape
    c_out, _, k, _ = w.shape
    p = k // 2
    y = np.zeros((n, c_out, h, wd))
    for o in range(c_out):
        for i in range(h):
            for j in range(wd):
                for a in range(k):
                    for b in range(k):
                        y[:, o, i, j] += (w[o, :, a, b] * x[:, :, (i + a - p) % h, (j + b - p) % wd]).sum(-1)
    return y


# --------------------------------------------------------------------------- registry-wide


def test_registry_has_the_four_parameterisations():
    assert MODELS.names() == ["fc", "fkc", "lc", "lkc"]


@pytest.mark.parametrize("nonlinearity", ["linear", "relu"])
@pytest.mark.parametrize("name", MODELS.names())
def test_forward_shape_and_every_parameter_gets_a_gradient(name, nonlinearity):
    model = _model(name, depth=2, nonlinearity=nonlinearity, bias=True)
    x = torch.rand(5, 2, 6, 6)
    out = model(x)
    assert out.shape == (5, 4)
    (out**2).sum().backward()
    for pname, param in model.named_parameters():
        assert param.grad is not None, pname
        assert torch.isfinite(param.grad).all(), pname
        assert param.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", MODELS.names())
def test_linear_model_is_linear_and_relu_model_is_not(name):
    lin = _model(name, depth=2)
    relu = _model(name, depth=2, nonlinearity="relu")
    x, z = torch.randn(3, 2, 6, 6, dtype=F64), torch.randn(3, 2, 6, 6, dtype=F64)
    lin, relu = lin.double(), relu.double()
    torch.testing.assert_close(lin(2 * x - 3 * z), 2 * lin(x) - 3 * lin(z))
    assert not torch.allclose(relu(-x), -relu(x))
    assert lin.is_linear and not relu.is_linear


@pytest.mark.parametrize("name", MODELS.names())
def test_same_seed_same_parameters_other_seed_differs(name):
    a, b, c = _model(name, seed=3), _model(name, seed=3), _model(name, seed=4)
    for (na, pa), (_, pb), (_, pc) in zip(
        a.named_parameters(), b.named_parameters(), c.named_parameters(), strict=True
    ):
        assert torch.equal(pa, pb), na
        assert not torch.equal(pa, pc), na


def test_seeded_init_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _model("lkc", seed=0, bias=True)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("name", MODELS.names())
def test_config_roundtrips_through_json(name):
    model = _model(name, depth=2, seed=7)
    cfg = json.loads(json.dumps(dataclasses.asdict(model.config)))
    rebuilt = create_model(**cfg)
    assert rebuilt.config == dataclasses.replace(model.config, input_shape=tuple(cfg["input_shape"]))
    for pa, pb in zip(model.parameters(), rebuilt.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_config_is_frozen_and_resolves_defaults():
    cfg = create_model("fkc", input_shape=(3, 8, 8), num_classes=2).config
    assert isinstance(cfg, ModelConfig)
    assert (cfg.channels, cfg.kernel_size) == (3, 8)
    assert create_model("lc", input_shape=(1, 8, 8), num_classes=2).config.kernel_size == 3
    assert create_model("fc", input_shape=(1, 8, 8), num_classes=2).config.kernel_size is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.depth = 3


def test_init_bounds_equal_pytorch_default_on_the_effective_map():
    """Every effective weight is U(±1/√fan_in): max |entry|·√fan_in is just below 1."""
    c, n, ch, k = 2, 8, 3, 5
    cases = {
        "fc": (lambda m: m.hidden[0].weight, c * n * n),
        "fkc": (lambda m: m.hidden[0].weight / n, c * n * n),  # scaled by 1/√D
        "lkc": (lambda m: m.hidden[0].weight, c * k * k),
        "lc": (lambda m: m.hidden[0].weight, c * k * k),
    }
    for name, (weight, fan_in) in cases.items():
        kw = {} if name == "fc" else {"channels": ch}
        model = create_model(name, input_shape=(c, n, n), num_classes=2, kernel_size=_kernel(name, k), seed=0, **kw)
        scaled = weight(model).abs().max().item() * fan_in**0.5
        assert 0.9 < scaled <= 1.0, (name, scaled)
        readout = model.readout.weight.abs().max().item() * model.readout.in_features**0.5
        assert 0.9 < readout <= 1.0


@pytest.mark.parametrize("depth", [1, 3])
def test_parameter_counts_match_formulas(depth):
    c, n, ch, k, classes = 3, 8, 5, 3, 10
    d, big_d = c * n * n, n * n
    expected = {
        "fc": depth * d * d + classes * d,
        "fkc": (c * ch + (depth - 1) * ch * ch) * big_d + classes * ch * big_d,
        "lkc": (c * ch + (depth - 1) * ch * ch) * k * k + classes * ch * big_d,
        "lc": (c * ch + (depth - 1) * ch * ch) * k * k * big_d + classes * ch * big_d,
    }
    for name, count in expected.items():
        kw = {} if name == "fc" else {"channels": ch}
        model = create_model(
            name, input_shape=(c, n, n), num_classes=classes, depth=depth, kernel_size=_kernel(name, k), **kw
        )
        assert sum(p.numel() for p in model.parameters()) == count, name
    with_bias = create_model(
        "lc", input_shape=(c, n, n), num_classes=classes, depth=depth, channels=ch, bias=True
    )
    assert sum(p.numel() for p in with_bias.parameters()) == expected["lc"] + depth * ch * big_d + classes


# --------------------------------------------------------------------------- convolution


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 10),
    k_frac=st.floats(0, 1),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_fft_conv_equals_direct_conv(n, k_frac, c_in, c_out, batch, seed):
    k = 1 + round(k_frac * (n - 1))  # every k in 1..n, even and odd
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c_in, n, n, generator=gen, dtype=F64)
    w = torch.randn(c_out, c_in, k, k, generator=gen, dtype=F64)
    direct = circular_conv2d(x, w, method="direct")
    torch.testing.assert_close(circular_conv2d(x, w, method="fft"), direct, rtol=0, atol=1e-11)
    torch.testing.assert_close(circular_conv2d(x, w, method="auto"), direct, rtol=0, atol=1e-11)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_conv_matches_literal_formula(k):
    gen = torch.Generator().manual_seed(k)
    x = torch.randn(2, 2, 5, 5, generator=gen, dtype=F64)
    w = torch.randn(3, 2, k, k, generator=gen, dtype=F64)
    expected = naive_circular_xcorr(x.numpy(), w.numpy())
    for method in ("direct", "fft"):
        np.testing.assert_allclose(circular_conv2d(x, w, method=method).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7])
def test_conv_vs_pytorch_circular_same_padding(k):
    """Odd k: identical to nn.Conv2d(padding='same', padding_mode='circular'); even k: shifted by one pixel."""
    gen = torch.Generator().manual_seed(k)
    x = torch.randn(2, 3, 9, 9, generator=gen, dtype=F64)
    conv = nn.Conv2d(3, 2, k, padding="same", padding_mode="circular", bias=False).double()
    torch_out = conv(x)
    ours = circular_conv2d(x, conv.weight.detach(), method="direct")
    if k % 2 == 0:
        torch_out = torch.roll(torch_out, shifts=(1, 1), dims=(-2, -1))
        assert not torch.allclose(ours, conv(x))
    torch.testing.assert_close(ours, torch_out)


def test_fft_conv_gradients_equal_direct():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 8, 8, generator=gen, dtype=F64)
    w = torch.randn(3, 2, 5, 5, generator=gen, dtype=F64)
    grads = []
    for method in ("direct", "fft"):
        xr, wr = x.clone().requires_grad_(), w.clone().requires_grad_()
        (circular_conv2d(xr, wr, method=method) ** 3).sum().backward()
        grads.append((xr.grad, wr.grad))
    torch.testing.assert_close(grads[0], grads[1])


def test_conv_float32_fft_close_to_direct():
    x, w = torch.randn(4, 16, 32, 32), torch.randn(16, 16, 11, 11) / 11
    torch.testing.assert_close(
        circular_conv2d(x, w, method="fft"), circular_conv2d(x, w, method="direct"), atol=2e-4, rtol=1e-4
    )


def test_conv_bad_input():
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="'spectral'"):
        circular_conv2d(x, torch.randn(1, 2, 3, 3), method="spectral")
    with pytest.raises(ValueError, match="kernel_size=5"):
        circular_conv2d(x, torch.randn(1, 2, 5, 5))
    with pytest.raises(ValueError, match="3 input channels"):
        circular_conv2d(x, torch.randn(1, 3, 3, 3))


# --------------------------------------------------------------------------- layers


def _layers(c_in=2, c_out=3, n=6):
    gen = torch.Generator().manual_seed(0)
    return {
        "fc": FullyConnected((c_in, n, n), generator=gen).double(),
        "fkc": CircularConv(c_in, c_out, kernel_size=n, image_size=n, scale=1 / n, generator=gen).double(),
        "lkc3": CircularConv(c_in, c_out, kernel_size=3, image_size=n, generator=gen).double(),
        "lkc4": CircularConv(c_in, c_out, kernel_size=4, image_size=n, generator=gen).double(),
        "lc3": LocallyConnected(c_in, c_out, kernel_size=3, image_size=n, generator=gen).double(),
        "lc4": LocallyConnected(c_in, c_out, kernel_size=4, image_size=n, generator=gen).double(),
    }


@pytest.mark.parametrize("kind", list(_layers()))
def test_dense_matrix_times_input_equals_layer(kind):
    layer = _layers()[kind]
    x = torch.randn(4, 2, 6, 6, dtype=F64)
    dense = layer.dense_matrix()
    assert dense.shape == (layer.out_shape[0] * 36, 72)
    torch.testing.assert_close(x.flatten(1) @ dense.T, layer(x).flatten(1), rtol=0, atol=1e-12)
    rows = torch.cat([layer.dense_matrix(out_channel=o) for o in range(layer.out_shape[0])])
    torch.testing.assert_close(rows, dense, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["fkc", "lkc3", "lkc4"])
def test_convolution_dense_matrix_is_block_circulant(kind):
    layer = _layers()[kind]
    dense = layer.dense_matrix().detach().reshape(3, 6, 6, 2, 6, 6)
    i = torch.arange(6)
    # A[o, i, j, c, i', j'] == A[o, 0, 0, c, (i'-i) mod H, (j'-j) mod W]
    rebuilt = dense[:, 0, 0][:, :, (i[None, :] - i[:, None]) % 6][:, :, :, :, (i[None, :] - i[:, None]) % 6]
    torch.testing.assert_close(dense, rebuilt.permute(0, 2, 4, 1, 3, 5), rtol=0, atol=0)
    # shifting the input circularly shifts the output
    x = torch.randn(3, 2, 6, 6, dtype=F64)
    shifted = torch.roll(x, shifts=(2, -1), dims=(-2, -1))
    torch.testing.assert_close(layer(shifted), torch.roll(layer(x), shifts=(2, -1), dims=(-2, -1)))


def test_locally_connected_is_not_shift_equivariant():
    layer = _layers()["lc3"]
    x = torch.randn(3, 2, 6, 6, dtype=F64)
    assert not torch.allclose(layer(torch.roll(x, 1, -1)), torch.roll(layer(x), 1, -1))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_fkc_scaling_and_lkc_frobenius_norm(k):
    """Each weight appears once per output pixel: ||A||_F² = D·scale²·||w||²."""
    n = 6
    conv = CircularConv(2, 3, kernel_size=k, image_size=n).double()
    torch.testing.assert_close(conv.dense_matrix().pow(2).sum(), n * n * conv.weight.pow(2).sum())
    fkc = CircularConv(2, 3, kernel_size=n, image_size=n, scale=1 / n).double()
    torch.testing.assert_close(fkc.dense_matrix().pow(2).sum(), fkc.weight.pow(2).sum())


def test_fkc_is_diagonal_in_the_orthonormal_fourier_basis():
    """Gunasekar et al.: with 1/√D, DFT_ortho(y) = conj(DFT_ortho(w rolled)) · DFT_ortho(x)."""
    n = 8
    layer = CircularConv(1, 1, kernel_size=n, image_size=n, scale=1 / n).double()
    x = torch.randn(2, 1, n, n, dtype=F64)
    kernel = torch.roll(layer.weight.detach(), shifts=(-(n // 2), -(n // 2)), dims=(-2, -1))
    expected = torch.fft.fft2(kernel, norm="ortho").conj() * torch.fft.fft2(x, norm="ortho")
    torch.testing.assert_close(torch.fft.fft2(layer(x), norm="ortho"), expected)


@pytest.mark.parametrize("k", [1, 3, 4])
def test_locally_connected_with_tied_weights_equals_lkc(k):
    conv = CircularConv(2, 3, kernel_size=k, image_size=6).double()
    lc = LocallyConnected(2, 3, kernel_size=k, image_size=6).double()
    with torch.no_grad():
        lc.weight.copy_(conv.weight.expand(6, 6, -1, -1, -1, -1))
    x = torch.randn(4, 2, 6, 6, dtype=F64)
    torch.testing.assert_close(lc(x), conv(x))
    torch.testing.assert_close(lc.dense_matrix(), conv.dense_matrix())


def test_locally_connected_matches_literal_formula_per_position():
    gen = torch.Generator().manual_seed(1)
    lc = LocallyConnected(2, 2, kernel_size=3, image_size=4, generator=gen).double()
    x = torch.randn(1, 2, 4, 4, dtype=F64)
    y = lc(x).detach()
    w = lc.weight.detach()
    for i, j in [(0, 0), (1, 3), (3, 2)]:
        patch = torch.stack(
            [torch.stack([x[0, :, (i + a - 1) % 4, (j + b - 1) % 4] for b in range(3)], -1) for a in range(3)], -2
        )  # (c_in, k, k)
        torch.testing.assert_close(y[0, :, i, j], (w[i, j] * patch).sum((-3, -2, -1)))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "cnn"}, "'cnn'.*fc, fkc, lc, lkc"),
        ({"name": "lkc", "kernel_size": 9}, "kernel_size=9"),
        ({"name": "lc", "kernel_size": 0}, "kernel_size=0"),
        ({"name": "lkc", "kernel_size": -3}, "kernel_size=-3"),
        ({"name": "lkc", "kernel_size": 2.5}, "kernel_size=2.5"),
        ({"name": "fkc", "kernel_size": 3}, "kernel_size=3"),
        ({"name": "fc", "kernel_size": 3}, "kernel_size=3"),
        ({"name": "fc", "channels": 5}, "channels=5"),
        ({"name": "lkc", "channels": 0}, "channels=0"),
        ({"name": "fc", "depth": 0}, "depth=0"),
        ({"name": "fc", "num_classes": 0}, "num_classes=0"),
        ({"name": "fc", "input_shape": (1, 8, 6)}, r"\(1, 8, 6\)"),
        ({"name": "fc", "input_shape": (8, 8)}, r"\(8, 8\)"),
        ({"name": "fc", "input_shape": (1, 0, 0)}, "input_shape"),
        ({"name": "fc", "nonlinearity": "tanh"}, "'tanh'"),
        ({"name": "fc", "seed": "a"}, "seed='a'"),
    ],
)
def test_bad_input_raises_value_error_naming_the_value(kwargs, match):
    kwargs = {"input_shape": (1, 8, 8), "num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        create_model(**kwargs)
