"""Image helpers: reference signals and per-image spectral summaries.

Reference signals with known spectra (white noise, Gaussian blur, Gaussian
kernels), the analytic white-noise references of the half-power frequency
(:func:`flat_spectrum_f50`, :func:`grid_median_radius`,
:data:`CONTINUOUS_NOISE_F50`) and per-image summaries built on
:mod:`freqkit.spectra`: :func:`image_f50`, :func:`band_energy_fraction` and
:func:`lfc_energy_fraction`.

Conventions are those of :mod:`freqkit.spectra`: images are ``(..., C, H, W)``,
frequencies in cycles/pixel, centred orthonormal spectra; functions that accept
both torch tensors and numpy arrays return the type they were given. The
per-image summaries remove each channel's mean and sum the power over channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

from freqkit import spectra
from freqkit._validate import check_finite, check_numeric_dtype

__all__ = [
    "CONTINUOUS_NOISE_F50",
    "band_energy_fraction",
    "flat_spectrum_f50",
    "gaussian_blur",
    "gaussian_kernel",
    "grid_median_radius",
    "image_f50",
    "lfc_energy_fraction",
    "white_noise",
]

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)

#: Median radius of the uniform distribution on the square ``[-1/2, 1/2]²`` (cycles/pixel):
#: the disc of radius r holds the fraction ``π r²`` of the square while ``r <= 1/2``, so the
#: median is ``1/√(2π) ≈ 0.3989``. White noise has a flat expected spectrum, so its f50 tends
#: to this value as the grid gets finer.
CONTINUOUS_NOISE_F50 = 1.0 / math.sqrt(2.0 * math.pi)


def _positive(value: object, name: str, unit: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} is not allowed; allowed: a finite number > 0 ({unit})")
    return float(value)


def _size(value: object, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; allowed: an integer >= 1")
    return int(value)


def _grid_size(n: object) -> int:
    """A DFT grid side with at least one non-DC bin (``n >= 2``)."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n={n!r} is not allowed; allowed: an integer >= 2 (1 × 1 has only DC)")
    return int(n)


def _tensor(x: object, name: str, min_ndim: int, layout: str) -> tuple[torch.Tensor, bool]:
    """``x`` as a finite real floating tensor with ``min_ndim`` axes or more, and whether it was numpy.

    Big-endian arrays are converted to native order (same values); integer, complex,
    object and string dtypes, too few axes and NaN/inf pixels are a ValueError.
    """
    is_numpy = not isinstance(x, torch.Tensor)
    if is_numpy:
        a = np.asarray(x)
        if a.dtype.kind != "f":
            raise ValueError(f"{name} must be a real floating tensor or array {layout}, got dtype {a.dtype}")
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        t = torch.from_numpy(np.ascontiguousarray(a))
    else:
        t = x
    if t.is_complex() or not t.is_floating_point():
        raise ValueError(f"{name} must be a real floating tensor or array {layout}, got dtype {t.dtype}")
    check_numeric_dtype(t.dtype, name, allow_int=False)
    if t.ndim < min_ndim:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(t.shape)}")
    check_finite(t, name)
    return t, is_numpy


def _images(x: object, name: str = "x") -> tuple[torch.Tensor, bool]:
    """``x`` as a finite real floating tensor of shape ``(..., C, H, W)`` and whether it was numpy."""
    return _tensor(x, name, 3, "(..., C, H, W)")


def _out(t: torch.Tensor, is_numpy: bool):
    return t.numpy() if is_numpy else t


# --------------------------------------------------------------------------- reference signals
def white_noise(shape: Sequence[int], seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """i.i.d. standard normal noise of ``shape`` from ``torch.Generator().manual_seed(seed)``.

    The global torch RNG is not touched; the same seed gives the same noise.

    Examples
    --------
    >>> torch.equal(white_noise((2, 3), 1), white_noise((2, 3), 1))
    True
    >>> white_noise((2, 3), 1).dtype, white_noise((2,), 0, torch.float64).dtype
    (torch.float32, torch.float64)
    >>> white_noise((2, -1), 0)
    Traceback (most recent call last):
    ...
    ValueError: shape=(2, -1) is not allowed; allowed: a sequence of integers >= 0
    """
    dims = tuple(shape) if isinstance(shape, (tuple, list, torch.Size)) else None
    if dims is None or any(isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0
                           for d in dims):
        raise ValueError(f"shape={shape!r} is not allowed; allowed: a sequence of integers >= 0")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} is not allowed; allowed: an integer >= 0")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype={dtype!r} is not allowed; allowed: a torch floating dtype")
    return torch.randn(tuple(int(d) for d in dims), generator=torch.Generator().manual_seed(int(seed)),
                       dtype=dtype)


def gaussian_kernel(k: int, sigma: float) -> np.ndarray:
    """``k × k`` Gaussian ``exp(-|p - c|² / 2σ²)`` centred at ``c = ((k-1)/2, (k-1)/2)``, unit sum.

    ``sigma`` in pixels. The kernel is the outer product of two 1-D Gaussians.

    Examples
    --------
    >>> g = gaussian_kernel(3, 1.0)
    >>> round(float(g.sum()), 12), bool(g[1, 1] == g.max()), bool(np.allclose(g, g.T))
    (1.0, True, True)
    >>> gaussian_kernel(3, 0.0)
    Traceback (most recent call last):
    ...
    ValueError: sigma=0.0 is not allowed; allowed: a finite number > 0 (pixels)
    """
    k = _size(k, "k")
    sigma = _positive(sigma, "sigma", "pixels")
    p = np.arange(k) - (k - 1) / 2
    g = np.exp(-(p[:, None] ** 2 + p[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_blur(x: ArrayT, sigma: float) -> ArrayT:
    """Circular Gaussian blur of the last two axes: multiply the DFT by ``exp(-2π²σ²|f|²)``.

    ``|f|`` in cycles/pixel, ``sigma`` in pixels; the power spectrum is
    multiplied by ``exp(-4π²σ²|f|²)`` (the transfer function of a Gaussian of
    ``sigma`` pixels, sampled on the DFT grid). DC (the mean) is kept.
    Non-square images are allowed.

    Examples
    --------
    >>> x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    >>> torch.allclose(gaussian_blur(x, 1.0).mean((-2, -1)), x.mean((-2, -1)))
    True
    >>> float(gaussian_blur(np.ones((4, 4)), 2.0).std()) < 1e-12  # a constant image is unchanged
    True
    """
    sigma = _positive(sigma, "sigma", "pixels")
    t, is_numpy = _tensor(x, "x", 2, "(..., H, W)")
    h, w = t.shape[-2:]
    fy = torch.fft.fftfreq(h, dtype=torch.float64, device=t.device)[:, None]
    fx = torch.fft.rfftfreq(w, dtype=torch.float64, device=t.device)[None, :]
    transfer = torch.exp(-2 * math.pi**2 * sigma**2 * (fy**2 + fx**2)).to(t.dtype)
    return _out(torch.fft.irfft2(torch.fft.rfft2(t) * transfer, s=(h, w)), is_numpy)


# --------------------------------------------------------------------------- white-noise references
def flat_spectrum_f50(n: int) -> float:
    """f50 of the expected spectrum of white noise with the mean removed: flat, DC zero, ``n × n``.

    By :func:`freqkit.spectra.half_power_frequency` (interpolated cumulative energy).

    Examples
    --------
    >>> round(flat_spectrum_f50(32), 4)
    0.4
    """
    n = _grid_size(n)
    power = np.ones((n, n))
    power[n // 2, n // 2] = 0.0
    return float(spectra.half_power_frequency(power))


def grid_median_radius(n: int) -> float:
    """``numpy.median`` of the radii (cycles/pixel) of the ``n × n`` DFT grid without DC.

    An independent reference for :func:`flat_spectrum_f50` (which interpolates
    the cumulative energy instead of taking the sample median); both tend to
    :data:`CONTINUOUS_NOISE_F50` as ``n`` grows.

    Examples
    --------
    >>> round(grid_median_radius(32), 4)
    0.4002
    """
    n = _grid_size(n)
    r = spectra.frequency_radius(n).ravel()
    return float(np.median(r[r > 0]))


# --------------------------------------------------------------------------- per-image summaries
def image_f50(x: ArrayT, *, remove_mean: bool = True) -> ArrayT:
    """f50 (cycles/pixel) of each image ``(..., C, n, n)``: power summed over channels.

    ``remove_mean`` subtracts each channel's mean first (otherwise DC, the
    brightness, dominates). Shape ``(...)``.

    Examples
    --------
    >>> x = torch.cos(2 * torch.pi * 0.25 * torch.arange(8.0)).expand(1, 1, 8, 8)
    >>> image_f50(x).tolist()
    [0.25]
    """
    t, is_numpy = _images(x)
    f50 = spectra.half_power_frequency(
        spectra.power_spectrum(t, remove_mean=remove_mean, combine_channels=True))
    return _out(f50, is_numpy)


def _energy(t: torch.Tensor) -> torch.Tensor:
    """Mean-removed energy of each image (channels summed); ValueError for a constant image."""
    centred = t - t.mean((-2, -1), keepdim=True)
    total = centred.square().sum((-3, -2, -1))
    if total.numel() and not bool((total > 0).all()):
        where = tuple(int(i) for i in (total <= 0).nonzero()[0].tolist())
        raise ValueError(f"x[{', '.join(map(str, where))}] is constant (no energy once the mean "
                         "is removed); its energy fractions are undefined")
    return total


def band_energy_fraction(x: ArrayT, band: str | tuple[float, float]) -> ArrayT:
    """Fraction of each image's mean-removed energy in the radial band ``lo <= r < hi``, shape ``(...)``.

    ``band`` is a name in :data:`freqkit.spectra.BANDS` (``"low"``, ``"mid"``,
    ``"high"``) or ``(lo, hi)`` in cycles/pixel (:func:`freqkit.stego.band_limits`);
    power summed over channels, square images.

    Examples
    --------
    >>> x = np.cos(2 * np.pi * 0.25 * np.arange(8.0)) * np.ones((1, 1, 8, 8))  # all at r = 1/4
    >>> band_energy_fraction(x, "high").round(12).tolist(), band_energy_fraction(x, "mid").round(12).tolist()
    ([1.0], [0.0])
    """
    from freqkit.stego import band_limits

    lo, hi = band_limits(band)
    t, is_numpy = _images(x)
    _energy(t)
    power = spectra.power_spectrum(t, remove_mean=True, combine_channels=True)
    mask = torch.from_numpy(spectra.band_mask(t.shape[-1], lo, hi)).to(power.device)
    frac = (power * mask).sum((-2, -1)) / power.sum((-2, -1))
    return _out(frac, is_numpy)


def lfc_energy_fraction(x: ArrayT, radii: Sequence[float]) -> ArrayT:
    """Fraction of each image's mean-removed energy in its LFC, shape ``(..., len(radii))``.

    ``radii`` is a sequence (or 1-D array) of radii.
    ``‖LFC_r(x - x̄)‖² / ‖x - x̄‖²`` summed over channels, the LFC by
    :func:`freqkit.spectra.split_frequency_components` (coefficients with index
    distance ``< r``, Wang et al. 2020; the DC of the mean-removed image is zero).
    A constant image raises ValueError (no energy to share).

    Examples
    --------
    >>> x = torch.rand(3, 1, 16, 16, dtype=torch.float64)
    >>> frac = lfc_energy_fraction(x, (1.0, 100.0))
    >>> frac[:, 0].abs().max().item() < 1e-12, torch.allclose(frac[:, 1], torch.ones(3, dtype=torch.float64))
    (True, True)
    """
    if isinstance(radii, np.ndarray) and radii.ndim == 1:
        radii = radii.tolist()
    if isinstance(radii, (str, bytes)) or not isinstance(radii, Sequence) or len(radii) == 0:
        raise ValueError(f"radii={radii!r} is not allowed; allowed: a non-empty sequence of "
                         "radii >= 0 (DFT index units)")
    t, is_numpy = _images(x)
    total = _energy(t)
    centred = t - t.mean((-2, -1), keepdim=True)
    out = []
    for r in radii:
        lfc, _ = spectra.split_frequency_components(centred, r)
        out.append(lfc.square().sum((-3, -2, -1)) / total)
    return _out(torch.stack(out, -1), is_numpy)
