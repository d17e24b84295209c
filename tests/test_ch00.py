"""Chapter 0 (Fourier toolkit on real images): presets, metrics vs independent references, run numbers, notebook."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from freqkit import spectra, sweep
from freqkit.experiments import ch00

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "00_fourier_toolkit.ipynb"


# --------------------------------------------------------------------------- presets and configs
def test_presets_are_ordered_by_size() -> None:
    assert list(ch00.PRESETS) == ["smoke", "cpu", "paper"]
    smoke, cpu, paper = (ch00.get_preset(n) for n in ch00.PRESETS)
    assert smoke.n_foolbox == cpu.n_foolbox == paper.n_foolbox == 20
    assert smoke.n_fashion_mnist < cpu.n_fashion_mnist and paper.n_fashion_mnist is None
    assert smoke.n_cifar10 < cpu.n_cifar10 and paper.n_cifar10 is None
    for name in ch00.PRESETS:
        runs = ch00.configs(name)
        assert [c.image_set for c in runs[:-1]] == list(ch00.IMAGE_SETS)
        assert isinstance(runs[-1], ch00.KernelConfig) and runs[-1].kernel_sizes == tuple(range(3, 33))
        assert len({sweep.run_key(c) for c in runs}) == len(runs)  # one file per run


def test_configs_restricted_to_available_sets() -> None:
    runs = ch00.configs("cpu", image_sets=("fashion-mnist",))
    assert [type(c).__name__ for c in runs] == ["ImageSetConfig", "KernelConfig"]
    assert runs[0].n_images == 2_000


@pytest.mark.parametrize("kwargs, match", [
    (dict(image_set="mnist", n_images=10), "image_set='mnist' is not allowed"),
    (dict(image_set="foolbox-cifar10", n_images=21), "foolbox ships 20"),
    (dict(image_set="cifar10", n_images=1), "n_images must be None or an int >= 2"),
    (dict(image_set="cifar10", n_images=10, blur_sigma=0.0), "blur_sigma must be > 0"),
    (dict(image_set="cifar10", n_images=10, lfc_radii=(2.0, -1.0)), "lfc_radii"),
])
def test_image_set_config_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ch00.ImageSetConfig(**kwargs)


def test_get_preset_lists_allowed_names() -> None:
    with pytest.raises(ValueError, match=r"preset='gpu' is not allowed; use one of \['smoke', 'cpu', 'paper'\]"):
        ch00.get_preset("gpu")


# --------------------------------------------------------------------------- metrics vs references
def test_gaussian_blur_multiplies_power_by_transfer_function() -> None:
    x = torch.rand(3, 2, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sigma = 1.3
    fy, fx = spectra.frequency_grid(16)
    expected = np.abs(np.fft.fftshift(np.fft.fft2(x.numpy(), norm="ortho"), axes=(-2, -1))) ** 2 \
        * np.exp(-4 * math.pi**2 * sigma**2 * (fy**2 + fx**2))
    got = spectra.power_spectrum(ch00.gaussian_blur(x, sigma)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)


def test_white_noise_f50_matches_flat_spectrum_and_grid_median() -> None:
    for n in (28, 32):
        noise = ch00.white_noise((64, 3, n, n), seed=n, dtype=torch.float64)
        f50 = ch00.image_f50(noise).numpy()
        flat = ch00.flat_spectrum_f50(n)
        assert abs(f50.mean() - flat) < 4 * f50.std(ddof=1) / 8 + 1e-3
        # two independent definitions of "median radius" agree within one radius gap
        assert abs(flat - ch00.grid_median_radius(n)) < 1 / n
    # the continuum limit 1/sqrt(2 pi)
    assert abs(ch00.flat_spectrum_f50(256) - ch00.CONTINUOUS_NOISE_F50) < 2e-3
    assert abs(ch00.grid_median_radius(256) - ch00.CONTINUOUS_NOISE_F50) < 2e-3


def test_kernel_kappa_matches_closed_form_and_numpy_reference() -> None:
    cfg = ch00.KernelConfig(kernel_sizes=(3, 4, 7, 16, 32), n=32, gaussian_widths=(6.0,))
    ds = ch00.kernel_kappa(cfg)
    box = ds.kappa_high.sel(kernel_family="box").values
    assert np.max(np.abs(box - ds.kappa_high_box_closed_form.values)) < 1e-12
    m = np.arange(32) - 16
    for j, k in enumerate(cfg.kernel_sizes):
        padded = np.zeros((32, 32))
        padded[:k, :k] = ch00.gaussian_kernel(k, k / 6)
        power = np.abs(np.fft.fftshift(np.fft.fft2(padded))) ** 2
        inside = (2 * np.abs(m)[:, None] <= k) & (2 * np.abs(m)[None, :] <= k)
        expected = power[~inside].sum() / power.sum()
        assert abs(ds.kappa_high.sel(kernel_family="gaussian-k/6").values[j] - expected) < 1e-12
    assert box[-1] == 0.0 and box[0] > 0.9  # k = n: all inside; k = 3: mostly outside


def test_lfc_energy_fraction_equals_strict_radius_power_fraction() -> None:
    x = torch.rand(4, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    radii = (1.0, 2.0, 2.5, 5.0)
    got = ch00.lfc_energy_fraction(x, radii).numpy()
    power = spectra.power_spectrum(x.numpy(), remove_mean=True, combine_channels=True)
    my, mx = spectra.frequency_index(12)
    dist = np.sqrt(my**2 + mx**2)
    expected = np.stack([power[:, dist < r].sum(1) / power.sum((1, 2)) for r in radii], -1)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)
    assert got[:, 0].max() < 1e-12  # r = 1 keeps only DC, which the mean removal zeroed


def test_match_pairs_recovers_a_noisy_permutation() -> None:
    g = torch.Generator().manual_seed(2)
    pool = torch.rand(30, 3, 8, 8, generator=g)
    labels = torch.arange(30) % 3
    pick = torch.tensor([7, 0, 29, 13])
    query = pool[pick] + 0.01 * torch.randn(4, 3, 8, 8, generator=g)
    assert ch00.match_pairs(query, labels[pick], pool, labels).tolist() == pick.tolist()
    # the label restricts the search: with a wrong label the true image cannot be chosen
    wrong = ch00.match_pairs(query[:1], torch.tensor([(int(labels[7]) + 1) % 3]), pool, labels)
    assert int(wrong) != 7


def test_psnr_closed_form() -> None:
    a = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    b = a.clone()
    b[1] += 0.01
    got = ch00.psnr_db(a, b)
    assert math.isinf(got[0]) and abs(float(got[1]) - 40.0) < 1e-9


# --------------------------------------------------------------------------- claims on hand-made results
def test_claims_hold_on_toy_results() -> None:
    assert [r["holds"] for r in ch00.claims_table(ch00._toy_results())] == ["yes"] * 6


@pytest.mark.parametrize("change, row", [
    (lambda d: d.assign(f50=d.f50 * 4), 0),  # images as high as noise
    (lambda d: d.assign(f50_noise=d.f50_noise + 0.02), 1),  # noise off the analytic median
    (lambda d: d.assign(f50_blurred=d.f50 + 0.01), 2),  # blur raising f50
    (lambda d: d.assign(kappa_high_box_closed_form=d.kappa_high_box_closed_form + 1e-5), 3),
    (lambda d: d.assign(kappa_high=(d.kappa_high.dims, [d.kappa_high.values[0], d.kappa_high.values[1, ::-1]])), 4),
    (lambda d: d.assign(hfc=d.hfc + 1e-3), 5),  # LFC + HFC != x
])
def test_claims_fail_when_violated(change, row: int) -> None:
    rows = ch00.claims_table(change(ch00._toy_results()))
    assert rows[row]["holds"] == "no"
    assert sum(r["holds"] == "no" for r in rows) == 1


# --------------------------------------------------------------------------- the run's numbers
@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> xr.Dataset:
    out = tmp_path_factory.mktemp("ch00")
    cfgs = [ch00.ImageSetConfig(image_set="foolbox-cifar10", n_images=20),
            ch00.KernelConfig()]
    paths = sweep.run_sweep(cfgs, ch00.run_one, out, progress=False)
    return ch00.combine(paths)


def test_run_numbers(small_run: xr.Dataset) -> None:
    ds = small_run
    d = ds.sel(image_set="foolbox-cifar10")
    noise = d.f50_noise.values
    # white noise: mean over 20 images within 4 standard errors (+ 1e-3) of the flat-spectrum f50
    assert abs(noise.mean() - float(d.noise_f50_flat)) < 4 * noise.std(ddof=1) / math.sqrt(20) + 1e-3
    assert abs(float(d.noise_f50_flat) - ch00.CONTINUOUS_NOISE_F50) < 2e-3
    assert np.all(d.f50.values < noise)  # each image below its same-shape noise
    assert d.f50.values.mean() < 0.5 * noise.mean()
    assert np.all(d.f50_blurred.values < d.f50.values)
    assert np.all((d.f50.values > 0) & (d.f50.values < 0.71))
    # box kappa by FFT == closed form, falls from k=3 to k=32
    box = ds.kappa_high.sel(kernel_family="box")
    assert float(abs(box - ds.kappa_high_box_closed_form).max()) < 1e-6
    assert float(box.sel(kernel_size=3)) > 0.9 and float(box.sel(kernel_size=32)) == 0.0
    # stored reconstructions: LFC + HFC == input; energy share grows with radius
    recon = d.lfc + d.hfc - d.lfc_image
    assert float(abs(recon).max()) < 1e-6
    assert float(abs(d.lfc.isel(lfc_radius=-1) - d.lfc_image).max()) > 0  # LFC is not the image
    assert bool((d.lfc_energy_fraction.diff("lfc_radius") >= 0).all())
    # mean spectrum: Parseval — the mean power sums to the mean energy of the centred images
    x = d.example_image.values  # the first 3 images
    centred = x - x.mean((-2, -1), keepdims=True)
    np.testing.assert_allclose(d.example_power.sum(("fy", "fx")).values, (centred**2).sum((1, 2, 3)), rtol=1e-5)
    assert d.dataset_source.item().startswith("foolbox") and d.dataset_checksum.item().startswith("sha256")
    assert [r["holds"] for r in ch00.claims_table(ds)] == ["yes"] * 6


# --------------------------------------------------------------------------- notebook (smoke)
@pytest.mark.notebook
def test_notebook_smoke(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    results = tmp_path / "results"

    def execute() -> None:
        papermill.execute_notebook(
            str(NOTEBOOK), str(tmp_path / "out.ipynb"), cwd=str(NOTEBOOK.parent),
            parameters={"preset": "smoke", "results_dir": str(results)}, kernel_name="python3",
            progress_bar=False,
        )

    env_threads = os.environ.get("FREQKIT_THREADS")
    os.environ["FREQKIT_THREADS"] = "1"
    try:
        execute()
        files = sorted(results.glob("*.nc"))
        available, _ = ch00.available_image_sets()
        assert len(files) == len(ch00.configs("smoke", tuple(available)))
        mtimes = {f: f.stat().st_mtime_ns for f in files}
        ds = ch00.combine(results)
        assert {"image_set", "sample", "fy", "fx", "radius", "lfc_radius", "kernel_size"} <= set(ds.dims)
        assert {"foolbox-cifar10", "foolbox-imagenet"} <= set(ds.image_set.values.tolist())
        for s in ds.image_set.values:
            d = ds.sel(image_set=s)
            f50 = d.f50.dropna("sample").values
            assert len(f50) == int(d.n_images) and np.all((f50 >= 0) & (f50 <= 0.71))
            noise = d.f50_noise.dropna("sample").values
            assert abs(noise.mean() - float(d.noise_f50_flat)) < 0.01
            assert f50.mean() < 0.5 * noise.mean()
            assert d.dataset_source.item()
        lfc = ds.lfc + ds.hfc - ds.lfc_image
        assert float(abs(lfc).max(skipna=True)) < 1e-6
        text = (tmp_path / "out.ipynb").read_text()
        assert "foolbox 3.3.4 shipped samples" in text  # the data source is shown
        execute()  # second run: every run is already on disk
        assert {f: f.stat().st_mtime_ns for f in sorted(results.glob("*.nc"))} == mtimes
    finally:
        if env_threads is None:
            os.environ.pop("FREQKIT_THREADS", None)
        else:
            os.environ["FREQKIT_THREADS"] = env_threads
