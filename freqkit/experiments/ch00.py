"""Chapter 0: the Fourier toolkit on real images.

The metrics every later chapter uses (:mod:`freqkit.spectra`), measured on real
images: foolbox's shipped CIFAR-10 and ImageNet samples (PNG-exact CIFAR-10
test images 0–19; ImageNet JPEGs resized to 224×224), Fashion-MNIST (Debian's
package, or a torchvision root) and CIFAR-10 from ``../shared/data`` (JPEG q75
re-encoding) when present.

One run per image set (``ImageSetConfig``) computes, for ``n_images`` images:

- ``f50`` of each image (DC removed, power summed over channels), of a white
  Gaussian noise image of the same shape and of the image blurred by a circular
  Gaussian of ``blur_sigma`` pixels; ``f50_with_dc`` (DC kept) to show why the
  mean is removed; the f50 of the exactly flat spectrum and the median grid
  radius (analytic references for white noise);
- the mean power spectrum and the radial cumulative energy of images, noise and
  blurred images, plus the spectra of a few example images;
- LFC/HFC reconstructions (Wang et al. 2020) of a few images at several radii
  and the fraction of each image's (mean-removed) energy in its LFC;
- for CIFAR-10 from an image folder: the foolbox samples (exact pixels) paired
  with their JPEG counterparts (nearest neighbour within the class), their f50
  and high-band energy, and the pair's PSNR.

One more run (``KernelConfig``) computes κ_high(k) of k×k box and Gaussian
kernels zero-padded to 32×32 by FFT, and the box's closed form.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from freqkit import spectra

__all__ = [
    "CONTINUOUS_NOISE_F50",
    "IMAGE_SETS",
    "PRESETS",
    "ImageSetConfig",
    "KernelConfig",
    "Preset",
    "available_image_sets",
    "claims_table",
    "combine",
    "configs",
    "flat_spectrum_f50",
    "gaussian_blur",
    "gaussian_kernel",
    "get_preset",
    "grid_median_radius",
    "image_f50",
    "kernel_kappa",
    "lfc_energy_fraction",
    "load_image_set",
    "match_pairs",
    "psnr_db",
    "results_dir_for",
    "run",
    "run_image_set",
    "run_kernels",
    "run_one",
    "white_noise",
]

CHAPTER = "ch00"
REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_SETS: tuple[str, ...] = ("foolbox-cifar10", "foolbox-imagenet", "fashion-mnist", "cifar10")
"""Image sets in display order (``cifar10`` = whatever source :func:`freqkit.data.get_dataset` finds)."""

CONTINUOUS_NOISE_F50 = 1.0 / math.sqrt(2.0 * math.pi)
"""Median radius of the uniform distribution on the square ``[-1/2, 1/2]²`` (cycles/pixel):
the disc of radius r holds the fraction ``π r²`` of the square while ``r <= 1/2``, so the
median is ``1/√(2π) ≈ 0.3989``. White noise has a flat expected spectrum, so its f50 tends
to this value as the grid gets finer."""


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
        if not self.kernel_sizes or any(not 1 <= k <= self.n for k in self.kernel_sizes):
            raise ValueError(f"kernel_sizes must lie in 1..n={self.n}, got {self.kernel_sizes!r}")


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


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ValueError listing the allowed names otherwise.

    Examples
    --------
    >>> get_preset("cpu").n_cifar10
    2000
    >>> get_preset("gpu")
    Traceback (most recent call last):
    ...
    ValueError: preset='gpu' is not allowed; use one of ['smoke', 'cpu', 'paper']
    """
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not allowed; use one of {list(PRESETS)}")
    return PRESETS[name]


def configs(preset: str | Preset, image_sets: tuple[str, ...] = IMAGE_SETS) -> list[RunConfig]:
    """The chapter's runs (pure): one per image set in ``image_sets``, then the kernel run.

    Examples
    --------
    >>> [c.kind for c in configs("smoke")]
    ['images', 'images', 'images', 'images', 'kernels']
    >>> [c.n_images for c in configs("paper")[:4]]
    [20, 20, None, None]
    """
    p = get_preset(preset) if isinstance(preset, str) else preset
    sizes = {"foolbox-cifar10": p.n_foolbox, "foolbox-imagenet": p.n_foolbox,
             "fashion-mnist": p.n_fashion_mnist, "cifar10": p.n_cifar10}
    runs: list[RunConfig] = [
        ImageSetConfig(image_set=s, n_images=sizes[s], n_examples=p.n_examples,
                       n_lfc_examples=p.n_lfc_examples, lfc_radii=p.lfc_radii, blur_sigma=p.blur_sigma)
        for s in IMAGE_SETS if s in image_sets
    ]
    runs.append(KernelConfig(kernel_sizes=p.kernel_sizes))
    return runs


# --------------------------------------------------------------------------- metrics (pure)
def image_f50(x: torch.Tensor, *, remove_mean: bool = True) -> torch.Tensor:
    """f50 (cycles/pixel) of each image ``(N, C, n, n)``: power summed over channels.

    Examples
    --------
    >>> x = torch.cos(2 * torch.pi * 0.25 * torch.arange(8.0)).expand(1, 1, 8, 8)
    >>> image_f50(x).tolist()
    [0.25]
    """
    return spectra.half_power_frequency(
        spectra.power_spectrum(x, remove_mean=remove_mean, combine_channels=True))


def white_noise(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """i.i.d. standard normal noise of ``shape`` from ``torch.Generator().manual_seed(seed)``.

    Examples
    --------
    >>> torch.equal(white_noise((2, 3), 1), white_noise((2, 3), 1))
    True
    """
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Circular Gaussian blur of the last two axes: multiply the DFT by ``exp(-2π²σ²|f|²)``.

    ``|f|`` in cycles/pixel; the power spectrum is multiplied by ``exp(-4π²σ²|f|²)``
    (the transfer function of a Gaussian of ``sigma`` pixels). DC (the mean) is kept.

    Examples
    --------
    >>> x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    >>> torch.allclose(gaussian_blur(x, 1.0).mean((-2, -1)), x.mean((-2, -1)))
    True
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 pixels, got {sigma!r}")
    n = x.shape[-1]
    fy = torch.fft.fftfreq(n, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(n, dtype=torch.float64)[None, :]
    transfer = torch.exp(-2 * math.pi**2 * sigma**2 * (fy**2 + fx**2)).to(x.dtype)
    return torch.fft.irfft2(torch.fft.rfft2(x) * transfer, s=(n, n))


def flat_spectrum_f50(n: int) -> float:
    """f50 of the expected spectrum of white noise with the mean removed: flat, DC zero.

    Examples
    --------
    >>> round(flat_spectrum_f50(32), 4)
    0.4
    """
    power = np.ones((n, n))
    power[n // 2, n // 2] = 0.0
    return float(spectra.half_power_frequency(power))


def grid_median_radius(n: int) -> float:
    """``numpy.median`` of the radii (cycles/pixel) of the ``n × n`` DFT grid without DC.

    An independent reference for :func:`flat_spectrum_f50` (which interpolates the
    cumulative energy instead of taking the sample median).

    Examples
    --------
    >>> round(grid_median_radius(32), 4)
    0.4002
    """
    r = spectra.frequency_radius(n).ravel()
    return float(np.median(r[r > 0]))


def lfc_energy_fraction(x: torch.Tensor, radii: tuple[float, ...]) -> torch.Tensor:
    """Fraction of each image's mean-removed energy in its LFC, ``(N, len(radii))``.

    ``‖LFC_r(x - x̄)‖² / ‖x - x̄‖²`` summed over channels, LFC by
    :func:`freqkit.spectra.split_frequency_components` (coefficients with index
    distance ``< r``; the DC of the mean-removed image is zero).

    Examples
    --------
    >>> x = torch.rand(3, 1, 16, 16, dtype=torch.float64)
    >>> frac = lfc_energy_fraction(x, (1.0, 100.0))
    >>> frac[:, 0].abs().max().item() < 1e-12, torch.allclose(frac[:, 1], torch.ones(3, dtype=torch.float64))
    (True, True)
    """
    centred = x - x.mean((-2, -1), keepdim=True)
    total = centred.square().sum((-3, -2, -1))
    out = []
    for r in radii:
        lfc, _ = spectra.split_frequency_components(centred, float(r))
        out.append(lfc.square().sum((-3, -2, -1)) / total)
    return torch.stack(out, -1)


def gaussian_kernel(k: int, sigma: float) -> np.ndarray:
    """``k × k`` Gaussian ``exp(-|p - c|² / 2σ²)`` centred at ``c = ((k-1)/2, (k-1)/2)``, unit sum.

    Examples
    --------
    >>> g = gaussian_kernel(3, 1.0); round(float(g.sum()), 12), g[1, 1] == g.max()
    (1.0, np.True_)
    """
    p = np.arange(k) - (k - 1) / 2
    g = np.exp(-(p[:, None] ** 2 + p[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def kernel_kappa(config: KernelConfig) -> xr.Dataset:
    """κ_high(k) of k×k kernels zero-padded to ``n × n``, FFT vs closed form.

    Returns ``kappa_high (kernel_family, kernel_size)`` (families ``box`` and
    ``gaussian-k/<w>``) and ``kappa_high_box_closed_form (kernel_size)``.

    Examples
    --------
    >>> ds = kernel_kappa(KernelConfig(kernel_sizes=(3, 8), n=16, gaussian_widths=(6.0,)))
    >>> ds.kappa_high.dims, ds.kernel_family.values.tolist()
    (('kernel_family', 'kernel_size'), ['box', 'gaussian-k/6'])
    >>> bool(abs(ds.kappa_high.sel(kernel_family="box") - ds.kappa_high_box_closed_form).max() < 1e-12)
    True
    """
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
        },
        coords={"kernel_family": families, "kernel_size": list(config.kernel_sizes)},
    )


def psnr_db(reference: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image over ``(C, H, W)`` for data range 1 (inf if equal).

    Examples
    --------
    >>> psnr_db(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.1)).round().tolist()
    [20.0]
    """
    mse = (reference.double() - other.double()).square().mean((-3, -2, -1))
    return 10 * torch.log10(1.0 / mse)


def match_pairs(query: torch.Tensor, query_labels: torch.Tensor,
                pool: torch.Tensor, pool_labels: torch.Tensor) -> torch.Tensor:
    """Index into ``pool`` of each query's nearest image (ℓ2) with the same label.

    Examples
    --------
    >>> pool = torch.arange(4.0).reshape(4, 1, 1, 1)
    >>> match_pairs(pool[[2, 0]] + 0.1, torch.tensor([0, 0]), pool, torch.tensor([0, 0, 0, 1])).tolist()
    [2, 0]
    """
    q, p = query.flatten(1).double(), pool.flatten(1).double()
    dist = q.square().sum(1, keepdim=True) + p.square().sum(1) - 2 * q @ p.T
    dist = dist.masked_fill(query_labels[:, None] != pool_labels[None, :], math.inf)
    return dist.argmin(1)


def _checksum_uint8(x: torch.Tensor) -> str:
    pixels = (x * 255).round().clamp(0, 255).to(torch.uint8).contiguous().numpy()
    return "sha256-uint8:" + hashlib.sha256(pixels.tobytes()).hexdigest()


# --------------------------------------------------------------------------- data
def load_image_set(config: ImageSetConfig) -> tuple[torch.Tensor, torch.Tensor, str, str]:
    """``(x, y, source, checksum)`` of an image set; DatasetUnavailableError if absent."""
    from freqkit import data

    if config.image_set.startswith("foolbox-"):
        import foolbox

        name = config.image_set.removeprefix("foolbox-")
        x, y = data.foolbox_samples(name, config.n_images)
        how = ("512×512 JPEGs resized to 224×224 (PIL default resampling)" if name == "imagenet"
               else "PNG, exact pixels of CIFAR-10 test images 0..19")
        source = f"foolbox {foolbox.__version__} shipped samples {name}_NN_LABEL ({how}); {len(x)} images"
        return x, y, source, _checksum_uint8(x)
    splits = data.get_dataset(config.image_set, n_train=0, n_val=0, n_test=config.n_images,
                              seed=config.data_seed)
    subset = "whole test set" if config.n_images is None else (
        f"{config.n_images} test images, class-stratified, seed {config.data_seed}")
    return splits.test.x, splits.test.y, f"{splits.source}; {subset}", splits.checksum


def available_image_sets(names: tuple[str, ...] = IMAGE_SETS) -> tuple[list[str], dict[str, str]]:
    """``(available, missing)``: image sets that load here, and why the others don't.

    Examples
    --------
    >>> ok, missing = available_image_sets(("foolbox-cifar10",))
    >>> ok, missing
    (['foolbox-cifar10'], {})
    """
    ok: list[str] = []
    missing: dict[str, str] = {}
    for name in names:
        try:
            load_image_set(ImageSetConfig(image_set=name, n_images=2))
        except ValueError as err:  # DatasetUnavailableError is a ValueError
            missing[name] = str(err).splitlines()[0][:300]
        else:
            ok.append(name)
    return ok, missing


# --------------------------------------------------------------------------- runs
def _var(dims: tuple[str, ...], values, units: str, long_name: str) -> tuple:
    return dims, np.asarray(values), {"units": units, "long_name": long_name}


def _jpeg_pairs(config: ImageSetConfig) -> dict[str, tuple]:
    """foolbox's exact CIFAR-10 samples vs their counterparts in the loaded CIFAR-10 source."""
    from freqkit import data

    exact, labels = data.foolbox_samples("cifar10", 20)
    pool = data.get_dataset("cifar10", n_train=0, n_val=0, n_test=None).test
    index = match_pairs(exact, labels, pool.x, pool.y)
    other = pool.x[index]
    high = spectra.band_mask(32, *spectra.BANDS["high"])

    def high_fraction(x: torch.Tensor) -> np.ndarray:
        power = spectra.power_spectrum(x, remove_mean=True, combine_channels=True).numpy()
        return power[:, high].sum(1) / power.sum((1, 2))

    pair = ("pair",)
    return {
        "pair_f50_exact": _var(pair, image_f50(exact), "cycles/pixel", "f50 of foolbox's exact CIFAR-10 sample"),
        "pair_f50_source": _var(pair, image_f50(other), "cycles/pixel", "f50 of the same image in the CIFAR-10 source"),
        "pair_high_fraction_exact": _var(pair, high_fraction(exact), "1", "energy fraction at r >= 1/4, exact"),
        "pair_high_fraction_source": _var(pair, high_fraction(other), "1", "energy fraction at r >= 1/4, source"),
        "pair_f50_error": _var(pair, image_f50(other - exact), "cycles/pixel",
                               "f50 of the difference source − exact (the compression error)"),
        "pair_psnr": _var(pair, psnr_db(exact, other), "dB", "PSNR of the source image against the exact sample"),
        "pair_test_index": _var(pair, index, "1", "index of the matched image in the source's test set"),
    }


def run_image_set(config: ImageSetConfig) -> xr.Dataset:
    """Every chapter-0 metric of one image set, with an ``image_set`` run dim and provenance."""
    from freqkit.results import provenance
    from freqkit.sweep import expand_run_dims

    x, _, source, checksum = load_image_set(config)
    n = x.shape[-1]
    noise = white_noise(tuple(x.shape), config.noise_seed)
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
    ds = xr.Dataset(
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
            "image_size": _var((), n, "pixel", "image side length"),
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
            "dataset_source": _var((), source, "1", "where the images came from"),
            "dataset_checksum": _var((), checksum, "1", "checksum of the image source"),
        },
        coords={"spectrum": list(powers), "fy": freqs, "fx": freqs, "radius": np.asarray(radius, dtype=np.float64),
                "lfc_radius": list(config.lfc_radii), "sample": np.arange(len(x)),
                "example": np.arange(len(examples)), "lfc_example": np.arange(len(lfc_in)),
                "channel": np.arange(x.shape[1]), "row": np.arange(n), "col": np.arange(n)},
    )
    if config.image_set == "cifar10":
        ds = ds.assign(_jpeg_pairs(config)).assign_coords(pair=np.arange(20))
    ds = expand_run_dims(ds, image_set=config.image_set)
    ds.attrs.update(provenance(config, dataset_source=source, dataset_checksum=checksum, device="cpu"))
    return ds


def run_kernels(config: KernelConfig) -> xr.Dataset:
    """The kernel run: :func:`kernel_kappa` with provenance (no dataset)."""
    from freqkit.results import provenance

    ds = kernel_kappa(config)
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


def results_dir_for(preset: str, results_dir: str | os.PathLike[str] | None = None) -> Path:
    """``results_dir`` or ``$FREQKIT_RESULTS/ch00/<preset>`` or ``<repo>/results/ch00/<preset>``."""
    if results_dir is not None:
        return Path(results_dir)
    base = Path(os.environ.get("FREQKIT_RESULTS", REPO_ROOT / "results"))
    return base / CHAPTER / preset


def run(preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None, *,
        progress: bool = True) -> xr.Dataset:
    """Run (or resume) the chapter's runs over the available image sets; return the results.

    Unavailable image sets are skipped with a printed note (also in the
    ``skipped_image_sets`` attribute). Per-set provenance is in the data variables
    ``dataset_source`` and ``dataset_checksum`` (image_set) and in each run file's attrs.
    """
    from freqkit import sweep

    p = get_preset(preset)
    available, missing = available_image_sets()
    for name, reason in missing.items():
        print(f"NOTE: skipping image set {name!r}: {reason}")
    out = results_dir_for(preset, results_dir)
    paths = sweep.run_sweep(configs(p, tuple(available)), run_one, out, progress=progress)
    ds = combine(paths)
    ds.attrs["skipped_image_sets"] = "; ".join(f"{k}: {v}" for k, v in missing.items())
    ds.attrs["preset"] = preset
    return ds


def combine(source: str | os.PathLike[str] | list[Path]) -> xr.Dataset:
    """Combine chapter-0 run files (a directory or paths) into one dataset.

    Used instead of :func:`freqkit.sweep.combine_runs` because the image sets
    have different sizes (28, 32, 224 pixels; 20 to 10,000 images):
    ``combine_by_coords`` would try to concatenate along every dimension whose
    coordinates differ (``fy``, ``radius``, ``sample``, ...). Here the image-set
    runs are concatenated along ``image_set`` with an outer join (NaN padding:
    ``fy``/``fx`` are the union of the grids' frequencies, ``row``/``col`` run to
    the largest image, ``sample`` to the largest set) and merged with the kernel
    run. Attributes equal in every run are kept; image sets are in
    :data:`IMAGE_SETS` order.
    """
    from freqkit.results import load_results

    paths = sorted(Path(source).glob("*.nc")) if isinstance(source, (str, os.PathLike)) else list(source)
    runs = [load_results(path) for path in dict.fromkeys(paths)]
    images = [r for r in runs if "image_set" in r.dims]
    images.sort(key=lambda r: IMAGE_SETS.index(str(r.image_set.values[0])))
    others = [r for r in runs if "image_set" not in r.dims]
    parts = others
    if images:
        parts = [xr.concat(images, dim="image_set", join="outer", data_vars="all", coords="different",
                           compat="equals", combine_attrs="drop_conflicts")] + others
    ds = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
    ds.attrs = {k: v for k, v in runs[0].attrs.items()
                if all(k in r.attrs and np.array_equal(r.attrs[k], v) for r in runs)}
    return ds


# --------------------------------------------------------------------------- claims (pure)
def claims_table(ds: xr.Dataset, *, noise_tolerance: float = 0.01,
                 closed_form_tolerance: float = 1e-6) -> list[dict[str, str]]:
    """Claim-vs-measurement rows (claim | measured | holds) from the loaded results.

    Examples
    --------
    >>> rows = claims_table(_toy_results())
    >>> [r["holds"] for r in rows]
    ['yes', 'yes', 'yes', 'yes', 'yes', 'yes']
    """
    rows: list[dict[str, str]] = []

    def add(claim: str, measured: str, holds: bool) -> None:
        rows.append({"claim": claim, "measured": measured, "holds": "yes" if holds else "no"})

    sets = [str(s) for s in ds.image_set.values]
    f50 = ds.f50.mean("sample")
    noise = ds.f50_noise.mean("sample")
    ratio = f50 / noise
    add("natural images' f50 is far below white noise's (< ½ of it)",
        "; ".join(f"{s}: {float(f50.sel(image_set=s)):.3f} vs {float(noise.sel(image_set=s)):.3f}"
                  for s in sets),
        bool((ratio < 0.5).all()))
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
    box = ds.kappa_high.sel(kernel_family="box")
    err = float(abs(box - ds.kappa_high_box_closed_form).max())
    ks = ds.kernel_size.values
    rho = {str(f): _spearman(ks, ds.kappa_high.sel(kernel_family=f).values) for f in ds.kernel_family.values}
    rises = {str(f): int((ds.kappa_high.sel(kernel_family=f).diff("kernel_size") > 1e-12).sum())
             for f in ds.kernel_family.values}
    add(f"κ_high(k) of box kernels by FFT matches the closed form (< {closed_form_tolerance:g})",
        f"max abs(FFT − closed form) = {err:.1e} over k = {int(ks[0])}…{int(ks[-1])}", err < closed_form_tolerance)
    add("κ_high(k) falls with k (box and Gaussian kernels; Spearman ρ < −0.9)",
        "; ".join(f"{f}: {float(ds.kappa_high.sel(kernel_family=f)[0]):.3f} → "
                  f"{float(ds.kappa_high.sel(kernel_family=f)[-1]):.3f}, ρ = {rho[f]:.2f}, "
                  f"{rises[f]} local rise(s)" for f in rho),
        all(r < -0.9 for r in rho.values()))
    recon = float(abs(ds.lfc + ds.hfc - ds.lfc_image).max(skipna=True))
    frac = ds.lfc_energy_fraction.mean("sample")
    grows = bool((frac.diff("lfc_radius") >= 0).all())
    add("LFC + HFC reproduces the image; the LFC's energy share grows with r",
        f"max abs(LFC + HFC − x) = {recon:.1e}; mean LFC share at r = "
        + ", ".join(f"{r:g}" for r in ds.lfc_radius.values) + ": "
        + "; ".join(f"{s} " + "/".join(f"{v:.2f}" for v in frac.sel(image_set=s).values) for s in sets),
        recon < 1e-5 and grows)
    return rows


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def jpeg_finding(ds: xr.Dataset) -> dict[str, float] | None:
    """Paired f50 / high-band energy of foolbox's exact CIFAR-10 samples vs the CIFAR-10 source.

    None when the results have no ``cifar10`` pairs. ``matched`` counts pairs with
    PSNR > 20 dB (the same picture); the statistics use those only.
    """
    if "pair_f50_exact" not in ds or "cifar10" not in ds.image_set.values:
        return None
    d = ds.sel(image_set="cifar10")
    ok = d.pair_psnr > 20
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


def _toy_results() -> xr.Dataset:
    """A hand-made results dataset on which every claim holds (for doctests and tests)."""
    sets = ["a", "b"]
    k = [3, 4, 5]
    flat = np.array([0.40, 0.41])
    lfc_image = np.zeros((2, 1, 1, 2, 2))
    return xr.Dataset(
        {
            "f50": (("image_set", "sample"), [[0.1, 0.12], [0.05, 0.07]]),
            "f50_noise": (("image_set", "sample"), [[0.401, 0.399], [0.409, 0.411]]),
            "f50_blurred": (("image_set", "sample"), [[0.05, 0.06], [0.03, 0.04]]),
            "noise_f50_flat": ("image_set", flat),
            "image_size": ("image_set", [32, 28]),
            "kappa_high": (("kernel_family", "kernel_size"), [[0.9, 0.8, 0.7], [0.5, 0.4, 0.3]]),
            "kappa_high_box_closed_form": ("kernel_size", [0.9, 0.8, 0.7]),
            "lfc_image": (("image_set", "lfc_example", "channel", "row", "col"), lfc_image),
            "lfc": (("image_set", "lfc_example", "lfc_radius", "channel", "row", "col"), np.zeros((2, 1, 2, 1, 2, 2))),
            "hfc": (("image_set", "lfc_example", "lfc_radius", "channel", "row", "col"), np.zeros((2, 1, 2, 1, 2, 2))),
            "lfc_energy_fraction": (("image_set", "sample", "lfc_radius"), [[[0.5, 0.9]] * 2] * 2),
        },
        coords={"image_set": sets, "kernel_family": ["box", "gaussian-k/6"], "kernel_size": k,
                "lfc_radius": [2.0, 4.0]},
    )
