"""Chapter 0: the Fourier toolkit on real images.

The metrics every later chapter uses (:mod:`freqkit.spectra`, :mod:`freqkit.images`),
measured on real images: foolbox's shipped CIFAR-10 and ImageNet samples
(PNG-exact CIFAR-10 test images 0–19; ImageNet JPEGs resized to 224×224),
Fashion-MNIST (Debian's package, or a torchvision root) and CIFAR-10 from
``../shared/data`` (JPEG q75 re-encoding) when present.

One run per image set (:class:`ImageSetConfig`) computes, for ``n_images`` images:

- ``f50`` of each image (DC removed, power summed over channels), of a white
  Gaussian noise image of the same shape and of the image blurred by a circular
  Gaussian of ``blur_sigma`` pixels; ``f50_with_dc`` (DC kept) to show why the
  mean is removed; the f50 of the exactly flat spectrum and the median grid
  radius (analytic references for white noise);
- the mean power spectrum and the radial cumulative energy of images, noise and
  blurred images, plus the spectra of a few example images;
- LFC/HFC reconstructions (Wang et al. 2020) of a few images at several radii
  and the fraction of each image's (mean-removed) energy in its LFC;
- for CIFAR-10 from a dataset source: the foolbox samples (exact pixels) paired
  with their counterparts in the source (nearest neighbour within the class),
  their f50 and high-band energy, and the pair's PSNR.

One more run (:class:`KernelConfig`) computes κ_high(k) of k×k box and Gaussian
kernels zero-padded to 32×32 by FFT, and the box's closed form.

The chapter is a :class:`freqkit.experiments.scaffold.Chapter` (:data:`CHAPTER`):
:data:`PRESETS`, :func:`configs`, :func:`run_one`, :func:`combine` (the image sets
differ in size), :func:`available_image_sets` as its data check, and the pure
analysis :func:`claims_table` / :func:`findings`; the notebook
``notebooks/00_fourier_toolkit.ipynb`` runs it and plots with :mod:`freqkit.figures.ch00`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from scipy.stats import spearmanr

from freqkit import spectra
from freqkit._validate import as_int, as_real
from freqkit.experiments.scaffold import (
    Chapter,
    _short,
    as_names,
    describe_source,
    register,
    takes_results,
)
from freqkit.images import (
    CONTINUOUS_NOISE_F50,
    band_energy_fraction,
    flat_spectrum_f50,
    gaussian_blur,
    gaussian_kernel,
    grid_median_radius,
    image_f50,
    lfc_energy_fraction,
    white_noise,
)
from freqkit.stego import psnr

__all__ = [
    "CHAPTER",
    "IMAGE_SETS",
    "JPEG_ERROR_F50",
    "JPEG_F50_SHIFT",
    "JPEG_MATCH_PSNR",
    "PRESETS",
    "ImageSetConfig",
    "KernelConfig",
    "Preset",
    "available_image_sets",
    "claims_table",
    "combine",
    "combine_datasets",
    "configs",
    "f50_table",
    "findings",
    "get_preset",
    "image_set_metrics",
    "image_set_table",
    "jpeg_finding",
    "jpeg_pair_metrics",
    "jpeg_table",
    "kernel_kappa",
    "load_image_set",
    "match_pairs",
    "run",
    "run_image_set",
    "run_kernels",
    "run_one",
]

IMAGE_SETS: tuple[str, ...] = ("foolbox-cifar10", "foolbox-imagenet", "fashion-mnist", "cifar10")
"""Image sets in display order (``cifar10`` = whatever source :func:`freqkit.data.get_dataset` finds)."""

_FOOLBOX_ENCODING = {"cifar10": "PNG, exact pixels of CIFAR-10 test images 0..19",
                     "imagenet": "512×512 JPEGs resized to 224×224 (PIL default resampling)"}

#: A foolbox CIFAR-10 sample and its nearest same-class image in the CIFAR-10 source count as
#: the same picture when their PSNR exceeds this (dB).
JPEG_MATCH_PSNR = 20.0
#: A mean f50 change (source − exact, cycles/pixel) larger than this counts as a noticeable shift.
JPEG_F50_SHIFT = 0.005
#: The compression error counts as high-frequency when its f50 exceeds this (cycles/pixel).
JPEG_ERROR_F50 = 0.25


# --------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class ImageSetConfig:
    """One run: every metric of one image set.

    ``n_images=None`` takes the whole official test set (datasets) — foolbox ships 20.
    ``lfc_radii`` are in DFT index units (Wang et al.'s strict-radius rule).
    """

    image_set: str
    n_images: int | None
    n_examples: int = 3
    n_lfc_examples: int = 2
    lfc_radii: tuple[float, ...] = (2.0, 4.0, 8.0, 12.0)
    blur_sigma: float = 1.0
    noise_seed: int = 0
    data_seed: int = 0
    kind: str = "images"

    def __post_init__(self) -> None:
        if self.image_set not in IMAGE_SETS:
            raise ValueError(f"image_set={self.image_set!r} is not allowed; use one of {list(IMAGE_SETS)}")
        if isinstance(self.n_images, np.integer):  # numpy integers are accepted (same config JSON)
            object.__setattr__(self, "n_images", int(self.n_images))
        for attr in ("n_examples", "n_lfc_examples", "noise_seed", "data_seed"):
            minimum = 1 if attr.startswith("n_") else 0
            object.__setattr__(self, attr, as_int(getattr(self, attr), attr, minimum=minimum))
        object.__setattr__(self, "blur_sigma", as_real(self.blur_sigma, "blur_sigma"))
        if self.n_images is not None and not (isinstance(self.n_images, int) and self.n_images >= 2):
            raise ValueError(f"n_images must be None or an int >= 2, got {self.n_images!r}")
        if self.image_set.startswith("foolbox") and (self.n_images is None or self.n_images > 20):
            raise ValueError(f"n_images for {self.image_set} must be 2..20 (foolbox ships 20), got {self.n_images!r}")
        if self.n_examples < 1 or self.n_lfc_examples < 1:
            raise ValueError(f"n_examples and n_lfc_examples must be >= 1, got {self.n_examples}, {self.n_lfc_examples}")
        if not (self.blur_sigma > 0):
            raise ValueError(f"blur_sigma must be > 0 pixels, got {self.blur_sigma!r}")
        if not self.lfc_radii or any(not r > 0 for r in self.lfc_radii):
            raise ValueError(f"lfc_radii must be positive index radii, got {self.lfc_radii!r}")


@dataclass(frozen=True)
class KernelConfig:
    """One run: κ_high(k) of k×k kernels zero-padded to ``n × n`` (box and Gaussians).

    Gaussian kernels have ``σ = k / w`` for each ``w`` in ``gaussian_widths``
    (``w = 6``: the k×k window spans ±3σ).
    """

    kernel_sizes: tuple[int, ...] = tuple(range(3, 33))
    n: int = 32
    gaussian_widths: tuple[float, ...] = (4.0, 6.0)
    kind: str = "kernels"

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", as_int(self.n, "n", minimum=1))
        try:
            sizes = tuple(as_int(k, "kernel_sizes") for k in self.kernel_sizes)
        except (TypeError, ValueError):
            sizes = ()
        if not sizes or any(not 1 <= k <= self.n for k in sizes):
            raise ValueError(f"kernel_sizes must be integers in 1..n={self.n}, got {self.kernel_sizes!r}")
        object.__setattr__(self, "kernel_sizes", sizes)
        try:
            widths = tuple(as_real(w, "gaussian_widths", minimum=0, min_open=True) for w in self.gaussian_widths)
        except (TypeError, ValueError):
            widths = ()
        if len(widths) != len(tuple(self.gaussian_widths)):
            raise ValueError(f"gaussian_widths={self.gaussian_widths!r} is not allowed; use finite widths > 0 "
                             "(σ = k / w)")
        object.__setattr__(self, "gaussian_widths", widths)


RunConfig = ImageSetConfig | KernelConfig


@dataclass(frozen=True)
class Preset:
    """Sizes of the chapter-0 runs."""

    name: str
    n_foolbox: int
    n_fashion_mnist: int | None
    n_cifar10: int | None
    n_examples: int = 3
    n_lfc_examples: int = 2
    lfc_radii: tuple[float, ...] = (2.0, 4.0, 8.0, 12.0)
    blur_sigma: float = 1.0
    kernel_sizes: tuple[int, ...] = tuple(range(3, 33))
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_foolbox", as_int(self.n_foolbox, "n_foolbox", minimum=2, maximum=20))
        for attr in ("n_fashion_mnist", "n_cifar10"):
            object.__setattr__(self, attr, as_int(getattr(self, attr), attr, minimum=2, allow_none=True))
        for attr in ("n_examples", "n_lfc_examples"):
            object.__setattr__(self, attr, as_int(getattr(self, attr), attr, minimum=1))

    @property
    def datasets(self) -> tuple[str, ...]:
        """The image sets of every preset (:data:`IMAGE_SETS`)."""
        return IMAGE_SETS


#: The chapter's presets by name: ``smoke`` (CI), ``cpu`` (a reduced reproduction on a 2-core CPU), ``paper`` (the paper's scale).
#:
#: :meta hide-value:
PRESETS: dict[str, Preset] = {
    "smoke": Preset("smoke", n_foolbox=20, n_fashion_mnist=300, n_cifar10=300,
                    notes="pipeline check: 20 foolbox samples per set, 300 Fashion-MNIST / CIFAR-10 test images"),
    "cpu": Preset("cpu", n_foolbox=20, n_fashion_mnist=2_000, n_cifar10=2_000,
                  notes="2,000 Fashion-MNIST and CIFAR-10 test images (class-stratified)"),
    "paper": Preset("paper", n_foolbox=20, n_fashion_mnist=None, n_cifar10=None,
                    notes="full 10,000-image test sets"),
}


def configs(preset: str | Preset, *, available: Sequence[str] | None = None) -> list[RunConfig]:
    """The chapter's runs (pure): one per image set (restricted to ``available``), then the kernel run.

    Examples
    --------
    >>> [c.kind for c in configs("smoke")]
    ['images', 'images', 'images', 'images', 'kernels']
    >>> [c.n_images for c in configs("paper")[:4]]
    [20, 20, None, None]
    >>> [type(c).__name__ for c in configs("cpu", available=("fashion-mnist",))]
    ['ImageSetConfig', 'KernelConfig']
    """
    p = CHAPTER.get_preset(preset)
    available = as_names(available, "available")
    sizes = {"foolbox-cifar10": p.n_foolbox, "foolbox-imagenet": p.n_foolbox,
             "fashion-mnist": p.n_fashion_mnist, "cifar10": p.n_cifar10}
    runs: list[RunConfig] = [
        ImageSetConfig(image_set=s, n_images=sizes[s], n_examples=p.n_examples,
                       n_lfc_examples=p.n_lfc_examples, lfc_radii=p.lfc_radii, blur_sigma=p.blur_sigma)
        for s in IMAGE_SETS if available is None or s in available
    ]
    runs.append(KernelConfig(kernel_sizes=p.kernel_sizes))
    return runs


# --------------------------------------------------------------------------- metrics (pure)
def kernel_kappa(config: KernelConfig) -> xr.Dataset:
    """κ_high(k) of k×k kernels zero-padded to ``n × n``, FFT vs closed form.

    Returns ``kappa_high (kernel_family, kernel_size)`` (families ``box`` and
    ``gaussian-k/<w>``), ``kappa_high_box_closed_form (kernel_size)`` and the
    padded size ``kernel_padded_size``.

    Examples
    --------
    >>> ds = kernel_kappa(KernelConfig(kernel_sizes=(3, 8), n=16, gaussian_widths=(6.0,)))
    >>> ds.kappa_high.dims, ds.kernel_family.values.tolist()
    (('kernel_family', 'kernel_size'), ['box', 'gaussian-k/6'])
    >>> bool(abs(ds.kappa_high.sel(kernel_family="box") - ds.kappa_high_box_closed_form).max() < 1e-12)
    True
    """
    _check_config(config, KernelConfig, "kernel_kappa")
    families = ["box"] + [f"gaussian-k/{w:g}" for w in config.gaussian_widths]
    kappa = np.empty((len(families), len(config.kernel_sizes)))
    for j, k in enumerate(config.kernel_sizes):
        kernels = np.stack([np.ones((k, k))] + [gaussian_kernel(k, k / w) for w in config.gaussian_widths])
        kappa[:, j] = spectra.kappa_high(spectra.power_spectrum(kernels, size=config.n), k)
    closed = np.array([spectra.kappa_high_box_closed_form(k, config.n) for k in config.kernel_sizes])
    return xr.Dataset(
        {
            "kappa_high": (("kernel_family", "kernel_size"), kappa,
                           {"units": "1", "long_name": f"κ_high(k) by FFT, kernel zero-padded to {config.n}×{config.n}"}),
            "kappa_high_box_closed_form": ("kernel_size", closed,
                                           {"units": "1", "long_name": "κ_high(k) of the k×k box, closed form (Dirichlet kernel)"}),
            "kernel_padded_size": ((), config.n, {"units": "pixel", "long_name": "size the kernels are zero-padded to"}),
        },
        coords={"kernel_family": families, "kernel_size": list(config.kernel_sizes)},
    )


def _check_config(config: Any, cls: type, fn: str) -> None:
    if not isinstance(config, cls):
        raise ValueError(f"config={_short(config)} is not allowed; {fn} takes one {cls.__name__} "
                         "(see ch00.configs)")


def _check_images(x: Any, name: str, like: torch.Tensor | None = None) -> None:
    """``x`` is a floating ``(N, C, H, W)`` tensor (of ``like``'s shape when given)."""
    ok = isinstance(x, torch.Tensor) and x.is_floating_point() and x.ndim == 4 and len(x) > 0
    if ok and like is not None:
        ok = tuple(x.shape) == tuple(like.shape)
    if not ok:
        what = f"tensor of shape {tuple(x.shape)}, {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        want = f"shape {tuple(like.shape)}" if like is not None else "shape (N, C, H, W), N >= 1"
        raise ValueError(f"{name}=<{what}> is not allowed; use a floating torch tensor of {want}")


def match_pairs(query: torch.Tensor, query_labels: torch.Tensor,
                pool: torch.Tensor, pool_labels: torch.Tensor) -> torch.Tensor:
    """Index into ``pool`` of each query's nearest image (ℓ2) with the same label.

    Examples
    --------
    >>> pool = torch.arange(4.0).reshape(4, 1, 1, 1)
    >>> match_pairs(pool[[2, 0]] + 0.1, torch.tensor([0, 0]), pool, torch.tensor([0, 0, 0, 1])).tolist()
    [2, 0]
    """
    _check_images(query, "query")
    _check_images(pool, "pool")
    if pool.shape[1:] != query.shape[1:]:
        raise ValueError(f"pool has images of shape {tuple(pool.shape[1:])}; allowed: the query's "
                         f"{tuple(query.shape[1:])}")
    for name, labels, images in (("query_labels", query_labels, query), ("pool_labels", pool_labels, pool)):
        if not isinstance(labels, torch.Tensor) or labels.shape != (len(images),):
            raise ValueError(f"{name}={_short(labels)} is not allowed; use a ({len(images)},) label tensor")
    q, p = query.flatten(1).double(), pool.flatten(1).double()
    dist = q.square().sum(1, keepdim=True) + p.square().sum(1) - 2 * q @ p.T
    dist = dist.masked_fill(query_labels[:, None] != pool_labels[None, :], math.inf)
    return dist.argmin(1)


def _var(dims: tuple[str, ...], values, units: str, long_name: str) -> tuple:
    return dims, np.asarray(values), {"units": units, "long_name": long_name}


def jpeg_pair_metrics(exact: torch.Tensor, other: torch.Tensor, index: torch.Tensor) -> dict[str, tuple]:
    """Paired metrics of exact images and their counterparts in another encoding (``pair`` dim).

    f50 and high-band (r >= 1/4) energy share of both, f50 of the difference
    ``other − exact`` and the PSNR (dB, :func:`freqkit.stego.psnr`) of ``other``
    against ``exact``; ``index`` is where each counterpart sits in its source.

    Examples
    --------
    >>> x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    >>> m = jpeg_pair_metrics(x, x + 0.01, torch.tensor([5, 7]))
    >>> np.round(m["pair_psnr"][1], 6).tolist(), m["pair_test_index"][1].tolist()
    ([40.0, 40.0], [5, 7])
    """
    _check_images(exact, "exact")
    _check_images(other, "other", like=exact)
    if not isinstance(index, torch.Tensor) or index.shape != (len(exact),):
        raise ValueError(f"index={_short(index)} is not allowed; use a ({len(exact)},) tensor of source indices")
    pair = ("pair",)
    return {
        "pair_f50_exact": _var(pair, image_f50(exact), "cycles/pixel", "f50 of the exact sample"),
        "pair_f50_source": _var(pair, image_f50(other), "cycles/pixel", "f50 of the same image in the source"),
        "pair_high_fraction_exact": _var(pair, band_energy_fraction(exact, "high"), "1",
                                         "energy fraction at r >= 1/4, exact"),
        "pair_high_fraction_source": _var(pair, band_energy_fraction(other, "high"), "1",
                                          "energy fraction at r >= 1/4, source"),
        "pair_f50_error": _var(pair, image_f50(other - exact), "cycles/pixel",
                               "f50 of the difference source − exact (the compression error)"),
        "pair_psnr": _var(pair, psnr(exact.double(), other.double()), "dB",
                          "PSNR of the source image against the exact sample"),
        "pair_test_index": _var(pair, index, "1", "index of the matched image in the source's test set"),
    }


def image_set_metrics(x: torch.Tensor, config: ImageSetConfig, *, description: str = "",
                      selection: str = "") -> xr.Dataset:
    """Every chapter-0 metric of the images ``x (N, C, n, n)`` (pure: no data loading, no run dims).

    ``description`` (source kind, file name, checksum) and ``selection`` (which
    images) are stored as the string variables ``dataset_description`` and
    ``dataset_selection``.

    Examples
    --------
    >>> x = gaussian_blur(torch.rand(4, 1, 8, 8, dtype=torch.float64), 1.0)
    >>> ds = image_set_metrics(x, ImageSetConfig("cifar10", 4, lfc_radii=(2.0,)))
    >>> ds.f50.dims, int(ds.image_size), bool((ds.f50 < ds.f50_noise).all())
    (('sample',), 8, True)
    """
    _check_images(x, "x")
    _check_config(config, ImageSetConfig, "image_set_metrics")
    n = x.shape[-1]
    noise = white_noise(tuple(x.shape), config.noise_seed, x.dtype)
    blurred = gaussian_blur(x, config.blur_sigma)

    def mean_power(t: torch.Tensor) -> torch.Tensor:
        return spectra.power_spectrum(t, remove_mean=True, combine_channels=True).double().mean(0)

    powers = {"images": mean_power(x), "noise": mean_power(noise), "blurred": mean_power(blurred)}
    radius, cumulative = spectra.radial_energy(torch.stack(list(powers.values())))
    freqs = spectra.frequency_grid(n)[1][0]
    examples = x[: config.n_examples]
    lfc_in = x[: config.n_lfc_examples]
    parts = [spectra.split_frequency_components(lfc_in, float(r)) for r in config.lfc_radii]
    lfc = torch.stack([p[0] for p in parts], 1)  # (example, lfc_radius, C, H, W)
    hfc = torch.stack([p[1] for p in parts], 1)
    s, e, ex, rr = ("sample",), ("example",), ("lfc_example",), ("lfc_radius",)
    img = ("channel", "row", "col")
    return xr.Dataset(
        {
            "f50": _var(s, image_f50(x), "cycles/pixel", "f50 of the image (mean removed)"),
            "f50_with_dc": _var(s, image_f50(x, remove_mean=False), "cycles/pixel", "f50 of the image (DC kept)"),
            "f50_noise": _var(s, image_f50(noise), "cycles/pixel", "f50 of white Gaussian noise of the same shape"),
            "f50_blurred": _var(s, image_f50(blurred), "cycles/pixel",
                                f"f50 of the image blurred by a Gaussian of σ = {config.blur_sigma:g} px"),
            "f50_mean_power": _var(("spectrum",), [float(spectra.half_power_frequency(p)) for p in powers.values()],
                                   "cycles/pixel", "f50 of the mean power spectrum"),
            "noise_f50_flat": _var((), flat_spectrum_f50(n), "cycles/pixel", "f50 of the flat spectrum (DC zero)"),
            "noise_grid_median_radius": _var((), grid_median_radius(n), "cycles/pixel",
                                             "median radius of the grid without DC"),
            "blur_sigma": _var((), config.blur_sigma, "pixel", "σ of the Gaussian blur"),
            "image_size": _var((), n, "pixel", "image side length"),
            "n_channels": _var((), x.shape[1], "1", "number of channels"),
            "n_images": _var((), len(x), "1", "number of images"),
            "mean_power": _var(("spectrum", "fy", "fx"), torch.stack(list(powers.values())), "1",
                               "mean centred power spectrum (mean removed, channels summed)"),
            "radial_cumulative": _var(("spectrum", "radius"), cumulative, "1",
                                      "cumulative energy fraction of the mean spectrum within radius"),
            "example_image": _var(e + img, examples, "1", "example image in [0, 1]"),
            "example_power": _var(("example", "fy", "fx"),
                                  spectra.power_spectrum(examples, remove_mean=True, combine_channels=True),
                                  "1", "centred power spectrum of the example (mean removed, channels summed)"),
            "lfc_image": _var(ex + img, lfc_in, "1", "image split into LFC and HFC"),
            "lfc": _var(ex + rr + img, lfc, "1", "low-frequency component (index distance < r)"),
            "hfc": _var(ex + rr + img, hfc, "1", "high-frequency component (image − LFC)"),
            "lfc_energy_fraction": _var(s + rr, lfc_energy_fraction(x.double(), config.lfc_radii), "1",
                                        "fraction of the mean-removed energy in the LFC"),
            "dataset_description": _var((), description, "1", "image source: kind, file name, checksum"),
            "dataset_selection": _var((), selection, "1", "which images of the source"),
        },
        coords={"spectrum": list(powers), "fy": freqs, "fx": freqs, "radius": np.asarray(radius, dtype=np.float64),
                "lfc_radius": list(config.lfc_radii), "sample": np.arange(len(x)),
                "example": np.arange(len(examples)), "lfc_example": np.arange(len(lfc_in)),
                "channel": np.arange(x.shape[1]), "row": np.arange(n), "col": np.arange(n)},
    )


def _checksum_uint8(x: torch.Tensor) -> str:
    pixels = (x * 255).round().clamp(0, 255).to(torch.uint8).contiguous().numpy()
    return "sha256-uint8:" + hashlib.sha256(pixels.tobytes()).hexdigest()


# --------------------------------------------------------------------------- data
def load_image_set(config: ImageSetConfig) -> tuple[torch.Tensor, torch.Tensor, str, str, str]:
    """``(x, y, source, checksum, selection)`` of an image set; DatasetUnavailableError if absent.

    ``source`` and ``checksum`` identify the whole source (for foolbox: all 20
    shipped samples of the set), ``selection`` says which of its images ``x`` holds.
    """
    from freqkit import data

    _check_config(config, ImageSetConfig, "load_image_set")
    if config.image_set.startswith("foolbox-"):
        import foolbox

        name = config.image_set.removeprefix("foolbox-")
        x, y = data.foolbox_samples(name, 20)
        source = f"foolbox {foolbox.__version__} shipped samples {name}_NN_LABEL ({_FOOLBOX_ENCODING[name]})"
        return x[: config.n_images], y[: config.n_images], source, _checksum_uint8(x), \
            f"samples 0..{config.n_images - 1}"
    splits = data.get_dataset(config.image_set, n_train=0, n_val=0, n_test=config.n_images,
                              seed=config.data_seed)
    selection = "whole test set" if config.n_images is None else (
        f"{config.n_images} test images, class-stratified, seed {config.data_seed}")
    return splits.test.x, splits.test.y, splits.source, splits.checksum, selection


def available_image_sets(preset: Preset | str | None = None, *,
                         names: Sequence[str] = IMAGE_SETS) -> tuple[dict[str, str], dict[str, str]]:
    """``(available, missing)``: image sets that load here (-> source kind, file name, checksum) and why the others don't.

    The chapter's ``check_data``; ``preset`` is accepted for the scaffold's
    signature (every preset uses :data:`IMAGE_SETS`).

    Examples
    --------
    >>> ok, missing = available_image_sets(names=("foolbox-cifar10",))
    >>> list(ok), missing, ok["foolbox-cifar10"].startswith("foolbox")
    (['foolbox-cifar10'], {}, True)
    """
    given = names
    names = as_names(names, "names", allow_none=False)
    unknown = [n for n in names if n not in IMAGE_SETS]
    if unknown:
        raise ValueError(f"names={_short(given)} is not allowed: {unknown[0]!r} is no image set; use names "
                         f"of {list(IMAGE_SETS)}")
    ok: dict[str, str] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            _, _, source, checksum, _ = load_image_set(ImageSetConfig(image_set=name, n_images=2))
        except ValueError as err:  # DatasetUnavailableError is a ValueError
            missing[name] = str(err).splitlines()[0][:300]
        else:
            ok[name] = describe_source(source, checksum)
    return ok, missing


# --------------------------------------------------------------------------- runs
def _jpeg_pairs() -> dict[str, tuple]:
    """foolbox's exact CIFAR-10 samples vs their counterparts in the loaded CIFAR-10 source."""
    from freqkit import data

    exact, labels = data.foolbox_samples("cifar10", 20)
    pool = data.get_dataset("cifar10", n_train=0, n_val=0, n_test=None).test
    index = match_pairs(exact, labels, pool.x, pool.y)
    return jpeg_pair_metrics(exact, pool.x[index], index)


def run_image_set(config: ImageSetConfig) -> xr.Dataset:
    """Every chapter-0 metric of one image set, with an ``image_set`` run dim and provenance."""
    from freqkit.results import provenance
    from freqkit.sweep import expand_run_dims

    _check_config(config, ImageSetConfig, "run_image_set")
    start = time.perf_counter()
    x, _, source, checksum, selection = load_image_set(config)
    ds = image_set_metrics(x, config, description=describe_source(source, checksum), selection=selection)
    if config.image_set == "cifar10":
        ds = ds.assign(_jpeg_pairs()).assign_coords(pair=np.arange(20))
    ds["compute_seconds"] = _var((), time.perf_counter() - start, "s",
                                 "wall time of loading, decoding and measuring the images")
    ds = expand_run_dims(ds, image_set=config.image_set)
    ds.attrs.update(provenance(config, dataset_source=source, dataset_checksum=checksum, device="cpu"))
    return ds


def run_kernels(config: KernelConfig) -> xr.Dataset:
    """The kernel run: :func:`kernel_kappa` with provenance (no dataset)."""
    from freqkit.results import provenance

    _check_config(config, KernelConfig, "run_kernels")
    start = time.perf_counter()
    ds = kernel_kappa(config)
    ds["kernel_compute_seconds"] = _var((), time.perf_counter() - start, "s", "wall time of the kernel run")
    ds.attrs.update(provenance(config, dataset_source="synthetic box and Gaussian kernels",
                               dataset_checksum="none", device="cpu"))
    return ds


def run_one(config: RunConfig) -> xr.Dataset:
    """Dispatch one config of :func:`configs` to its run function."""
    if isinstance(config, KernelConfig):
        return run_kernels(config)
    if isinstance(config, ImageSetConfig):
        return run_image_set(config)
    raise ValueError(f"config must be an ImageSetConfig or KernelConfig, got {type(config).__name__}")


def _as_grid_point(ds: xr.Dataset, dim: str) -> xr.Dataset:
    """``ds`` keyed by ``dim`` alone for :func:`freqkit.results.check_duplicate_runs`.

    Other length-1 coordinates (a single channel, example or radius) are dropped,
    so two runs of the same image set with different shapes count as one grid
    point whose values differ.
    """
    if dim not in ds.dims:
        ds = ds.expand_dims({dim: ["kernels"]})
    extra = [d for d in ds.dims if d != dim and ds.sizes[d] == 1 and d in ds.coords]
    return ds.drop_vars(extra)


def combine_datasets(runs: Sequence[xr.Dataset], names: Sequence[str | os.PathLike[str]]) -> xr.Dataset:
    """:func:`combine` of runs already in memory (``names`` identify them in error messages).

    Examples
    --------
    >>> ds = _toy_run()
    >>> ds.image_set.values.tolist(), ds.sizes["fy"], int(ds.image_size.sel(image_set="fashion-mnist"))
    (['fashion-mnist', 'cifar10'], 24, 12)
    """
    from freqkit.results import check_duplicate_runs

    if not isinstance(runs, (list, tuple)) or not runs or not all(isinstance(r, xr.Dataset) for r in runs):
        raise ValueError(f"runs={_short(runs)} is not allowed; use a non-empty list of chapter-0 run datasets")
    if not isinstance(names, (list, tuple)) or len(runs) != len(names):
        raise ValueError(f"names={_short(names)} is not allowed; use one name per run ({len(runs)} runs, "
                         f"got {len(names) if isinstance(names, (list, tuple)) else type(names).__name__})")
    images = [(r, n) for r, n in zip(runs, names) if "image_set" in r.dims]
    kernels = [(r, n) for r, n in zip(runs, names) if "image_set" not in r.dims]
    for group, dim in ((images, "image_set"), (kernels, "kernel_run")):
        check_duplicate_runs([_as_grid_point(r, dim) for r, _ in group], [n for _, n in group])
    by_set: dict[str, xr.Dataset] = {}
    for r, _ in images:
        by_set.setdefault(str(r.image_set.values[0]), r)  # identical duplicates: keep one
    order = [s for s in IMAGE_SETS if s in by_set] + sorted(set(by_set) - set(IMAGE_SETS))
    parts = [kernels[0][0]] if kernels else []
    if by_set:
        parts.insert(0, xr.concat([by_set[s] for s in order], dim="image_set", join="outer", data_vars="all",
                                  coords="different", compat="equals", combine_attrs="drop_conflicts"))
    ds = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
    ds.attrs = {k: v for k, v in runs[0].attrs.items()
                if all(k in r.attrs and np.array_equal(r.attrs[k], v) for r in runs)}
    return ds


def combine(paths: Sequence[str | os.PathLike[str]]) -> xr.Dataset:
    """Combine chapter-0 run files into one dataset; conflicting duplicates are refused.

    Used instead of :func:`freqkit.results.load_sweep` because the image sets
    have different sizes (28, 32, 224 pixels; 20 to 10,000 images):
    ``combine_by_coords`` would try to concatenate along every dimension whose
    coordinates differ (``fy``, ``radius``, ``sample``, ...). Here the image-set
    runs are concatenated along ``image_set`` with an outer join (NaN padding:
    ``fy``/``fx`` are the union of the grids' frequencies, ``row``/``col`` run to
    the largest image, ``sample`` to the largest set) and merged with the kernel
    run. Two files of one image set (or two kernel runs) must hold identical
    values (:func:`freqkit.results.check_duplicate_runs`; ValueError naming both
    files otherwise). Attributes equal in every run are kept; image sets are in
    :data:`IMAGE_SETS` order.
    """
    from freqkit.results import load_results

    if isinstance(paths, (str, os.PathLike)):
        raise ValueError(f"paths={str(paths)!r} is not allowed; pass the run files "
                         "(e.g. sorted(Path(folder).glob('*.nc'))), not one path")
    unique = list(dict.fromkeys(Path(p) for p in paths))
    if not unique:
        raise ValueError(f"paths={_short(paths)} is not allowed: it is empty; pass at least one chapter-0 run file")
    return combine_datasets([load_results(p) for p in unique], unique)


# --------------------------------------------------------------------------- analysis (pure)
def _sets(ds: xr.Dataset) -> list[str]:
    return [str(s) for s in ds.image_set.values]


@takes_results("ch00")
def image_set_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per image set: number of images, size, source (kind, file name, checksum), selection.

    Examples
    --------
    >>> image_set_table(_toy_run()).iloc[0].astype(str).tolist()
    ['fashion-mnist', '64', '12×12×1', 'synthetic smooth noise', 'all 64']
    """
    rows = []
    for s in _sets(ds):
        d = ds.sel(image_set=s)
        n = int(d.image_size)
        rows.append({"image set": s, "images": int(d.n_images.item()), "size": f"{n}×{n}×{int(d.n_channels)}",
                     "source": d.dataset_description.item(), "selection": d.dataset_selection.item()})
    return pd.DataFrame(rows)


@takes_results("ch00")
def f50_table(ds: xr.Dataset) -> pd.DataFrame:
    """Mean f50 per image set (cycles/pixel): images, DC kept, blurred, white noise (± sd), references.

    Examples
    --------
    >>> t = f50_table(_toy_run())
    >>> list(t.columns)[:3], bool((t["images (mean removed)"] < t["white noise (mean)"]).all())
    (['image set', 'images (mean removed)', 'images, DC kept'], True)
    """
    rows = []
    for s in _sets(ds):
        d = ds.sel(image_set=s)
        rows.append({
            "image set": s, "images (mean removed)": float(d.f50.mean()), "images, DC kept": float(d.f50_with_dc.mean()),
            f"blurred (σ = {float(d.blur_sigma):g} px)": float(d.f50_blurred.mean()),
            "white noise (mean)": float(d.f50_noise.mean()), "white noise (sd)": float(d.f50_noise.std(ddof=1)),
            "flat spectrum": float(d.noise_f50_flat), "grid median": float(d.noise_grid_median_radius)})
    return pd.DataFrame(rows)


@takes_results("ch00", requires=("image_set",))
def jpeg_finding(ds: xr.Dataset) -> dict[str, float] | None:
    """Paired f50 / high-band energy of foolbox's exact CIFAR-10 samples vs the CIFAR-10 source.

    None when the results have no ``cifar10`` pairs. ``matched`` counts pairs with
    PSNR > :data:`JPEG_MATCH_PSNR` (the same picture); the statistics use those only.

    Examples
    --------
    >>> jf = jpeg_finding(_toy_run())
    >>> jf["matched"], round(jf["psnr_mean"], 6)
    (20, 40.0)
    """
    if "pair_f50_exact" not in ds or "cifar10" not in ds.image_set.values:
        return None
    d = ds.sel(image_set="cifar10")
    ok = d.pair_psnr > JPEG_MATCH_PSNR
    diff = (d.pair_f50_source - d.pair_f50_exact).where(ok)
    m = int(ok.sum())
    return {
        "matched": m,
        "psnr_mean": float(d.pair_psnr.where(ok).mean()),
        "f50_exact": float(d.pair_f50_exact.where(ok).mean()),
        "f50_source": float(d.pair_f50_source.where(ok).mean()),
        "f50_diff_mean": float(diff.mean()),
        "f50_diff_se": float(diff.std(ddof=1)) / math.sqrt(m) if m > 1 else math.nan,
        "f50_diff_lower_count": int((diff < 0).sum()),
        "high_exact": float(d.pair_high_fraction_exact.where(ok).mean()),
        "high_source": float(d.pair_high_fraction_source.where(ok).mean()),
        "f50_error": float(d.pair_f50_error.where(ok).mean()),
    }


def jpeg_table(jf: dict[str, float]) -> pd.DataFrame:
    """The JPEG comparison of :func:`jpeg_finding` as a table (exact vs source).

    Examples
    --------
    >>> jpeg_table(jpeg_finding(_toy_run())).iloc[0].tolist()
    ['matched pairs / mean PSNR', '20', '40.0 dB']
    """
    keys = ("matched", "psnr_mean", "f50_exact", "f50_source", "f50_diff_mean", "f50_diff_se",
            "f50_diff_lower_count", "high_exact", "high_source", "f50_error")
    if not isinstance(jf, dict) or any(k not in jf for k in keys):
        raise ValueError(f"jf={_short(jf)} is not allowed; use the dict of jpeg_finding(ds) (which is None "
                         "when the results have no cifar10 pairs: show no table then)")
    return pd.DataFrame([
        ("matched pairs / mean PSNR", str(jf["matched"]), f"{jf['psnr_mean']:.1f} dB"),
        ("f50 (cycles/pixel)", f"{jf['f50_exact']:.4f}", f"{jf['f50_source']:.4f}"),
        ("f50 difference source − exact (± s.e.)", "",
         f"{jf['f50_diff_mean']:+.4f} ± {jf['f50_diff_se']:.4f}; lower in {jf['f50_diff_lower_count']} "
         f"of {jf['matched']}"),
        ("energy share at r ≥ 1/4 cycles/pixel", f"{jf['high_exact']:.4f}", f"{jf['high_source']:.4f}"),
        ("f50 of the compression error (source − exact)", "", f"{jf['f50_error']:.3f}"),
    ], columns=["quantity (mean over matched pairs)", "exact (foolbox PNG)", "dataset source"])


def _kappa_stats(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    """Per kernel family: first and last κ_high, Spearman ρ with k (scipy), number of local rises."""
    ks = ds.kernel_size.values
    out = {}
    for f in ds.kernel_family.values:
        kappa = ds.kappa_high.sel(kernel_family=f)
        out[str(f)] = {"first": float(kappa[0]), "last": float(kappa[-1]),
                       "rho": float(spearmanr(ks, kappa.values).statistic),
                       "rises": int((kappa.diff("kernel_size") > 1e-12).sum())}
    return out


@takes_results("ch00")
def claims_table(ds: xr.Dataset, *, noise_tolerance: float = 0.01,
                 closed_form_tolerance: float = 1e-6) -> pd.DataFrame:
    """Claim-vs-measurement rows (kind | claim | measured | holds) from the loaded results.

    Six ``toolkit`` rows (what the metrics must show on real images, noise,
    blurred images and kernels) and, when the CIFAR-10 pairs were measured, two
    ``data finding`` rows about the JPEG source (not claims of the papers).

    Examples
    --------
    >>> t = claims_table(_toy_run())
    >>> t.kind.tolist(), t.holds[t.kind == "toolkit"].tolist()
    (['toolkit', 'toolkit', 'toolkit', 'toolkit', 'toolkit', 'toolkit', 'data finding', 'data finding'], ['yes', 'yes', 'yes', 'yes', 'yes', 'yes'])
    """
    rows: list[dict[str, str]] = []

    def add(claim: str, measured: str, holds: bool, kind: str = "toolkit") -> None:
        rows.append({"kind": kind, "claim": claim, "measured": measured, "holds": "yes" if holds else "no"})

    sets = _sets(ds)
    f50 = ds.f50.mean("sample")
    noise = ds.f50_noise.mean("sample")
    add("natural images' f50 is far below white noise's (< ½ of it)",
        "; ".join(f"{s}: {float(f50.sel(image_set=s)):.3f} vs {float(noise.sel(image_set=s)):.3f}" for s in sets),
        bool((f50 / noise < 0.5).all()))
    dev = abs(noise - ds.noise_f50_flat)
    add(f"white-noise f50 equals the flat-spectrum f50 of the grid (± {noise_tolerance})",
        "; ".join(f"{s} (n={int(ds.image_size.sel(image_set=s))}): {float(noise.sel(image_set=s)):.4f} vs "
                  f"{float(ds.noise_f50_flat.sel(image_set=s)):.4f}" for s in sets)
        + f"; continuum limit 1/√(2π) = {CONTINUOUS_NOISE_F50:.4f}",
        bool((dev < noise_tolerance).all()))
    blurred = ds.f50_blurred.mean("sample")
    add("blurring lowers f50", "; ".join(
        f"{s}: {float(f50.sel(image_set=s)):.3f} → {float(blurred.sel(image_set=s)):.3f}" for s in sets),
        bool((blurred < f50).all()))
    err = float(abs(ds.kappa_high.sel(kernel_family="box") - ds.kappa_high_box_closed_form).max())
    ks = ds.kernel_size.values
    add(f"κ_high(k) of box kernels by FFT matches the closed form (< {closed_form_tolerance:g})",
        f"max abs(FFT − closed form) = {err:.1e} over k = {int(ks[0])}…{int(ks[-1])}", err < closed_form_tolerance)
    stats = _kappa_stats(ds)
    add("κ_high(k) falls with k (box and Gaussian kernels; Spearman ρ < −0.9)",
        "; ".join(f"{f}: {v['first']:.3f} → {v['last']:.3f}, ρ = {v['rho']:.2f}, {v['rises']} local rise(s)"
                  for f, v in stats.items()),
        all(v["rho"] < -0.9 for v in stats.values()))
    recon = float(abs(ds.lfc + ds.hfc - ds.lfc_image).max(skipna=True))
    frac = ds.lfc_energy_fraction.mean("sample")
    grows = bool((frac.diff("lfc_radius") >= 0).all())
    add("LFC + HFC reproduces the image; the LFC's energy share grows with r",
        f"max abs(LFC + HFC − x) = {recon:.1e}; mean LFC share at r = "
        + ", ".join(f"{r:g}" for r in ds.lfc_radius.values) + ": "
        + "; ".join(f"{s} " + "/".join(f"{v:.2f}" for v in frac.sel(image_set=s).values) for s in sets),
        recon < 1e-5 and grows)
    jf = jpeg_finding(ds)
    if jf is not None:
        add(f"JPEG q75 alters high frequencies: the compression error (source − exact) is high-frequency "
            f"(f50 > {JPEG_ERROR_F50:g})",
            f"f50 of the error {jf['f50_error']:.3f}; energy share at r ≥ 1/4: "
            f"{jf['high_exact']:.4f} (exact) → {jf['high_source']:.4f} (source)",
            jf["f50_error"] > JPEG_ERROR_F50, "data finding")
        add(f"… and shifts the images' f50 noticeably (abs(Δf50) > {JPEG_F50_SHIFT:g} cycles/pixel)",
            f"Δf50 = {jf['f50_diff_mean']:+.4f} ± {jf['f50_diff_se']:.4f} (mean ± s.e., {jf['matched']} pairs, "
            f"PSNR {jf['psnr_mean']:.1f} dB)",
            abs(jf["f50_diff_mean"]) > JPEG_F50_SHIFT, "data finding")
    return pd.DataFrame(rows, columns=["kind", "claim", "measured", "holds"])


def _range(values: Sequence[float], fmt: str) -> str:
    """``"lo–hi"`` (one value if they print alike); negative values with a minus sign and ``to``."""
    lo, hi = (fmt.format(v).replace("-", "−") for v in (min(values), max(values)))
    return lo if lo == hi else f"{lo} to {hi}" if min(values) < 0 else f"{lo}–{hi}"


def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@takes_results("ch00")
def findings(ds: xr.Dataset) -> dict[str, str]:
    """Text of every measured number (and outcome-dependent phrase) in the chapter's prose.

    Keys are glue names (``ch00_*``), values plain text computed from ``ds``, so
    the prose is true at whatever preset ran; the notebook glues them with
    ``freqkit.book.glue``.

    Examples
    --------
    >>> f = findings(_toy_run())
    >>> f["ch00_verdict"], f["ch00_sizes"]
    ('all 6 toolkit claims hold', '12 and 16')
    """
    sets = _sets(ds)
    f50 = {s: float(ds.f50.sel(image_set=s).mean()) for s in sets}
    noise = {s: float(ds.f50_noise.sel(image_set=s).mean()) for s in sets}
    size = {s: int(ds.image_size.sel(image_set=s)) for s in sets}
    out: dict[str, str] = {"ch00_n_sets": str(len(sets))}
    out["ch00_ratio_range"] = _range([noise[s] / f50[s] for s in sets], "{:.0f}")
    out["ch00_noise_mean"] = f"{np.mean(list(noise.values())):.2f}"
    lowest = min(sets, key=f50.get)
    text = f"{lowest} ({size[lowest]} px) has the lowest f50 in cycles/pixel"
    if len(set(size.values())) > 1 and size[lowest] == max(size.values()):
        text += (", and it has the largest images: the same kind of scene spread over more pixels per side "
                 "puts its structure at fewer cycles per pixel")
    out["ch00_lowest_text"] = text
    with_dc = {s: float(ds.f50_with_dc.sel(image_set=s).mean()) for s in sets}
    dc_range = _range(list(with_dc.values()), "{:.2g}")
    out["ch00_dc_text"] = (
        f"With DC kept, f50 falls to {dc_range} (from {_range(list(f50.values()), '{:.2g}')} with the mean "
        "removed): the mean brightness holds a large share of the energy, which is why every image metric "
        "removes it"
        if all(with_dc[s] < f50[s] for s in sets) else
        f"With DC kept, f50 is {dc_range}: not lower than with the mean removed for every set")
    out["ch00_noise_dev"] = f"{max(abs(noise[s] - float(ds.noise_f50_flat.sel(image_set=s))) for s in sets):.4f}"
    out["ch00_flat_dev"] = f"{float(abs(ds.noise_f50_flat - CONTINUOUS_NOISE_F50).max()):.4f}"
    out["ch00_continuum"] = f"{CONTINUOUS_NOISE_F50:.4f}"
    out["ch00_sizes"] = _and([str(n) for n in sorted(set(size.values()))])

    stats = _kappa_stats(ds)
    ks = ds.kernel_size.values
    out["ch00_box_err"] = f"{float(abs(ds.kappa_high.sel(kernel_family='box') - ds.kappa_high_box_closed_form).max()):.1e}"
    out["ch00_kappa_first"] = _range([v["first"] for v in stats.values()], "{:.2f}")
    out["ch00_kappa_last"] = _range([v["last"] for v in stats.values()], "{:.2f}")
    out["ch00_k_first"], out["ch00_k_last"] = str(int(ks[0])), str(int(ks[-1]))
    out["ch00_kappa_padded"] = str(int(ds.kernel_padded_size))
    out["ch00_rho"] = _range([v["rho"] for v in stats.values()], "{:.2f}")
    rises = [v["rises"] for v in stats.values()]
    falls = all(v["rho"] < -0.9 for v in stats.values())
    out["ch00_kappa_trend"] = "falls" if falls else "does not clearly fall"
    out["ch00_rises_text"] = (
        "monotonically" if max(rises) == 0 else
        f"but not monotonically: {_range(rises, '{:d}')} small rise(s) per family, because the band "
        "|m| ≤ k/2 only widens at every other k (k = 2j and 2j + 1 share it) while the kernel keeps growing")

    recon = float(abs(ds.lfc + ds.hfc - ds.lfc_image).max(skipna=True))
    out["ch00_recon"] = f"{recon:.0e}"
    radii = [float(r) for r in ds.lfc_radius.values]
    out["ch00_lfc_radii"] = ", ".join(f"{r:g}" for r in radii)
    share = ds.lfc_energy_fraction.mean("sample")
    out["ch00_lfc_shares"] = "; ".join(
        f"{s} ({size[s]} px) " + "/".join(f"{100 * float(v):.0f}" for v in share.sel(image_set=s).values) + " %"
        for s in sets)
    big, small = max(sets, key=size.get), min(sets, key=size.get)
    if size[big] == size[small]:
        out["ch00_lfc_size_text"] = "All image sets here have the same size, so the index radius means the same frequency for each"
    elif bool((share.sel(image_set=big) < share.sel(image_set=small)).all()):
        out["ch00_lfc_size_text"] = (
            f"At every r the LFC of {big} ({size[big]} px) holds a smaller share than that of {small} "
            f"({size[small]} px): r is in index units, so on the larger grid it is a lower frequency (r/N cycles/pixel)")
    else:
        out["ch00_lfc_size_text"] = (
            f"Although r is a lower frequency on the larger grid of {big} ({size[big]} px), its LFC does not hold a "
            f"smaller share than that of {small} ({size[small]} px) at every r")

    jf = jpeg_finding(ds)
    if jf is None:
        out["ch00_jpeg_text"] = "No CIFAR-10 dataset source was available here, so the JPEG comparison was skipped."
    else:
        rises_high = jf["high_source"] > jf["high_exact"]
        text = (f"The compression error of the {jf['matched']} matched CIFAR-10 pairs (mean PSNR "
                f"{jf['psnr_mean']:.1f} dB) "
                + ("is a high-frequency signal" if jf["f50_error"] > JPEG_ERROR_F50 else "is not a high-frequency signal")
                + f" (f50 = {jf['f50_error']:.2f}), and the share of energy at r ≥ 1/4 "
                + (f"rises from {jf['high_exact']:.4f} to {jf['high_source']:.4f} (block artefacts add more than "
                   "quantisation removes)" if rises_high else
                   f"falls from {jf['high_exact']:.4f} to {jf['high_source']:.4f} (quantisation removes more than "
                   "block artefacts add)")
                + f"; the images' f50 moves by {jf['f50_diff_mean']:+.4f} ± {jf['f50_diff_se']:.4f} cycles/pixel "
                  "(mean ± s.e.). ")
        if abs(jf["f50_diff_mean"]) <= JPEG_F50_SHIFT:
            text += ("For the f50 of images the JPEG source is harmless; for small high-frequency signals added to "
                     "images (perturbations, the chapter-4 features) an error of this size matters when comparing "
                     "with results on exact CIFAR-10.")
        else:
            text += "The JPEG source shifts the images' f50 noticeably: compare f50 values within one encoding only."
        out["ch00_jpeg_text"] = text

    claims = claims_table(ds)
    toolkit = claims[claims.kind == "toolkit"]
    n_hold = int((toolkit.holds == "yes").sum())
    out["ch00_verdict"] = (f"all {len(toolkit)} toolkit claims hold" if n_hold == len(toolkit) else
                           f"{n_hold} of {len(toolkit)} toolkit claims hold (not: "
                           + "; ".join(toolkit.claim[toolkit.holds == "no"]) + ")")
    seconds = float(ds.compute_seconds.sum()) if "compute_seconds" in ds else math.nan
    if "kernel_compute_seconds" in ds:
        seconds += float(ds.kernel_compute_seconds)
    out["ch00_seconds"] = f"{seconds:.0f}"
    return out


# --------------------------------------------------------------------------- synthetic results
@functools.lru_cache(maxsize=1)
def _toy_run_cached() -> xr.Dataset:
    g = torch.Generator().manual_seed(0)
    runs = []
    for name, n, c, count in (("cifar10", 16, 3, 200), ("fashion-mnist", 12, 1, 64)):
        x = gaussian_blur(torch.rand(count, c, n, n, generator=g, dtype=torch.float64), 1.5)
        cfg = ImageSetConfig(name, count, n_examples=2, n_lfc_examples=1, lfc_radii=(2.0, 4.0))
        ds = image_set_metrics(x, cfg, description="synthetic smooth noise", selection=f"all {count}")
        if name == "cifar10":
            exact = x[:20]
            checkerboard = (-1.0) ** (torch.arange(n)[:, None] + torch.arange(n)[None, :])
            other = exact + 0.01 * checkerboard  # a Nyquist-corner "compression error", PSNR exactly 40 dB
            ds = ds.assign(jpeg_pair_metrics(exact, other, torch.arange(20))).assign_coords(pair=np.arange(20))
        ds["compute_seconds"] = _var((), 1.0, "s", "wall time of the run")
        runs.append(ds.expand_dims(image_set=[name]))
    runs.append(kernel_kappa(KernelConfig(kernel_sizes=tuple(range(3, 9)), n=16)))
    return combine_datasets(runs, ["cifar10", "fashion-mnist", "kernels"])


def _toy_run() -> xr.Dataset:
    """Small synthetic chapter-0 results through the real metric functions (for examples and tests).

    Two image sets of smooth random images (16×16×3 ``cifar10`` with 20 "JPEG"
    pairs: copies plus a ±0.01 checkerboard, 12×12×1 ``fashion-mnist``) and kernels 3..8 padded
    to 16×16; every toolkit claim holds on it.
    """
    return _toy_run_cached().copy(deep=True)


CHAPTER = register(Chapter(
    name="ch00", title="The Fourier toolkit on real images", notebook="notebooks/00_fourier_toolkit.ipynb",
    presets=PRESETS, configs=configs, run_one=run_one, combine=combine, check_data=available_image_sets,
    summarise=f50_table, claims=claims_table,
))
#: :meth:`freqkit.experiments.scaffold.Chapter.run` of this chapter.
run = CHAPTER.run
#: :meth:`freqkit.experiments.scaffold.Chapter.get_preset` of this chapter.
get_preset = CHAPTER.get_preset
