"""Tests for freqkit.images against analytic values and independent numpy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from freqkit import images

FAST = settings(max_examples=25, deadline=None)


# --------------------------------------------------------------------------- independent references
def ref_power(x: np.ndarray) -> np.ndarray:
    """Centred orthonormal power of each channel (numpy's complex FFT), summed over channels."""
    return (np.abs(np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1))) ** 2).sum(-3)


def ref_index_distance(n: int) -> np.ndarray:
    m = np.arange(n) - n // 2
    return np.hypot(m[:, None], m[None, :])


def ref_f50(power: np.ndarray) -> float:
    """The f50 rule of DESIGN.md written out: radii grouped, midpoints of the steps, linear interpolation."""
    n = power.shape[-1]
    r2 = (np.round(ref_index_distance(n) ** 2)).astype(int).ravel()
    keys = np.unique(r2)
    energy = np.array([power.ravel()[r2 == k].sum() for k in keys])
    cum = np.cumsum(energy) / energy.sum()
    mid = cum - energy / (2 * energy.sum())
    i = int(np.argmax(mid >= 0.5))
    r = np.sqrt(keys) / n
    return float(r[i - 1] + (0.5 - mid[i - 1]) * (r[i] - r[i - 1]) / (mid[i] - mid[i - 1]))


def rand(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


# --------------------------------------------------------------------------- white noise
def test_white_noise_is_seeded_standard_normal() -> None:
    a = images.white_noise((200_000,), 3, torch.float64)
    assert torch.equal(a, images.white_noise((200_000,), 3, torch.float64))
    assert not torch.equal(a, images.white_noise((200_000,), 4, torch.float64))
    # mean 0, variance 1: within 5 standard errors (se of the mean 1/sqrt(n), of the variance sqrt(2/n))
    n = a.numel()
    assert abs(float(a.mean())) < 5 / math.sqrt(n)
    assert abs(float(a.var()) - 1) < 5 * math.sqrt(2 / n)
    state = torch.random.get_rng_state()
    images.white_noise((3,), 0)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is untouched


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=(2, -1), seed=0), "shape="),
    (dict(shape=5, seed=0), "shape=5"),
    (dict(shape=(2,), seed=-1), "seed=-1"),
    (dict(shape=(2,), seed=0, dtype=torch.int64), "dtype="),
])
def test_white_noise_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        images.white_noise(**kwargs)


# --------------------------------------------------------------------------- Gaussian kernel and blur
def test_gaussian_kernel_matches_outer_product_and_has_variance_sigma_squared() -> None:
    k, sigma = 41, 3.0
    g = images.gaussian_kernel(k, sigma)
    p = np.arange(k) - 20.0
    one = np.exp(-p**2 / (2 * sigma**2))
    np.testing.assert_allclose(g, np.outer(one, one) / one.sum() ** 2, rtol=1e-13)
    # second moment per axis of a finely sampled, untruncated Gaussian is sigma^2
    # (Poisson summation: the sampling error is ~exp(-2 pi^2 sigma^2), negligible here)
    assert (g.sum(1) * p**2).sum() == pytest.approx(sigma**2, rel=1e-9)
    even = images.gaussian_kernel(4, 1.0)  # even k: centred between pixels 1 and 2
    np.testing.assert_allclose(even, even[::-1, ::-1], rtol=1e-14)


@pytest.mark.parametrize("k, sigma, match", [(0, 1.0, "k=0"), (3, -1.0, "sigma=-1.0"),
                                             (3, math.inf, "sigma=inf"), (2.5, 1.0, "k=2.5")])
def test_gaussian_kernel_rejects_bad_input(k, sigma, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        images.gaussian_kernel(k, sigma)


@pytest.mark.parametrize("shape", [(3, 2, 16, 16), (2, 1, 12, 20)])
def test_gaussian_blur_multiplies_power_by_transfer_function(shape) -> None:
    x = rand(0, shape)
    sigma = 1.3
    fy = np.fft.fftfreq(shape[-2])[:, None]
    fx = np.fft.fftfreq(shape[-1])[None, :]
    expected = np.abs(np.fft.fft2(x, norm="ortho")) ** 2 * np.exp(-4 * math.pi**2 * sigma**2 * (fy**2 + fx**2))
    got = images.gaussian_blur(x, sigma)
    assert isinstance(got, np.ndarray) and got.shape == x.shape
    np.testing.assert_allclose(np.abs(np.fft.fft2(got, norm="ortho")) ** 2, expected, rtol=1e-10, atol=1e-14)
    torch_got = images.gaussian_blur(torch.from_numpy(x), sigma)
    np.testing.assert_allclose(torch_got.numpy(), got, rtol=1e-12, atol=1e-14)


def test_gaussian_blur_scales_a_cosine_by_the_analytic_factor() -> None:
    n, f0, sigma = 32, 0.25, 0.8
    x = np.cos(2 * np.pi * f0 * np.arange(n))[None, :] * np.ones((n, 1))
    got = images.gaussian_blur(x, sigma)
    np.testing.assert_allclose(got, x * math.exp(-2 * math.pi**2 * sigma**2 * f0**2), atol=1e-12)


def test_gaussian_blur_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="sigma=0"):
        images.gaussian_blur(np.ones((4, 4)), 0)
    with pytest.raises(ValueError, match="x must be a real floating"):
        images.gaussian_blur(np.ones((4, 4), dtype=np.int64), 1.0)


# --------------------------------------------------------------------------- white-noise references of f50
def test_flat_spectrum_f50_equals_the_written_out_rule() -> None:
    for n in (7, 28, 32):
        power = np.ones((n, n))
        power[n // 2, n // 2] = 0
        assert images.flat_spectrum_f50(n) == pytest.approx(ref_f50(power), abs=1e-12)


def test_white_noise_f50_matches_flat_spectrum_and_grid_median() -> None:
    for n in (28, 32):
        noise = images.white_noise((64, 3, n, n), seed=n, dtype=torch.float64)
        f50 = images.image_f50(noise).numpy()
        flat = images.flat_spectrum_f50(n)
        assert abs(f50.mean() - flat) < 4 * f50.std(ddof=1) / 8 + 1e-3
        # two independent definitions of "median radius" agree within one radius gap
        assert abs(flat - images.grid_median_radius(n)) < 1 / n
    # the continuum limit 1/sqrt(2 pi)
    assert images.CONTINUOUS_NOISE_F50 == pytest.approx(0.3989422804014327, abs=1e-15)
    assert abs(images.flat_spectrum_f50(256) - images.CONTINUOUS_NOISE_F50) < 2e-3
    assert abs(images.grid_median_radius(256) - images.CONTINUOUS_NOISE_F50) < 2e-3
    with pytest.raises(ValueError, match="n=1"):
        images.flat_spectrum_f50(1)


# --------------------------------------------------------------------------- per-image summaries
def test_image_f50_matches_the_written_out_rule_and_keeps_the_type() -> None:
    x = rand(1, (3, 2, 12, 12))
    got = images.image_f50(x)
    assert isinstance(got, np.ndarray) and got.shape == (3,)
    centred = x - x.mean((-2, -1), keepdims=True)
    np.testing.assert_allclose(got, [ref_f50(p) for p in ref_power(centred)], rtol=1e-10)
    with_dc = images.image_f50(torch.from_numpy(x), remove_mean=False)
    np.testing.assert_allclose(with_dc.numpy(), [ref_f50(p) for p in ref_power(x)], rtol=1e-10)
    assert bool((with_dc.numpy() < got).all())  # DC kept: the brightness pulls f50 down
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        images.image_f50(np.ones((4, 4)))


def test_band_energy_fraction_equals_a_radius_mask_of_the_numpy_power() -> None:
    x = rand(2, (4, 3, 16, 16))
    power = ref_power(x - x.mean((-2, -1), keepdims=True))
    r = ref_index_distance(16) / 16
    total = 0.0
    for name, (lo, hi) in (("low", (0, 1 / 8)), ("mid", (1 / 8, 1 / 4)), ("high", (1 / 4, math.inf))):
        expected = power[:, (r >= lo) & (r < hi)].sum(1) / power.sum((1, 2))
        got = images.band_energy_fraction(x, name)
        np.testing.assert_allclose(got, expected, rtol=1e-10)
        np.testing.assert_allclose(images.band_energy_fraction(x, (lo, hi)), got, rtol=1e-12)
        total = total + got
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)  # the three bands cover the grid


def test_lfc_energy_fraction_equals_strict_radius_power_fraction() -> None:
    x = torch.rand(4, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    radii = (1.0, 2.0, 2.5, 5.0)
    got = images.lfc_energy_fraction(x, radii).numpy()
    xn = x.numpy()
    power = ref_power(xn - xn.mean((-2, -1), keepdims=True))
    dist = ref_index_distance(12)
    expected = np.stack([power[:, dist < r].sum(1) / power.sum((1, 2)) for r in radii], -1)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)
    assert got[:, 0].max() < 1e-12  # r = 1 keeps only DC, which the mean removal zeroed
    # radius 2 is excluded at r = 2 (strict) but included at 2.5: the two differ
    assert bool((got[:, 2] > got[:, 1]).all())


@FAST
@given(seed=st.integers(0, 2**16), n=st.integers(2, 12),
       radii=st.lists(st.floats(0, 12), min_size=1, max_size=5))
def test_lfc_energy_fraction_is_a_monotone_fraction(seed: int, n: int, radii: list[float]) -> None:
    x = rand(seed, (2, 1, n, n))
    frac = images.lfc_energy_fraction(x, sorted(radii))
    assert frac.shape == (2, len(radii))
    assert np.all(frac >= -1e-12) and np.all(frac <= 1 + 1e-12)
    assert np.all(np.diff(frac, axis=-1) >= -1e-12)


def test_energy_fractions_refuse_constant_images_and_bad_radii() -> None:
    x = rand(3, (3, 1, 8, 8))
    x[1] = 0.5
    with pytest.raises(ValueError, match=r"x\[1\] is constant"):
        images.lfc_energy_fraction(x, (2.0,))
    with pytest.raises(ValueError, match=r"x\[1\] is constant"):
        images.band_energy_fraction(x, "high")
    with pytest.raises(ValueError, match="radii="):
        images.lfc_energy_fraction(rand(0, (1, 1, 8, 8)), ())
    with pytest.raises(ValueError, match="radius must be a number >= 0"):
        images.lfc_energy_fraction(rand(0, (1, 1, 8, 8)), (-1.0,))
    with pytest.raises(ValueError, match="band="):
        images.band_energy_fraction(rand(0, (1, 1, 8, 8)), "ultra")
