"""Chapter 2 (f50 across datasets): presets, grid, f50 averaging, claims, dataset skipping, notebook."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from freqkit import sweep
from freqkit.experiments import ch02

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_f50_datasets.ipynb"


def test_presets_are_valid() -> None:
    assert list(ch02.PRESETS) == ["smoke", "cpu", "paper"]
    for name, p in ch02.PRESETS.items():
        assert p.name == name and set(p.models) == {"lkc", "lc", "fkc"}
        assert p.channels >= 1 and p.kernel_size >= 1
    paper = ch02.PRESETS["paper"]
    assert set(paper.datasets) == {"mnist", "fashion-mnist", "cifar10", "cifar100", "svhn"}
    assert paper.depths == (1, 2, 3) and paper.nonlinearities == ("linear", "relu")
    assert len(paper.seeds) == 5 and paper.train.epochs == 40
    with pytest.raises(ValueError, match="'smoke', 'cpu', 'paper'"):
        ch02.get_preset("big")


@pytest.mark.parametrize("preset", ["smoke", "cpu", "paper"])
def test_configs_cover_the_grid_once(preset: str) -> None:
    p = ch02.get_preset(preset)
    cs = ch02.configs(preset)
    grid = {(c.dataset, c.model, c.depth, c.nonlinearity, c.seed) for c in cs}
    assert grid == set(itertools.product(p.datasets, p.models, p.depths, p.nonlinearities, p.seeds))
    assert len(cs) == len(grid) == len({sweep.run_key(c) for c in cs})
    for c in cs:
        assert c.kernel_size == (None if c.model == "fkc" else p.kernel_size)
        assert c.channels == p.channels


def _fake(f50: dict[str, float], *, datasets=("a", "b"), seeds=(0, 1)) -> xr.Dataset:
    """Runs whose f50 = f50[model] + 0.01·depth (+0.005 for relu) + 0.001·seed."""
    runs = []
    for ds, model, depth, nl, seed in itertools.product(datasets, f50, (1, 2, 3),
                                                         ("linear", "relu"), seeds):
        v = f50[model] + 0.01 * depth + (0.005 if nl == "relu" else 0) + 0.001 * seed
        run = xr.Dataset({"beta_f50": ((), v), "delta_f50": (("epsilon",), [v / 2]),
                          "failed": ((), 0)}, coords={"epsilon": [1.0]})
        runs.append(sweep.expand_run_dims(run, {
            "model": model, "dataset": ds, "depth": depth, "nonlinearity": nl,
            "kernel_size": 0 if model == "fkc" else 3, "seed": seed}))
    return xr.combine_by_coords(runs, join="outer")


def test_f50_summary_averages_depths_and_nonlinearities() -> None:
    s = ch02.f50_summary(_fake({"fkc": 0.1, "lkc": 0.3, "lc": 0.2}))
    assert list(s.model.values) == ["lkc", "lc", "fkc"]
    # mean over depth of 0.01·depth = 0.02, over nonlinearity 0.0025
    expected = 0.3 + 0.02 + 0.0025 + 0.001
    assert s.beta_f50.sel(dataset="a", model="lkc", seed=1).item() == pytest.approx(expected)
    assert s.delta_f50.sel(dataset="b", model="lkc", seed=1).item() == pytest.approx(expected / 2)


def test_claims_table_checks_the_ordering_per_dataset() -> None:
    good = ch02.claims_table(_fake({"fkc": 0.1, "lkc": 0.3, "lc": 0.2}))
    assert len(good) == 4 and set(good.holds) == {"yes"}
    assert "LKC 0.323±0.001" in good.iloc[0, 2]
    bad = ch02.claims_table(_fake({"fkc": 0.1, "lkc": 0.2, "lc": 0.3}))
    assert set(bad.holds) == {"no"}


def test_failed_runs_are_left_out_of_the_average() -> None:
    ds = _fake({"fkc": 0.1, "lkc": 0.3, "lc": 0.2})
    bad = (ds.model == "lkc") & (ds.depth == 1) & (ds.nonlinearity == "linear") & (ds.seed == 0)
    ds["failed"] = xr.where(bad, 1, ds.failed)
    ds["beta_f50"] = xr.where(bad, 0.7, ds.beta_f50)
    s = ch02.f50_summary(ds)
    # mean over the 5 remaining runs: depths (2, 3) linear + (1, 2, 3) relu
    expected = 0.3 + (0.02 + 0.03 + 0.015 + 0.025 + 0.035) / 5
    assert s.beta_f50.sel(dataset="a", model="lkc", seed=0).item() == pytest.approx(expected)


def test_run_skips_unavailable_datasets_with_a_note(tmp_path: Path, monkeypatch, capsys) -> None:
    tiny = ch02.Preset(name="smoke", datasets=("mnist", "svhn"), seeds=(0,), n_train=8, n_val=2,
                       n_test=4, train=ch02.PRESETS["smoke"].train, n_attack=2, epsilons=(1.0,),
                       channels=1, depths=(1,), nonlinearities=("linear",))
    monkeypatch.setitem(ch02.PRESETS, "smoke", tiny)
    monkeypatch.setattr(ch02, "available_datasets", lambda names, grayscale: (
        {"mnist": "toy source"}, {"svhn": "no torchvision root"}))
    calls = []

    def fake_run(cfg):  # noqa: ANN001, ANN202
        calls.append(cfg)
        run = xr.Dataset({"beta_f50": ((), 0.2), "delta_f50": (("epsilon",), [0.1]),
                          "failed": ((), 0)}, coords={"epsilon": [1.0]})
        return sweep.expand_run_dims(run, cfg.grid_values())

    monkeypatch.setattr(ch02, "run_model_experiment", fake_run)
    ds = ch02.run("smoke", tmp_path, progress=False)
    assert "skipping dataset 'svhn': no torchvision root" in capsys.readouterr().out
    assert {c.dataset for c in calls} == {"mnist"} and len(calls) == 3
    assert list(ds.dataset.values) == ["mnist"]
    assert "svhn" in ds.attrs["skipped_datasets"]


@pytest.mark.notebook
def test_notebook_runs_at_smoke_and_resumes(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    out_dir = tmp_path / "results"

    def execute(name: str) -> None:
        papermill.execute_notebook(
            str(NOTEBOOK), str(tmp_path / name), parameters={"preset": "smoke",
                                                            "results_dir": str(out_dir)},
            cwd=str(NOTEBOOK.parent), kernel_name="python3", progress_bar=False)

    execute("run1.ipynb")
    files = sorted(out_dir.glob("*.nc"))
    assert len(files) == len(ch02.configs("smoke"))
    ds = sweep.combine_runs(out_dir)
    for dim in ("model", "dataset", "depth", "nonlinearity", "kernel_size", "seed", "epsilon"):
        assert dim in ds.dims
    assert set(ds.dataset.values) == {"fashion-mnist", "mnist"}
    acc = ds.test_accuracy.values[np.isfinite(ds.test_accuracy.values)]
    assert len(acc) == len(files) and np.all((acc >= 0) & (acc <= 1)) and acc.mean() > 0.2
    for var in ("beta_f50", "delta_f50"):
        v = ds[var].values[np.isfinite(ds[var].values)]
        assert len(v) == len(files) and np.all((v > 0) & (v < 0.71)), var
    s = ch02.f50_summary(ds)
    assert np.all(np.isfinite(s.beta_f50.values))
    mtimes = {f: os.stat(f).st_mtime_ns for f in files}
    execute("run2.ipynb")
    assert sorted(out_dir.glob("*.nc")) == files
    assert {f: os.stat(f).st_mtime_ns for f in files} == mtimes
