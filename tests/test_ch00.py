"""Chapter 0 (Fourier toolkit on real images): configs, metrics vs independent references,
combining runs of different sizes, claims and generated text on synthetic results, a real run.

Generic chapter checks (presets, smoke run, resume, notebook) are in tests/test_chapters.py;
the image helpers (noise, blur, kernels, energy fractions) in tests/test_images.py.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from freqkit import results, sweep
from freqkit.experiments import ch00
from freqkit.images import CONTINUOUS_NOISE_F50, gaussian_blur, gaussian_kernel

MACHINE_PATH = re.compile(r"(?<![\w.:/~-])/(?:work|tmp|usr|root|home|opt|var|mnt|srv|etc)/")


# --------------------------------------------------------------------------- presets and configs
def test_presets_sizes_and_grids() -> None:
    smoke, cpu, paper = (ch00.get_preset(n) for n in ("smoke", "cpu", "paper"))
    assert smoke.n_foolbox == cpu.n_foolbox == paper.n_foolbox == 20
    assert smoke.n_fashion_mnist < cpu.n_fashion_mnist and paper.n_fashion_mnist is None
    assert smoke.n_cifar10 < cpu.n_cifar10 and paper.n_cifar10 is None
    for name in ch00.PRESETS:
        runs = ch00.configs(name)
        assert [c.image_set for c in runs[:-1]] == list(ch00.IMAGE_SETS)
        assert isinstance(runs[-1], ch00.KernelConfig) and runs[-1].kernel_sizes == tuple(range(3, 33))
    runs = ch00.configs("cpu", available=("fashion-mnist",))
    assert [type(c).__name__ for c in runs] == ["ImageSetConfig", "KernelConfig"] and runs[0].n_images == 2_000
    assert ch00.CHAPTER.grid("smoke", available=()) == [ch00.KernelConfig()]  # no image set: the kernels only


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


# --------------------------------------------------------------------------- metrics vs references
def test_kernel_kappa_matches_closed_form_and_numpy_reference() -> None:
    cfg = ch00.KernelConfig(kernel_sizes=(3, 4, 7, 16, 32), n=32, gaussian_widths=(6.0,))
    ds = ch00.kernel_kappa(cfg)
    box = ds.kappa_high.sel(kernel_family="box").values
    assert np.max(np.abs(box - ds.kappa_high_box_closed_form.values)) < 1e-12
    m = np.arange(32) - 16
    for j, k in enumerate(cfg.kernel_sizes):
        padded = np.zeros((32, 32))
        padded[:k, :k] = gaussian_kernel(k, k / 6)
        power = np.abs(np.fft.fftshift(np.fft.fft2(padded))) ** 2
        inside = (2 * np.abs(m)[:, None] <= k) & (2 * np.abs(m)[None, :] <= k)
        expected = power[~inside].sum() / power.sum()
        assert abs(ds.kappa_high.sel(kernel_family="gaussian-k/6").values[j] - expected) < 1e-12
    assert box[-1] == 0.0 and box[0] > 0.9  # k = n: all inside; k = 3: mostly outside
    assert int(ds.kernel_padded_size) == 32


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


def test_jpeg_pair_metrics_of_a_nyquist_error_are_analytic() -> None:
    n = 8
    exact = gaussian_blur(torch.rand(3, 1, n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(4)), 1)
    checker = (-1.0) ** (torch.arange(n)[:, None] + torch.arange(n)[None, :]).double()
    m = ch00.jpeg_pair_metrics(exact, exact + 0.02 * checker, torch.tensor([4, 5, 6]))
    # MSE = 0.02² -> PSNR = 10 log10(1 / 4e-4) = 33.979 dB; all error energy at the grid corner r = √2 / 2
    np.testing.assert_allclose(m["pair_psnr"][1], 10 * math.log10(1 / 0.02**2), rtol=1e-12)
    np.testing.assert_allclose(m["pair_f50_error"][1], math.sqrt(2) / 2, rtol=1e-12)
    # high-band share against numpy's FFT with an explicit radius mask
    f = np.fft.fftfreq(n)
    high = np.hypot(f[:, None], f[None, :]) >= 0.25
    for key, x in (("exact", exact), ("source", exact + 0.02 * checker)):
        e = (x - x.mean((-2, -1), keepdim=True)).numpy()[:, 0]
        power = np.abs(np.fft.fft2(e, norm="ortho")) ** 2
        np.testing.assert_allclose(m[f"pair_high_fraction_{key}"][1], power[:, high].sum(1) / power.sum((1, 2)),
                                   rtol=1e-10)
    assert np.all(m["pair_high_fraction_source"][1] > m["pair_high_fraction_exact"][1])
    assert m["pair_test_index"][1].tolist() == [4, 5, 6]


# --------------------------------------------------------------------------- combining runs of different sizes
def _runs(tmp_path: Path) -> tuple[list[Path], xr.Dataset]:
    """The synthetic results split into run files (two image sets, the kernels)."""
    toy = ch00._toy_run()
    paths = []
    for s in toy.image_set.values:
        d = toy.sel(image_set=[s]).dropna("sample", how="all")
        d = ch00.combine_datasets([d], ["x"])  # crop the NaN padding of the other set
        for dim in ("fy", "fx", "radius", "row", "col", "pair", "channel"):
            if dim in d.dims:
                d = d.dropna(dim, how="all")
        d = d.drop_vars([v for v in d.data_vars if "image_set" not in d[v].dims])
        paths.append(results.save_results(d, tmp_path / f"{s}.nc"))
    kernels = toy[["kappa_high", "kappa_high_box_closed_form", "kernel_padded_size"]]
    paths.append(results.save_results(kernels, tmp_path / "kernels.nc"))
    return paths, toy


def test_combine_pads_sets_of_different_sizes_and_refuses_conflicting_duplicates(tmp_path: Path) -> None:
    paths, toy = _runs(tmp_path)
    ds = ch00.combine(paths[::-1])  # any order: image sets come back in IMAGE_SETS order
    assert ds.image_set.values.tolist() == ["fashion-mnist", "cifar10"]
    np.testing.assert_array_equal(ds.f50.values, toy.f50.values)
    fm = ds.sel(image_set="fashion-mnist")
    assert int(fm.f50.notnull().sum()) == 64 and int(fm.mean_power.sel(spectrum="images").notnull().sum()) == 144
    assert bool(fm.pair_psnr.isnull().all())  # pairs only for cifar10
    # an identical copy of a run is read once
    copy = tmp_path / "copy.nc"
    copy.write_bytes(paths[0].read_bytes())
    np.testing.assert_array_equal(ch00.combine([*paths, copy]).f50.values, ds.f50.values)
    # a different run of the same image set is refused, naming both files
    other = results.load_results(paths[1])
    results.save_results(other.assign(f50=other.f50 + 0.01), tmp_path / "other.nc")
    with pytest.raises(ValueError, match=r"'.*cifar10\.nc' and '.*other\.nc' are two different runs.*image_set=cifar10"):
        ch00.combine([*paths, tmp_path / "other.nc"])
    kernels = results.load_results(paths[2])
    results.save_results(kernels.assign(kappa_high=kernels.kappa_high * 0.5), tmp_path / "k2.nc")
    with pytest.raises(ValueError, match="two different runs"):
        ch00.combine([*paths, tmp_path / "k2.nc"])
    with pytest.raises(ValueError, match="pass the run files"):
        ch00.combine(tmp_path)


# --------------------------------------------------------------------------- claims and findings on synthetic results
def test_claims_hold_on_toy_results() -> None:
    t = ch00.claims_table(ch00._toy_run())
    assert t.kind.tolist() == ["toolkit"] * 6 + ["data finding"] * 2
    assert t.holds.tolist()[:6] == ["yes"] * 6


@pytest.mark.parametrize("change, row", [
    (lambda d: d.assign(f50=d.f50 * 4), 0),  # images as high as noise
    (lambda d: d.assign(f50_noise=d.f50_noise + 0.02), 1),  # noise off the analytic median
    (lambda d: d.assign(f50_blurred=d.f50 + 0.01), 2),  # blur raising f50
    (lambda d: d.assign(kappa_high_box_closed_form=d.kappa_high_box_closed_form + 1e-5), 3),
    (lambda d: d.assign(kappa_high=(d.kappa_high.dims, [d.kappa_high.values[0], d.kappa_high.values[1, ::-1],
                                                        d.kappa_high.values[2]])), 4),
    (lambda d: d.assign(hfc=d.hfc + 1e-3), 5),  # LFC + HFC != x
])
def test_claims_fail_when_violated(change, row: int) -> None:
    t = ch00.claims_table(change(ch00._toy_run()))
    toolkit = t[t.kind == "toolkit"].holds.tolist()
    assert toolkit[row] == "no" and toolkit.count("no") == 1
    verdict = ch00.findings(change(ch00._toy_run()))["ch00_verdict"]
    assert verdict.startswith("5 of 6 toolkit claims hold (not: ") and t.claim[row] in verdict


def test_findings_text_follows_the_data() -> None:
    toy = ch00._toy_run()
    f = ch00.findings(toy)
    f50 = toy.f50.mean("sample")
    noise = toy.f50_noise.mean("sample")
    assert f["ch00_ratio_range"] == "–".join(dict.fromkeys(f"{float(v):.0f}" for v in sorted((noise / f50).values)))
    assert f["ch00_verdict"] == "all 6 toolkit claims hold"
    assert f["ch00_sizes"] == "12 and 16" and f["ch00_k_first"] == "3" and f["ch00_k_last"] == "8"
    assert f["ch00_lowest_text"].startswith("cifar10 (16 px)") == (float(f50[1]) < float(f50[0]))
    assert f["ch00_continuum"] == f"{CONTINUOUS_NOISE_F50:.4f}"
    assert f["ch00_seconds"] == "2"  # 1 s per synthetic image-set run, the kernels not timed
    # the JPEG sentence follows the numbers: a shift beyond the threshold is reported as such
    assert "harmless" in f["ch00_jpeg_text"]
    shifted = toy.assign(pair_f50_source=toy.pair_f50_source + 0.02)
    assert "shifts the images' f50 noticeably" in ch00.findings(shifted)["ch00_jpeg_text"]
    assert "skipped" in ch00.findings(toy.drop_vars([v for v in toy if v.startswith("pair_")]))["ch00_jpeg_text"]
    assert ch00.findings(toy)["ch00_dc_text"].startswith("With DC kept, f50 falls to")
    assert "not lower" in ch00.findings(toy.assign(f50_with_dc=toy.f50 * 2))["ch00_dc_text"]
    # monotone kappa: no "not monotonically" phrase
    mono = toy.assign(kappa_high=toy.kappa_high.copy(data=np.sort(toy.kappa_high.values, axis=1)[:, ::-1]))
    assert ch00.findings(mono)["ch00_rises_text"] == "monotonically"
    assert "not monotonically" in f["ch00_rises_text"]  # the toy's σ = k/4 Gaussian has a rise


def test_tables_on_toy_results() -> None:
    toy = ch00._toy_run()
    t = ch00.f50_table(toy)
    np.testing.assert_allclose(t["images (mean removed)"], toy.f50.mean("sample").values)
    np.testing.assert_allclose(t["white noise (sd)"], toy.f50_noise.std("sample", ddof=1).values)
    s = ch00.image_set_table(toy)
    assert s["size"].tolist() == ["12×12×1", "16×16×3"] and s["images"].tolist() == [64, 200]
    j = ch00.jpeg_table(ch00.jpeg_finding(toy))
    assert j.iloc[0].tolist() == ["matched pairs / mean PSNR", "20", "40.0 dB"]


# --------------------------------------------------------------------------- a real run (foolbox ships its samples)
@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> xr.Dataset:
    out = tmp_path_factory.mktemp("ch00")
    cfgs = [ch00.ImageSetConfig(image_set="foolbox-cifar10", n_images=20), ch00.KernelConfig()]
    return ch00.combine(sweep.run_sweep(cfgs, ch00.run_one, out, progress=False))


def test_run_numbers(small_run: xr.Dataset) -> None:
    ds = small_run
    d = ds.sel(image_set="foolbox-cifar10")
    noise = d.f50_noise.values
    # white noise: mean over 20 images within 4 standard errors (+ 1e-3) of the flat-spectrum f50
    assert abs(noise.mean() - float(d.noise_f50_flat)) < 4 * noise.std(ddof=1) / math.sqrt(20) + 1e-3
    assert abs(float(d.noise_f50_flat) - CONTINUOUS_NOISE_F50) < 2e-3
    assert np.all(d.f50.values < noise)  # each image below its same-shape noise
    assert np.all(d.f50_blurred.values < d.f50.values)
    assert np.all((d.f50.values > 0) & (d.f50.values < 0.71))
    # stored reconstructions: LFC + HFC == input, and the LFC is not the image
    assert float(abs(d.lfc + d.hfc - d.lfc_image).max()) < 1e-6
    assert float(abs(d.lfc.isel(lfc_radius=-1) - d.lfc_image).max()) > 0
    # Parseval: each example's power sums to the energy of the centred image
    x = d.example_image.values
    centred = x - x.mean((-2, -1), keepdims=True)
    np.testing.assert_allclose(d.example_power.sum(("fy", "fx")).values, (centred**2).sum((1, 2, 3)), rtol=1e-5)
    # the source is described without machine paths; the full source is in the file's provenance
    assert d.dataset_description.item().startswith("foolbox") and "sha256-uint8:" in d.dataset_description.item()
    assert d.dataset_selection.item() == "samples 0..19"
    assert not MACHINE_PATH.search(d.dataset_description.item())
    assert float(d.compute_seconds) > 0 and float(ds.kernel_compute_seconds) >= 0
    assert ch00.claims_table(ds).holds.tolist() == ["yes"] * 6


def test_available_image_sets_describe_sources_without_machine_paths() -> None:
    ok, missing = ch00.available_image_sets()
    assert {"foolbox-cifar10", "foolbox-imagenet"} <= set(ok)
    assert set(ok) | set(missing) == set(ch00.IMAGE_SETS)
    for name, text in ok.items():
        assert not MACHINE_PATH.search(text), (name, text)


def test_jpeg_pairs_match_the_same_pictures(shared_data: Path) -> None:
    """With the CIFAR-10 source present, each foolbox sample finds its own JPEG copy."""
    ok, missing = ch00.available_image_sets(names=("cifar10",))
    if not ok:
        pytest.skip(f"no CIFAR-10 source: {missing}")
    pairs = ch00._jpeg_pairs()
    assert np.all(pairs["pair_psnr"][1] > ch00.JPEG_MATCH_PSNR)
    assert len(set(pairs["pair_test_index"][1].tolist())) == 20
