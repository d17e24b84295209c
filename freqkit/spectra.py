"""Fourier metrics of images, kernels and perturbations.

Conventions (see DESIGN.md): spectra are *centred* (DC at index ``n // 2``) and
use the orthonormal DFT, so ``power.sum() == (x ** 2).sum()`` (Parseval).
Frequencies are in **cycles per pixel** (DC 0, Nyquist 0.5, corner 0.5·√2);
names containing ``index`` use the centred integer DFT index
``m = -(n // 2) … n - 1 - n // 2``.  Functions taking an array accept a
``torch.Tensor`` or a ``numpy.ndarray`` of shape ``(..., n, n)`` and return the
type they were given; all of them are batched over the leading axes.
"""

from __future__ import annotations

import math
import operator
from functools import lru_cache
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, TypeVar

import numpy as np
import torch
from torch import Tensor

from freqkit._validate import as_bool, check_numeric_dtype, first_nonfinite

__all__ = [
    "BANDS",
    "band_mask",
    "frequency_grid",
    "frequency_index",
    "frequency_radius",
    "half_power_frequency",
    "kappa_high",
    "kappa_high_box_closed_form",
    "max_normalise",
    "power_spectrum",
    "radial_energy",
    "spectral_norms",
    "spectrum_statistics",
    "split_frequency_components",
]

ArrayT = TypeVar("ArrayT", Tensor, np.ndarray)

#: Default radial bands ``lo <= r < hi`` in cycles/pixel (Nyquist = 0.5).
BANDS: dict[str, tuple[float, float]] = {
    "low": (0.0, 1 / 8),
    "mid": (1 / 8, 1 / 4),
    "high": (1 / 4, math.inf),
}


# ----------------------------------------------------------------------------- validation


def _size(n: object, name: str = "n") -> int:
    try:
        if isinstance(n, bool):
            raise TypeError
        value = operator.index(n)
    except TypeError:
        raise ValueError(f"{name} must be a positive integer, got {n!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return value


def _to_tensor(
    x: object, name: str, *, square: bool = True, nonnegative: bool = False, check_finite: bool = True
) -> tuple[Tensor, bool]:
    """``x`` as a real floating tensor (sharing memory when possible) and whether it was numpy.

    Refused, with a ValueError naming ``name``: complex, float16/bfloat16, object,
    string and other non-numeric dtypes, fewer than 2 axes, empty ``(0, 0)``
    images, non-square images (``square``), NaN/inf, and negative entries
    (``nonnegative``: a power spectrum). Big-endian arrays are byte-swapped to
    native order (same values); integer and bool inputs become float64
    (numpy) or the default dtype (torch).
    """
    is_numpy = not isinstance(x, Tensor)
    if is_numpy:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:  # ragged nested lists and the like
            raise ValueError(f"{name} must be a tensor or an array of real numbers, got "
                             f"{type(x).__name__} ({err})") from None
        if arr.dtype.kind == "c":
            raise ValueError(f"{name} must be real, got dtype {arr.dtype}")
        check_numeric_dtype(arr.dtype, name)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        t = torch.from_numpy(np.ascontiguousarray(arr))
    else:
        t = x
    if t.is_complex():
        raise ValueError(f"{name} must be real, got dtype {t.dtype}")
    check_numeric_dtype(t.dtype, name)
    if not t.is_floating_point():
        t = t.to(torch.float64 if is_numpy else torch.get_default_dtype())
    if t.ndim < 2:
        raise ValueError(f"{name} must have shape (..., n, n), got shape {tuple(t.shape)}")
    if square and t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{name} must be square in its last two axes, got shape {tuple(t.shape)}")
    if t.shape[-1] == 0 or t.shape[-2] == 0:
        raise ValueError(f"{name} must hold images of at least 1 x 1 pixels, got shape {tuple(t.shape)}")
    # One cheap reduction; the elementwise check runs only if the sum is not finite.
    bad = first_nonfinite(t) if check_finite else None  # check_finite=False: the caller checks
    if bad is not None:
        raise ValueError(f"{name} must be finite, got {bad[1]} at index {bad[0]}")
    if nonnegative and t.numel() and bool(t.min() < 0):
        where = tuple(int(i) for i in (t < 0).nonzero()[0].tolist())
        raise ValueError(
            f"{name} must be a power spectrum (every entry >= 0), got {t[where].item()} at index {where}"
        )
    return t, is_numpy


def _out(t: Tensor, is_numpy: bool):
    return t.numpy() if is_numpy else t


# ----------------------------------------------------------------------------- grids


def frequency_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred integer DFT indices ``(m_y, m_x)``, each of shape ``(n, n)``.

    ``m = arange(n) - n // 2``, i.e. ``-n/2 … n/2 - 1`` for even ``n``, matching
    ``fftshift``.

    Examples
    --------
    >>> my, mx = frequency_index(4)
    >>> mx[0].tolist(), my[:, 0].tolist()
    ([-2, -1, 0, 1], [-2, -1, 0, 1])
    """
    m = np.arange(_size(n)) - n // 2
    return np.meshgrid(m, m, indexing="ij")


def frequency_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred frequencies ``(f_y, f_x)`` in cycles/pixel, each of shape ``(n, n)``.

    Examples
    --------
    >>> fy, fx = frequency_grid(4)
    >>> fx[0].tolist()
    [-0.5, -0.25, 0.0, 0.25]
    """
    my, mx = frequency_index(n)
    return my / n, mx / n


def frequency_radius(n: int) -> np.ndarray:
    """Radial frequency ``sqrt(f_y² + f_x²)`` in cycles/pixel, shape ``(n, n)``.

    Examples
    --------
    >>> float(frequency_radius(4)[0, 0])  # the corner (-1/2, -1/2)
    0.7071067811865476
    """
    my, mx = frequency_index(n)
    return np.sqrt(my**2 + mx**2) / n


@lru_cache(maxsize=64)
def _radial_tables(n: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per-``n`` constants: distinct radii (cycles/pixel, float64), the distinct-radius
    index of every full centred bin ``(n*n,)`` and of every rfft bin ``(n*(n//2+1),)``,
    the full-from-rfft gather index ``(n*n,)`` and the rfft multiplicities ``(n, n//2+1)``."""
    my, mx = frequency_index(n)
    squared, inverse_full = np.unique(my**2 + mx**2, return_inverse=True)  # exact integers
    h = n // 2 + 1
    ry, rx = my % n, mx % n  # unshifted indices of the centred bins
    mirrored = rx >= h  # use the Hermitian partner (-m_y, -m_x) for these
    ry, rx = np.where(mirrored, -my % n, ry), np.where(mirrored, -mx % n, rx)
    gather = (ry * h + rx).ravel()
    inverse_half = np.empty(n * h, dtype=np.int64)
    inverse_half[gather] = inverse_full.ravel()
    multiplicity = np.full((n, h), 2.0)
    multiplicity[:, 0] = 1.0
    if n % 2 == 0:
        multiplicity[:, -1] = 1.0
    as_t = torch.from_numpy
    return (
        as_t(np.sqrt(squared) / n),
        as_t(inverse_full.ravel().astype(np.int64)),
        as_t(inverse_half),
        as_t(gather.astype(np.int64)),
        as_t(multiplicity),
    )


@lru_cache(maxsize=256)
def _inside_band(n: int, k: int, norm: str) -> np.ndarray:
    """Boolean ``(n, n)`` centred mask of the band ``|m| <= k/2`` (max or radial norm)."""
    my, mx = frequency_index(n)
    if norm == "max":
        return (2 * np.abs(my) <= k) & (2 * np.abs(mx) <= k)
    return 4 * (my**2 + mx**2) <= k * k


# ----------------------------------------------------------------------------- spectra

#: Elements per batch chunk (~1 MB of float32): big batches are processed in chunks so
#: that FFT temporaries stay in cache instead of page-faulting fresh memory. With several
#: threads chunks are 16× larger: fewer parallel regions to synchronise.
_CHUNK_ELEMENTS = 1 << 18


def _row_chunks(rows: int, row_elements: int) -> Iterator[slice]:
    budget = _CHUNK_ELEMENTS * (1 if torch.get_num_threads() == 1 else 16)
    step = max(1, budget // max(1, row_elements))
    return (slice(start, start + step) for start in range(0, rows, step))


def _rfft_power(x: Tensor, n: int) -> Tensor:
    """Orthonormal ``|rfft2|²`` of the last two axes, zero-padded to ``n × n``: ``(..., n, n//2+1)``."""
    spectrum = torch.fft.rfft2(x, s=(n, n))
    return spectrum.real.square().addcmul_(spectrum.imag, spectrum.imag).mul_(1.0 / (n * n))


def power_spectrum(
    x: ArrayT,
    *,
    remove_mean: bool = False,
    combine_channels: bool = False,
    size: int | None = None,
) -> ArrayT:
    """Centred orthonormal power spectrum ``|DFT(x)|²`` of the last two axes.

    Parameters
    ----------
    x : Tensor or ndarray, shape ``(..., k, k)``
        Real images, kernels or perturbations (channels are just leading axes).
    remove_mean : bool
        Subtract each image's (per-channel) spatial mean, i.e. zero the DC bin.
        With ``size`` this is the mean of the zero-padded ``size × size`` image.
    combine_channels : bool
        Sum the power over axis ``-3`` (channels); needs ``x.ndim >= 3``.
    size : int, optional
        Zero-pad the ``k × k`` input (anchored top-left) to ``size × size`` first;
        ``size >= k``.

    Returns
    -------
    Tensor or ndarray, shape ``(..., n, n)``
        Power with DC at index ``n // 2``; ``power.sum(axis=(-2, -1)) == (x**2).sum(axis=(-2, -1))``.

    Examples
    --------
    >>> import numpy as np
    >>> delta = np.zeros((4, 4)); delta[0, 0] = 1.0
    >>> power_spectrum(delta)  # flat, total energy 1
    array([[0.0625, 0.0625, 0.0625, 0.0625],
           [0.0625, 0.0625, 0.0625, 0.0625],
           [0.0625, 0.0625, 0.0625, 0.0625],
           [0.0625, 0.0625, 0.0625, 0.0625]])
    >>> power_spectrum(np.ones((1, 3, 3)), size=4, combine_channels=True).sum()  # 9 ones
    np.float64(9.0)
    """
    remove_mean = as_bool(remove_mean, "remove_mean")
    combine_channels = as_bool(combine_channels, "combine_channels")
    t, is_numpy = _to_tensor(x, "x")
    k = t.shape[-1]
    n = k if size is None else _size(size, "size")
    if n < k:
        raise ValueError(f"size must be >= the input size {k}, got {size!r}")
    if combine_channels and t.ndim < 3:
        raise ValueError(f"combine_channels needs x of shape (..., C, n, n), got shape {tuple(t.shape)}")
    image_axes = 3 if combine_channels else 2
    rows = t.reshape(-1, *t.shape[-image_axes:])  # (B, [C,] k, k)
    gather = _radial_tables(n)[3].to(t.device)
    out = t.new_empty(rows.shape[0], n * n)
    for chunk in _row_chunks(len(rows), rows[0].numel() if len(rows) else 1):
        p = _rfft_power(rows[chunk], n)
        if remove_mean:
            p[..., 0, 0] = 0.0
        if combine_channels:
            p = p.sum(1)
        torch.index_select(p.flatten(-2), 1, gather, out=out[chunk])
    return _out(out.reshape(*t.shape[:-image_axes], n, n), is_numpy)


def _radial_sums(power: Tensor) -> Tensor:
    """Energy at each distinct radius, ``(B, R)`` float64, of a centred ``(..., n, n)`` power."""
    n = power.shape[-1]
    inverse = _radial_tables(n)[1].to(power.device)
    flat = power.reshape(-1, n * n)
    sums = flat.new_zeros(flat.shape[0], _radial_tables(n)[0].numel())
    for chunk in _row_chunks(len(flat), n * n):
        sums[chunk].index_add_(1, inverse, flat[chunk])
    return sums.double()


def _check_total(total: Tensor, name: str) -> None:
    if not bool((total > 0).all()):
        where = int((total <= 0).nonzero()[0, 0])
        raise ValueError(
            f"{name} must have positive total energy in every spectrum, "
            f"got {total[where].item()} at flattened batch index {where}"
        )


def radial_energy(power: ArrayT) -> tuple[ArrayT, ArrayT]:
    """Cumulative radial energy fraction ``F(r) = E(radius <= r) / E_total``.

    Parameters
    ----------
    power : Tensor or ndarray, shape ``(..., n, n)``
        Centred power spectrum (e.g. from :func:`power_spectrum`).

    Returns
    -------
    radius : shape ``(R,)``
        The sorted distinct radii of the ``n × n`` grid in cycles/pixel (``radius[0] == 0``).
    cumulative_fraction : shape ``(..., R)``
        ``F(radius)``; the last entry is 1.

    Examples
    --------
    >>> import numpy as np
    >>> r, F = radial_energy(np.full((2, 2), 0.25))
    >>> r.tolist(), F.tolist()
    ([0.0, 0.5, 0.7071067811865476], [0.25, 0.75, 1.0])
    """
    t, is_numpy = _to_tensor(power, "power", nonnegative=True)
    cumulative = _radial_sums(t).cumsum_(1)
    _check_total(cumulative[:, -1], "power")
    fraction = (cumulative / cumulative[:, -1:]).reshape(*t.shape[:-2], -1).to(t.dtype)
    radius = _radial_tables(t.shape[-1])[0].to(device=t.device, dtype=t.dtype)
    return _out(radius, is_numpy), _out(fraction, is_numpy)


def _half_power_from_sums(sums: Tensor, radius: Tensor) -> Tensor:
    """f50 for radial energies ``sums (B, R)`` (float64) at distinct ``radius (R,)``."""
    cumulative = sums.cumsum(1)
    total = cumulative[:, -1].clone()
    _check_total(total, "power")
    return _half_power_from_midpoints(cumulative.sub_(sums, alpha=0.5), total, radius)


def _half_power_from_midpoints(midpoint: Tensor, total: Tensor, radius: Tensor) -> Tensor:
    """f50 from the step midpoints ``G_i · total`` ``(B, R)`` (non-decreasing in ``i``) and the
    totals ``(B,)`` > 0: where the piecewise-linear ``(radius_i, G_i)`` reaches 0.5."""
    target = 0.5 * total[:, None]
    upper = torch.searchsorted(midpoint, target).clamp_(max=radius.numel() - 1)
    lower = (upper - 1).clamp_(min=0)
    g_hi, g_lo = midpoint.gather(1, upper), midpoint.gather(1, lower)
    r_hi, r_lo = radius[upper], radius[lower]
    step = (g_hi - g_lo).clamp_(min=torch.finfo(g_hi.dtype).tiny)  # 0 only when upper == 0
    fraction = ((target - g_lo) / step).clamp_(0.0, 1.0)
    return (r_lo + fraction * (r_hi - r_lo))[:, 0]


def half_power_frequency(power: ArrayT) -> ArrayT:
    """Half-power frequency f50 in **cycles/pixel**, one per spectrum.

    Group the energy by the distinct radii ``r_0 = 0 < r_1 < … < r_{R-1}`` of the
    grid (exactly: by the integer ``m_y² + m_x²``), with energy ``E_i`` at ``r_i``
    and cumulative fraction ``F_i = Σ_{j<=i} E_j / Σ_j E_j``. Each radius is placed
    at the midpoint of its step of the cumulative energy,
    ``G_i = F_i - E_i / (2 Σ_j E_j) = (F_{i-1} + F_i) / 2``,
    and f50 is the smallest radius at which the piecewise-linear curve through
    the points ``(r_i, G_i)`` reaches 0.5 (``0`` if ``G_0 >= 0.5``). This is exact
    (no binning), continuous in the power, equals ``r`` when all energy sits at one
    radius ``r`` (a cosine of frequency ``f0`` has ``f50 == f0``), and for a flat
    spectrum it is the median of the grid radii with ties grouped.

    Parameters
    ----------
    power : Tensor or ndarray, shape ``(..., n, n)``
        Centred, non-negative power spectra (e.g. from :func:`power_spectrum`).

    Returns
    -------
    Tensor or ndarray, shape ``(...)``
        f50 in cycles/pixel, in ``[0, 0.5·√2]``, dtype of ``power``.

    Raises
    ------
    ValueError
        If a spectrum has zero total energy (f50 undefined), or ``power`` is not
        square / finite.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cos(2 * np.pi * 0.25 * np.arange(16))[None, :].repeat(16, 0)
    >>> float(half_power_frequency(power_spectrum(x)))
    0.25
    """
    t, is_numpy = _to_tensor(power, "power", nonnegative=True)
    radius = _radial_tables(t.shape[-1])[0].to(t.device)
    f50 = _half_power_from_sums(_radial_sums(t), radius)
    return _out(f50.reshape(t.shape[:-2]).to(t.dtype), is_numpy)


def _check_band_size(k: object, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer with 1 <= k <= n = {n}, got {k!r}")
    return int(k)


def kappa_high(power: ArrayT, k: int, *, norm: Literal["max", "radial"] = "max") -> ArrayT:
    """Fraction of the energy outside the band ``|m| <= k/2`` of centred DFT indices.

    With ``m = (m_y, m_x)`` the centred integer index of a bin of the ``n × n``
    spectrum, the band is ``|m_y| <= k/2 and |m_x| <= k/2`` for ``norm="max"``
    (a ``(2⌊k/2⌋+1)²`` box around DC) and ``sqrt(m_y² + m_x²) <= k/2`` for
    ``norm="radial"``; ``kappa_high = 1 - E(band) / E_total``.

    Parameters
    ----------
    power : Tensor or ndarray, shape ``(..., n, n)``
        Centred power spectra.
    k : int
        Band width in DFT indices (the kernel size), ``1 <= k <= n``.
    norm : {"max", "radial"}
        Shape of the band.

    Returns
    -------
    Tensor or ndarray, shape ``(...)``

    Examples
    --------
    >>> import numpy as np
    >>> box = np.ones((3, 3))
    >>> round(float(kappa_high(power_spectrum(box, size=32), 3)), 6)
    0.92356
    >>> round(kappa_high_box_closed_form(3, 32), 6)
    0.92356
    """
    t, is_numpy = _to_tensor(power, "power", nonnegative=True)
    n = t.shape[-1]
    k = _check_band_size(k, n)
    if norm not in ("max", "radial"):
        raise ValueError(f"norm must be 'max' or 'radial', got {norm!r}")
    outside = torch.from_numpy(~_inside_band(n, k, norm).ravel()).to(t.device, t.dtype)
    flat = t.reshape(-1, n * n)
    total = (flat @ torch.ones_like(outside)).double()  # two matrix-vector products: one pass each
    _check_total(total, "power")
    kappa = (flat @ outside).double() / total
    return _out(kappa.reshape(t.shape[:-2]).to(t.dtype), is_numpy)


def kappa_high_box_closed_form(k: int, n: int) -> float:
    """``kappa_high(power_spectrum(ones((k, k)), size=n), k)`` without an FFT.

    Per axis the zero-padded box has the Dirichlet-kernel power
    ``|D(m)|² = sin²(π k m / n) / sin²(π m / n)`` (``|D(0)|² = k²``) with total
    ``Σ_m |D(m)|² = n k`` (Parseval). The 2-D power is separable, so with
    ``S_in = Σ_{|m| <= k/2} |D(m)|²`` over centred indices,
    ``kappa_high = 1 - (S_in / (n k))²`` (max-norm band).

    Examples
    --------
    >>> kappa_high_box_closed_form(32, 32)
    0.0
    >>> round(kappa_high_box_closed_form(1, 32), 6)  # only DC inside: 1 - 1/32²
    0.999023
    """
    n = _size(n)
    k = _check_band_size(k, n)
    m = np.arange(n) - n // 2
    m = m[2 * np.abs(m) <= k]
    with np.errstate(divide="ignore", invalid="ignore"):
        dirichlet = np.where(m == 0, float(k * k), np.sin(np.pi * k * m / n) ** 2 / np.sin(np.pi * m / n) ** 2)
    return max(0.0, 1.0 - float(dirichlet.sum() / (n * k)) ** 2)


# ----------------------------------------------------------------------------- norms


def spectral_norms(x: ArrayT, *, dims: Literal[2, 3] = 3, power: ArrayT | None = None) -> dict[str, ArrayT]:
    """ℓ1 and ℓ2 norms of ``x`` and of its orthonormal 2-D DFT ``x̂``.

    Parameters
    ----------
    x : Tensor or ndarray, shape ``(..., C, n, n)`` (or ``(..., n, n)`` with ``dims=2``)
    dims : {2, 3}
        Number of trailing axes the norms reduce over: 3 → one value per image over
        ``(C, n, n)``; 2 → one value per channel over ``(n, n)``. The DFT is always
        the 2-D DFT of each channel.
    power : same type and shape as ``x``, optional
        ``power_spectrum(x)`` if already computed; saves the FFT (the caller vouches
        that it belongs to ``x``).

    Returns
    -------
    dict with ``l1_hat = Σ|x̂|``, ``l2_hat = sqrt(Σ|x̂|²)``, ``l1 = Σ|x|``, ``l2 = sqrt(Σ x²)``,
    each of shape ``x.shape[:-dims]``. ``l2_hat == l2`` (Parseval).

    Examples
    --------
    >>> import numpy as np
    >>> delta = np.zeros((1, 4, 4)); delta[0, 0, 0] = 2.0
    >>> {k: float(v) for k, v in spectral_norms(delta).items()}
    {'l1_hat': 8.0, 'l2_hat': 2.0, 'l1': 2.0, 'l2': 2.0}
    """
    if isinstance(dims, (bool, np.bool_)) or not isinstance(dims, (int, np.integer)) or dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims!r}")
    dims = int(dims)
    t, is_numpy = _to_tensor(x, "x")
    if t.ndim < dims:
        raise ValueError(f"x must have at least dims={dims} axes, got shape {tuple(t.shape)}")
    n = t.shape[-1]
    axes = tuple(range(-dims, 0))
    if power is None:
        rows = t.reshape(-1, n, n)
        multiplicity = _radial_tables(n)[4].to(t.device, t.dtype).ravel()  # rfft bin -> full bins
        energy_hat, l1_hat = t.new_empty(len(rows)), t.new_empty(len(rows))
        for chunk in _row_chunks(len(rows), n * n):
            p = _rfft_power(rows[chunk], n).flatten(-2)
            torch.mv(p, multiplicity, out=energy_hat[chunk])  # Σ|x̂|² over the full spectrum
            torch.mv(p.sqrt_(), multiplicity, out=l1_hat[chunk])
        energy_hat, l1_hat = energy_hat.reshape(t.shape[:-2]), l1_hat.reshape(t.shape[:-2])
        if dims == 3:
            energy_hat, l1_hat = energy_hat.sum(-1), l1_hat.sum(-1)
    else:
        p, _ = _to_tensor(power, "power", nonnegative=True)
        if p.shape != t.shape:
            raise ValueError(f"power must have the shape of x {tuple(t.shape)}, got {tuple(p.shape)}")
        # per batch chunk, so that sqrt's temporary stays in cache (one pass over the power)
        blocks = p.reshape(-1, *p.shape[-dims:])
        energy_hat, l1_hat = p.new_empty(len(blocks)), p.new_empty(len(blocks))
        for chunk in _row_chunks(len(blocks), blocks[0].numel() if len(blocks) else 1):
            energy_hat[chunk] = blocks[chunk].sum(axes)
            l1_hat[chunk] = blocks[chunk].sqrt().sum(axes)
        energy_hat, l1_hat = energy_hat.reshape(p.shape[:-dims]), l1_hat.reshape(p.shape[:-dims])
    norms = {
        "l1_hat": l1_hat,
        "l2_hat": energy_hat.sqrt_(),
        "l1": torch.linalg.vector_norm(t, 1, dim=axes),
        "l2": torch.linalg.vector_norm(t, 2, dim=axes),
    }
    return {name: _out(value, is_numpy) for name, value in norms.items()}


@lru_cache(maxsize=64)
def _half_tables(n: int, ks: tuple[int, ...], norm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per rfft bin of an ``n × n`` grid (``n * (n//2+1)`` bins, row-major): the distinct-radius
    index (int64), the multiplicity (1 or 2 full-spectrum bins) and, per ``k``, the multiplicity
    of the bin outside the band ``|m| <= k/2`` (0 inside), ``(len(ks), bins)``; float64."""
    _, _, inverse_half, gather, multiplicity = _radial_tables(n)
    mult = multiplicity.numpy().ravel()
    outside = np.zeros((len(ks), mult.size))
    for i, k in enumerate(ks):
        half = np.zeros(mult.size)
        half[gather.numpy()] = ~_inside_band(n, k, norm).ravel()  # the band is Hermitian-symmetric
        outside[i] = half * mult
    return inverse_half.numpy(), mult, outside


def _use_kernel(t: Tensor) -> bool:
    """Whether :func:`spectrum_statistics` runs its compiled CPU kernel (else torch operations)."""
    return t.device.type == "cpu"


@lru_cache(maxsize=1)
def _statistics_kernel():
    """The numba kernel of :func:`spectrum_statistics` (compiled on first use, cached on disk)."""
    import numba

    # no "nnan"/"ninf": NaN must reach the sum of |x| that reports it
    @numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
    def kernel(xs, spec, channels, radius_index, mult, outside_mult,
               midpoint, total, outside, l1_hat, l1, l2_squared, power_sum):  # pragma: no cover (compiled)
        bins = mult.shape[0]
        square = np.empty(2 * bins, spec.dtype)
        q = np.empty(bins, spec.dtype)
        p = np.empty(bins, spec.dtype)
        radial = np.empty(midpoint.shape[1])
        zero = np.zeros(1, spec.dtype)[0]  # per-image sums in the input dtype: they vectorise
        pixels = xs.shape[1]
        for b in range(xs.shape[0]):
            a1 = zero
            a2 = zero
            for i in range(pixels):
                v = xs[b, i]
                a1 += abs(v)
                a2 += v * v
            l1[b] = a1
            l2_squared[b] = a2
            p[:] = 0
            acc = zero
            for c in range(channels):
                base = 2 * bins * c
                for i in range(2 * bins):
                    square[i] = spec[b, base + i] * spec[b, base + i]
                for j in range(bins):
                    q[j] = square[2 * j] + square[2 * j + 1]
                for j in range(bins):
                    acc += mult[j] * np.sqrt(q[j])
                    p[j] += q[j]
            l1_hat[b] = acc
            radial[:] = 0.0
            for j in range(bins):
                radial[radius_index[j]] += mult[j] * p[j]
                power_sum[j] += p[j]
            cumulative = 0.0
            for r in range(radial.shape[0]):  # G_r · total = cumulative energy minus half of step r
                cumulative += radial[r]
                midpoint[b, r] = cumulative - 0.5 * radial[r]
            total[b] = cumulative
            for k in range(outside_mult.shape[0]):
                o = zero
                for j in range(bins):
                    o += outside_mult[k, j] * p[j]
                outside[b, k] = o

    return kernel


def spectrum_statistics(
    x: ArrayT,
    ks: tuple[int, ...] | list[int] = (),
    *,
    norm: Literal["max", "radial"] = "max",
    zero_energy: Literal["raise", "nan"] = "raise",
) -> dict[str, ArrayT]:
    """f50, κ_high and the spectral norms of every ``(C, n, n)`` image of ``x``, in one FFT pass.

    The same numbers as the separate functions, computed together from one ``rfft2`` of
    each chunk of images (and one pass over the pixels), with ``x`` validated once — the
    way to compute them for a batch of perturbations:

    * ``f50``: :func:`half_power_frequency` of ``power_spectrum(x, combine_channels=True)``;
    * ``kappa_high``: :func:`kappa_high` of that power for each ``k`` in ``ks``, shape ``(len(ks), ...)``;
    * ``l1_hat``, ``l2_hat``, ``l1``, ``l2``: :func:`spectral_norms` ``(x, dims=3)``;
    * ``mean_power``: the channel-summed centred power averaged over all images, ``(n, n)``
      (NaN for an empty batch).

    Sums are accumulated in float64 (so float32 inputs can differ from the separate functions,
    which accumulate in the input dtype, by float32 rounding). CPU tensors and arrays use a
    compiled kernel; other devices compute the same with torch operations.

    Parameters
    ----------
    x : Tensor or ndarray, shape ``(..., C, n, n)``
        Real, finite images (at least one leading axis ``C``).
    ks : sequence of int
        Band widths for ``kappa_high``, each in ``1..n``.
    norm : {"max", "radial"}
        Band shape of ``kappa_high``.
    zero_energy : {"raise", "nan"}
        An all-zero image has no f50 or κ_high: raise (as the separate functions do), or
        give NaN for those two (its norms are 0).

    Returns
    -------
    dict of Tensor or ndarray (the type of ``x``), in the dtype of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cos(2 * np.pi * 0.25 * np.arange(16))[None, None, :].repeat(16, 1)  # (1, 16, 16)
    >>> s = spectrum_statistics(x, ks=[3])
    >>> float(s["f50"]), float(s["kappa_high"][0]), round(float(s["l1_hat"]), 9), bool(np.isclose(s["l2"], s["l2_hat"]))
    (0.25, 1.0, 16.0, True)
    """
    if norm not in ("max", "radial"):
        raise ValueError(f"norm must be 'max' or 'radial', got {norm!r}")
    if zero_energy not in ("raise", "nan"):
        raise ValueError(f"zero_energy must be 'raise' or 'nan', got {zero_energy!r}")
    if isinstance(ks, (str, bytes)) or not isinstance(ks, (tuple, list, np.ndarray, range)):
        raise ValueError(f"ks must be a sequence of integers, got {ks!r}")
    t, is_numpy = _to_tensor(x, "x", check_finite=False)
    if t.ndim < 3:
        raise ValueError(f"x must have shape (..., C, n, n), got shape {tuple(t.shape)}")
    n = t.shape[-1]
    ks = tuple(_check_band_size(k, n) for k in ks)
    batch, channels = t.shape[:-3], t.shape[-3]
    rows = t.reshape(-1, channels * n * n)
    count = rows.shape[0]
    radius_index, mult, outside_mult = _half_tables(n, ks, norm)
    distinct = _radial_tables(n)[0].numel()
    if not count:  # an empty batch: empty statistics (no FFT of zero images)
        rows = rows.double()
        midpoint, outside = rows.new_empty(0, distinct), rows.new_empty(0, len(ks))
        total = l1_hat = l1 = l2_squared = rows.new_empty(0)
        power_sum = rows.new_zeros(len(mult))
    elif _use_kernel(t):
        kernel = _statistics_kernel()
        dtype = torch.float32 if t.dtype == torch.float32 else torch.float64
        rows = rows.to(dtype).contiguous()
        mult_d, outside_d = (a.astype(np.float32 if dtype == torch.float32 else np.float64)
                             for a in (mult, outside_mult))
        midpoint, outside = np.empty((count, distinct)), np.empty((count, len(ks)))
        total, l1_hat, l1, l2_squared = (np.empty(count) for _ in range(4))
        workers = max(1, min(torch.get_num_threads(), count))
        power_sums = np.zeros((workers, len(mult)))

        def work(chunk: slice, worker: int) -> None:
            block = rows[chunk]
            spectrum = torch.view_as_real(torch.fft.rfft2(block.view(-1, channels, n, n)))
            kernel(block.numpy(), spectrum.reshape(len(block), -1).numpy(), channels, radius_index, mult_d,
                   outside_d, midpoint[chunk], total[chunk], outside[chunk], l1_hat[chunk], l1[chunk],
                   l2_squared[chunk], power_sums[worker])

        step = max(1, _CHUNK_ELEMENTS // rows.shape[1])  # a chunk's pixels and spectrum stay in cache
        chunks = [slice(start, start + step) for start in range(0, count, step)]
        if workers == 1:
            for chunk in chunks:
                work(chunk, 0)
        else:  # one worker per torch thread, each with every workers-th chunk (the kernel releases the GIL)
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda i: [work(chunk, i) for chunk in chunks[i::workers]], range(workers)))
        as_t = torch.from_numpy
        midpoint, total, outside, l1_hat, l1, l2_squared = (
            as_t(a) for a in (midpoint, total, outside, l1_hat, l1, l2_squared))
        power_sum = as_t(power_sums.sum(0))
    else:
        rows = rows.double()
        to = dict(device=t.device, dtype=torch.float64)
        index, m, om = (torch.as_tensor(radius_index, device=t.device), torch.as_tensor(mult, **to),
                        torch.as_tensor(outside_mult, **to))
        q = torch.fft.rfft2(rows.view(-1, channels, n, n)).abs().square_().flatten(-2)  # (B, C, bins)
        l1_hat = (q.sqrt() @ m).sum(-1)
        p = q.sum(1)
        radial = rows.new_zeros(count, distinct).index_add_(1, index, p * m)
        cumulative = radial.cumsum(1)
        total, midpoint = cumulative[:, -1].clone(), cumulative.sub_(radial, alpha=0.5)
        outside, power_sum = p @ om.T, p.sum(0)
        l1, l2_squared = rows.abs().sum(1), rows.square().sum(1)
    bad = ~torch.isfinite(l1)
    if bool(bad.any()):
        where = first_nonfinite(t)
        if where is not None:
            raise ValueError(f"x must be finite, got {where[1]} at index {where[0]}")
        raise ValueError(f"x is too large: the sum of |x| of image {int(bad.nonzero()[0, 0])} overflows")
    scale = 1.0 / (n * n)  # unnormalised rfft2 -> orthonormal power
    empty = total <= 0
    radius = _radial_tables(n)[0].to(total.device)
    if not bool(empty.any()):
        f50 = _half_power_from_midpoints(midpoint, total, radius)
        kappa = (outside / total[:, None]).T
    elif zero_energy == "raise":
        _check_total(total, "x")
    else:
        f50 = torch.full_like(total, math.nan)
        kappa = torch.full((len(ks), count), math.nan, dtype=torch.float64, device=total.device)
        keep = ~empty
        if bool(keep.any()):
            f50[keep] = _half_power_from_midpoints(midpoint[keep], total[keep], radius)
            kappa[:, keep] = (outside[keep] / total[keep, None]).T
    total = total * scale
    gather = _radial_tables(n)[3].to(power_sum.device)
    mean_power = (power_sum * (scale / count) if count else power_sum + math.nan)[gather].reshape(n, n)
    stats = {
        "f50": f50.reshape(batch),
        "kappa_high": kappa.reshape(len(ks), *batch),
        "l1_hat": (l1_hat * math.sqrt(scale)).reshape(batch),
        "l2_hat": total.sqrt().reshape(batch),
        "l1": l1.reshape(batch),
        "l2": l2_squared.sqrt().reshape(batch),
        "mean_power": mean_power,
    }
    return {name: _out(value.to(device=t.device, dtype=t.dtype), is_numpy) for name, value in stats.items()}


def max_normalise(values: ArrayT, axis: int | tuple[int, ...] | None = None) -> ArrayT:
    """Divide ``values`` by their maximum along ``axis`` (``None``: all), as in Caro et al. fig. 2.

    Examples
    --------
    >>> import numpy as np
    >>> max_normalise(np.array([[1.0, 2.0], [3.0, 6.0]]), axis=1).tolist()
    [[0.5, 1.0], [0.5, 1.0]]
    """
    if isinstance(values, Tensor):
        check_numeric_dtype(values.dtype, "values")
        ndim = values.ndim
    else:
        try:
            values = np.asarray(values)
        except (TypeError, ValueError) as err:
            raise ValueError(f"values must be a tensor or an array of real numbers ({err})") from None
        check_numeric_dtype(values.dtype, "values")
        ndim = values.ndim
    if 0 in tuple(values.shape):
        raise ValueError(f"values must be non-empty, got shape {tuple(values.shape)}")
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    if axis is not None and (not axes or any(
        isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim
        for a in axes
    ) or len({int(a) % ndim for a in axes}) != len(axes)):
        raise ValueError(f"axis={axis!r} is not allowed; allowed: None or distinct integers in "
                         f"-{ndim}..{ndim - 1} (values has shape {tuple(values.shape)})")
    if isinstance(values, Tensor):
        dim = tuple(range(values.ndim)) if axis is None else tuple(int(a) for a in axes)
        peak = values.amax(dim=dim, keepdim=True)
    else:
        peak = values.max(axis=None if axis is None else tuple(int(a) for a in axes), keepdims=True)
    if not bool((peak > 0).all()):
        raise ValueError(f"values must have a positive maximum along axis={axis!r}, got maxima {peak.ravel()[:8].tolist()}")
    return values / peak


# ----------------------------------------------------------------------------- bands


def band_mask(n: int, lo: float, hi: float) -> np.ndarray:
    """Boolean centred ``(n, n)`` mask of the radial band ``lo <= r < hi`` (cycles/pixel).

    See :data:`BANDS` for the named defaults (``band_mask(n, *BANDS["mid"])``).

    Examples
    --------
    >>> band_mask(4, 0.0, 0.3).astype(int)
    array([[0, 0, 0, 0],
           [0, 0, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 0]])
    """
    n = _size(n)
    if isinstance(lo, (bool, np.bool_)) or not isinstance(lo, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(lo) and lo >= 0):
        raise ValueError(f"lo must be a finite frequency >= 0 cycles/pixel, got {lo!r}")
    if isinstance(hi, (bool, np.bool_)) or not isinstance(hi, (int, float, np.integer, np.floating)) \
            or not hi > lo:
        raise ValueError(f"hi must be a frequency > lo = {lo!r} (inf allowed), got {hi!r}")
    r = frequency_radius(n)
    return (r >= lo) & (r < hi)


def split_frequency_components(x: ArrayT, radius: float) -> tuple[ArrayT, ArrayT]:
    """Low/high frequency components (Wang et al. 2020) of the last two axes.

    ``lfc = real(ifft2(F · mask))`` where ``mask`` keeps the DFT coefficients whose
    centred integer-index distance from DC is strictly below ``radius`` (index
    units, i.e. pixels of the centred spectrum; ``radius = n/2`` ↔ 0.5 cycles/pixel),
    and ``hfc = x - lfc`` so that ``lfc + hfc == x`` exactly.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 8, 8))
    >>> lfc, hfc = split_frequency_components(x, 1.0)  # keeps only DC
    >>> np.allclose(lfc, x.mean(axis=(-2, -1), keepdims=True)), np.array_equal(lfc + hfc, x)
    (True, True)
    """
    if isinstance(radius, (bool, np.bool_)) or not (
        isinstance(radius, (int, float, np.integer, np.floating)) and radius >= 0
    ):
        raise ValueError(f"radius must be a number >= 0 (DFT index units), got {radius!r}")
    t, is_numpy = _to_tensor(x, "x")
    n = t.shape[-1]
    my, mx = frequency_index(n)
    keep = np.fft.ifftshift(my**2 + mx**2 < radius**2)[:, : n // 2 + 1]
    spectrum = torch.fft.rfft2(t) * torch.from_numpy(keep).to(t.device)
    lfc = torch.fft.irfft2(spectrum, s=(n, n)).to(t.dtype)
    hfc = t - lfc
    return _out(lfc, is_numpy), _out(hfc, is_numpy)
