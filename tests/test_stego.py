"""Tests for freqkit.stego: class consistency, band limitation (independent FFT), PSNR."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from freqkit.stego import StegoConfig, add_features, class_features, psnr

NAMED = {"low": (0.0, 1 / 8), "mid": (1 / 8, 1 / 4), "high": (1 / 4, math.inf)}


def _radius(n: int) -> np.ndarray:
    """Centred radial frequency (cycles/pixel), built independently of freqkit.spectra."""
    f = np.fft.fftshift(np.fft.fftfreq(n))
    return np.hypot(f[:, None], f[None, :])


def _centred_power(x: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1))) ** 2


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(8, 33),
    channels=st.integers(1, 3),
    band=st.sampled_from(sorted(NAMED)),
    seed=st.integers(0, 2**31 - 1),
)
def test_features_are_band_limited(n, channels, band, seed):
    feats = class_features(4, (channels, n, n), band, 0.3, seed).double().numpy()
    power = _centred_power(feats)
    lo, hi = NAMED[band]
    r = _radius(n)
    inside = (r >= lo - 1e-9) & (r < hi + 1e-9)  # band edges are band_mask's business
    total = power.sum(axis=(-2, -1))
    assert np.all(total > 0)
    outside = (power * ~inside).sum(axis=(-2, -1))
    assert np.all(outside < 1e-6 * total)


def test_band_limited_for_custom_band_and_energy_split():
    n = 32
    feats = class_features(3, (1, n, n), (0.2, 0.3), 1.0, 5).double().numpy()
    power = _centred_power(feats)
    r = _radius(n)
    inside = (r >= 0.2) & (r < 0.3)
    assert np.all((power * ~inside).sum((-2, -1)) < 1e-6 * power.sum((-2, -1)))
    # a different band gives features with (numerically) disjoint spectra
    other = _centred_power(class_features(3, (1, n, n), "low", 1.0, 5).double().numpy())
    assert np.all((power * other).sum((-2, -1)) < 1e-12)


def test_exact_convention_orthonormal_inverse_dft_of_masked_noise():
    """feature_c = real(ifft2(ifftshift(eps * M * Z_c), norm='ortho')) with Z from the seed."""
    num_classes, shape, eps, seed = 3, (2, 12, 12), 0.7, 11
    z = torch.randn((num_classes, *shape), generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64).numpy()
    r = _radius(12)
    mask = (r >= 1 / 8) & (r < 1 / 4)
    expected = np.fft.ifft2(np.fft.ifftshift(eps * mask * z, axes=(-2, -1)), norm="ortho").real
    got = class_features(num_classes, shape, "mid", eps, seed).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # Parseval: the image-domain energy is that of the Hermitian part of eps * M * Z
    z_neg = np.roll(np.flip(z, axis=(-2, -1)), shift=(1, 1), axis=(-2, -1))  # Z(-m) for even n
    herm = eps * mask * (z + z_neg) / 2
    np.testing.assert_allclose((got.astype(np.float64) ** 2).sum(), (herm**2).sum(), rtol=1e-5)


def test_features_class_consistent_and_distinct():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 16, 16, generator=gen)
    y = torch.randint(0, 5, (40,), generator=gen)
    feats = class_features(5, (1, 16, 16), "high", 0.2, seed=1)
    added = add_features(x, y, feats) - x
    for c in range(5):
        rows = added[y == c]
        assert len(rows) > 1
        torch.testing.assert_close(rows, feats[c].expand_as(rows), rtol=0, atol=1e-6)
    # classes get different features
    flat = feats.flatten(1)
    dist = torch.cdist(flat, flat)
    assert torch.all(dist + torch.eye(5) * 1e9 > 1e-3)


def test_train_and_test_of_a_class_get_the_same_feature():
    cfg = StegoConfig(band="mid", epsilon=0.4, seed=7)
    gen = torch.Generator().manual_seed(1)
    x_train, x_test = torch.rand(12, 3, 8, 8, generator=gen), torch.rand(6, 3, 8, 8, generator=gen)
    y_train, y_test = torch.arange(12) % 3, torch.arange(6) % 3
    # features are recomputed from the config for each split, as a pipeline would
    d_train = add_features(x_train, y_train, cfg.features(3, (3, 8, 8))) - x_train
    d_test = add_features(x_test, y_test, cfg.features(3, (3, 8, 8))) - x_test
    for c in range(3):
        torch.testing.assert_close(d_train[y_train == c][0], d_test[y_test == c][0], rtol=0, atol=1e-6)
    other = StegoConfig(band="mid", epsilon=0.4, seed=8).features(3, (3, 8, 8))
    assert not torch.allclose(other, cfg.features(3, (3, 8, 8)))


def test_add_features_numpy_matches_torch_and_does_not_clip():
    x = np.full((4, 1, 8, 8), 0.99, dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    feats = class_features(2, (1, 8, 8), "high", 5.0, seed=0)
    out_np = add_features(x, y, feats.numpy())
    out_t = add_features(torch.from_numpy(x), torch.from_numpy(y), feats)
    assert isinstance(out_np, np.ndarray)
    np.testing.assert_allclose(out_np, out_t.numpy(), atol=1e-7)
    assert out_np.max() > 1.0 and out_np.min() < 0.0  # no clipping


@pytest.mark.parametrize("band", ["low", "mid", "high"])
def test_features_scale_linearly_with_epsilon(band):
    base = class_features(3, (1, 16, 16), band, 0.1, seed=2)
    for factor in (0.0, 2.5, 10.0):
        scaled = class_features(3, (1, 16, 16), band, 0.1 * factor, seed=2)
        torch.testing.assert_close(scaled, factor * base, rtol=1e-5, atol=1e-7)
    assert base.abs().max() > 0


def test_psnr_closed_form_for_a_cosine():
    n, a, k = 16, 0.05, 3
    cos = a * np.cos(2 * np.pi * k * np.arange(n) / n)[None, :].repeat(n, 0)  # mean square a²/2
    ref = np.full((2, 3, n, n), 0.5)
    expected = 10 * np.log10(2 / a**2)
    np.testing.assert_allclose(psnr(ref, ref + cos), [expected, expected], rtol=1e-12)
    got_t = psnr(torch.from_numpy(ref), torch.from_numpy(ref + cos))
    assert isinstance(got_t, torch.Tensor)
    np.testing.assert_allclose(got_t.numpy(), expected, rtol=1e-12)
    # data_range enters as 20 log10(data_range)
    np.testing.assert_allclose(psnr(ref, ref + cos, data_range=255.0), expected + 20 * np.log10(255))
    assert np.isinf(psnr(ref, ref)).all()


def test_psnr_of_feature_from_parseval():
    """PSNR of x + feature equals 10 log10(CHW / ||FFT(feature)||²) (orthonormal DFT)."""
    feats = class_features(4, (1, 20, 20), "low", 0.3, seed=4).double()
    x = torch.full((4, 1, 20, 20), 0.5, dtype=torch.float64)
    energy = _centred_power(feats.numpy()).sum(axis=(-3, -2, -1))
    np.testing.assert_allclose(
        psnr(x, add_features(x, torch.arange(4), feats)).numpy(), 10 * np.log10(400 / energy),
        rtol=1e-9,
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(band="ultra"), "'ultra'"),
        (dict(band=(0.3, 0.1)), r"\(0.3, 0.1\)"),
        (dict(epsilon=-0.5), "-0.5"),
        (dict(epsilon=math.nan), "nan"),
        (dict(image_shape=(1, 8, 9)), r"\(1, 8, 9\)"),
        (dict(num_classes=0), "num_classes=0"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = dict(num_classes=3, image_shape=(1, 8, 8), band="low", epsilon=0.1, seed=0) | kwargs
    with pytest.raises(ValueError, match=match):
        class_features(**args)


def test_config_validation_and_json_roundtrip():
    cfg = StegoConfig(band="high", epsilon=0.25, seed=9)
    assert StegoConfig(**json.loads(cfg.to_json())) == cfg
    with pytest.raises(ValueError, match="'bogus'"):
        StegoConfig(band="bogus", epsilon=0.1)
    with pytest.raises(ValueError, match="-1.0"):
        StegoConfig(band="low", epsilon=-1.0)


def test_add_features_rejects_bad_labels_and_shapes():
    feats = class_features(2, (1, 4, 4), "low", 0.1)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        add_features(torch.zeros(2, 1, 4, 4), torch.tensor([0, 2]), feats)
    with pytest.raises(ValueError, match="same"):
        add_features(torch.zeros(2, 1, 5, 5), torch.tensor([0, 1]), feats)
    with pytest.raises(ValueError, match="psnr|shape"):
        psnr(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
