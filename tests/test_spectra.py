"""Tests for freqkit.spectra against analytic values and independent numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from freqkit import spectra as S

FAST = settings(max_examples=25, deadline=None)
sizes = st.integers(1, 17)


def random_array(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------- independent references


def ref_power(x: np.ndarray) -> np.ndarray:
    """Centred orthonormal power with numpy's complex FFT."""
    return np.fft.fftshift(np.abs(np.fft.fft2(x, norm="ortho")) ** 2, axes=(-2, -1))


def ref_radii(n: int) -> np.ndarray:
    m = np.fft.fftshift(np.fft.fftfreq(n)) * n
    return np.hypot(m[:, None], m[None, :]) / n


def ref_f50(power: np.ndarray) -> float:
    """f50 of one (n, n) centred power: bincount over rounded radii + np.interp on midpoints."""
    radii, group = np.unique(np.round(ref_radii(power.shape[-1]), 12), return_inverse=True)
    energy = np.bincount(group.ravel(), weights=power.ravel())
    fraction = np.cumsum(energy) / energy.sum()
    return float(np.interp(0.5, fraction - energy / (2 * energy.sum()), radii))


def ref_kappa(power: np.ndarray, k: int, norm: str) -> np.ndarray:
    n = power.shape[-1]
    m = np.arange(n) - n // 2
    if norm == "max":
        inside = (np.abs(m)[:, None] <= k / 2) & (np.abs(m)[None, :] <= k / 2)
    else:
        inside = np.hypot(m[:, None], m[None, :]) <= k / 2
    return 1 - (power * inside).sum((-2, -1)) / power.sum((-2, -1))


# ----------------------------------------------------------------------------- power spectrum


@FAST
@given(n=sizes, batch=st.lists(st.integers(1, 3), max_size=2), seed=st.integers(0, 2**16))
def test_parseval_and_numpy_reference(n, batch, seed):
    x = random_array(seed, (*batch, n, n))
    power = S.power_spectrum(x)
    assert isinstance(power, np.ndarray) and power.shape == x.shape
    np.testing.assert_allclose(power.sum((-2, -1)), (x**2).sum((-2, -1)), rtol=1e-12)
    np.testing.assert_allclose(power, ref_power(x), rtol=1e-10, atol=1e-12)


@FAST
@given(k=st.integers(1, 8), pad=st.integers(0, 9), seed=st.integers(0, 2**16))
def test_zero_padding_matches_padded_reference(k, pad, seed):
    kernel = random_array(seed, (2, k, k))
    power = S.power_spectrum(kernel, size=k + pad)
    padded = np.pad(kernel, ((0, 0), (0, pad), (0, pad)))
    np.testing.assert_allclose(power, ref_power(padded), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(power.sum((-2, -1)), (kernel**2).sum((-2, -1)), rtol=1e-12)


def test_remove_mean_and_combine_channels():
    x = random_array(0, (4, 3, 9, 9)) + 5.0
    centred = x - x.mean((-2, -1), keepdims=True)
    np.testing.assert_allclose(S.power_spectrum(x, remove_mean=True), ref_power(centred), atol=1e-10)
    combined = S.power_spectrum(x, combine_channels=True)
    np.testing.assert_allclose(combined, ref_power(x).sum(-3), rtol=1e-12)
    assert combined.shape == (4, 9, 9)


@FAST
@given(n=sizes, data=st.data())
def test_delta_has_flat_spectrum(n, data):
    i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
    delta = torch.zeros(n, n, dtype=torch.float64)
    delta[i, j] = 3.0
    torch.testing.assert_close(S.power_spectrum(delta), torch.full((n, n), 9.0 / n**2, dtype=torch.float64))


@FAST
@given(n=sizes, dy=st.integers(-20, 20), dx=st.integers(-20, 20), seed=st.integers(0, 2**16))
def test_circular_shift_leaves_power_unchanged(n, dy, dx, seed):
    x = torch.from_numpy(random_array(seed, (2, n, n)))
    shifted = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    torch.testing.assert_close(S.power_spectrum(shifted), S.power_spectrum(x), rtol=1e-10, atol=1e-12)


def test_grids():
    fy, fx = S.frequency_grid(6)
    np.testing.assert_array_equal(fx[0], np.fft.fftshift(np.fft.fftfreq(6)))
    np.testing.assert_array_equal(fy[:, 0], np.fft.fftshift(np.fft.fftfreq(6)))
    np.testing.assert_allclose(S.frequency_radius(7), ref_radii(7), rtol=1e-15)
    my, mx = S.frequency_index(5)
    assert my[:, 0].tolist() == [-2, -1, 0, 1, 2] and mx.dtype.kind == "i"


# ----------------------------------------------------------------------------- f50


@pytest.mark.parametrize("n", [8, 31, 32])
def test_f50_of_delta_is_grouped_median_radius(n):
    delta = np.zeros((n, n))
    delta[3, 1] = 1.0
    f50 = float(S.half_power_frequency(S.power_spectrum(delta)))
    assert f50 == pytest.approx(ref_f50(np.ones((n, n))), abs=1e-12)
    # and within one radius gap of numpy's median of the n² grid radii
    radii = np.unique(np.round(ref_radii(n), 12))
    median = np.median(ref_radii(n))
    gap = np.diff(radii)[np.searchsorted(radii, median) - 1 : np.searchsorted(radii, median) + 1].max()
    assert abs(f50 - median) <= gap


def test_f50_of_white_noise_batch():
    x = torch.randn(4000, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    power = S.power_spectrum(x)
    expected = ref_f50(np.ones((32, 32)))
    f50 = S.half_power_frequency(power)
    # f50 of the batch-mean spectrum converges to the flat-spectrum value ...
    assert float(S.half_power_frequency(power.mean(0))) == pytest.approx(expected, abs=3e-4)
    # ... and the per-sample mean too, up to the small bias of a nonlinear estimator (sd ≈ 0.009)
    assert float(f50.mean()) == pytest.approx(expected, abs=2e-3)


@FAST
@given(
    n=st.integers(2, 24),
    data=st.data(),
    phase=st.floats(0, 2 * np.pi),
    amplitude=st.floats(1e-3, 1e3),
)
def test_f50_of_cosine_is_its_frequency(n, data, phase, amplitude):
    jy, jx = data.draw(st.integers(0, n // 2)), data.draw(st.integers(1, n // 2))
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x = amplitude * np.cos(2 * np.pi * (jy * rows + jx * cols) / n + phase)
    if np.abs(x).max() < 1e-6 * amplitude:  # sin at Nyquist vanishes on the grid
        return
    f50 = float(S.half_power_frequency(S.power_spectrum(x)))
    assert f50 == pytest.approx(math.hypot(jy, jx) / n, abs=1e-12)


@pytest.mark.parametrize(("n", "radius"), [(32, 5.0), (32, 10.5), (33, 7.2)])
def test_f50_of_flat_disc(n, radius):
    m = np.arange(n) - n // 2
    disc = (np.hypot(m[:, None], m[None, :]) <= radius).astype(float)
    f50 = float(S.half_power_frequency(disc))
    assert f50 == pytest.approx(ref_f50(disc), abs=1e-12)
    assert f50 == pytest.approx(radius / math.sqrt(2) / n, abs=0.6 / n)  # continuum value R/√2


@FAST
@given(n=st.integers(2, 16), seed=st.integers(0, 2**16), scale=st.floats(1e-4, 1e4))
def test_f50_scale_invariant_and_matches_reference(n, seed, scale):
    x = random_array(seed, (3, n, n))
    f50 = S.half_power_frequency(S.power_spectrum(x))
    np.testing.assert_allclose(S.half_power_frequency(S.power_spectrum(scale * x)), f50, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(f50, [ref_f50(p) for p in ref_power(x)], atol=1e-12)


def test_f50_all_energy_at_dc_is_zero():
    assert float(S.half_power_frequency(S.power_spectrum(np.ones((8, 8))))) == 0.0


def test_radial_energy():
    x = random_array(1, (2, 12, 12))
    radius, fraction = S.radial_energy(S.power_spectrum(x))
    assert radius[0] == 0 and np.all(np.diff(radius) > 0)
    np.testing.assert_allclose(fraction[:, -1], 1.0)
    r = ref_radii(12)
    for i, ri in enumerate(radius):
        expected = (ref_power(x) * (r <= ri + 1e-12)).sum((-2, -1)) / (x**2).sum((-2, -1))
        np.testing.assert_allclose(fraction[:, i], expected, rtol=1e-10)


# ----------------------------------------------------------------------------- kappa_high


@pytest.mark.parametrize("n", [32, 33])
def test_kappa_high_box_matches_closed_form(n):
    for k in range(3, 33):
        power = S.power_spectrum(np.ones((k, k)) / k**2, size=n)
        assert float(S.kappa_high(power, k)) == pytest.approx(S.kappa_high_box_closed_form(k, n), abs=1e-12)


@pytest.mark.parametrize("norm", ["max", "radial"])
def test_kappa_high_matches_direct_mask(norm):
    power = ref_power(random_array(2, (5, 16, 16)))
    for k in (1, 2, 5, 16):
        np.testing.assert_allclose(S.kappa_high(power, k, norm=norm), ref_kappa(power, k, norm), rtol=1e-12)


def gaussian_kernel(k: int, sigma: float) -> np.ndarray:
    a = np.arange(k) - (k - 1) / 2
    g = np.exp(-(a**2) / (2 * sigma**2))
    return np.outer(g, g)


@pytest.mark.parametrize("n", [32, 33, 64])
def test_kappa_high_decreases_with_kernel_size(n):
    # box: strictly decreasing for k < 22 at every n (sidelobes make it non-monotone beyond)
    box = [S.kappa_high_box_closed_form(k, n) for k in range(1, 22)]
    assert np.all(np.diff(box) < 0)
    odd = range(1, n + 1, 2)
    gauss = [float(S.kappa_high(S.power_spectrum(gaussian_kernel(k, 1.5), size=n), k)) for k in odd]
    assert np.all(np.diff(gauss) < 0)


# ----------------------------------------------------------------------------- norms


@pytest.mark.parametrize("n", [7, 8])
def test_spectral_norms_match_reference(n):
    x = random_array(3, (4, 3, n, n))
    hat = np.fft.fft2(x, norm="ortho")
    for dims in (2, 3):
        axes = tuple(range(-dims, 0))
        norms = S.spectral_norms(x, dims=dims)
        from_power = S.spectral_norms(x, dims=dims, power=S.power_spectrum(x))
        for name in norms:
            np.testing.assert_allclose(from_power[name], norms[name], rtol=1e-12)
        np.testing.assert_allclose(norms["l1_hat"], np.abs(hat).sum(axes), rtol=1e-12)
        np.testing.assert_allclose(norms["l2_hat"], np.sqrt((np.abs(hat) ** 2).sum(axes)), rtol=1e-12)
        np.testing.assert_allclose(norms["l1"], np.abs(x).sum(axes), rtol=1e-12)
        np.testing.assert_allclose(norms["l2"], np.sqrt((x**2).sum(axes)), rtol=1e-12)
        assert norms["l1"].shape == x.shape[:-dims]


def test_max_normalise():
    values = np.array([[1.0, 4.0], [2.0, 8.0]])
    np.testing.assert_array_equal(S.max_normalise(values, axis=0), [[0.5, 0.5], [1.0, 1.0]])
    np.testing.assert_array_equal(S.max_normalise(torch.tensor(values)), torch.tensor(values) / 8)


# ----------------------------------------------------------------------------- bands and LFC/HFC


def test_default_bands_partition_the_grid():
    n = 32
    masks = [S.band_mask(n, *S.BANDS[name]) for name in ("low", "mid", "high")]
    np.testing.assert_array_equal(np.sum(masks, axis=0), np.ones((n, n)))
    r = ref_radii(n)
    np.testing.assert_array_equal(masks[1], (r >= 1 / 8) & (r < 1 / 4))


@pytest.mark.parametrize(("n", "radius"), [(16, 4.0), (15, 3.5), (16, 0.0), (8, 100.0)])
def test_frequency_split(n, radius):
    x = random_array(4, (3, n, n))
    lfc, hfc = S.split_frequency_components(x, radius)
    np.testing.assert_allclose(lfc + hfc, x, rtol=0, atol=1e-14)
    m = np.fft.fftfreq(n) * n
    keep = np.hypot(m[:, None], m[None, :]) < radius
    expected_hfc = np.fft.ifft2(np.fft.fft2(x) * ~keep)
    np.testing.assert_allclose(hfc, expected_hfc.real, atol=1e-12)
    outside = np.fft.fftshift(~keep)
    assert np.abs(S.power_spectrum(lfc) * outside).max() < 1e-24  # lfc is band-limited


# ----------------------------------------------------------------------------- numpy/torch, batching


def test_numpy_and_torch_agree_and_keep_their_type():
    x = random_array(5, (2, 3, 8, 8)).astype(np.float32)
    t = torch.from_numpy(x.copy())
    power_np, power_t = S.power_spectrum(x), S.power_spectrum(t)
    assert isinstance(power_np, np.ndarray) and isinstance(power_t, torch.Tensor)
    assert power_t.dtype == torch.float32
    pairs = [
        (power_np, power_t),
        (S.half_power_frequency(power_np), S.half_power_frequency(power_t)),
        (S.kappa_high(power_np, 3), S.kappa_high(power_t, 3)),
        (S.radial_energy(power_np)[1], S.radial_energy(power_t)[1]),
        (S.split_frequency_components(x, 2.0)[0], S.split_frequency_components(t, 2.0)[0]),
        *zip(S.spectral_norms(x).values(), S.spectral_norms(t).values()),
    ]
    for a, b in pairs:
        assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
        np.testing.assert_array_equal(a, b.numpy())


def test_batched_equals_per_sample():
    x = torch.from_numpy(random_array(6, (4, 3, 10, 10)))
    power = S.power_spectrum(x)
    f50, kappa = S.half_power_frequency(power), S.kappa_high(power, 4, norm="radial")
    norms = S.spectral_norms(x)
    for i in range(4):
        for c in range(3):
            single = S.power_spectrum(x[i, c])
            torch.testing.assert_close(single, power[i, c], rtol=1e-12, atol=1e-14)
            torch.testing.assert_close(S.half_power_frequency(single), f50[i, c], rtol=1e-12, atol=1e-14)
            torch.testing.assert_close(S.kappa_high(single, 4, norm="radial"), kappa[i, c])
        single_norms = S.spectral_norms(x[i])
        for name in norms:
            torch.testing.assert_close(single_norms[name], norms[name][i])


# ----------------------------------------------------------------------------- bad input


BAD_INPUTS = [
    (lambda: S.power_spectrum(np.zeros(5)), "x", "(5,)"),
    (lambda: S.power_spectrum(np.zeros((4, 5))), "x", "(4, 5)"),
    (lambda: S.power_spectrum(np.array([[0.0, np.nan], [0.0, 0.0]])), "x", "nan"),
    (lambda: S.power_spectrum(np.array([[0.0, np.inf], [0.0, 0.0]])), "x", "inf"),
    (lambda: S.power_spectrum(np.zeros((4, 4)), size=3), "size", "3"),
    (lambda: S.power_spectrum(np.zeros((4, 4)), combine_channels=True), "combine_channels", "(4, 4)"),
    (lambda: S.half_power_frequency(np.zeros((2, 4, 4))), "power", "0.0"),
    (lambda: S.half_power_frequency(np.ones((4, 3))), "power", "(4, 3)"),
    (lambda: S.kappa_high(np.ones((4, 4)), 5), "k", "5"),
    (lambda: S.kappa_high(np.ones((4, 4)), 0), "k", "0"),
    (lambda: S.kappa_high(np.ones((4, 4)), 2, norm="l2"), "norm", "l2"),
    (lambda: S.kappa_high(np.zeros((4, 4)), 2), "power", "0.0"),
    (lambda: S.kappa_high_box_closed_form(9, 8), "k", "9"),
    (lambda: S.kappa_high_box_closed_form(0, 8), "k", "0"),
    (lambda: S.band_mask(8, 0.25, 0.25), "hi", "0.25"),
    (lambda: S.band_mask(8, -0.1, 0.25), "lo", "-0.1"),
    (lambda: S.band_mask(0, 0.0, 0.25), "n", "0"),
    (lambda: S.split_frequency_components(np.zeros((4, 4)), -1.0), "radius", "-1.0"),
    (lambda: S.split_frequency_components(np.zeros((4, 4)), float("nan")), "radius", "nan"),
    (lambda: S.spectral_norms(np.zeros((4, 4))), "dims", "(4, 4)"),
    (lambda: S.spectral_norms(np.zeros((4, 4)), dims=4), "dims", "4"),
    (lambda: S.spectral_norms(np.zeros((1, 4, 4)), power=np.zeros((4, 4))), "power", "(4, 4)"),
    (lambda: S.max_normalise(np.zeros((2, 2)), axis=1), "values", "0.0"),
]


@pytest.mark.parametrize(("call", "argument", "value"), BAD_INPUTS)
def test_bad_input_raises_naming_argument_and_value(call, argument, value):
    with pytest.raises(ValueError) as info:
        call()
    assert argument in str(info.value) and value in str(info.value)
