"""Chapter 2 (f50 across datasets): grid, f50 averaging, the ordering claim per seed, the
training check, mixed image sizes, figures. (Generic chapter tests: tests/test_chapters.py.)"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from freqkit import sweep
from freqkit.experiments import ch02
from freqkit.figures import ch02 as figs
from freqkit.figures import model_color


def test_paper_preset_is_the_papers_grid() -> None:
    paper = ch02.PRESETS["paper"]
    assert set(paper.datasets) == {"mnist", "fashion-mnist", "cifar10", "cifar100", "svhn"}
    assert paper.depths == (1, 2, 3) and paper.nonlinearities == ("linear", "relu")
    assert len(paper.seeds) == 5 and paper.train.epochs == 40 and paper.channels == 32
    for p in ch02.PRESETS.values():
        assert p.models == ("lkc", "lc", "fkc") and p.kernel_size == 3
        assert p.epsilon_main in p.epsilons


@pytest.mark.parametrize("preset", ["smoke", "cpu", "paper"])
def test_grid_has_every_point_once_with_the_models_kernel(preset: str) -> None:
    p = ch02.get_preset(preset)
    cs = ch02.configs(preset)
    points = {(c.dataset, c.model, c.depth, c.nonlinearity, c.seed) for c in cs}
    assert points == set(itertools.product(p.datasets, p.models, p.depths, p.nonlinearities,
                                           p.seeds))
    assert len(cs) == len(points) == len({sweep.run_key(c) for c in cs})
    assert all(c.kernel_size == (None if c.model == "fkc" else 3) for c in cs)
    assert {c.channels for c in cs} == {p.channels}
    assert {c.dataset for c in ch02.configs(preset, available=("mnist",))} == {"mnist"}


def test_f50_summary_averages_depths_and_nonlinearities() -> None:
    s = ch02.f50_summary(ch02._toy_results())
    assert list(s.model.values) == ["lkc", "lc", "fkc"]
    # toy f50 = base + 0.01·depth (+0.005 relu) + 0.001·seed: mean 0.02 over depth, 0.0025 over nl
    expected = 0.3 + 0.02 + 0.0025 + 0.001
    assert s.beta_f50.sel(dataset="a", model="lkc", seed=1).item() == pytest.approx(expected)
    assert s.delta_f50.sel(dataset="b", model="lkc", seed=1).item() == pytest.approx(expected / 2)
    assert int(s.n_runs.min()) == int(s.n_runs.max()) == 6


def test_failed_and_inaccurate_runs_are_left_out_before_averaging() -> None:
    ds = ch02._toy_results()
    bad = (ds.model == "lkc") & (ds.depth == 1) & (ds.nonlinearity == "linear") & (ds.seed == 0)
    ds["failed"] = xr.where(bad, 1, ds.failed)
    ds["beta_f50"] = xr.where(bad, 0.7, ds.beta_f50)
    s = ch02.f50_summary(ds)
    # mean over the 5 remaining runs: depths (2, 3) linear + (1, 2, 3) relu
    expected = 0.3 + (0.02 + 0.03 + 0.015 + 0.025 + 0.035) / 5
    assert s.beta_f50.sel(dataset="a", model="lkc", seed=0).item() == pytest.approx(expected)
    assert s.n_runs.sel(dataset="a", model="lkc", seed=0).item() == 5
    # accuracy = 0.9 - f50: LKC (0.56-0.59) is below 0.6, LC and FKC above
    trained = ch02.f50_summary(ds, min_accuracy=0.6)
    assert np.isnan(trained.beta_f50.sel(model="lkc")).all()
    assert np.isfinite(trained.beta_f50.sel(model=["lc", "fkc"])).all()
    with pytest.raises(ValueError, match=r"epsilon=2\.0 is not in the results"):
        ch02.f50_runs(ds, 2.0)


def _one_seed_breaks_the_order() -> xr.Dataset:
    """Toy results where, on dataset ``a`` for β̂ only, LC jumps to 0.5 in seed 1."""
    ds = ch02._toy_results()
    jump = (ds.dataset == "a") & (ds.model == "lc") & (ds.seed == 1)
    ds["beta_f50"] = xr.where(jump & ds.beta_f50.notnull(), 0.5, ds.beta_f50)
    return ds


def test_claims_table_counts_the_seeds_in_which_the_order_holds() -> None:
    good = ch02.claims_table(ch02._toy_results())
    assert len(good) == 4 and set(good.holds) == {"yes"}
    assert set(good["seeds where it holds"]) == {"2 of 2"}
    assert "LKC 0.323±0.001" in good["measured (cycles/pixel)"].iloc[0]
    t = ch02.claims_table(_one_seed_breaks_the_order()).set_index(["dataset", "claim"])
    row = t.loc[("a", "f50(β̂): LKC > LC > FKC")]
    # seed means: LC (0.2225 + 0.5) / 2 = 0.361 > LKC 0.323
    assert row.holds == "no" and row["seeds where it holds"] == "1 of 2"
    assert row["measured order"] == "LC > LKC > FKC"
    assert list(t.holds) == ["no", "yes", "yes", "yes"]
    bad = ch02.claims_table(ch02._toy_results({"lkc": 0.2, "lc": 0.3, "fkc": 0.1}))
    assert set(bad.holds) == {"no"} and set(bad["seeds where it holds"]) == {"0 of 2"}


def test_a_single_seed_has_no_spread_and_no_seed_count_in_the_verdict() -> None:
    ds = ch02._toy_results(seeds=(0,))
    t = ch02.claims_table(ds)
    assert "±" not in t["measured (cycles/pixel)"].iloc[0]
    assert set(t["seeds where it holds"]) == {"1 of 1"}
    assert "(one seed per row)" in ch02.verdict(ds)


def test_verdict_is_computed_from_the_results() -> None:
    text = ch02.verdict(_one_seed_breaks_the_order(), min_accuracy=0.5)
    assert text.startswith("**Verdict: the claim holds only in part")
    assert "in 3 of 4 (dataset, quantity) rows" in text and "7 of 8 single-seed" in text
    assert "a β̂: LC > LKC > FKC" in text
    assert "holds in 3 of 4 rows" in text  # all toy runs are above 50 % accuracy
    assert ch02.verdict(ch02._toy_results()).startswith("**Verdict: the claim holds at")
    missing = ch02._toy_results().drop_sel(model="fkc")
    assert "FKC: n/a" in ch02.claims_table(missing).iloc[0]["measured order"]
    assert set(ch02.claims_table(missing).holds) == {"n/a"}
    assert "cannot be checked" in ch02.verdict(missing)
    partial = ch02._toy_results()
    gone = (partial.dataset == "b") & (partial.model == "fkc")
    partial["beta_f50"] = partial.beta_f50.where(~gone)
    partial["delta_f50"] = partial.delta_f50.where(~gone)
    assert "in 2 of 2 (dataset, quantity) rows (2 more rows lack a model)" in \
        ch02.verdict(partial)


def test_correlation_agrees_with_pandas_and_the_note_follows_its_sign() -> None:
    ds = ch02._toy_results()
    rng = np.random.default_rng(0)
    acc = ds.test_accuracy.copy(data=rng.uniform(0.1, 0.9, ds.test_accuracy.shape))
    ds["test_accuracy"] = acc.where(ds.beta_f50.notnull())
    r, n = ch02.f50_accuracy_correlation(ds)
    frame = ch02.f50_runs(ds)[["beta_f50", "test_accuracy"]].to_dataframe().dropna()
    assert n == len(frame) == 72
    assert r == pytest.approx(frame.beta_f50.corr(frame.test_accuracy))
    assert "weak (|r| < 0.5)" in ch02.training_note(ds) and abs(r) < 0.5
    assert "clearly higher f50" in ch02.training_note(ch02._toy_results(), 0.65)
    rising = ch02._toy_results()
    rising["test_accuracy"] = 0.5 + rising.beta_f50  # accuracy rises with f50: r = +1
    assert ch02.f50_accuracy_correlation(rising)[0] == pytest.approx(1.0)
    assert "more accurate networks have the higher f50" in ch02.training_note(rising, 0.65)
    assert "No run is below 1% test accuracy" in ch02.training_note(rising, 0.01)


@pytest.mark.parametrize("n", [28, 32, 64])
def test_flat_spectrum_f50_is_the_half_area_radius(n: int) -> None:
    """A flat spectrum on [-1/2, 1/2]²: half the power within π r² = 1/2, r = 0.3989."""
    grid = xr.Dataset(coords={"freq_row_28": np.zeros(n), "freq_col_28": np.zeros(n)})
    assert ch02.flat_f50(grid) == pytest.approx(np.sqrt(0.5 / np.pi), abs=2.0 / n)


def test_accuracy_table_has_a_row_per_dataset_and_model() -> None:
    t = ch02.accuracy_table(ch02._toy_results())
    assert t[["dataset", "model"]].values.tolist() == [
        [d, m] for d in ("a", "b") for m in ("LKC", "LC", "FKC")]
    assert t.columns.tolist()[2:] == [f"{n} L={d}" for n in ("linear", "relu") for d in (1, 2, 3)] + [
        "trained (rule)"]
    assert set(t["trained (rule)"]) == {"12 of 12"}  # 3 depths x 2 nonlinearities x 2 seeds, all flat
    # accuracy = 0.9 - f50; mean over seeds 0, 1 of FKC linear L=2: 0.9 - (0.1 + 0.02 + 0.0005)
    assert t.set_index(["dataset", "model"]).loc[("b", "FKC"), "linear L=2"] == \
        pytest.approx(0.7795)


def test_run_combines_28_and_32_pixel_datasets(tmp_path: Path, capsys) -> None:
    tiny = ch02.Preset(name="tiny", datasets=("mnist", "cifar10", "svhn"), seeds=(0,), n_train=8,
                       n_val=2, n_test=4, train=ch02.PRESETS["smoke"].train, n_attack=2,
                       epsilons=(1.0,), channels=1, depths=(1,), nonlinearities=("linear",))
    size = {"mnist": 28, "cifar10": 32}

    def fake_run(cfg: ch02.common.RunConfig) -> xr.Dataset:
        n = size[cfg.dataset]
        f50 = {"lkc": 0.3, "lc": 0.2, "fkc": 0.1}[cfg.model] + n / 1000
        power = np.ones((n, n))
        run = xr.Dataset({"beta_f50": ((), f50), "delta_f50": (("epsilon",), [f50 / 2]),
                          "failed": ((), 0), "test_accuracy": ((), 0.8),
                          "beta_power": (("freq_row", "freq_col"), power)},
                         coords={"epsilon": [1.0], "freq_row": np.fft.fftshift(np.fft.fftfreq(n)),
                                 "freq_col": np.fft.fftshift(np.fft.fftfreq(n))})
        return sweep.expand_run_dims(run, cfg.grid_values())

    chapter = dataclasses.replace(ch02.CHAPTER, run_one=fake_run, check_data=lambda p, **_: (
        {"mnist": "toy 28", "cifar10": "toy 32"}, {"svhn": "no torchvision root"}))
    ds = chapter.run(tiny, tmp_path, progress=False)
    assert "skipping dataset 'svhn': no torchvision root" in capsys.readouterr().out
    assert {"beta_power_28x28", "beta_power_32x32"} <= set(ds.data_vars)
    assert ds.attrs["n_runs"] == 6 and "svhn" in ds.attrs["skipped_datasets"]
    s = ch02.f50_summary(ds)
    assert s.beta_f50.sel(dataset="cifar10", model="lkc").item() == pytest.approx(0.332)
    assert s.beta_f50.sel(dataset="mnist", model="fkc").item() == pytest.approx(0.128)
    assert ch02.flat_f50(ds) == pytest.approx(0.3989, abs=1e-3)


def test_figures_show_the_summary_numbers() -> None:
    ds = _one_seed_breaks_the_order()
    summary = ch02.f50_summary(ds)
    fig = figs.fig_f50_datasets(summary)
    bars = {(t.name, t.xaxis): t for t in fig.data}
    lc = bars[("LC", "x")]
    assert list(lc.x) == ["a", "b"] and lc.marker.color == model_color("lc")
    mean = summary.beta_f50.sel(model="lc").mean("seed").values
    np.testing.assert_allclose(lc.y, mean)
    np.testing.assert_allclose(lc.error_y.array, [abs(0.5 - 0.2225), 0.001] / np.sqrt(2),
                               atol=1e-12)
    runs = ch02.f50_runs(ds)
    depth = figs.fig_f50_by_depth(runs, "a")
    assert len(depth.data) == 2 * 2 * 3  # nonlinearities × quantities × models
    with pytest.raises(ValueError, match=r"dataset='c' is not in the results"):
        figs.fig_f50_by_depth(runs, "c")
    scatter = figs.fig_f50_vs_accuracy(runs, flat=0.4)
    assert sum(len(t.x) for t in scatter.data) == int(runs.beta_f50.notnull().sum()) == 72
    assert pd.Series([t.marker.symbol for t in scatter.data]).nunique() == 2  # one per dataset


def test_runs_whose_curve_still_climbs_are_left_out_of_the_trained_check() -> None:
    ds = ch02._toy_results()
    climbing = xr.DataArray(np.linspace(0.2, 0.8, 5), dims="epoch")  # best at the last epoch, +0.45 in 3
    ds["curve_val_accuracy"] = ds.curve_val_accuracy.where(ds.model != "lkc", climbing)
    assert ch02.trained_count(ds) == (48, 72)
    t = ch02.accuracy_table(ds).set_index(["dataset", "model"])
    assert t.loc[("a", "LKC"), "trained (rule)"] == "0 of 12" and t.loc[("a", "LC"), "trained (rule)"] == "12 of 12"
    text = ch02.verdict(ds)
    assert "Among the 48 of 72 runs that meet the training rule only, no row has all three models" in text
    trained = ch02.claims_table(ds, trained_only=True)
    assert set(trained["holds"]) == {"n/a"} and set(trained["runs"]) == {"trained (rule)"}
