"""Chapter 4 (steganographic shortcuts): presets, grid, gain/claims arithmetic, notebook."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from freqkit import spectra, sweep
from freqkit.experiments import ch04

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "04_steganography.ipynb"


# --------------------------------------------------------------------------- presets and grid
def test_presets_sizes() -> None:
    assert set(ch04.PRESETS) == {"smoke", "cpu", "paper"}
    smoke, cpu, paper = (ch04.get_preset(n) for n in ("smoke", "cpu", "paper"))
    assert smoke.train.epochs == 1 and len(smoke.seeds) == 1 and smoke.n_train <= 1024
    assert "clean" in smoke.bands and len(smoke.bands) >= 2
    assert cpu.bands == paper.bands == ("clean", "low", "mid", "high")
    assert len(paper.seeds) == 5 and paper.train.epochs == 40 and paper.n_train is None
    for p in ch04.PRESETS.values():
        assert [m.name for m in p.models] == ["fkc", "lc", "lkc"]
        assert p.datasets[0] == "cifar10"


def test_get_preset_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"preset='gpu'.*'smoke', 'cpu', 'paper'"):
        ch04.get_preset("gpu")


def test_configs_grid_is_models_x_bands_x_seeds() -> None:
    p = ch04.get_preset("cpu")
    cs = ch04.configs(p, "fashion-mnist")
    assert len(cs) == len(p.models) * len(p.bands) * len(p.seeds)
    assert {c.dataset for c in cs} == {"fashion-mnist"}
    assert len({(c.model, c.band, c.seed) for c in cs}) == len(cs)
    assert len({sweep.run_key(c) for c in cs}) == len(cs)
    # one feature set for every run; clean runs carry no feature
    assert {c.feature_seed for c in cs} == {p.feature_seed}
    assert {c.epsilon for c in cs if c.band == "clean"} == {0.0}
    assert {c.epsilon for c in cs if c.band != "clean"} == {p.epsilon}
    for c in cs:
        if c.band != "clean":
            assert (c.band_lo, c.band_hi) == ch04.BAND_EDGES[c.band]


@pytest.mark.parametrize("n", [28, 32])
def test_band_edges_give_the_masks_of_spectra_bands(n: int) -> None:
    masks = []
    for name, (lo, hi) in ch04.BAND_EDGES.items():
        mask = spectra.band_mask(n, lo, hi)
        np.testing.assert_array_equal(mask, spectra.band_mask(n, *spectra.BANDS[name]))
        masks.append(mask)
    # the three bands tile the spectrum
    np.testing.assert_array_equal(np.sum(masks, axis=0), np.ones((n, n)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(band="ultra"), "band='ultra'"),
    (dict(band="high", band_lo=0.3, band_hi=0.2, epsilon=1.0), "band_lo=0.3"),
    (dict(band="high", band_lo=0.25, band_hi=math.inf, epsilon=1.0), "band_hi=inf"),
    (dict(band="mid", band_lo=0.1, band_hi=0.2, epsilon=0.0), "epsilon=0.0"),
    (dict(n_examples=0), "n_examples=0"),
])
def test_run_config_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ch04.StegoRunConfig(**kwargs)


def test_run_config_json_round_trip() -> None:
    for cfg in ch04.configs("cpu"):
        assert ch04.StegoRunConfig.from_dict(cfg.to_dict()) == cfg
        assert sweep.run_key(cfg.to_dict()) == sweep.run_key(cfg)


def test_example_indices_pick_one_image_per_class() -> None:
    y = np.array([2, 2, 0, 1, 0, 3, 1])
    idx = ch04._example_indices(y, 4)
    assert idx.tolist() == [2, 3, 0, 5]
    assert sorted(y[idx].tolist()) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- gain and claims
def _fake_results(acc: np.ndarray, psnr: float = 35.0,
                  models: tuple[str, ...] = ("fkc", "lc", "lkc"),
                  bands: tuple[str, ...] = ("clean", "low", "mid", "high")) -> xr.Dataset:
    dims = ("model", "band", "seed")
    ps = np.where(np.array(bands)[None, :, None] == "clean", np.nan, psnr) * np.ones(acc.shape)
    return xr.Dataset(
        {"test_accuracy": (dims, acc), "psnr_db": (dims, ps)},
        coords={"model": list(models), "band": list(bands), "seed": np.arange(acc.shape[-1])},
    )


def test_gain_is_paired_by_seed() -> None:
    # seed 0: clean 0.40 -> high 0.70; seed 1: clean 0.50 -> high 0.70
    acc = np.array([[[0.40, 0.50], [0.70, 0.70]]])
    s = ch04.gain_summary(_fake_results(acc, models=("lkc",), bands=("clean", "high")))
    g = s.sel(model="lkc", band="high")
    assert float(g.gain_mean) == pytest.approx(0.25)
    assert float(g.gain_std) == pytest.approx(np.std([0.30, 0.20], ddof=1))
    assert float(g.accuracy_mean) == pytest.approx(0.70) and float(g.accuracy_std) == 0.0
    assert float(s.gain_mean.sel(model="lkc", band="clean")) == 0.0
    assert int(g.n_seeds) == 2 and float(g.psnr_db_mean) == 35.0


def test_single_seed_std_is_nan() -> None:
    acc = np.array([[[0.4], [0.6]]])
    s = ch04.gain_summary(_fake_results(acc, models=("lkc",), bands=("clean", "high")))
    assert np.isnan(float(s.gain_std.sel(model="lkc", band="high")))


def _paper_like() -> np.ndarray:
    clean = np.array([0.40, 0.45, 0.50])
    rows = []
    for c, g in zip(clean, (0.015, 0.13, 0.31)):
        rows.append([[c, c], [1.0, 0.99], [c + g, c + g], [c + g + 0.01, c + g + 0.01]])
    return np.array(rows)


def test_claims_hold_on_the_paper_table() -> None:
    rows = ch04.claims_table(_fake_results(_paper_like()))
    assert [r["holds"] for r in rows] == ["yes"] * 6
    assert "LKC +31.0" in rows[1]["measured"]
    assert rows[-1]["measured"] == "low 35.0 dB, mid 35.0 dB, high 35.0 dB"


def test_claims_fail_when_gains_reverse_and_psnr_is_low() -> None:
    acc = _paper_like()[::-1].copy()  # model order reversed: FKC now gains most
    acc[:, 1] = 0.5                   # low band no longer ≈100 %
    rows = ch04.claims_table(_fake_results(acc, psnr=20.0))
    assert [r["holds"] for r in rows] == ["no"] * 6


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
        p = ch04.get_preset("smoke")
        assert len(files) == len(p.models) * len(p.bands) * len(p.seeds)
        mtimes = {f: f.stat().st_mtime_ns for f in files}
        ds = sweep.combine_runs(results)
        assert set(ch04.GRID_DIMS) <= set(ds.dims)
        assert sorted(ds.band.values.tolist()) == sorted(p.bands)
        acc = ds.test_accuracy.values
        assert np.all((acc >= 0) & (acc <= 1))
        shortcut = ds.sel(band=[b for b in p.bands if b != "clean"])
        assert np.all(np.isfinite(shortcut.psnr_db.values)) and np.all(shortcut.psnr_db.values > 20)
        assert np.all(np.isnan(ds.psnr_db.sel(band="clean").values))
        rates = shortcut.shortcut_rate.values
        assert np.all((rates >= 0) & (rates <= 1))
        # the stored feature is exactly what was added, and it is band-limited
        feat = shortcut.example_feature.values
        np.testing.assert_allclose(
            feat, shortcut.example_modified.values - shortcut.example_clean.values, atol=1e-6)
        np.testing.assert_array_equal(ds.example_feature.sel(band="clean").values, 0.0)
        assert ds.attrs["dataset_source"]
        for f in files:  # per-run training record: one rate per attempt, a reason per failure
            with xr.open_dataset(f) as one:
                lrs = json.loads(one.attrs["lrs_tried"])
                reasons = json.loads(one.attrs["failure_reasons"])
                assert lrs and lrs[-1] == pytest.approx(float(one.lr.values.ravel()[0]))
                assert len(reasons) == len(lrs) - (0 if int(one.failed.values.ravel()[0]) else 1)
        execute()  # second run: every run is already on disk
        assert {f: f.stat().st_mtime_ns for f in sorted(results.glob("*.nc"))} == mtimes
    finally:
        if env_threads is None:
            os.environ.pop("FREQKIT_THREADS", None)
        else:
            os.environ["FREQKIT_THREADS"] = env_threads
