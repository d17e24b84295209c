"""Chapter 3 (κ_high vs kernel size): presets, grid, linear theory, claim checks, notebook."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from freqkit import spectra, sweep
from freqkit.experiments import ch03

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "03_kernel_size_kappa.ipynb"


# --------------------------------------------------------------------------- presets and grid
def test_presets_sizes() -> None:
    assert set(ch03.PRESETS) == {"smoke", "cpu", "paper"}
    smoke, cpu, paper = (ch03.get_preset(n) for n in ("smoke", "cpu", "paper"))
    assert smoke.train.epochs == 1 and len(smoke.seeds) == 1 and smoke.n_train <= 1024
    assert len(ch03.configs(smoke)) <= 4
    assert cpu.kernel_sizes == paper.kernel_sizes == (3, 7, 9, 11, 15, 21, 32)
    assert cpu.depths == paper.depths == (1, 3)
    assert len(paper.seeds) == 5 and paper.train.epochs == 40 and paper.n_train is None
    assert all(p.kappa_k == 15 for p in ch03.PRESETS.values())
    for p in ch03.PRESETS.values():
        assert p.epsilon_main in p.epsilons


def test_get_preset_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"preset='gpu'.*'smoke', 'cpu', 'paper'"):
        ch03.get_preset("gpu")


@pytest.mark.parametrize("bad", [(), ("imagenet",), ["mnist", "cifar-10"]])
def test_run_rejects_bad_datasets_naming_them(bad, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"datasets=.*not allowed.*'fashion-mnist'"):
        ch03.run("smoke", tmp_path, datasets=bad, progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf"), "0.01", True])
def test_run_rejects_bad_fixed_lr_naming_it(bad, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"fixed_lr=.*not allowed"):
        ch03.run("smoke", tmp_path, fixed_lr=bad, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_run_fixed_lr_trains_every_run_at_that_rate_once(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    ds = ch03.run("smoke", tmp_path, datasets="mnist", fixed_lr=0.02, progress=False)
    np.testing.assert_allclose(ds.lr.values[np.isfinite(ds.lr.values)], 0.02)
    assert np.all(ds.n_lr_tries.values[np.isfinite(ds.n_lr_tries.values)] == 1)
    base = ch03.run("smoke", tmp_path, datasets="mnist", progress=False)  # other files
    assert len(list(tmp_path.glob("*.nc"))) == 2 * len(ch03.configs("smoke", "mnist"))
    assert np.all(base.lr.values[np.isfinite(base.lr.values)] == ch03.get_preset("smoke").train.lr)


def test_run_datasets_override_combines_only_its_own_runs(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    first = ch03.run("smoke", tmp_path, progress=False)
    default = str(first.dataset.values[0])
    assert default in ("cifar10", "fashion-mnist")
    other = ch03.run("smoke", tmp_path, datasets=("mnist", "fashion-mnist"), progress=False)
    assert other.dataset.values.tolist() == ["mnist"]  # the first that loads; not combined
    n = len(ch03.configs("smoke", "mnist"))
    assert len(list(tmp_path.glob("*.nc"))) == 2 * n  # both sweeps' files are kept
    again = ch03.run("smoke", tmp_path, progress=False)
    assert again.dataset.values.tolist() == [default]


@pytest.mark.parametrize("dataset, pad_to", [("cifar10", None), ("fashion-mnist", 32)])
def test_configs_grid(dataset: str, pad_to: int | None) -> None:
    p = ch03.get_preset("cpu")
    cs = ch03.configs(p, dataset)
    assert len(cs) == len(p.kernel_sizes) * len(p.depths) * len(p.seeds)
    assert {(c.model, c.grayscale, c.pad_to, c.dataset, c.kappa_k) for c in cs} == {
        ("lkc", True, pad_to, dataset, 15)}
    grid = {(c.depth, c.kernel_size, c.seed) for c in cs}
    assert len(grid) == len(cs)
    assert len({sweep.run_key(c) for c in cs}) == len(cs)  # one result file per run


# --------------------------------------------------------------------------- linear theory
def _self_convolved_box_power(k: int, n: int, depth: int) -> np.ndarray:
    """Power spectrum of the depth-fold circular self-convolution, computed in space."""
    box = np.zeros((n, n))
    box[:k, :k] = 1.0
    out = box.copy()
    for _ in range(depth - 1):  # circular convolution via explicit shifts (independent of FFT)
        acc = np.zeros((n, n))
        for i, j in zip(*np.nonzero(box)):
            acc += np.roll(np.roll(out, i, axis=0), j, axis=1)
        out = acc
    return spectra.power_spectrum(out)


@pytest.mark.parametrize("k, depth", [(3, 1), (3, 2), (5, 3), (15, 1), (9, 2), (32, 1)])
def test_box_kappa_matches_explicit_self_convolution(k: int, depth: int) -> None:
    n = 32
    expected = float(spectra.kappa_high(_self_convolved_box_power(k, n, depth), 15))
    assert ch03.box_kappa_high(k, n, 15, depth) == pytest.approx(expected, abs=1e-10)


def test_box_kappa_matches_spectra_closed_form() -> None:
    for k in (3, 7, 15):  # spectra's closed form uses band = kernel size
        assert ch03.box_kappa_high(k, 32, k) == pytest.approx(
            spectra.kappa_high_box_closed_form(k, 32), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(s=st.integers(1, 12), seed=st.integers(0, 2**31 - 1))
def test_uncertainty_bound_is_a_lower_bound(s: int, seed: int) -> None:
    n = 32
    kernel = np.random.default_rng(seed).normal(size=(s, s))
    kappa = float(spectra.kappa_high(spectra.power_spectrum(kernel, size=n), 15))
    assert kappa >= ch03.uncertainty_kappa_bound(s, n, 15) - 1e-10


@pytest.mark.parametrize("s", [1, 2, 3, 4])
def test_uncertainty_bound_is_attained_by_the_slepian_kernel(s: int) -> None:
    n, b = 32, 7
    d = np.subtract.outer(np.arange(s), np.arange(s)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(d == 0, (2 * b + 1) / n, np.sin(np.pi * (2 * b + 1) * d / n) / (n * np.sin(np.pi * d / n)))
    v = np.linalg.eigh(a)[1][:, -1]
    kernel = np.outer(v, v)
    kappa = float(spectra.kappa_high(spectra.power_spectrum(kernel, size=n), 15))
    assert kappa == pytest.approx(ch03.uncertainty_kappa_bound(s, n, 15), abs=1e-10)
    if s == 1:
        assert kappa == pytest.approx(1 - (15 / 32) ** 2)


def test_random_kernels_have_flat_expected_spectrum() -> None:
    flat = 1 - (15 / 32) ** 2
    for k, depth in ((3, 1), (11, 1), (7, 3)):
        mean, std = ch03.random_kernel_kappa_high(k, 32, 15, depth, draws=400, seed=1)
        assert abs(mean - flat) < 4 * std / np.sqrt(400) + 0.01
    # small kernels scatter more around the flat value than large ones
    assert ch03.random_kernel_kappa_high(3, 32, 15)[1] > ch03.random_kernel_kappa_high(21, 32, 15)[1]


def test_theory_curves_trends() -> None:
    th = ch03.theory_curves(list(ch03.PAPER_KERNEL_SIZES), [1, 3], draws=64)
    assert th.box.dims == ("depth", "kernel_size")
    assert bool((th.box.sel(depth=1).diff("kernel_size") < 0).all())
    assert float(th.box.sel(depth=1, kernel_size=32)) == 0.0
    assert bool((th.bound <= th.box + 1e-12).all())
    # stacking identical boxes makes the product MORE low-pass, not less
    assert bool((th.box.sel(depth=3) <= th.box.sel(depth=1)).all())


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0, n=32, kappa_k=15), "k=0"),
    (dict(k=33, n=32, kappa_k=15), "k=33"),
    (dict(k=3, n=32, kappa_k=40), "kappa_k=40"),
    (dict(k=3, n=32, kappa_k=15, depth=0), "depth=0"),
])
def test_box_kappa_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ch03.box_kappa_high(**kwargs)


# --------------------------------------------------------------------------- claims
def _fake_results(kb: np.ndarray, kd: np.ndarray, ks: list[int], depths: list[int]) -> xr.Dataset:
    dims = ("model", "dataset", "nonlinearity", "depth", "kernel_size", "seed")
    shape = (1, 1, 1, *kb.shape)
    return xr.Dataset(
        {
            "beta_kappa_high": (dims, kb.reshape(shape)),
            "delta_kappa_high": ((*dims, "epsilon"), kd.reshape(shape)[..., None]),
            "test_accuracy": (dims, np.full(shape, 0.3)),
        },
        coords={"model": ["lkc"], "dataset": ["x"], "nonlinearity": ["linear"], "depth": depths,
                "kernel_size": ks, "seed": np.arange(kb.shape[-1]), "epsilon": [1.0]},
    )


def test_claims_hold_on_a_paper_like_result() -> None:
    kb = np.array([[[0.80, 0.82], [0.50, 0.52], [0.10, 0.12]],
                   [[0.90, 0.92], [0.70, 0.71], [0.20, 0.30]]])
    rows = ch03.claims_table(_fake_results(kb, kb * 0.9, [3, 11, 32], [1, 3]))
    assert len(rows) == 6 and all(r["holds"] == "yes" for r in rows)
    assert "0.810 → k=32: 0.110" in rows[0]["measured"]  # seed means


def test_claims_fail_when_kappa_rises_or_depth_lowers_it() -> None:
    kb = np.array([[[0.1], [0.5], [0.8]], [[0.05], [0.3], [0.6]]])  # rises with k; depth 3 lower
    rows = ch03.claims_table(_fake_results(kb, kb, [3, 11, 32], [1, 3]))
    assert [r["holds"] for r in rows] == ["no"] * 6


def test_kappa_summary_rejects_several_models() -> None:
    ds = _fake_results(np.zeros((1, 2, 1)), np.zeros((1, 2, 1)), [3, 5], [1])
    two = xr.concat([ds, ds.assign_coords(model=["fc"])], dim="model")
    with pytest.raises(ValueError, match="2 values along 'model'"):
        ch03.kappa_summary(two)


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
        assert len(files) == len(ch03.configs("smoke"))
        mtimes = {f: f.stat().st_mtime_ns for f in files}
        ds = sweep.combine_runs(results)
        assert {"kernel_size", "depth", "seed", "epsilon"} <= set(ds.dims)
        assert sorted(ds.kernel_size.values.tolist()) == list(ch03.get_preset("smoke").kernel_sizes)
        acc = ds.test_accuracy.values
        assert np.all((acc >= 0) & (acc <= 1))
        assert np.all(np.isfinite(ds.beta_kappa_high.values))
        assert np.all((ds.beta_kappa_high.values >= 0) & (ds.beta_kappa_high.values <= 1))
        assert np.all((ds.beta_f50.values >= 0) & (ds.beta_f50.values <= 0.71))
        ok = ds.n_success.values > 0
        assert ok.any()
        assert np.all(np.isfinite(ds.delta_f50.values[ok]))
        assert np.all((ds.delta_f50.values[ok] >= 0) & (ds.delta_f50.values[ok] <= 0.71))
        assert "dataset_source" in ds.attrs and ds.attrs["dataset_source"]
        execute()  # second run: every run is already on disk
        assert {f: f.stat().st_mtime_ns for f in sorted(results.glob("*.nc"))} == mtimes
    finally:
        if env_threads is None:
            os.environ.pop("FREQKIT_THREADS", None)
        else:
            os.environ["FREQKIT_THREADS"] = env_threads
